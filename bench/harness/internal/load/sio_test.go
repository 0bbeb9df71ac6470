package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

// startFakeSIO serves the benchmark's Socket.IO contract by hand on a
// loopback port: the Engine.IO open packet, "40" answered with a CONNECT
// reply, 42<id>["echo",x] answered with the ack 43<id>[x] (or, with ack
// false, with the event 42["echo",x] emitted back, as a server that ignores
// the ack id would).
func startFakeSIO(t *testing.T, ack bool) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { fakeSIOConn(c, ack) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func fakeSIOConn(c net.Conn, ack bool) {
	defer c.Close()
	br := bufio.NewReader(c)
	if _, err := wsframe.Accept(c, br); err != nil {
		return
	}
	write := func(s []byte) error {
		_, err := c.Write(wsframe.AppendFrame(nil, wsframe.OpText, s, nil))
		return err
	}
	if write([]byte(`0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)) != nil {
		return
	}
	rd := &wsframe.Reader{R: br, Limit: 1 << 20}
	for {
		_, msg, err := rd.ReadMessage()
		if err != nil {
			return
		}
		var out []byte
		switch {
		case string(msg) == "40":
			out = []byte(`40{"sid":"n"}`)
		case bytes.HasPrefix(msg, []byte("42")):
			i := bytes.IndexByte(msg, '[')
			arg, found := bytes.CutPrefix(msg[i:], []byte(`["echo",`))
			if i < 0 || !found {
				continue
			}
			if ack {
				out = append(append(append([]byte("43"), msg[2:i]...), '['), arg...)
			} else {
				out = append([]byte(`42["echo",`), arg...)
			}
		default:
			continue
		}
		if write(out) != nil {
			return
		}
	}
}

func TestSocketIOEchoCountsAcks(t *testing.T) {
	addr := startFakeSIO(t, true)
	c, d := drive(t, Config{Server: "zishang", Addr: addr, Scenario: Echo, N: 10, Rate: 50, Warmup: 200 * time.Millisecond, Duration: time.Second})
	if c.Ready != 10 {
		t.Fatalf("connected %+v: the open packet and CONNECT reply make a connection ready", c)
	}
	if d.Sent < 400 || d.Deliveries < 400 || d.Errors != 0 {
		t.Fatalf("done %+v", d)
	}
}

func TestSocketIOEchoIgnoresEventsInsteadOfAcks(t *testing.T) {
	addr := startFakeSIO(t, false)
	_, d := drive(t, Config{Server: "socketio", Addr: addr, Scenario: Echo, N: 5, Rate: 50, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond})
	if d.Sent == 0 || d.Deliveries != 0 {
		t.Fatalf("done %+v: an 'echo' event is not the ack the scenario asks for", d)
	}
}

func TestProbeSocketIO(t *testing.T) {
	ctx := context.Background()
	if err := ProbeSocketIO(ctx, startFakeSIO(t, true)); err != nil {
		t.Fatalf("probe of a Socket.IO server: %v", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if err := ProbeSocketIO(ctx, ln.Addr().String()); !errors.Is(err, ErrNoSocketIO) {
		t.Fatalf("probe of a 404 server: %v, want ErrNoSocketIO", err)
	}
}
