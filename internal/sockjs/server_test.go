package sockjs_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/sockjs"
	"github.com/allspark/allspark/internal/transport"
)

const noCacheValue = "no-store, no-cache, no-transform, must-revalidate, max-age=0"

// TestGreeting: the base URL with and without its slash greets; other
// methods are 405; unknown paths 404.
func TestGreeting(t *testing.T) {
	e := newEnv(t, fast())
	for _, p := range []string{"/s", "/s/"} {
		r := e.do("GET", p, "", "")
		if r.status != 200 || r.body != "Welcome to SockJS!\n" || r.h.Get("Content-Type") != "text/plain; charset=UTF-8" {
			t.Errorf("GET %s: %d %q %v", p, r.status, r.body, r.h)
		}
	}
	if r := e.do("POST", "/s", "", ""); r.status != 405 || r.h.Get("Allow") != "GET" {
		t.Errorf("POST greeting: %d %v", r.status, r.h)
	}
	for _, p := range []string{"/s/a/b", "/s/a/b/c/d", "/s/a.b/c/xhr", "/s/iframe.html", "/s/a/b/nope"} {
		if r := e.do("GET", p, "", ""); r.status != 404 {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
	}
	cfg := fast()
	cfg.Greeting = false
	if r := newEnv(t, cfg).do("GET", "/s", "", ""); r.status != 404 {
		t.Errorf("greeting off: %d", r.status)
	}
}

// TestInfo: /info's document, fresh entropy, the exact no-cache header,
// CORS, and its preflight.
func TestInfo(t *testing.T) {
	e := newEnv(t, fast())
	var entropies []uint64
	for range 2 {
		r := e.do("GET", "/s/info", "", "")
		if r.status != 200 || r.h.Get("Content-Type") != "application/json; charset=UTF-8" {
			t.Fatalf("info: %d %v", r.status, r.h)
		}
		if r.h.Get("Cache-Control") != noCacheValue || r.h.Get("Set-Cookie") != "" || r.h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("info headers: %v", r.h)
		}
		var info struct {
			WebSocket    *bool    `json:"websocket"`
			CookieNeeded *bool    `json:"cookie_needed"`
			Origins      []string `json:"origins"`
			Entropy      *uint64  `json:"entropy"`
		}
		if err := json.Unmarshal([]byte(r.body), &info); err != nil || info.WebSocket == nil || !*info.WebSocket ||
			info.CookieNeeded == nil || *info.CookieNeeded || len(info.Origins) != 1 || info.Origins[0] != "*:*" || info.Entropy == nil {
			t.Fatalf("info body %s: %v", r.body, err)
		}
		entropies = append(entropies, *info.Entropy)
	}
	if entropies[0] == entropies[1] {
		t.Errorf("entropy repeated: %v", entropies)
	}
	r := e.do("GET", "/s/info", "", "", "Origin", "http://app.example")
	if r.h.Get("Access-Control-Allow-Origin") != "http://app.example" || r.h.Get("Access-Control-Allow-Credentials") != "true" || r.h.Get("Vary") != "Origin" {
		t.Errorf("info CORS: %v", r.h)
	}
	r = e.do("OPTIONS", "/s/info", "", "", "Origin", "http://app.example", "Access-Control-Request-Headers", "x-a")
	if r.status != 204 || r.h.Get("Access-Control-Allow-Methods") != "OPTIONS, GET" || r.h.Get("Access-Control-Max-Age") != "31536000" ||
		r.h.Get("Cache-Control") != "public, max-age=31536000" || r.h.Get("Expires") == "" || r.h.Get("Access-Control-Allow-Headers") != "x-a" ||
		r.h.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Errorf("info OPTIONS: %d %v", r.status, r.h)
	}
	if r := e.do("POST", "/s/info", "", ""); r.status != 405 || r.h.Get("Allow") != "OPTIONS, GET" {
		t.Errorf("POST info: %d %v", r.status, r.h)
	}

	cfg := fast()
	cfg.WebSocket, cfg.JSessionID = nil, true
	r = newEnv(t, cfg).do("GET", "/s/info", "", "")
	if !strings.Contains(r.body, `"websocket":false`) || !strings.Contains(r.body, `"cookie_needed":true`) {
		t.Errorf("info without WebSocket, with JSESSIONID: %s", r.body)
	}
}

// TestXHRPollingExchange: a new session's first poll is "o"; sends are
// delivered in order (as strings on the plain path); what the spark
// writes comes back in one "a" frame per poll, quoted as the reference
// quotes it.
func TestXHRPollingExchange(t *testing.T) {
	e := newEnv(t, fast())
	r := e.do("POST", "/s/000/a1/xhr", "", "")
	if r.status != 200 || r.body != "o\n" || r.h.Get("Content-Type") != "application/javascript; charset=UTF-8" || r.h.Get("Cache-Control") != noCacheValue {
		t.Fatalf("open: %d %q %v", r.status, r.body, r.h)
	}
	h := e.acc.next(t)
	r = e.do("POST", "/s/000/a1/xhr_send", "text/plain;charset=UTF-8", `["hello","wo\"rld","😀"]`)
	if r.status != 204 || r.body != "" || r.h.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Fatalf("send: %d %q %v", r.status, r.body, r.h)
	}
	for _, want := range []string{"hello", `wo"rld`, "😀"} {
		if ev := h.next(t, "value", "msg"); ev.kind != "value" || ev.data != want {
			t.Fatalf("delivered %+v, want value %q", ev, want)
		}
	}
	go h.write(t, data(`"hi"`), data(`{"n":1}`), data(`"\u2028 😀"`))
	if f := e.poll("a1"); f != `a["hi","{\"n\":1}","\u2028 \ud83d\ude00"]` {
		t.Fatalf("poll = %s", f)
	}
}

// TestPrimusPathFraming: under the Primus pathname a message is the
// Primus encoding itself, double-encoded; controls (a ping) go through as
// data, and client messages reach the parser as the string's bytes.
func TestPrimusPathFraming(t *testing.T) {
	cfg := fast()
	cfg.Plain = false
	e := newEnv(t, cfg)
	h := e.open("p1")
	if e.send("p1", `["\"hello\"","{\"a\":1}"]`) != 204 {
		t.Fatal("send")
	}
	for _, want := range []string{`"hello"`, `{"a":1}`} {
		if ev := h.next(t, "value", "msg"); ev.kind != "msg" || ev.data != want {
			t.Fatalf("delivered %+v, want msg %q", ev, want)
		}
	}
	ping := transport.Message{Payload: []byte(`"primus::ping::1"`), Control: transport.Ping}
	go h.write(t, data(`"hi"`), ping, data(`[1,"x"]`))
	if f := e.poll("p1"); f != `a["\"hi\"","\"primus::ping::1\"","[1,\"x\"]"]` {
		t.Fatalf("poll = %s", f)
	}
}

// TestPlainProtocolFrames: the plain path's frame for each kind of
// message, shared between receivers of a broadcast: strings unwrapped,
// other JSON as its text, Primus controls and binary payloads not sent, a
// server close as c[3000,"Go away!"].
func TestPlainProtocolFrames(t *testing.T) {
	e := newEnv(t, fast())
	h := e.open("f1")
	fr, ok := h.sess.(transport.Framer)
	if !ok || fr.Protocol().Identity() || !fr.Protocol().OwnHeartbeat || fr.Protocol().Slot != sockjs.PlainSlot {
		t.Fatalf("plain session protocol: %+v", fr)
	}
	shared := new(transport.Shared)
	m := transport.Message{Payload: []byte(`"a\"b"`), Shared: shared}
	f1, _ := m.FrameFor(fr.Protocol())
	f2, _ := m.FrameFor(fr.Protocol())
	if string(f1) != `"a\"b"` || &f1[0] != &f2[0] {
		t.Fatalf("shared frame %q %q", f1, f2)
	}
	go h.write(t,
		data(`"one"`),
		transport.Message{Payload: []byte(`"primus::ping::5"`), Control: transport.Ping},
		transport.Message{Payload: []byte(`"primus::id::x"`), Control: transport.IDAnswer},
		transport.Message{Payload: []byte{1, 2}, Binary: true},
		data(`true`),
	)
	if f := e.poll("f1"); f != `a["one","true"]` {
		t.Fatalf("poll = %s", f)
	}
	go h.write(t, data(`"last"`), transport.Message{Payload: []byte(`"primus::server::close"`), Control: transport.ServerClose})
	if f := e.poll("f1"); f != `a["last"]` {
		t.Fatalf("poll = %s", f)
	}
	if f := e.poll("f1"); f != `c[3000,"Go away!"]` {
		t.Fatalf("poll after server close = %s", f)
	}
	if err := h.waitClosed(t, time.Second); err != nil {
		t.Fatalf("OnClose(%v), want nil", err)
	}
	// The close frame is served again to the next poll.
	if f := e.poll("f1"); f != `c[3000,"Go away!"]` {
		t.Fatalf("second poll after close = %s", f)
	}
}

// TestXHRSendErrors: the reference's answers to bad sends.
func TestXHRSendErrors(t *testing.T) {
	e := newEnv(t, fast())
	h := e.open("e1")
	for _, c := range []struct {
		ctype, body string
		status      int
		answer      string
	}{
		{"text/plain", "", 500, "Payload expected."},
		{"text/plain", `{"a":1}`, 500, "Payload expected."},
		{"text/plain", `["a"`, 500, "Broken JSON encoding."},
		{"text/plain", `[]`, 204, ""},
		{"application/json", `["x"]`, 204, ""},
		{"", `["y"]`, 204, ""},
		{"T", `["z"]`, 204, ""},
		{"application/x-www-form-urlencoded", `["w"]`, 500, "Payload expected."},
	} {
		r := e.do("POST", "/s/000/e1/xhr_send", c.ctype, c.body)
		if r.status != c.status || r.body != c.answer {
			t.Errorf("send %q (%s): %d %q, want %d %q", c.body, c.ctype, r.status, r.body, c.status, c.answer)
		}
	}
	for _, want := range []string{"x", "y", "z"} {
		if ev := h.next(t, "value"); ev.data != want {
			t.Fatalf("delivered %q, want %q", ev.data, want)
		}
	}
	if r := e.do("POST", "/s/000/nobody/xhr_send", "text/plain", `["a"]`); r.status != 404 {
		t.Errorf("send to unknown session: %d", r.status)
	}
	if r := e.do("GET", "/s/000/e1/xhr_send", "", ""); r.status != 405 || r.h.Get("Allow") != "POST, OPTIONS" {
		t.Errorf("GET xhr_send: %d %v", r.status, r.h)
	}
	r := e.do("OPTIONS", "/s/000/e1/xhr", "", "", "Origin", "http://x.example")
	if r.status != 204 || r.h.Get("Access-Control-Allow-Methods") != "OPTIONS, POST" || r.h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("OPTIONS xhr: %d %v", r.status, r.h)
	}
	if r := e.do("POST", "/s/000/"+strings.Repeat("x", sockjs.MaxSessionID+1)+"/xhr", "", ""); r.status != 404 {
		t.Errorf("session id over MaxSessionID: %d", r.status)
	}
}

// TestXHRSendOverLimit: a body over MaxMessage is 413, read no further
// than the limit, and ends the session with c[1009,"Message too big"]
// and transport.ErrTooLarge.
func TestXHRSendOverLimit(t *testing.T) {
	cfg := fast()
	cfg.MaxMessage = 1000
	e := newEnv(t, cfg)
	h := e.open("big")
	if st := e.send("big", `["`+strings.Repeat("a", 996)+`"]`); st != 204 {
		t.Fatalf("body of exactly MaxMessage: %d", st)
	}
	if ev := h.next(t, "value"); len(ev.data) != 996 {
		t.Fatalf("delivered %d bytes", len(ev.data))
	}
	r := e.do("POST", "/s/000/big/xhr_send", "text/plain", `["`+strings.Repeat("a", 997)+`"]`)
	if r.status != 413 {
		t.Fatalf("over MaxMessage: %d %q", r.status, r.body)
	}
	if err := h.waitClosed(t, time.Second); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("OnClose(%v), want ErrTooLarge", err)
	}
	if f := e.poll("big"); f != `c[1009,"Message too big"]` {
		t.Fatalf("poll after oversize = %s", f)
	}
}

// TestSecondReceiver: while a stream is attached, another receiving
// request gets c[2010,"Another connection still open"] and ends; the
// first keeps the session.
func TestSecondReceiver(t *testing.T) {
	e := newEnv(t, fast())
	s := e.openStream("POST", "/s/0/r2/xhr_streaming")
	s.until("o\n")
	h := e.acc.next(t)
	if f := e.poll("r2"); f != `c[2010,"Another connection still open"]` {
		t.Fatalf("second receiver got %q", f)
	}
	go h.write(t, data(`"still here"`))
	if got := s.until("\n"); got != `a["still here"]`+"\n" {
		t.Fatalf("first receiver got %q", got)
	}
	if h.isClosed() {
		t.Fatal("session ended")
	}
}

// TestXHRStreaming: the 2 KiB prelude, then frames one per line; the
// response ends at the response limit and the next one continues the
// same session, with nothing lost between them.
func TestXHRStreaming(t *testing.T) {
	cfg := fast()
	cfg.ResponseLimit = 4096
	e := newEnv(t, cfg)
	s := e.openStream("POST", "/s/0/st/xhr_streaming")
	if s.res.Header.Get("Content-Type") != "application/javascript; charset=UTF-8" || s.res.Header.Get("Cache-Control") != noCacheValue {
		t.Fatalf("headers %v", s.res.Header)
	}
	if got := s.until("\n"); got != strings.Repeat("h", 2048)+"\n" {
		t.Fatalf("prelude %d bytes %q…", len(got), got[:10])
	}
	if got := s.until("\n"); got != "o\n" {
		t.Fatalf("first frame %q", got)
	}
	h := e.acc.next(t)
	msg := strings.Repeat("x", 1000)
	var seen int
	go func() {
		for i := range 10 {
			h.write(t, data(`"`+msg+string(rune('0'+i))+`"`))
		}
	}()
	// "o" and four 1006-byte frames stay under 4096 bytes; the fifth
	// reaches the limit, goes out, and ends the response.
	for ; seen < 5; seen++ {
		line := s.until("\n")
		if line != `a["`+msg+string(rune('0'+seen))+`"]`+"\n" {
			t.Fatalf("frame %d = %.20q…", seen, line)
		}
	}
	if !s.ended(time.Second) {
		t.Fatal("stream did not end at the response limit")
	}
	s2 := e.openStream("POST", "/s/0/st/xhr_streaming")
	s2.until(strings.Repeat("h", 2048) + "\n")
	for ; seen < 10; seen++ {
		if line := s2.until("\n"); line != `a["`+msg+string(rune('0'+seen))+`"]`+"\n" {
			t.Fatalf("frame %d on the second stream = …%q", seen, line[len(line)-10:])
		}
	}
	if h.isClosed() {
		t.Fatal("session ended between streams")
	}
}

// TestEventSource: the text/event-stream answer, its "\r\n" prelude, and
// frames as "data:" events with '%' escaped (sockjs-client runs
// decodeURI on them).
func TestEventSource(t *testing.T) {
	e := newEnv(t, fast())
	s := e.openStream("GET", "/s/0/ev/eventsource")
	if ct := s.res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	if got := s.until("\r\n\r\n"); got != "\r\ndata: o\r\n\r\n" {
		t.Fatalf("prelude and open %q", got)
	}
	h := e.acc.next(t)
	go h.write(t, data(`"100% sure"`))
	if got := s.until("\r\n\r\n"); got != `data: a["100%25 sure"]`+"\r\n\r\n" {
		t.Fatalf("event %q", got)
	}
}

// TestHTMLFileAndJSONP: the callback parameter's checks, htmlfile's padded
// head and script frames, jsonp's one frame per poll and jsonp_send's
// form body.
func TestHTMLFileAndJSONP(t *testing.T) {
	e := newEnv(t, fast())
	if r := e.do("GET", "/s/0/hf/htmlfile", "", ""); r.status != 500 || r.body != `"callback" parameter required` {
		t.Errorf("htmlfile without callback: %d %q", r.status, r.body)
	}
	if r := e.do("GET", "/s/0/hf/htmlfile?c=a%3Cb", "", ""); r.status != 500 || r.body != `invalid "callback" parameter` {
		t.Errorf("htmlfile bad callback: %d %q", r.status, r.body)
	}
	s := e.openStream("GET", "/s/0/hf/htmlfile?c=cb_1")
	head := s.until("\r\n\r\n")
	if len(head) < 1024 || !strings.Contains(head, "var c = parent.cb_1;") || s.res.Header.Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Fatalf("htmlfile head (%d bytes): %q", len(head), head)
	}
	if got := s.until("</script>\r\n"); got != "<script>\np(\"o\");\n</script>\r\n" {
		t.Fatalf("htmlfile frame %q", got)
	}
	e.acc.next(t)

	if r := e.do("GET", "/s/0/jp/jsonp?c="+strings.Repeat("a", 33), "", ""); r.status != 500 {
		t.Errorf("jsonp callback over 32 characters: %d", r.status)
	}
	r := e.do("GET", "/s/0/jp/jsonp?c=cb", "", "")
	if r.status != 200 || r.body != "/**/cb(\"o\");\r\n" || r.h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("jsonp open: %d %q %v", r.status, r.body, r.h)
	}
	h := e.acc.next(t)
	r = e.do("POST", "/s/0/jp/jsonp_send", "application/x-www-form-urlencoded", "d=%5B%22x%22%5D")
	if r.status != 200 || r.body != "ok" {
		t.Fatalf("jsonp_send: %d %q", r.status, r.body)
	}
	if ev := h.next(t, "value"); ev.data != "x" {
		t.Fatalf("delivered %q", ev.data)
	}
	go h.write(t, data(`"y"`))
	if r := e.do("GET", "/s/0/jp/jsonp?callback=cb", "", ""); r.body != "/**/cb(\"a[\\\"y\\\"]\");\r\n" {
		t.Fatalf("jsonp poll %q", r.body)
	}
}

// TestJSessionID: with the option, session requests carry the cookie:
// the client's value echoed, or "dummy".
func TestJSessionID(t *testing.T) {
	cfg := fast()
	cfg.JSessionID = true
	e := newEnv(t, cfg)
	r := e.do("POST", "/s/0/j1/xhr", "", "")
	if r.h.Get("Set-Cookie") != "JSESSIONID=dummy; path=/" {
		t.Errorf("Set-Cookie %q", r.h.Get("Set-Cookie"))
	}
	r = e.do("POST", "/s/0/j1/xhr_send", "text/plain", `[]`, "Cookie", "JSESSIONID=abc")
	if r.h.Get("Set-Cookie") != "JSESSIONID=abc; path=/" {
		t.Errorf("Set-Cookie %q", r.h.Get("Set-Cookie"))
	}
	e.acc.next(t)
	if r := newEnv(t, fast()).do("POST", "/s/0/j2/xhr", "", ""); r.h.Get("Set-Cookie") != "" {
		t.Errorf("Set-Cookie without the option: %q", r.h.Get("Set-Cookie"))
	}
}

// TestMaxSessions: a new session past the bound is 503; ending one makes
// room.
func TestMaxSessions(t *testing.T) {
	cfg := fast()
	cfg.MaxSessions = 2
	e := newEnv(t, cfg)
	h := e.open("m1")
	e.open("m2")
	if r := e.do("POST", "/s/0/m3/xhr", "", ""); r.status != 503 {
		t.Fatalf("third session: %d %q", r.status, r.body)
	}
	if _, st, err := e.dialWS("/s/0/m3/websocket"); st != 503 || err == nil {
		t.Fatalf("third session on WebSocket: %d %v", st, err)
	}
	_ = h.sess.Abort()
	e.open("m3")
}

// TestShuttingDown: a session refused by the acceptor is 503.
func TestShuttingDown(t *testing.T) {
	e := newEnv(t, fast())
	e.acc.err = transport.ErrShuttingDown
	if r := e.do("POST", "/s/0/x/xhr", "", ""); r.status != 503 {
		t.Fatalf("%d %q", r.status, r.body)
	}
	waitLen(t, e.srv, 0, time.Second)
}
