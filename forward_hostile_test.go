package allspark_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// endless is a request body that never ends; it counts what was read.
type endless struct{ n atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n.Add(int64(len(p)))
	return len(p), nil
}

// eioSession opens a polling session directly on base and returns its sid.
func eioSession(t testing.TB, base string) string {
	t.Helper()
	return eioOpen(t, base).sid
}

func eioURL(base, sid string) string {
	return base + "/primus/?EIO=4&transport=polling&sid=" + sid
}

// A forwarded body is read up to the wire's limit and no further: past it
// the owner answers 413 as it would directly, whether the body announced
// its length or streams without end.
func TestForwardBodiesAreBounded(t *testing.T) {
	fc := startForwardCluster(t, allspark.NewMemoryBroker(), 2, allspark.Options{MaxLength: 4096}, nil)
	a, b := fc.bases[0], fc.bases[1]

	sid := eioSession(t, a)
	if st, body, _ := sjDo(t, "POST", eioURL(b, sid), "text/plain", "4"+strings.Repeat("x", 5000), nil); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("announced body over the limit: %d %q", st, body)
	}
	body := &endless{}
	req, _ := http.NewRequest("POST", eioURL(b, sid), io.NopCloser(body)) // no length: chunked
	req.Header.Set("Content-Type", "text/plain")
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("endless body: %d", res.StatusCode)
		}
	}
	// What was read is the limit plus what the transport buffers, not
	// the endless body.
	if n := body.n.Load(); n > 4<<20 {
		t.Fatalf("read %d bytes of an endless body", n)
	}
	if st, body, _ := sjDo(t, "POST", eioURL(b, sid), "text/plain", `4"still here"`, nil); st != 200 || body != "ok" {
		t.Fatalf("the session should survive a 413: %d %q", st, body)
	}

	// SockJS: a send over MaxLength through the other node is 413 and
	// ends the session, as directly.
	c := sjOpen(t, a+"/sockjs", "bigsend")
	if st, _, _ := sjDo(t, "POST", b+"/sockjs/0/bigsend/xhr_send", "text/plain", `["`+strings.Repeat("y", 5000)+`"]`, nil); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("sockjs send over the limit: %d", st)
	}
	if f := c.until(); !strings.HasPrefix(f, "c[1009,") {
		t.Fatalf("after 413: %q", f)
	}
}

// Unknown sessions are answered at once, as the protocol answers them: a
// sid naming no live node without asking anybody, a sid naming a peer that
// does not have it by that peer, a SockJS id nobody holds after one
// survey; and a WebSocket upgrade of a session held elsewhere is "Session
// ID unknown", so the client stays on polling.
func TestForwardUnknownSessionsAnsweredFast(t *testing.T) {
	fc := startForwardCluster(t, newHeartbeatBroker(), 2, allspark.Options{}, nil)
	a, b := fc.bases[0], fc.bases[1]
	const unknown = `{"code":1,"message":"Session ID unknown"}`
	sid := eioSession(t, a)
	dot := strings.LastIndexByte(sid, '.')
	for _, s := range []string{"nosuchsession.AAAAAAAA", "nodot", "gone" + sid[dot:]} {
		t0 := time.Now()
		st, body, _ := sjDo(t, "GET", eioURL(b, s), "", "", nil)
		if st != 400 || body != unknown {
			t.Fatalf("sid %q: %d %q", s, st, body)
		}
		if d := time.Since(t0); d > time.Second {
			t.Fatalf("sid %q answered after %v", s, d)
		}
	}
	t0 := time.Now()
	if st, _, _ := sjDo(t, "POST", b+"/sockjs/0/nobody/xhr_send", "text/plain", `["x"]`, nil); st != 404 {
		t.Fatalf("sockjs send to nobody: %d", st)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("sockjs unknown answered after %v", d)
	}

	hdr := http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
		"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	st, body, _ := sjDo(t, "GET", b+"/primus/?EIO=4&transport=websocket&sid="+sid, "", "", hdr)
	if st != 400 || body != unknown {
		t.Fatalf("upgrade elsewhere: %d %q", st, body)
	}
	if _, served := fc.forwarded(); served != 1 {
		t.Fatalf("served %d forwarded requests, want only the tagged unknown sid", served)
	}
}

// Forwarded requests a node serves at once are bounded by
// MaxForwardedRequests: held long-polls past it are answered 503 at once,
// and what each held one costs is measured.
func TestForwardFloodIsBounded(t *testing.T) {
	const limit, extra = 100, 20
	opts := allspark.Options{Cluster: allspark.ClusterOptions{
		HeartbeatInterval: 40 * time.Millisecond, NodeTTL: 400 * time.Millisecond,
		RequestTimeout: 2 * time.Second, MaxForwardedRequests: limit,
	}}
	fc := startForwardCluster(t, allspark.NewMemoryBroker(), 2, opts, nil)
	a, b := fc.bases[0], fc.bases[1]
	sids := make([]string, limit+extra)
	for i := range sids {
		sids[i] = eioSession(t, a)
	}
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: limit + extra}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	type result struct {
		status int
		body   string
		took   time.Duration
	}
	results := make(chan result, len(sids))
	var wg sync.WaitGroup
	for _, sid := range sids {
		wg.Go(func() {
			t0 := time.Now()
			res, err := cl.Get(eioURL(b, sid))
			if err != nil {
				results <- result{status: -1, body: err.Error()}
				return
			}
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			results <- result{res.StatusCode, string(body), time.Since(t0)}
		})
	}
	busy := 0
	deadline := time.After(waitLong)
	for busy < extra {
		select {
		case r := <-results:
			if r.status != http.StatusServiceUnavailable || r.took > time.Second {
				t.Fatalf("a request past the bound: %d %q after %v", r.status, r.body, r.took)
			}
			busy++
		case <-deadline:
			t.Fatalf("%d of %d requests past the bound answered busy", busy, extra)
		}
	}
	waitFor(t, "the held polls on the owner", func() bool { return fc.srvs[0].Stats().ForwardServed >= limit })
	runtime.GC()
	var held runtime.MemStats
	runtime.ReadMemStats(&held)
	per := (int64(held.HeapInuse) - int64(before.HeapInuse)) / limit
	t.Logf("%d held forwarded polls (both nodes, one process): %d B of heap each", limit, per)
	if per > 64<<10 {
		t.Fatalf("a held forwarded poll costs %d B", per)
	}
	if _, err := fc.srvs[0].Broadcast("release"); err != nil {
		t.Fatal(err)
	}
	for range limit {
		select {
		case r := <-results:
			if r.status != 200 || !strings.Contains(r.body, `4"release"`) {
				t.Fatalf("held poll answered %d %q", r.status, r.body)
			}
		case <-time.After(waitLong):
			t.Fatal("held polls were not answered")
		}
	}
	wg.Wait()
}

// A forwarded long-poll whose client goes away ends on the owner as a
// dropped poll does there (Engine.IO: the session ends, "poll closed
// prematurely"), instead of holding the owner's slot until the next ping.
func TestForwardClientGoneEndsThePollOnTheOwner(t *testing.T) {
	ended := make(chan *allspark.Spark, 1)
	fc := startForwardCluster(t, allspark.NewMemoryBroker(), 2, allspark.Options{}, func(s *allspark.Server) {
		s.OnDisconnection(func(sp *allspark.Spark) { ended <- sp })
	})
	a, b := fc.bases[0], fc.bases[1]
	sid := eioSession(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", eioURL(b, sid), nil)
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = res.Body.Close()
			err = fmt.Errorf("answered %d", res.StatusCode)
		}
		done <- err
	}()
	waitFor(t, "the poll held on the owner", func() bool { return fc.srvs[0].Stats().ForwardServed == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v", err)
	}
	select {
	case sp := <-ended:
		if sp.ID() != sid {
			t.Fatalf("ended %q, want %q", sp.ID(), sid)
		}
	case <-time.After(waitLong):
		t.Fatal("the owner kept the abandoned poll")
	}
}

// A forwarded poll whose owner dies (cut off, then forgotten after
// NodeTTL) is answered 503 then, not at the long-poll bound a minute
// later; the owner's sids are unknown from then on.
func TestForwardOwnerGoneEndsTheWait(t *testing.T) {
	broker := newHeartbeatBroker()
	fc := startForwardCluster(t, broker, 2, allspark.Options{}, nil)
	a, b := fc.bases[0], fc.bases[1]
	sid := eioSession(t, a)
	type result struct {
		status int
		took   time.Duration
	}
	done := make(chan result, 1)
	go func() {
		t0 := time.Now()
		res, err := http.Get(eioURL(b, sid))
		if err != nil {
			done <- result{-1, 0}
			return
		}
		_ = res.Body.Close()
		done <- result{res.StatusCode, time.Since(t0)}
	}()
	waitFor(t, "the poll held on the owner", func() bool { return fc.srvs[0].Stats().ForwardServed == 1 })
	broker.setCut("a", true)
	select {
	case r := <-done:
		if r.status != http.StatusServiceUnavailable || r.took > 3*time.Second {
			t.Fatalf("answered %d after %v", r.status, r.took)
		}
	case <-time.After(waitLong):
		t.Fatal("still waiting for a node that is gone")
	}
	if st, body, _ := sjDo(t, "GET", eioURL(b, sid), "", "", nil); st != 400 || !strings.Contains(body, "Session ID unknown") {
		t.Fatalf("after the owner left: %d %q", st, body)
	}
	broker.setCut("a", false)
}
