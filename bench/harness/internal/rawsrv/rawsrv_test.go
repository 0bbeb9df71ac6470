package rawsrv

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

// engines are the two read paths; both must behave the same on the wire.
var engines = map[string]func(context.Context, net.Listener) error{
	"goroutine": Serve,
	"epoll": func(ctx context.Context, ln net.Listener) error {
		return ServeEpoll(ctx, ln, Options{Pollers: 2, ReadBuffer: 16})
	},
}

func start(t *testing.T, serve func(context.Context, net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func dialWS(t *testing.T, addr, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, br, err := wsframe.Dial(ctx, wsframe.DialOptions{Addr: addr, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, br
}

var mask = &[4]byte{1, 2, 3, 4}

func expect(t *testing.T, br *bufio.Reader, op byte, want string) {
	t.Helper()
	h, p, err := wsframe.ReadFrame(br, nil, 1<<20)
	if err != nil || h.Op != op || string(p) != want {
		t.Fatalf("got op %d %q %v, want op %d %q", h.Op, p, err, op, want)
	}
}

func TestEnginesEchoPublishPingClose(t *testing.T) {
	for name, serve := range engines {
		t.Run(name, func(t *testing.T) {
			addr := start(t, serve)
			_, mbr := dialWS(t, addr, "/raw?rooms=a,b")
			pc, pbr := dialWS(t, addr, "/raw")
			// A 16-byte poller buffer (epoll) cuts these frames across reads.
			big := string(make([]byte, 300))
			frames := wsframe.AppendFrame(nil, wsframe.OpText, []byte("hello"), mask)
			frames = wsframe.AppendFrame(frames, wsframe.OpText, []byte(big), mask)
			frames = wsframe.AppendFrame(frames, wsframe.OpPing, []byte("pp"), mask)
			frames = wsframe.AppendFrame(frames, wsframe.OpText, []byte("Pb\nto-b"), mask)
			for i := range frames { // one byte at a time at the start
				if i > 8 {
					if _, err := pc.Write(frames[i:]); err != nil {
						t.Fatal(err)
					}
					break
				}
				if _, err := pc.Write(frames[i : i+1]); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
			expect(t, pbr, wsframe.OpText, "hello")
			expect(t, pbr, wsframe.OpText, big)
			expect(t, pbr, wsframe.OpPong, "pp")
			expect(t, mbr, wsframe.OpText, "to-b")
			if _, err := pc.Write(wsframe.AppendFrame(nil, wsframe.OpClose, []byte{0x03, 0xe8}, mask)); err != nil {
				t.Fatal(err)
			}
			expect(t, pbr, wsframe.OpClose, "\x03\xe8")
			if _, _, err := wsframe.ReadFrame(pbr, nil, 1<<20); err == nil {
				t.Fatal("connection still open after the close")
			}
		})
	}
}

// TestEpollLeaveOnPeerClose checks a member that went away is out of its
// room (no write to a dead client, the publisher keeps working), and frames
// sent right behind the upgrade request are handled.
func TestEpollLeaveOnPeerClose(t *testing.T) {
	addr := start(t, engines["epoll"])
	gone, _ := dialWS(t, addr, "/raw?rooms=r")
	gone.Close()
	_, mbr := dialWS(t, addr, "/raw?rooms=r")
	pc, pbr := dialWS(t, addr, "/raw")
	for range 3 {
		if _, err := pc.Write(wsframe.AppendFrame(nil, wsframe.OpText, []byte("Pr\nx"), mask)); err != nil {
			t.Fatal(err)
		}
		expect(t, mbr, wsframe.OpText, "x")
	}
	if _, err := pc.Write(wsframe.AppendFrame(nil, wsframe.OpText, []byte("still"), mask)); err != nil {
		t.Fatal(err)
	}
	expect(t, pbr, wsframe.OpText, "still")
}
