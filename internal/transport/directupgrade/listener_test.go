package directupgrade

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture is a Listener under a real http.Server on loopback: requests the
// Listener takes reach direct, the rest reach the http.Server's handler,
// which answers "via net/http".
type fixture struct {
	l      *Listener
	addr   string
	direct chan *directCall
}

type directCall struct {
	r    *http.Request
	conn net.Conn
	pre  []byte
}

const upgradeHead = "GET /primus/?x=1 HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Multi: a\r\nX-Multi: b\r\n\r\n"

// newFixture serves with o; o.Handler, when nil, hijacks and reports the
// call on direct.
func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{addr: ln.Addr().String(), direct: make(chan *directCall, 16)}
	if o.Handler == nil {
		o.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			pre, _ := brw.Reader.Peek(brw.Reader.Buffered())
			f.direct <- &directCall{r: r, conn: c, pre: append([]byte(nil), pre...)}
		})
	}
	f.l = New(ln, o)
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			_, _ = io.WriteString(w, "via net/http "+r.Method+" "+r.URL.Path+" "+string(body))
		}),
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	done := make(chan struct{})
	go func() { _ = hs.Serve(f.l); close(done) }()
	t.Cleanup(func() { _ = hs.Close(); <-done })
	return f
}

func (f *fixture) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func (f *fixture) waitDirect(t *testing.T) *directCall {
	t.Helper()
	select {
	case d := <-f.direct:
		t.Cleanup(func() { _ = d.conn.Close() })
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("the upgrade did not reach the direct handler")
		return nil
	}
}

func readResponse(t *testing.T, c net.Conn) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestUpgradeServedDirectlyWithTheRawConnection(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t)
	// Frames right behind the head, in the same write.
	if _, err := io.WriteString(c, upgradeHead+"\x81\x85frame"); err != nil {
		t.Fatal(err)
	}
	d := f.waitDirect(t)
	if _, ok := d.conn.(*net.TCPConn); !ok {
		t.Errorf("hijacked a %T, want the *net.TCPConn itself (pollable)", d.conn)
	}
	if string(d.pre) != "\x81\x85frame" {
		t.Errorf("bytes behind the head: %q", d.pre)
	}
	r := d.r
	if r.Method != "GET" || r.URL.Path != "/primus/" || r.URL.Query().Get("x") != "1" || r.RequestURI != "/primus/?x=1" {
		t.Errorf("request line: %s %s (%q)", r.Method, r.URL, r.RequestURI)
	}
	if r.Host != "example.test" || r.Header.Get("Host") != "" {
		t.Errorf("Host %q, header %q (net/http moves it out of Header)", r.Host, r.Header.Get("Host"))
	}
	if got := r.Header.Values("X-Multi"); len(got) != 2 || got[1] != "b" {
		t.Errorf("repeated header: %q", got)
	}
	if r.RemoteAddr != c.LocalAddr().String() {
		t.Errorf("RemoteAddr %q, want the client's %q", r.RemoteAddr, c.LocalAddr())
	}
	if r.Context().Value(http.LocalAddrContextKey) != nil || r.Context().Value(http.ServerContextKey) != nil {
		t.Error("the request's context has http.Server values (it is context.Background, documented)")
	}
	if r.Body != http.NoBody && r.Body != nil {
		if n, _ := r.Body.Read(make([]byte, 1)); n != 0 {
			t.Error("an upgrade request has a body")
		}
	}
	// The connection is the handler's now, both ways.
	if _, err := io.WriteString(d.conn, "pong"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "pong" {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, err := io.WriteString(c, "more"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(d.conn, got); err != nil || string(got) != "more" {
		t.Fatalf("handler read %q, %v", got, err)
	}
}

// Requests the Listener does not take reach the http.Server with every
// byte, keep-alive included.
func TestOtherRequestsReachTheHTTPServer(t *testing.T) {
	f := newFixture(t, Options{})
	for _, tc := range []struct{ name, req, want string }{
		{"plain GET", "GET /api HTTP/1.1\r\nHost: a\r\n\r\n", "via net/http GET /api "},
		{"POST with a body", "POST /primus/?EIO=4 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "via net/http POST /primus/ hello"},
		{"upgrade with a body", "GET /primus/ HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 2\r\n\r\nhi", "via net/http GET /primus/ hi"},
		{"upgrade without Host", "GET /primus/ HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "via net/http GET /primus/ "},
		{"bare LF lines", "GET /x HTTP/1.1\nHost: a\n\n", "via net/http GET /x "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.dial(t)
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != tc.want {
				t.Fatalf("body %q, want %q", body, tc.want)
			}
			if tc.name != "plain GET" {
				return
			}
			// A second request on the same connection: net/http's keep-alive.
			_, _ = io.WriteString(c, "GET /again HTTP/1.1\r\nHost: a\r\n\r\n")
			resp, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			if string(body) != "via net/http GET /again " {
				t.Fatalf("second body %q", body)
			}
		})
	}
	select {
	case d := <-f.direct:
		t.Fatalf("%s %s was served directly", d.r.Method, d.r.URL)
	default:
	}
}

// A Takes that refuses leaves even a valid upgrade to the http.Server.
func TestTakesDecides(t *testing.T) {
	f := newFixture(t, Options{Takes: func(r *http.Request) bool { return r.URL.Path == "/mine" }})
	c := f.dial(t)
	_, _ = io.WriteString(c, upgradeHead)
	if _, body := readResponse(t, c); body != "via net/http GET /primus/ " {
		t.Fatalf("body %q", body)
	}
}

// A head that does not arrive whole in HeadTimeout is handed over (not
// closed): net/http then serves it when it completes.
func TestSlowHeadHandedOver(t *testing.T) {
	f := newFixture(t, Options{HeadTimeout: 100 * time.Millisecond})
	c := f.dial(t)
	_, _ = io.WriteString(c, "GET /primus/ HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n")
	time.Sleep(300 * time.Millisecond)
	_, _ = io.WriteString(c, "Connection: Upgrade\r\n\r\n")
	if _, body := readResponse(t, c); body != "via net/http GET /primus/ " {
		t.Fatalf("body %q", body)
	}
}

// A head over MaxHeadBytes is net/http's to judge.
func TestLongHeadHandedOver(t *testing.T) {
	f := newFixture(t, Options{MaxHeadBytes: 256})
	c := f.dial(t)
	head := strings.Replace(upgradeHead, "X-Multi: a", "X-Multi: "+strings.Repeat("a", 400), 1)
	_, _ = io.WriteString(c, head)
	if _, body := readResponse(t, c); body != "via net/http GET /primus/ " {
		t.Fatalf("body %q", body)
	}
}

// A handler that answers instead of hijacking: its response goes out with
// Connection: close, then the connection is closed.
func TestRefusalWrittenDirectly(t *testing.T) {
	f := newFixture(t, Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no token", http.StatusUnauthorized)
	})})
	c := f.dial(t)
	_, _ = io.WriteString(c, upgradeHead)
	resp, body := readResponse(t, c)
	if resp.StatusCode != http.StatusUnauthorized || body != "no token\n" || !resp.Close {
		t.Fatalf("status %d, body %q, close %v", resp.StatusCode, body, resp.Close)
	}
	if resp.Header.Get("Date") == "" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("headers %v", resp.Header)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after the response: %d bytes, %v; want EOF", n, err)
	}
}

func TestEmptyResponseIs200(t *testing.T) {
	f := newFixture(t, Options{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})})
	c := f.dial(t)
	_, _ = io.WriteString(c, upgradeHead)
	if resp, body := readResponse(t, c); resp.StatusCode != 200 || body != "" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
}

func TestPanicClosesTheConnectionAndServingGoesOn(t *testing.T) {
	var mu sync.Mutex
	var got any
	f := newFixture(t, Options{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/boom" {
				panic("boom")
			}
			w.WriteHeader(http.StatusTeapot)
		}),
		OnPanic: func(v any) { mu.Lock(); got = v; mu.Unlock() },
	})
	c := f.dial(t)
	_, _ = io.WriteString(c, strings.Replace(upgradeHead, "/primus/?x=1", "/boom", 1))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("after a panic: %d bytes, %v", n, err)
	}
	mu.Lock()
	if got != "boom" {
		t.Errorf("OnPanic got %v", got)
	}
	mu.Unlock()
	c2 := f.dial(t)
	_, _ = io.WriteString(c2, upgradeHead)
	if resp, _ := readResponse(t, c2); resp.StatusCode != http.StatusTeapot {
		t.Fatalf("next request: %d", resp.StatusCode)
	}
}

// Close ends the head readers at once instead of after HeadTimeout.
func TestCloseEndsPendingHeads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, Options{Handler: http.NotFoundHandler(), HeadTimeout: time.Minute})
	var conns []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\n")
		conns = append(conns, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		n := len(l.reading)
		l.mu.Unlock()
		if n == len(conns) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a pending connection was not closed")
		}
	}
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
}

// HijackRaw hands over the connection and the bytes behind the head, and
// refuses a second hijack.
func TestHijackRaw(t *testing.T) {
	got := make(chan []byte, 1)
	f := newFixture(t, Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rh := w.(interface {
			HijackRaw() (net.Conn, []byte, error)
		})
		c, after, err := rh.HijackRaw()
		if err != nil {
			t.Error(err)
			return
		}
		if _, _, err := rh.HijackRaw(); err == nil {
			t.Error("a second HijackRaw succeeded")
		}
		got <- after
		_ = c.Close()
	})})
	c := f.dial(t)
	_, _ = io.WriteString(c, upgradeHead+"tail")
	select {
	case after := <-got:
		if string(after) != "tail" {
			t.Fatalf("bytes behind the head %q", after)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not served")
	}
}
