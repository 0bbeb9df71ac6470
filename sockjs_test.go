package allspark_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// sjClient is a raw SockJS xhr-polling client of one session.
type sjClient struct {
	t    testing.TB
	base string // the SockJS base URL: server origin + prefix
	id   string
	hdr  http.Header
}

func sjDo(t testing.TB, method, url, ctype, body string, hdr http.Header) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// sjOpen opens a session and checks its "o".
func sjOpen(t testing.TB, base, id string) *sjClient {
	t.Helper()
	c := &sjClient{t: t, base: base, id: id}
	if f := c.poll(); f != "o" {
		t.Fatalf("open %s: %q", id, f)
	}
	return c
}

func (c *sjClient) poll() string {
	c.t.Helper()
	st, body, _ := sjDo(c.t, "POST", c.base+"/0/"+c.id+"/xhr", "", "", c.hdr)
	if st != 200 {
		c.t.Fatalf("poll: %d %q", st, body)
	}
	return strings.TrimSuffix(body, "\n")
}

// until polls until a frame other than a heartbeat arrives.
func (c *sjClient) until() string {
	c.t.Helper()
	for {
		if f := c.poll(); f != "h" {
			return f
		}
	}
}

// messages polls until at least n messages arrived in "a" frames and
// returns them (heartbeats skipped; any other frame fails the test).
func (c *sjClient) messages(n int) []string {
	c.t.Helper()
	var out []string
	for len(out) < n {
		f := c.until()
		var ms []string
		if !strings.HasPrefix(f, "a") || json.Unmarshal([]byte(f[1:]), &ms) != nil {
			c.t.Fatalf("frame %q, want messages", f)
		}
		out = append(out, ms...)
	}
	return out
}

func (c *sjClient) send(body string) {
	c.t.Helper()
	if st, b, _ := sjDo(c.t, "POST", c.base+"/0/"+c.id+"/xhr_send", "text/plain", body, c.hdr); st != 204 {
		c.t.Fatalf("send %s: %d %q", body, st, b)
	}
}

func nextSpark(t testing.TB, ch <-chan *allspark.Spark) *allspark.Spark {
	t.Helper()
	select {
	case sp := <-ch:
		return sp
	case <-time.After(waitLong):
		t.Fatal("no spark")
		return nil
	}
}

// TestSockJSPlainPath: a plain sockjs-client session is a spark: its
// strings reach OnData as strings, Write sends strings as themselves and
// other values as their JSON text, broadcasts reach it, and End without
// reconnect closes it with c[3000,"Go away!"].
func TestSockJSPlainPath(t *testing.T) {
	sparks := make(chan *allspark.Spark, 4)
	got := make(chan any, 10)
	srv, base := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
			s.OnData(func(d any) { got <- d })
			sparks <- s
			return nil
		})
	})
	c := sjOpen(t, base+"/sockjs", "plain1")
	sp := nextSpark(t, sparks)
	c.send(`["hello","{\"not\":\"parsed\"}"]`)
	for _, want := range []string{"hello", `{"not":"parsed"}`} {
		select {
		case d := <-got:
			if d != want {
				t.Fatalf("OnData(%#v), want %q", d, want)
			}
		case <-time.After(waitLong):
			t.Fatal("no data")
		}
	}
	_ = sp.Write("hi")
	_ = sp.Write(map[string]any{"a": 1})
	if _, err := srv.Broadcast("to all"); err != nil {
		t.Fatal(err)
	}
	if msgs := c.messages(3); strings.Join(msgs, "|") != `hi|{"a":1}|to all` {
		t.Fatalf("messages %q", msgs)
	}
	sp.End(nil, false)
	if f := c.until(); f != `c[3000,"Go away!"]` {
		t.Fatalf("after End(nil, false): %q", f)
	}
	c2 := sjOpen(t, base+"/sockjs", "plain2")
	sp2 := nextSpark(t, sparks)
	sp2.End(nil, true)
	if f := c2.until(); f != `c[1000,"Normal closure"]` {
		t.Fatalf("after End(nil, true): %q", f)
	}
}

// TestSockJSPrimusPath: under the pathname a session carries Primus
// framing: double-encoded strings, the id request answered, pings sent,
// and End(nil, false) as "primus::server::close" then the close frame.
func TestSockJSPrimusPath(t *testing.T) {
	sparks := make(chan *allspark.Spark, 1)
	_, base := startServer(t, allspark.Options{PingInterval: 100 * time.Millisecond}, func(srv *allspark.Server) {
		echo(srv)
		srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
			sparks <- s
			return nil
		})
	})
	c := sjOpen(t, base+"/primus", "p1")
	sp := nextSpark(t, sparks)
	c.send(`["{\"echo\":[1,\"two\"]}","\"primus::id::\""]`)
	want := map[string]bool{`{"echo":[1,"two"]}`: true, `"primus::id::` + sp.ID() + `"`: true}
	ping := false
	for len(want) > 0 || !ping {
		for _, m := range c.messages(1) {
			if pong, ok := strings.CutPrefix(m, `"primus::ping::`); ok {
				ping = true
				c.send(`["\"primus::pong::` + strings.TrimSuffix(pong, `"`) + `\""]`)
				continue
			}
			if !want[m] {
				t.Fatalf("unexpected message %q", m)
			}
			delete(want, m)
		}
	}
	sp.End(nil, false)
	var last string
	for !strings.HasPrefix(last, "c[") {
		last = c.until()
		if strings.HasPrefix(last, "a[") && !strings.Contains(last, "primus::server::close") && !strings.Contains(last, "primus::ping") {
			t.Fatalf("unexpected frame %q", last)
		}
	}
	if last != `c[1000,"Normal closure"]` {
		t.Fatalf("close frame %q", last)
	}
}

// TestSockJSPrimusHeartbeat: a Primus-path session that never answers the
// Primus ping is ended (c[1000]) like a WebSocket spark; a plain-path
// session gets no Primus ping and is kept.
func TestSockJSPrimusHeartbeat(t *testing.T) {
	_, base := startServer(t, allspark.Options{PingInterval: 50 * time.Millisecond}, nil)
	primus := sjOpen(t, base+"/primus", "hb1")
	plain := sjOpen(t, base+"/sockjs", "hb2")
	deadline := time.Now().Add(waitLong)
	for {
		f := primus.until()
		if f == `c[1000,"Normal closure"]` {
			break
		}
		if !strings.Contains(f, "primus::ping::") || time.Now().After(deadline) {
			t.Fatalf("Primus path frame %q", f)
		}
	}
	done := make(chan string, 1)
	go func() { done <- plain.poll() }()
	select {
	case f := <-done:
		t.Fatalf("plain path got %q: it must not be pinged or ended", f)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestSockJSRouting: what answers where once SockJS shares the pathname.
func TestSockJSRouting(t *testing.T) {
	_, base := startServer(t, allspark.Options{}, nil)
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/primus", 426, ""},
		{"GET", "/primus/", 426, ""},
		{"GET", "/primus/a/b", 426, ""},
		{"GET", "/primus/a/b/nope", 426, ""},
		{"GET", "/primus/spec", 200, `"transformer":"websockets"`},
		{"GET", "/primus/info", 200, `"origins":["*:*"]`},
		{"GET", "/primus/0/x/websocket", 400, "Not a valid websocket request"},
		{"GET", "/sockjs", 200, "Welcome to SockJS!\n"},
		{"GET", "/sockjs/", 200, "Welcome to SockJS!\n"},
		{"GET", "/sockjs/info", 200, `"websocket":true`},
		{"GET", "/sockjs/nope", 404, ""},
		{"GET", "/sockjsx", 404, ""},
		{"GET", "/elsewhere", 404, ""},
	} {
		st, body, _ := sjDo(t, c.method, base+c.path, "", "", nil)
		if st != c.status || !strings.Contains(body, c.body) {
			t.Errorf("%s %s: %d %q, want %d with %q", c.method, c.path, st, body, c.status, c.body)
		}
	}
	_, off := startServer(t, allspark.Options{SockJS: allspark.SockJSOptions{Disabled: true}}, nil)
	if st, _, _ := sjDo(t, "GET", off+"/primus/info", "", "", nil); st != 426 {
		t.Errorf("disabled: /primus/info %d", st)
	}
	if st, _, _ := sjDo(t, "GET", off+"/sockjs", "", "", nil); st != 404 {
		t.Errorf("disabled: /sockjs %d", st)
	}
	_, moved := startServer(t, allspark.Options{SockJS: allspark.SockJSOptions{PlainPath: "rt/"}}, nil)
	if st, _, _ := sjDo(t, "GET", moved+"/rt", "", "", nil); st != 200 {
		t.Errorf("PlainPath rt/: %d", st)
	}
	for _, p := range []string{"/primus", "/", "/socket.io", "/socket.io/sockjs"} {
		if _, err := allspark.New(allspark.Options{SockJS: allspark.SockJSOptions{PlainPath: p}}); err == nil {
			t.Errorf("PlainPath %q hiding the pathname or the Socket.IO path accepted", p)
		}
	}
	// Inside the pathname the plain path is served first.
	_, root := startServer(t, allspark.Options{Pathname: "/"}, nil)
	for path, want := range map[string]int{"/sockjs": 200, "/info": 200, "/spec": 200, "/elsewhere": 426} {
		if st, _, _ := sjDo(t, "GET", root+path, "", "", nil); st != want {
			t.Errorf("Pathname /: GET %s %d, want %d", path, st, want)
		}
	}
	_, inner := startServer(t, allspark.Options{SockJS: allspark.SockJSOptions{PlainPath: "/primus/plain"}}, nil)
	if st, body, _ := sjDo(t, "GET", inner+"/primus/plain", "", "", nil); st != 200 || body != "Welcome to SockJS!\n" {
		t.Errorf("PlainPath inside the pathname: %d %q", st, body)
	}
}

// TestSockJSOrigins: a session request from a foreign page is refused like
// a WebSocket upgrade (it carries the user's cookies); /info stays public;
// the server's own origin and listed ones are answered with the Origin
// echoed and credentials allowed, preflights by SockJS itself.
func TestSockJSOrigins(t *testing.T) {
	_, base := startServer(t, allspark.Options{CORS: allspark.CORSOptions{Origins: []string{"http://app.example"}}}, nil)
	foreign := http.Header{"Origin": {"http://evil.example"}}
	if st, _, _ := sjDo(t, "POST", base+"/sockjs/0/o1/xhr", "", "", foreign); st != 403 {
		t.Errorf("foreign xhr: %d", st)
	}
	if st, _, _ := sjDo(t, "POST", base+"/primus/0/o1/xhr_streaming", "", "", foreign); st != 403 {
		t.Errorf("foreign xhr_streaming under the pathname: %d", st)
	}
	listed := http.Header{"Origin": {"http://app.example"}}
	st, body, h := sjDo(t, "POST", base+"/sockjs/0/o2/xhr", "", "", listed)
	if st != 200 || body != "o\n" || h.Get("Access-Control-Allow-Origin") != "http://app.example" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("listed origin: %d %q %v", st, body, h)
	}
	pre := http.Header{"Origin": {"http://app.example"}, "Access-Control-Request-Method": {"POST"}}
	st, _, h = sjDo(t, "OPTIONS", base+"/sockjs/0/o2/xhr_send", "", "", pre)
	if st != 204 || h.Get("Access-Control-Allow-Methods") != "OPTIONS, POST" || h.Get("Cache-Control") != "public, max-age=31536000" {
		t.Errorf("preflight: %d %v", st, h)
	}
	_, open := startServer(t, allspark.Options{}, nil)
	st, _, h = sjDo(t, "GET", open+"/sockjs/info", "", "", foreign)
	if st != 200 || h.Get("Access-Control-Allow-Origin") != "http://evil.example" {
		t.Errorf("foreign /info without an origin list: %d %v", st, h)
	}
	if st, _, _ := sjDo(t, "POST", open+"/sockjs/0/o3/xhr", "", "", foreign); st != 403 {
		t.Errorf("foreign session without an origin list: %d", st)
	}
}
