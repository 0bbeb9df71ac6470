package allspark_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/parser"
)

// sseStream is a client's event stream at <pathname>/sse.
type sseStream struct {
	t   testing.TB
	res *http.Response
	r   *bufio.Reader
}

// sseGet requests a stream; the caller checks the status.
func sseGet(t testing.TB, url string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// sseOpen opens a stream and reads past its prelude (the padding comment
// and the retry field).
func sseOpen(t testing.TB, url string, header http.Header) *sseStream {
	t.Helper()
	res := sseGet(t, url, header)
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %q", url, res.StatusCode, body)
	}
	s := &sseStream{t: t, res: res, r: bufio.NewReader(res.Body)}
	for _, prefix := range []string{":   ", "retry: "} {
		line, err := s.r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, prefix) {
			t.Fatalf("stream start: %.40q, %v; want %q…", line, err, prefix)
		}
	}
	return s
}

// sseEvent is one event block: its fields in order.
type sseEvent struct{ id, event, data string }

// next reads the next event block, skipping comments.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev sseEvent
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				ch <- result{ev, err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				ch <- result{ev, nil}
				return
			case strings.HasPrefix(line, ":"):
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					ev.id = v
				case "event":
					ev.event = v
				case "data":
					if ev.data != "" {
						ev.data += "\n"
					}
					ev.data += v
				}
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			s.t.Fatalf("reading an event: %v (got %+v)", r.err, r.ev)
		}
		return r.ev
	case <-time.After(waitLong):
		s.t.Fatal("no event within 5s")
		return sseEvent{}
	}
}

// end reads the stream to its end, which must come cleanly.
func (s *sseStream) end() string {
	s.t.Helper()
	ch := make(chan string, 1)
	go func() {
		b, err := io.ReadAll(s.r)
		if err != nil {
			b = append(b, "<error: "+err.Error()+">"...)
		}
		ch <- string(b)
	}()
	select {
	case rest := <-ch:
		return rest
	case <-time.After(waitLong):
		s.t.Fatal("the stream did not end within 5s")
		return ""
	}
}

// onlySpark waits for the server's single spark.
func onlySpark(t testing.TB, srv *allspark.Server) *allspark.Spark {
	t.Helper()
	var sp *allspark.Spark
	if !waitUntil(waitLong, func() bool {
		n := 0
		srv.ForEach(func(s *allspark.Spark) bool { sp = s; n++; return true })
		return n == 1
	}) {
		t.Fatalf("want one spark, have %d", srv.Len())
	}
	return sp
}

func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// TestSSESubscriberIsASpark: the stream's spark went through the
// connection hooks, is in its rooms before the stream opens, gets room
// writes and named events with ids naming it, and is gone when the client
// leaves.
func TestSSESubscriberIsASpark(t *testing.T) {
	hooked := make(chan *allspark.Spark, 1)
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			hooked <- sp
			return nil
		})
	})
	s := sseOpen(t, url+"/primus/sse?rooms=lobby,news&rooms=lobby", nil)
	// Joined before the stream opened: no wait for the hooks.
	if n := srv.Room("lobby").Len(); n != 1 {
		t.Fatalf("lobby has %d members when the stream is open, want 1", n)
	}
	sp := <-hooked
	if got := sp.Rooms(); len(got) != 2 {
		t.Errorf("rooms %v, want lobby and news", got)
	}
	if sp.Query().Get("rooms") != "lobby,news" {
		t.Errorf("query %v", sp.Query())
	}
	if _, err := srv.Room("lobby").Write(map[string]any{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Room("news").Emit("headline", "SSE lands"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Room("lobby").Emit("move", 3, 4); err != nil {
		t.Fatal(err)
	}
	for i, want := range []sseEvent{
		{id: sp.ID() + ":1", data: `{"text":"hi"}`},
		{id: sp.ID() + ":2", event: "headline", data: `"SSE lands"`},
		{id: sp.ID() + ":3", event: "move", data: `[3,4]`},
	} {
		if got := s.next(); got != want {
			t.Errorf("event %d = %+v, want %+v", i+1, got, want)
		}
	}
	s.res.Body.Close()
	if !waitUntil(waitLong, func() bool { return srv.Len() == 0 && srv.Room("lobby").Len() == 0 }) {
		t.Fatalf("after the client left: %d sparks, lobby %d", srv.Len(), srv.Room("lobby").Len())
	}
}

// TestSSEEndWithoutReconnectIsTold204: End(nil, false) writes the end
// marker and ends the stream; the reconnect carrying it gets 204 and opens
// no spark. End(nil, true) ends it without the marker.
func TestSSEEndWithoutReconnectIsTold204(t *testing.T) {
	srv, url := startServer(t, allspark.Options{}, nil)
	s := sseOpen(t, url+"/primus/sse", nil)
	sp := onlySpark(t, srv)
	_ = sp.Write("last words")
	sp.End(nil, false)
	if got := s.next(); got.data != `"last words"` {
		t.Fatalf("event = %+v", got)
	}
	if rest := s.end(); rest != "id: "+sp.ID()+":end\nevent: end\ndata: \n\n" {
		t.Fatalf("stream ended with %q, want the end marker", rest)
	}
	res := sseGet(t, url+"/primus/sse", http.Header{"Last-Event-ID": {sp.ID() + ":end"}})
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("reconnect after End(nil, false): %d, want 204", res.StatusCode)
	}
	if srv.Len() != 0 {
		t.Fatalf("the refused reconnect made a spark")
	}

	s = sseOpen(t, url+"/primus/sse", http.Header{"Last-Event-ID": {sp.ID() + ":1"}})
	sp2 := onlySpark(t, srv)
	if sp2.ID() == sp.ID() {
		t.Fatal("a reconnect resumed the old spark; it starts a new one")
	}
	sp2.End(nil, true)
	if rest := s.end(); rest != "" {
		t.Fatalf("End(nil, true) ended the stream with %q, want nothing (the client reconnects)", rest)
	}
}

func TestSSEBadRooms(t *testing.T) {
	srv, url := startServer(t, allspark.Options{MaxRoomsPerSpark: 2}, nil)
	for _, q := range []string{"rooms=a,,b", "rooms=", "rooms=" + strings.Repeat("r", 257), "rooms=%ff", "rooms=a,b,c", "rooms=a&rooms=b,c"} {
		res := sseGet(t, url+"/primus/sse?"+q, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(body), `{"error":`) {
			t.Errorf("%.40s: %d %q, want 400 with a JSON error", q, res.StatusCode, body)
		}
	}
	if srv.Len() != 0 {
		t.Errorf("a refused stream made a spark")
	}
	sseOpen(t, url+"/primus/sse?rooms=a,b,a", nil) // two distinct rooms fit
}

func TestSSERefusedByAuthorization(t *testing.T) {
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.Authorize(func(r *http.Request) error {
			if r.URL.Query().Get("token") == "ok" {
				return nil
			}
			return &allspark.AuthError{Message: "who are you", Authenticate: "Bearer"}
		})
	})
	res := sseGet(t, url+"/primus/sse", nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusUnauthorized || string(body) != `{"error":"who are you"}` ||
		res.Header.Get("WWW-Authenticate") != "Bearer" || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("refused stream: %d %q %v", res.StatusCode, body, res.Header)
	}
	if srv.Len() != 0 {
		t.Fatal("a refused stream made a spark")
	}
	sseOpen(t, url+"/primus/sse?token=ok", nil)
}

// TestSSEOrigins: a stream opens a spark, so it gets the upgrade's origin
// rule: own origin or no Origin, listed origins, nothing else.
func TestSSEOrigins(t *testing.T) {
	_, url := startServer(t, allspark.Options{}, nil)
	host := strings.TrimPrefix(url, "http://")
	res := sseGet(t, url+"/primus/sse", http.Header{"Origin": {"https://evil.example"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: %d, want 403", res.StatusCode)
	}
	s := sseOpen(t, url+"/primus/sse", http.Header{"Origin": {"http://" + host}})
	if got := s.res.Header.Get("Access-Control-Allow-Origin"); got == "" {
		t.Errorf("same-origin stream lacks Access-Control-Allow-Origin")
	}

	_, url2 := startServer(t, allspark.Options{CORS: allspark.CORSOptions{Origins: []string{"https://app.example"}, Credentials: true}}, nil)
	s = sseOpen(t, url2+"/primus/sse", http.Header{"Origin": {"https://app.example"}})
	h := s.res.Header
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("listed origin: ACAO %q ACAC %q", h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"))
	}
	if res := sseGet(t, url2+"/primus/sse", http.Header{"Origin": {"https://other.example"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("unlisted origin: %d, want 403", res.StatusCode)
	}
}

func TestSSEHeadersThroughMiddleware(t *testing.T) {
	_, url := startServer(t, allspark.Options{}, nil)
	s := sseOpen(t, url+"/primus/sse", nil)
	h := s.res.Header
	if h.Get("Content-Type") != "text/event-stream" || h.Get("X-Accel-Buffering") != "no" ||
		!strings.Contains(h.Get("Cache-Control"), "no-store") || h.Get("Pragma") != "no-cache" {
		t.Errorf("headers %v", h)
	}
}

// TestSSEGetsNoPrimusPing: the stream keeps itself alive with comments;
// the server's Primus heartbeat neither writes to it nor ends it for a
// missing pong, which an EventSource could never send.
func TestSSEGetsNoPrimusPing(t *testing.T) {
	srv, url := startServer(t, allspark.Options{PingInterval: 20 * time.Millisecond,
		SSE: allspark.SSEOptions{Heartbeat: 15 * time.Millisecond}}, nil)
	s := sseOpen(t, url+"/primus/sse", nil)
	sp := onlySpark(t, srv)
	deadline := time.Now().Add(200 * time.Millisecond)
	comments := 0
	for time.Now().Before(deadline) {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		if line != ":\n" {
			t.Fatalf("stream wrote %q, want only heartbeat comments", line)
		}
		comments++
	}
	if sp.ReadyState() != allspark.Open || comments < 3 {
		t.Fatalf("after 10 Primus ping intervals: %v, %d heartbeats", sp.ReadyState(), comments)
	}
}

func TestSSEPathAndDisabled(t *testing.T) {
	_, url := startServer(t, allspark.Options{SSE: allspark.SSEOptions{Path: "/events/"}}, nil)
	sseOpen(t, url+"/primus/events", nil)
	if res := sseGet(t, url+"/primus/sse", nil); res.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("old path: %d, want 426", res.StatusCode)
	}
	_, url = startServer(t, allspark.Options{SSE: allspark.SSEOptions{Disabled: true}}, nil)
	if res := sseGet(t, url+"/primus/sse", nil); res.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("disabled: %d, want 426", res.StatusCode)
	}
	_, url = startServer(t, allspark.Options{Pathname: "/"}, nil)
	sseOpen(t, url+"/sse", nil)
}

func TestSSEWithMessagePack(t *testing.T) {
	srv, url := startServer(t, allspark.Options{Parser: parser.MsgPack{}}, nil)
	s := sseOpen(t, url+"/primus/sse?rooms=r", nil)
	sp := onlySpark(t, srv)
	_, _ = srv.Room("r").Write(map[string]any{"n": 1, "b": []byte{1, 2}})
	_ = sp.Emit("e", "x", 2)
	if got := s.next(); got.data != `{"b":"AQI=","n":1}` {
		t.Errorf("MessagePack data sent as %q", got.data)
	}
	if got := s.next(); got.event != "e" || got.data != `["x",2]` {
		t.Errorf("MessagePack event sent as %+v", got)
	}
}

// TestSSEEmitWithAckTimesOut: a subscriber cannot answer; the caller's
// context bounds the wait.
func TestSSEEmitWithAckTimesOut(t *testing.T) {
	srv, url := startServer(t, allspark.Options{}, nil)
	s := sseOpen(t, url+"/primus/sse", nil)
	sp := onlySpark(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := sp.EmitWithAck(ctx, "question"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("EmitWithAck = %v, want the context's deadline", err)
	}
	if got := s.next(); got.event != "question" {
		t.Errorf("event %+v", got)
	}
}

// TestSSEShutdown: Shutdown without reconnect tells every stream to stop
// (end marker); a stream requested meanwhile is answered 204. With
// reconnect, streams end plainly, and one requested meanwhile gets a
// stream that ends at once, so the client comes back later.
func TestSSEShutdown(t *testing.T) {
	for _, reconnect := range []bool{false, true} {
		srv, url := startServer(t, allspark.Options{}, nil)
		s := sseOpen(t, url+"/primus/sse", nil)
		sp := onlySpark(t, srv)
		if err := srv.Shutdown(context.Background(), allspark.ShutdownOptions{Reconnect: reconnect, KeepListener: true}); err != nil {
			t.Fatal(err)
		}
		want := "id: " + sp.ID() + ":end\nevent: end\ndata: \n\n"
		if reconnect {
			want = ""
		}
		if rest := s.end(); rest != want {
			t.Errorf("reconnect %v: stream ended with %q, want %q", reconnect, rest, want)
		}
		res := sseGet(t, url+"/primus/sse", nil)
		body, _ := io.ReadAll(res.Body)
		switch {
		case !reconnect && res.StatusCode != http.StatusNoContent:
			t.Errorf("stream during Shutdown without reconnect: %d, want 204", res.StatusCode)
		case reconnect && (res.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "retry: ")):
			t.Errorf("stream during Shutdown with reconnect: %d %q, want 200 and a retry", res.StatusCode, body)
		}
	}
}

// TestSSEJoinHookRunsWithoutLocks: OnJoin hooks of the query's rooms run
// while the stream opens; one that writes to the spark and ends it
// delivers its write and the end, in order, right after the prelude.
func TestSSEJoinHookRunsWithoutLocks(t *testing.T) {
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnJoin(func(sp *allspark.Spark, room string) {
			_ = sp.Write("welcome to " + room)
			sp.End(nil, false)
		})
	})
	s := sseOpen(t, url+"/primus/sse?rooms=vip", nil)
	if got := s.next(); got.data != `"welcome to vip"` {
		t.Fatalf("first event %+v", got)
	}
	if got := s.next(); got.event != "end" {
		t.Fatalf("then %+v, want end", got)
	}
	if !waitUntil(waitLong, func() bool { return srv.Len() == 0 }) {
		t.Fatal("spark still registered")
	}
}
