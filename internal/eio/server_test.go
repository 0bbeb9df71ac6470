package eio_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/eio"
	"github.com/allspark/allspark/internal/transport"
)

func TestHandshakePolling(t *testing.T) {
	cfg := fast()
	cfg.PingInterval, cfg.PingTimeout, cfg.MaxPayload = 1234*time.Millisecond, 567*time.Millisecond, 4321
	e := newEnv(t, cfg)
	st, body, hdr := e.do("GET", "EIO=4&transport=polling", "", "")
	if st != 200 {
		t.Fatalf("status %d %s", st, body)
	}
	o := parseOpen(t, body)
	if len(o.SID) != 20 {
		t.Errorf("sid %q: want 20 characters", o.SID)
	}
	if !slices.Equal(o.Upgrades, []string{"websocket"}) {
		t.Errorf("upgrades = %v", o.Upgrades)
	}
	if o.PingInterval != 1234 || o.PingTimeout != 567 || o.MaxPayload != 4321 {
		t.Errorf("open = %+v", o)
	}
	if hdr.Get("Set-Cookie") != "" {
		t.Errorf("cookie without Config.Cookie: %q", hdr.Get("Set-Cookie"))
	}
	if e.srv.Len() != 1 {
		t.Errorf("Len = %d", e.srv.Len())
	}
	e.acc.next(t)
}

func TestHandshakeWebSocket(t *testing.T) {
	e := newEnv(t, fast())
	ws := e.mustWS("EIO=4&transport=websocket")
	o := parseOpen(t, ws.recv())
	if o.Upgrades == nil || len(o.Upgrades) != 0 {
		t.Errorf("upgrades = %#v, want []", o.Upgrades)
	}
	if o.SID == "" || o.PingInterval != 60000 || o.MaxPayload != eio.DefaultMaxPayload {
		t.Errorf("open = %+v", o)
	}
	h := e.acc.next(t)
	ws.send("4hello")
	if ev := h.next(t, "msg"); ev.data != "hello" || ev.binary {
		t.Errorf("got %+v", ev)
	}
	if err := ws.writeFrame(2, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if ev := h.next(t, "msg"); ev.data != "\x01\x02\x03" || !ev.binary {
		t.Errorf("got %+v", ev)
	}
	if _, _, err := h.sess.WriteBatch([]transport.Message{{Payload: []byte("a")}, {Payload: []byte{9}, Binary: true}}); err != nil {
		t.Fatal(err)
	}
	if got := ws.recv(); got != "4a" {
		t.Errorf("got %q", got)
	}
	if op, p, err := ws.read(5 * time.Second); err != nil || op != 2 || string(p) != "\x09" {
		t.Errorf("got %d %q %v", op, p, err)
	}
}

func TestHandshakeCookie(t *testing.T) {
	cfg := fast()
	cfg.Cookie = &http.Cookie{HttpOnly: true}
	e := newEnv(t, cfg)
	st, body, hdr := e.do("GET", "EIO=4&transport=polling", "", "")
	if st != 200 {
		t.Fatal(st, body)
	}
	o := parseOpen(t, body)
	res := http.Response{Header: hdr}
	cs := res.Cookies()
	if len(cs) != 1 || cs[0].Name != "io" || cs[0].Value != o.SID || cs[0].Path != "/" || !cs[0].HttpOnly {
		t.Errorf("cookies = %v", cs)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	cases := []struct {
		name, method, q string
		status, code    int
	}{
		{"missing EIO", "GET", "transport=polling", 400, 5},
		{"EIO 3", "GET", "EIO=3&transport=polling", 400, 5},
		{"unknown transport", "GET", "EIO=4&transport=flash", 400, 0},
		{"missing transport", "GET", "EIO=4", 400, 0},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", 400, 1},
		{"unknown sid POST", "POST", "EIO=4&transport=polling&sid=nope", 400, 1},
		{"POST handshake", "POST", "EIO=4&transport=polling", 400, 2},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", 400, 3},
		{"sid on another transport", "GET", "EIO=4&transport=websocket&sid=" + p.sid, 400, 3},
	}
	for _, c := range cases {
		st, body, hdr := e.do(c.method, c.q, "", "")
		if st != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, st, c.status, body)
			continue
		}
		if ct := hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
		if code := errorCode(t, body); code != c.code {
			t.Errorf("%s: code %d, want %d", c.name, code, c.code)
		}
	}
	// A mismatched transport leaves the session alone.
	if p.h.isClosed() {
		t.Error("session closed by a request on another transport")
	}
}

func TestTransportsPollingOnly(t *testing.T) {
	cfg := fast()
	cfg.Transports = []string{eio.TransportPolling}
	e := newEnv(t, cfg)
	_, o := e.handshake()
	if o.Upgrades == nil || len(o.Upgrades) != 0 {
		t.Errorf("upgrades = %#v, want []", o.Upgrades)
	}
	_, st, err := e.dialWS("EIO=4&transport=websocket")
	if err == nil || st != 400 {
		t.Errorf("websocket handshake: %d %v, want 400", st, err)
	}
	_, body, _ := e.do("GET", "EIO=4&transport=websocket", "", "")
	if code := errorCode(t, body); code != 0 {
		t.Errorf("code %d, want 0", code)
	}
}

func TestTransportsWebSocketOnly(t *testing.T) {
	cfg := fast()
	cfg.Transports = []string{eio.TransportWebSocket}
	e := newEnv(t, cfg)
	st, body, _ := e.do("GET", "EIO=4&transport=polling", "", "")
	if st != 400 || errorCode(t, body) != 0 {
		t.Errorf("polling handshake: %d %s", st, body)
	}
	ws := e.mustWS("EIO=4&transport=websocket")
	parseOpen(t, ws.recv())
}

func TestUnknownTransportConfig(t *testing.T) {
	if _, err := eio.NewServer(eio.Config{Transports: []string{"flash"}}, newAcceptor()); err == nil {
		t.Error("NewServer accepted an unknown transport")
	}
}

func TestMaxSessions(t *testing.T) {
	cfg := fast()
	cfg.MaxSessions = 2
	e := newEnv(t, cfg)
	p1, _ := e.handshake()
	e.handshake()
	st, body, _ := e.do("GET", "EIO=4&transport=polling", "", "")
	if st != 503 {
		t.Fatalf("third handshake: %d %s, want 503", st, body)
	}
	if e.srv.Len() != 2 {
		t.Errorf("Len = %d", e.srv.Len())
	}
	// A session that ends frees its place.
	_ = p1.h.sess.Abort()
	p1.h.waitClosed(t, time.Second)
	waitLen(t, e.srv, 1, time.Second)
	e.handshake()
}

// A handshake the acceptor refuses (shutting down) gets 503 and leaves no
// session registered.
func TestAcceptRefused(t *testing.T) {
	e := newEnv(t, fast())
	e.acc.err = transport.ErrShuttingDown
	st, body, _ := e.do("GET", "EIO=4&transport=polling", "", "")
	if st != 503 {
		t.Errorf("status %d %s", st, body)
	}
	if e.srv.Len() != 0 {
		t.Errorf("Len = %d after a refused handshake", e.srv.Len())
	}
}

func TestServerClose(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	ws := e.mustWS("EIO=4&transport=websocket")
	parseOpen(t, ws.recv())
	hw := e.acc.next(t)
	e.srv.Close()
	if err := p.h.waitClosed(t, time.Second); err == nil {
		t.Error("polling session: OnClose(nil) on Server.Close")
	}
	hw.waitClosed(t, time.Second)
	if !ws.waitGone(time.Second) {
		t.Error("websocket still open after Server.Close")
	}
	if e.srv.Len() != 0 {
		t.Errorf("Len = %d", e.srv.Len())
	}
	st, _, _ := e.do("GET", "EIO=4&transport=polling", "", "")
	if st != 503 {
		t.Errorf("handshake after Close: %d", st)
	}
}

// Server.Close racing a handshake (the session registered, its spark not
// yet attached) still tells the spark: OnClose exactly once, so it is
// not left live on a dropped session.
func TestServerCloseDuringHandshake(t *testing.T) {
	for _, ws := range []bool{false, true} {
		e := newEnv(t, fast())
		e.acc.beforeOpen = e.srv.Close
		if ws {
			c, _, err := e.dialWS("EIO=4&transport=websocket")
			if err == nil {
				c.waitGone(time.Second)
			}
		} else {
			e.do("GET", "EIO=4&transport=polling", "", "")
		}
		h := e.acc.next(t)
		if err := h.waitClosed(t, time.Second); err == nil {
			t.Errorf("ws=%v: OnClose(nil), want an error", ws)
		}
		if e.srv.Len() != 0 {
			t.Errorf("ws=%v: Len = %d", ws, e.srv.Len())
		}
	}
}
