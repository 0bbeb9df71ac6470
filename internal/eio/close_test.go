package eio_test

import (
	"errors"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/eio"
)

func TestHeartbeatPolling(t *testing.T) {
	cfg := fast()
	cfg.PingInterval, cfg.PingTimeout = 50*time.Millisecond, 50*time.Millisecond
	e := newEnv(t, cfg)
	p, _ := e.handshake()
	// Pings come at the interval; each pong keeps the session.
	for i := range 3 {
		start := time.Now()
		st, body := p.get()
		if st != 200 || body != "2" {
			t.Fatalf("poll %d: %d %q, want ping", i, st, body)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("ping %d after %v", i, d)
		}
		if st, _ := p.post("3"); st != 200 {
			t.Fatalf("pong: %d", st)
		}
		p.h.next(t, "ping")
	}
	// No pong: closed within PingInterval+PingTimeout (with slack).
	start := time.Now()
	if err := p.h.waitClosed(t, 2*time.Second); !errors.Is(err, eio.ErrPingTimeout) {
		t.Errorf("OnClose(%v), want ErrPingTimeout", err)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("closed after %v", d)
	}
	waitLen(t, e.srv, 0, time.Second)
}

func TestHeartbeatWebSocket(t *testing.T) {
	cfg := fast()
	cfg.PingInterval, cfg.PingTimeout = 50*time.Millisecond, 50*time.Millisecond
	e := newEnv(t, cfg)
	ws := e.mustWS("EIO=4&transport=websocket")
	parseOpen(t, ws.recv())
	h := e.acc.next(t)
	for i := range 3 {
		if got := ws.recv(); got != "2" {
			t.Fatalf("frame %d: %q, want ping", i, got)
		}
		ws.send("3")
		h.next(t, "ping")
	}
	if err := h.waitClosed(t, 2*time.Second); !errors.Is(err, eio.ErrPingTimeout) {
		t.Errorf("OnClose(%v), want ErrPingTimeout", err)
	}
	if !ws.waitGone(time.Second) {
		t.Error("socket open after the ping timeout")
	}
}

// After an upgrade the heartbeat runs on the WebSocket.
func TestHeartbeatAfterUpgrade(t *testing.T) {
	cfg := fast()
	cfg.PingInterval, cfg.PingTimeout = 100*time.Millisecond, time.Second
	e := newEnv(t, cfg)
	p, _ := e.handshake()
	ws := p.probe(t)
	ws.send("5")
	for {
		if got := ws.recv(); got == "2" {
			break
		}
	}
	ws.send("3")
	p.h.next(t, "ping")
}

func TestClientClosePolling(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	if st, _ := p.post("4last\x1e1"); st != 200 {
		t.Errorf("status %d", st)
	}
	if ev := p.h.next(t, "msg"); ev.data != "last" {
		t.Errorf("got %+v", ev)
	}
	if err := p.h.waitClosed(t, time.Second); err != nil {
		t.Errorf("OnClose(%v), want nil", err)
	}
	if e.srv.Len() != 0 {
		t.Errorf("Len = %d", e.srv.Len())
	}
}

func TestClientCloseWebSocket(t *testing.T) {
	e := newEnv(t, fast())
	ws := e.mustWS("EIO=4&transport=websocket")
	parseOpen(t, ws.recv())
	h := e.acc.next(t)
	ws.send("4last")
	ws.send("1")
	if ev := h.next(t, "msg"); ev.data != "last" {
		t.Errorf("got %+v", ev)
	}
	h.next(t, "peerclose")
	if err := h.waitClosed(t, time.Second); err != nil {
		t.Errorf("OnClose(%v), want nil", err)
	}
	if !ws.waitGone(time.Second) {
		t.Error("socket open after the close packet")
	}
}

// Session.Close on polling: the held GET gets the close packet.
func TestServerClosePollingHeld(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	got := p.goGet()
	waitHeld(t, p)
	start := time.Now()
	if err := p.h.sess.Close(1000, ""); err != nil {
		t.Fatal(err)
	}
	if b := <-got; b != "200 1" {
		t.Errorf("held GET got %q, want close", b)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v with a GET held", d)
	}
	if err := p.h.waitClosed(t, time.Second); err != nil {
		t.Errorf("OnClose(%v)", err)
	}
}

// Session.Close on polling with no GET held: the next GET gets it.
func TestServerClosePollingNext(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	closed := make(chan struct{})
	go func() { _ = p.h.sess.Close(1000, ""); close(closed) }()
	// Close is waiting for a poll; make sure it queued first by waiting
	// a little is not needed: a GET before Close queues is held and then
	// woken with the close packet.
	if st, b := p.get(); st != 200 || b != "1" {
		t.Errorf("GET: %d %q, want close", st, b)
	}
	<-closed
	p.h.waitClosed(t, time.Second)
}

// Close does not wait longer than WriteTimeout when no GET comes.
func TestServerClosePollingNoGet(t *testing.T) {
	cfg := fast()
	cfg.WriteTimeout = 100 * time.Millisecond
	e := newEnv(t, cfg)
	p, _ := e.handshake()
	start := time.Now()
	_ = p.h.sess.Close(1000, "")
	if d := time.Since(start); d < 100*time.Millisecond || d > time.Second {
		t.Errorf("Close returned after %v, want ~WriteTimeout", d)
	}
	p.h.waitClosed(t, time.Second)
	if e.srv.Len() != 0 {
		t.Errorf("Len = %d", e.srv.Len())
	}
}

func TestServerCloseWebSocket(t *testing.T) {
	e := newEnv(t, fast())
	ws := e.mustWS("EIO=4&transport=websocket")
	parseOpen(t, ws.recv())
	h := e.acc.next(t)
	_ = h.sess.Close(1000, "")
	if got := ws.recv(); got != "1" {
		t.Errorf("got %q, want close packet", got)
	}
	if !ws.waitGone(time.Second) {
		t.Error("socket open after Close")
	}
	if err := h.waitClosed(t, time.Second); err != nil {
		t.Errorf("OnClose(%v)", err)
	}
}

func TestAbort(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	got := p.goGet()
	waitHeld(t, p)
	_ = p.h.sess.Abort()
	if b := <-got; b == "200 1" {
		t.Error("Abort sent a close packet")
	}
	if err := p.h.waitClosed(t, time.Second); err == nil {
		t.Error("OnClose(nil) after Abort")
	}
	if st, b := p.get(); st != 400 || errorCode(t, b) != 1 {
		t.Errorf("GET after Abort: %d %q", st, b)
	}
	ws := e.mustWS("EIO=4&transport=websocket")
	parseOpen(t, ws.recv())
	hw := e.acc.next(t)
	_ = hw.sess.Abort()
	if !ws.waitGone(time.Second) {
		t.Error("socket open after Abort")
	}
	hw.waitClosed(t, time.Second)
}
