package allspark_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// serveDirect runs srv.Serve on a loopback listener and returns its base URL.
func serveDirect(t *testing.T, srv *allspark.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, allspark.ShutdownOptions{})
		<-served
	})
	return "http://" + ln.Addr().String()
}

// Serve reads upgrades itself (Server.Listener): the spark sees the same
// request as through net/http, and an idle one holds no goroutine.
func TestServeUpgradesDirectly(t *testing.T) {
	srv, err := allspark.New(allspark.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// direct: the request never went through an http.Server (no
	// ServerContextKey, no LocalAddrContextKey: documented).
	type seen struct {
		host, header, query, remote, path string
		direct                            bool
	}
	got := make(chan seen, 1)
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if sp.Query().Get("probe") != "" {
			got <- seen{sp.Request().Host, sp.Headers().Get("X-Probe"), sp.Query().Get("probe"), sp.RemoteAddr().Addr().String(), sp.Request().URL.Path,
				sp.Context().Value(http.ServerContextKey) == nil && sp.Context().Value(http.LocalAddrContextKey) == nil}
		}
		sp.OnData(func(data any) { _ = sp.Write(data) })
		return nil
	})
	base := serveDirect(t, srv)
	c := dial(t, base, "/primus?probe=1", http.Header{"X-Probe": {"yes"}})
	select {
	case s := <-got:
		want := seen{strings.TrimPrefix(base, "http://"), "yes", "1", "127.0.0.1", "/primus", true}
		if s != want {
			t.Fatalf("spark saw %+v, want %+v", s, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	c.sendText(`"hello"`)
	c.expect(`"hello"`)

	// Polling is net/http's: an Engine.IO handshake through the same port.
	resp, err := http.Get(base + "/primus/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "0{") {
		t.Fatalf("polling handshake: %d %q", resp.StatusCode, body)
	}

	const n = 200
	before := runtime.NumGoroutine()
	for range n {
		dial(t, base, "/primus", nil)
	}
	waitFor(t, "sparks", func() bool { return srv.Len() >= n+1 })
	time.Sleep(100 * time.Millisecond) // let upgrade goroutines finish
	// The test's own gws clients hold one read goroutine each.
	if grown := runtime.NumGoroutine() - before; grown > n+n/10 {
		t.Fatalf("%d idle sparks grew the goroutines by %d: the server holds one per connection", n, grown)
	}
}

// allspark.Listener routes each upgrade to the Server that owns its path,
// the longest pathname first, as the mux does.
func TestListenerPicksTheOwningServer(t *testing.T) {
	mux := http.NewServeMux()
	var servers []*allspark.Server
	hits := make(chan string, 4)
	for _, p := range []string{"/a", "/a/b"} {
		srv, err := allspark.New(allspark.Options{Pathname: p})
		if err != nil {
			t.Fatal(err)
		}
		srv.OnConnection(func(context.Context, *allspark.Spark) error { hits <- p; return nil })
		mux.Handle(p, srv)
		mux.Handle(p+"/", srv)
		servers = append(servers, srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { _ = hs.Serve(allspark.Listener(ln, servers...)); close(done) }()
	t.Cleanup(func() {
		for _, s := range servers {
			_ = s.Shutdown(context.Background(), allspark.ShutdownOptions{})
		}
		_ = hs.Close()
		<-done
	})
	base := "http://" + ln.Addr().String()
	for _, tc := range []struct{ path, want string }{{"/a/b", "/a/b"}, {"/a", "/a"}, {"/a/b/", "/a/b"}} {
		dial(t, base, tc.path, nil)
		select {
		case h := <-hits:
			if h != tc.want {
				t.Errorf("%s reached %s, want %s", tc.path, h, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no connection", tc.path)
		}
	}
	// Not an owned path: the mux answers (404), not a server.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 12)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "HTTP/1.1 404" {
		t.Fatalf("unowned path: %q %v", b, err)
	}
}
