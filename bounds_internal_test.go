package allspark

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/transport/websocket"
)

// endFake ends a spark made by newFakeSpark as the engine would and shuts its
// server down.
func endFake(t *testing.T, srv *Server, sp *Spark) {
	t.Helper()
	sp.End(nil, true)
	sp.OnClose(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx, ShutdownOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestMaxRoomsPerSpark(t *testing.T) {
	srv, sp, _ := newFakeSpark(t, Options{PingInterval: NoPing, MaxRoomsPerSpark: 3})
	defer endFake(t, srv, sp)
	if err := sp.Join("a", "b"); err != nil {
		t.Fatal(err)
	}
	// A batch past the bound joins none of its rooms, duplicates and rooms
	// already joined not counting twice.
	if err := sp.Join("c", "d", "a"); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("Join past the bound = %v, want ErrTooManyRooms", err)
	}
	if got := fmt.Sprint(sp.Rooms()); got != "[a b]" {
		t.Fatalf("rooms after a refused batch: %s", got)
	}
	if err := sp.Join("c", "c", "a", "b"); err != nil {
		t.Fatalf("Join up to the bound: %v", err)
	}
	if err := sp.Join("d"); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("Join past the bound = %v", err)
	}
	_ = sp.Leave("a")
	if err := sp.Join("d"); err != nil {
		t.Fatalf("Join after Leave: %v", err)
	}
}

func TestMaxRoomsPerSparkDefaultAndUnlimited(t *testing.T) {
	rooms := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint("r", i)
		}
		return out
	}
	srv, sp, _ := newFakeSpark(t, Options{PingInterval: NoPing})
	if err := sp.Join(rooms(DefaultMaxRoomsPerSpark)...); err != nil {
		t.Fatal(err)
	}
	if err := sp.Join("one-more"); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("default bound: Join = %v", err)
	}
	endFake(t, srv, sp)

	srv, sp, _ = newFakeSpark(t, Options{PingInterval: NoPing, MaxRoomsPerSpark: -1})
	if err := sp.Join(rooms(DefaultMaxRoomsPerSpark + 10)...); err != nil {
		t.Fatalf("unlimited: %v", err)
	}
	endFake(t, srv, sp)
}

func TestMaxPendingAcks(t *testing.T) {
	srv, sp, _ := newFakeSpark(t, Options{PingInterval: NoPing, MaxPendingAcks: 2})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := sp.EmitWithAck(context.Background(), "q")
			errs <- err
		}()
	}
	waitUntil(t, "two requests waiting", func() bool { return sp.ackCount.Load() == 2 })
	start := time.Now()
	if _, err := sp.EmitWithAck(context.Background(), "q"); !errors.Is(err, ErrTooManyAcks) {
		t.Fatalf("third EmitWithAck = %v, want ErrTooManyAcks", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("ErrTooManyAcks took %v", d)
	}
	endFake(t, srv, sp)
	for range 2 {
		var ee *EventError
		if err := recvWithin(t, errs); !errors.As(err, &ee) || ee.Code != CodeDisconnected {
			t.Fatalf("waiting request after End: %v", err)
		}
	}
}

// Item 12: the client leaving before started runs is not a duplicate id.
func TestClientGoneBeforeStartedIsNotDuplicate(t *testing.T) {
	var mu sync.Mutex
	var errs []error
	hookRan := false
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(_ context.Context, sp *Spark) error {
		mu.Lock()
		hookRan = true
		mu.Unlock()
		return nil
	})
	r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
	r.RemoteAddr = "127.0.0.1:1"
	sp := srv.attach(&fakeConn{}, r)
	sp.OnError(func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	sp.OnClose(nil) // the read loop ends before the upgrade handler calls started
	srv.started(sp)
	if err := shutdownWithin(t, srv); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, err := range errs {
		if errors.Is(err, ErrDuplicateID) {
			t.Fatalf("a client that left early was reported as a duplicate id")
		}
	}
	if hookRan {
		t.Fatal("connection hooks ran after the spark had ended")
	}
}

// A real collision (from a colliding IDGenerator) still reports ErrDuplicateID.
func TestCollidingIDGeneratorReportsDuplicate(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing, IDGenerator: func() string { return "same" }})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
	first := srv.attach(&fakeConn{}, r)
	second := srv.attach(&fakeConn{}, r)
	got := make(chan error, 1)
	second.OnError(func(err error) { got <- err })
	srv.started(second)
	if err := recvWithin(t, got); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("collision reported %v", err)
	}
	if sp, ok := srv.Spark("same"); !ok || sp != first {
		t.Fatal("the first holder of the id was lost")
	}
	second.OnClose(nil)
	endFake(t, srv, first)
}

// gatedConn is a fakeConn whose WriteBatch waits for the gate, like a socket
// whose buffer is full.
type gatedConn struct {
	fakeConn
	gate chan struct{}
}

func (c *gatedConn) WriteBatch(msgs []websocket.Message) (int, int, error) {
	<-c.gate
	return c.fakeConn.WriteBatch(msgs)
}

// Flush on peer close: what was queued is written before OnPeerClose
// returns, and later writes fail with ErrClosed.
func TestPeerCloseFlushesQueue(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	conn := &gatedConn{gate: make(chan struct{})}
	r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
	sp := srv.attach(conn, r)
	for i := range 10 {
		if err := sp.Write(i); err != nil {
			t.Fatal(err)
		}
	}
	returned := make(chan struct{})
	go func() {
		sp.OnPeerClose()
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("OnPeerClose returned before the queue was written")
	case <-time.After(100 * time.Millisecond):
	}
	if err := sp.Write("late"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after the peer's Close = %v, want ErrClosed", err)
	}
	close(conn.gate)
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("OnPeerClose did not return after the queue drained")
	}
	conn.mu.Lock()
	n := len(conn.writes)
	conn.mu.Unlock()
	if n != 10 {
		t.Fatalf("%d of 10 queued messages written before the close", n)
	}
	sp.OnClose(nil)
	if err := shutdownWithin(t, srv); err != nil {
		t.Fatal(err)
	}
}

// OnPeerClose waits at most WriteTimeout for a writer that makes no progress.
func TestPeerCloseFlushIsBoundedByWriteTimeout(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing, WriteTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	conn := &gatedConn{gate: make(chan struct{})}
	r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
	sp := srv.attach(conn, r)
	_ = sp.Write("stuck")
	start := time.Now()
	sp.OnPeerClose()
	if d := time.Since(start); d < 90*time.Millisecond || d > 3*time.Second {
		t.Fatalf("OnPeerClose took %v with a 100ms write timeout", d)
	}
	close(conn.gate)
	sp.OnClose(nil)
	if err := shutdownWithin(t, srv); err != nil {
		t.Fatal(err)
	}
}

// Item 7: the spark keeps a trimmed copy of the upgrade request.
func TestSparkRequestIsTrimmed(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://example.com/primus/x?a=1", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate")
	r.Header.Set("Cookie", "session=1")
	r.Form = map[string][]string{"big": {"form"}}
	r.Pattern = "/primus/{tenant}" // as http.ServeMux leaves it
	r.SetPathValue("tenant", "t1")
	type ctxKey struct{}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "v"))
	sp := srv.attach(&fakeConn{}, r)
	got := sp.Request()
	if got == r {
		t.Fatal("the spark keeps the upgrade request itself")
	}
	for _, h := range []string{"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions"} {
		if sp.Headers().Get(h) == "" {
			t.Errorf("%s dropped (Primus keeps every header)", h)
		}
	}
	if got.Header.Get("Cookie") != "session=1" || sp.Headers().Get("Host") != "example.com" {
		t.Errorf("headers lost: %v", got.Header)
	}
	if got.Form != nil || got.Body != http.NoBody || got.GetBody != nil {
		t.Error("form or body kept")
	}
	if got.URL.RawQuery != "a=1" || got.Method != http.MethodGet || got.RemoteAddr != "127.0.0.1:1" ||
		got.PathValue("tenant") != "t1" || got.Context().Value(ctxKey{}) != "v" || sp.Context().Value(ctxKey{}) != "v" {
		t.Errorf("exposed fields lost: %+v", got)
	}
	endFake(t, srv, sp)
}

// A request without TLS or pattern wildcards is kept packed and built on
// the first Request call, with the spark's context: alive until the spark
// ends, carrying the request context's values.
func TestSparkRequestBuiltFromPacked(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	// As a server reads it: URL parsed from the RequestURI.
	r, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	r.RequestURI = "/primus/x?a=1&b=%20"
	r.URL, _ = url.ParseRequestURI(r.RequestURI)
	r.RemoteAddr = "127.0.0.1:1"
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header.Set("Cookie", "session=1")
	type ctxKey struct{}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "v"))
	sp := srv.attach(&fakeConn{}, r)
	if sp.req != nil {
		t.Fatal("the request was kept as a copy")
	}
	if q := sp.Query(); q.Get("a") != "1" || q.Get("b") != " " || sp.req != nil {
		t.Fatalf("Query %v (req built: %v)", q, sp.req != nil)
	}
	got := sp.Request()
	if got.Method != "GET" || got.URL.String() != r.URL.String() || got.RequestURI != r.RequestURI || got.Host != "example.com" ||
		got.RemoteAddr != "127.0.0.1:1" || got.ProtoMajor != 1 || got.ProtoMinor != 1 || got.Body != http.NoBody {
		t.Fatalf("built request %+v", got)
	}
	if got.Header.Get("Cookie") != "session=1" || got.Header.Get("Host") != "example.com" {
		t.Fatalf("headers %v", got.Header)
	}
	if got.Context().Value(ctxKey{}) != "v" || got.Context().Err() != nil {
		t.Fatal("the request's context lost its values or is done while the spark lives")
	}
	if sp.Request() != got {
		t.Fatal("a second call built another request")
	}
	endFake(t, srv, sp)
	if got.Context().Err() == nil {
		t.Fatal("the request's context outlived the spark")
	}

	// A request no server read (no RequestURI) keeps its URL whole.
	r2, _ := http.NewRequest(http.MethodGet, "http://example.com/p?q=1#frag", nil)
	r2.RemoteAddr = "127.0.0.1:2"
	sp2 := srv.attach(&fakeConn{}, r2)
	if q := sp2.Query(); q.Get("q") != "1" {
		t.Fatalf("Query %v", q)
	}
	if got := sp2.Request(); got.URL.String() != r2.URL.String() || got.RequestURI != "" {
		t.Fatalf("URL %s RequestURI %q, want %s and none", got.URL, got.RequestURI, r2.URL)
	}
	endFake(t, srv, sp2)
}

// recvWithin receives from ch, failing the test after 5 s.
func recvWithin[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

// waitUntil polls cond until it holds, failing after 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// shutdownWithin shuts srv down, failing the test if that takes 5 s.
func shutdownWithin(t *testing.T, srv *Server) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx, ShutdownOptions{})
}
