package directupgrade

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// FuzzHeadEnd: headEnd finds the first empty line, CRLF or LF, and nothing
// before it.
func FuzzHeadEnd(f *testing.F) {
	for _, s := range []string{upgradeHead, "GET / HTTP/1.1\n\n", "\r\n\r\n", "a\n\r\nb", "\n", "\r\n\r", "x\r\n\r\ny\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := headEnd(b)
		first := -1
		for i := 0; i < len(b); i++ {
			if b[i] != '\n' {
				continue
			}
			if i+1 < len(b) && b[i+1] == '\n' {
				first = i + 2
				break
			}
			if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
				first = i + 3
				break
			}
		}
		if end != first {
			t.Fatalf("headEnd(%q) = %d, want %d", b, end, first)
		}
	})
}

// FuzzListenerHead sends arbitrary bytes as a connection's first bytes:
// the Listener must never fail, and a request it serves directly must be
// exactly the one http.ReadRequest reads from the same bytes, with the
// bytes behind its head handed to the handler; anything else reaches the
// http.Server.
func FuzzListenerHead(f *testing.F) {
	for _, s := range []string{
		upgradeHead, upgradeHead + "\x81\x80abcd", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", "GET /primus/ HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
		"GET http://a/b HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: UPGRADE\r\n\r\n", "GE", "\r\n\r\n", "GET /\x00 HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	direct := make(chan *directCall, 1)
	l := New(ln, Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		pre, _ := brw.Reader.Peek(brw.Reader.Buffered())
		direct <- &directCall{r: r, conn: c, pre: append([]byte(nil), pre...)}
		_ = c.Close()
	}), HeadTimeout: time.Second})
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ReadHeaderTimeout: time.Second}
	done := make(chan struct{})
	go func() { _ = hs.Serve(l); close(done) }()
	defer func() { _ = hs.Close(); <-done }()

	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write(b)
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, c) // whoever has it answers or closes
		select {
		case d := <-direct:
			end := headEnd(b)
			want, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:end])))
			if err != nil || end < 0 {
				t.Fatalf("served directly, but the reference parse fails: %v", err)
			}
			if d.r.Method != want.Method || d.r.RequestURI != want.RequestURI || d.r.Host != want.Host || len(d.r.Header) != len(want.Header) {
				t.Fatalf("direct %s %q %q %v, reference %s %q %q %v", d.r.Method, d.r.RequestURI, d.r.Host, d.r.Header, want.Method, want.RequestURI, want.Host, want.Header)
			}
			if !bytes.Equal(d.pre, b[end:]) && !(len(d.pre) == 0 && len(b) == end) {
				t.Fatalf("bytes behind the head %q, sent %q", d.pre, b[end:])
			}
		default:
		}
	})
}
