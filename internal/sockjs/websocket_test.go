package sockjs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/sockjs"
	"github.com/allspark/allspark/internal/transport"
)

// TestWebSocketSession: "o" first, frames as text messages, client frames
// of an array or one string, empty frames ignored, heartbeats.
func TestWebSocketSession(t *testing.T) {
	cfg := fast()
	cfg.Heartbeat = 100 * time.Millisecond
	e := newEnv(t, cfg)
	ws := e.mustWS("/s/0/w1/websocket")
	if f := ws.recv(); f != "o" {
		t.Fatalf("first frame %q", f)
	}
	h := e.acc.next(t)
	ws.send(`["a","b"]`)
	ws.send(``)
	ws.send(`"c"`)
	for _, want := range []string{"a", "b", "c"} {
		if ev := h.next(t, "value"); ev.data != want {
			t.Fatalf("delivered %q, want %q", ev.data, want)
		}
	}
	h.write(t, data(`"x"`), data(`"y"`))
	if f := ws.recv(); f != `a["x","y"]` {
		t.Fatalf("frame %q", f)
	}
	if f := ws.recv(); f != "h" {
		t.Fatalf("heartbeat %q", f)
	}
	// The id is not looked at: a second socket with it is its own session.
	ws2 := e.mustWS("/s/0/w1/websocket")
	if f := ws2.recv(); f != "o" {
		t.Fatalf("second socket's first frame %q", f)
	}
	if h2 := e.acc.next(t); h2 == h {
		t.Fatal("same handler")
	}
}

// TestWebSocketClose: Close sends the close frame, then a WebSocket close
// 1000; a server close on the plain path is c[3000,"Go away!"].
func TestWebSocketClose(t *testing.T) {
	e := newEnv(t, fast())
	ws := e.mustWS("/s/0/w2/websocket")
	ws.recv()
	h := e.acc.next(t)
	_ = h.sess.Close(1000, "")
	if f := ws.recv(); f != `c[1000,"Normal closure"]` {
		t.Fatalf("close frame %q", f)
	}
	if code, reason := ws.closeFrame(); code != 1000 || reason != "Normal closure" {
		t.Fatalf("WebSocket close %d %q", code, reason)
	}
	if err := h.waitClosed(t, time.Second); err != nil {
		t.Fatalf("OnClose(%v)", err)
	}

	ws = e.mustWS("/s/0/w3/websocket")
	ws.recv()
	h = e.acc.next(t)
	h.write(t, transport.Message{Payload: []byte(`"primus::server::close"`), Control: transport.ServerClose})
	if f := ws.recv(); f != `c[3000,"Go away!"]` {
		t.Fatalf("go-away frame %q", f)
	}
	waitLen(t, e.srv, 0, 2*time.Second)
}

// TestWebSocketBrokenFraming: a frame that is not JSON closes the socket
// with 3000 "Broken framing." and ends the session.
func TestWebSocketBrokenFraming(t *testing.T) {
	e := newEnv(t, fast())
	ws := e.mustWS("/s/0/w4/websocket")
	ws.recv()
	h := e.acc.next(t)
	ws.send(`["unterminated`)
	if code, reason := ws.closeFrame(); code != 3000 || reason != "Broken framing." {
		t.Fatalf("close %d %q", code, reason)
	}
	if err := h.waitClosed(t, time.Second); !errors.Is(err, sockjs.ErrBrokenJSON) {
		t.Fatalf("OnClose(%v)", err)
	}
}

// TestWebSocketPeerClose: the client's close ends the session after
// OnPeerClose.
func TestWebSocketPeerClose(t *testing.T) {
	e := newEnv(t, fast())
	ws := e.mustWS("/s/0/w5/websocket")
	ws.recv()
	h := e.acc.next(t)
	_ = ws.writeFrame(8, []byte{0x03, 0xe8})
	h.next(t, "peerclose")
	h.waitClosed(t, time.Second)
	waitLen(t, e.srv, 0, time.Second)
}

// TestWebSocketRefusals: a plain GET or a POST of the websocket URL, and
// the websocket URLs when no engine is configured.
func TestWebSocketRefusals(t *testing.T) {
	e := newEnv(t, fast())
	if r := e.do("GET", "/s/0/w6/websocket", "", ""); r.status != 400 || r.body != "Not a valid websocket request" {
		t.Errorf("plain GET: %d %q", r.status, r.body)
	}
	if r := e.do("POST", "/s/0/w6/websocket", "", ""); r.status != 405 || r.h.Get("Allow") != "GET" {
		t.Errorf("POST: %d %v", r.status, r.h)
	}
	cfg := fast()
	cfg.WebSocket = nil
	e = newEnv(t, cfg)
	for _, p := range []string{"/s/0/w7/websocket", "/s/websocket"} {
		if _, st, _ := e.dialWS(p); st != 404 {
			t.Errorf("%s without an engine: %d", p, st)
		}
	}
}

// TestRawWebSocket: /websocket on the plain path: no "o", a text frame is
// a message, a message is a text frame (strings unwrapped), a server close
// is close 3000.
func TestRawWebSocket(t *testing.T) {
	e := newEnv(t, fast())
	ws := e.mustWS("/s/websocket")
	h := e.acc.next(t)
	ws.send(`hello ["not json"]`)
	if ev := h.next(t, "value"); ev.data != `hello ["not json"]` {
		t.Fatalf("delivered %q", ev.data)
	}
	h.write(t, data(`"plain"`), data(`{"a":1}`), transport.Message{Payload: []byte(`"primus::ping::1"`), Control: transport.Ping})
	if f := ws.recv(); f != "plain" {
		t.Fatalf("frame %q", f)
	}
	if f := ws.recv(); f != `{"a":1}` {
		t.Fatalf("frame %q", f)
	}
	h.write(t, transport.Message{Payload: []byte(`"primus::server::close"`), Control: transport.ServerClose})
	if code, reason := ws.closeFrame(); code != 3000 || reason != "Go away!" {
		t.Fatalf("close %d %q", code, reason)
	}
	_ = h.sess.Abort()
	h.waitClosed(t, time.Second)

	cfg := fast()
	cfg.RawWebSocket = false
	if _, st, _ := newEnv(t, cfg).dialWS("/s/websocket"); st != 404 {
		t.Errorf("raw WebSocket off: %d", st)
	}
}

// TestWebSocketLargeMessage: a frame near the engine's limit.
func TestWebSocketLargeMessage(t *testing.T) {
	e := newEnv(t, fast())
	ws := e.mustWS("/s/0/w8/websocket")
	ws.recv()
	h := e.acc.next(t)
	big := strings.Repeat("z", 900_000)
	ws.send(`["` + big + `"]`)
	if ev := h.next(t, "value"); ev.data != big {
		t.Fatalf("delivered %d bytes", len(ev.data))
	}
	h.write(t, data(`"`+big+`"`))
	if f := ws.recv(); f != `a["`+big+`"]` {
		t.Fatalf("frame of %d bytes", len(f))
	}
}
