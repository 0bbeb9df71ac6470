package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"
)

const waitLong = 5 * time.Second

// testApp serves an App on a loopback test server.
type testApp struct {
	*App
	url string
}

func startApp(t *testing.T, c Config) *testApp {
	t.Helper()
	a, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		_ = a.Server().Close()
		hs.Close()
	})
	return &testApp{App: a, url: hs.URL}
}

// do sends an API request with an optional bearer token and decodes the
// JSON reply into a map.
func (ta *testApp) do(t *testing.T, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ta.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: reply %q is not a JSON object: %v", method, path, raw, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp, out
}

// rawConn is a bare WebSocket client that sees every frame as text, so
// tests check the wire format itself.
type rawConn struct {
	t      *testing.T
	conn   *gws.Conn
	msgs   chan string
	closed chan struct{}
	done   chan struct{} // closed when the test cleans up: unread frames are dropped
	// seePresence: the test reads presence events (withPresence); others
	// skip them, as they skip heartbeats (the demo tracks every room).
	seePresence bool
}

// withPresence makes the connection's reads return presence events.
func (c *rawConn) withPresence() *rawConn {
	c.seePresence = true
	return c
}

// skip reports whether frame m is none of the test's business.
func (c *rawConn) skip(m string) bool {
	return strings.HasPrefix(m, `"primus::ping::`) || (!c.seePresence && strings.HasPrefix(m, `{"allspark":1,"event":"presence_diff"`))
}

type rawEvents struct{ c *rawConn }

func (rawEvents) OnOpen(*gws.Conn)                   {}
func (e rawEvents) OnClose(*gws.Conn, error)         { close(e.c.closed) }
func (rawEvents) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }
func (rawEvents) OnPong(*gws.Conn, []byte)           {}
func (e rawEvents) OnMessage(_ *gws.Conn, m *gws.Message) {
	// A test may leave frames unread (presence events, pings): once it is
	// cleaning up, the reader drops them instead of blocking on a full
	// channel, which would keep it from ever seeing the close.
	select {
	case e.c.msgs <- m.Data.String():
	case <-e.c.done:
	}
	_ = m.Close()
}

// dialRaw connects to the app's real-time endpoint with a query string.
func (ta *testApp) dialRaw(t *testing.T, query string) *rawConn {
	t.Helper()
	c := &rawConn{t: t, msgs: make(chan string, 256), closed: make(chan struct{}), done: make(chan struct{})}
	addr := "ws" + strings.TrimPrefix(ta.url, "http") + "/primus"
	if query != "" {
		addr += "?" + query
	}
	conn, _, err := gws.NewClient(rawEvents{c}, &gws.ClientOption{Addr: addr})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.conn = conn
	go conn.ReadLoop()
	t.Cleanup(func() {
		close(c.done)
		_ = conn.NetConn().Close()
		<-c.closed
	})
	return c
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if err := c.conn.WriteString(s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame, skipping heartbeats.
func (c *rawConn) next() string {
	c.t.Helper()
	for {
		select {
		case m := <-c.msgs:
			if c.skip(m) {
				continue
			}
			return m
		case <-c.closed:
			select { // frames read before the close come first
			case m := <-c.msgs:
				if !c.skip(m) {
					return m
				}
				continue
			default:
			}
			c.t.Fatal("connection closed while waiting for a message")
		case <-time.After(waitLong):
			c.t.Fatal("timed out waiting for a message")
		}
	}
}

// expect fails unless the next frame is exactly want.
func (c *rawConn) expect(want string) {
	c.t.Helper()
	if got := c.next(); got != want {
		c.t.Fatalf("got %s, want %s", got, want)
	}
}

// quiet fails if a frame arrives within d.
func (c *rawConn) quiet(d time.Duration) {
	c.t.Helper()
	end := time.After(d)
	for {
		select {
		case m := <-c.msgs:
			if !c.skip(m) {
				c.t.Fatalf("unexpected frame %s", m)
			}
		case <-end:
			return
		}
	}
}

// id asks the server for this connection's spark id ("primus::id::"). The
// reply also proves the OnConnection hooks have run.
func (c *rawConn) id() string {
	c.t.Helper()
	c.send(`"primus::id::"`)
	m := c.next()
	id, ok := strings.CutPrefix(m, `"primus::id::`)
	if !ok {
		c.t.Fatalf("id reply %s", m)
	}
	return strings.TrimSuffix(id, `"`)
}

// ready waits until the connection's OnConnection hooks have run, using the
// echo mode: data is delivered only after them.
func (c *rawConn) ready() *rawConn {
	c.t.Helper()
	c.send(`"sync"`)
	c.expect(`"sync"`)
	return c
}
