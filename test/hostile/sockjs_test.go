package hostile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// sjPost sends a SockJS request (below /sockjs) and returns status and body.
func sjPost(cl *http.Client, addr, path, body string) (int, string, error) {
	req, _ := http.NewRequest("POST", "http://"+addr+"/sockjs"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	res, err := cl.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// assertServesSockJS checks that a well-behaved plain SockJS client gets
// its message echoed.
func assertServesSockJS(t testing.TB, s *server) {
	t.Helper()
	cl := &http.Client{Timeout: 10 * time.Second}
	id := fmt.Sprintf("ok%d", probeSeq.Add(1))
	if st, body, err := sjPost(cl, s.Addr, "/0/"+id+"/xhr", ""); err != nil || body != "o\n" {
		t.Fatalf("a well-behaved SockJS client cannot open: %d %q %v", st, body, err)
	}
	if st, _, err := sjPost(cl, s.Addr, "/0/"+id+"/xhr_send", `["probe"]`); err != nil || st != 204 {
		t.Fatalf("send: %d %v", st, err)
	}
	if _, body, err := sjPost(cl, s.Addr, "/0/"+id+"/xhr", ""); err != nil || body != "a[\"probe\"]\n" {
		t.Errorf("a well-behaved SockJS client is not served: %q %v", body, err)
	}
}

// TestSockJSAbandonedSessions: clients that open a SockJS session (a spark
// each) and never come back are reaped after the disconnect delay, sparks
// and all, and the heap returns to where it was.
func TestSockJSAbandonedSessions(t *testing.T) {
	const n = 1000
	// The delay should outlast opening them all (seconds under -race).
	s := startServer(t, allspark.Options{SockJS: allspark.SockJSOptions{DisconnectDelay: 3 * time.Second}}, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := heap()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, body, err := sjPost(cl, s.Addr, fmt.Sprintf("/0/gone%d/xhr?role=hostile", i), ""); err != nil || body != "o\n" {
				t.Errorf("open: %q %v", body, err)
			}
		}()
	}
	wg.Wait()
	// On a loaded machine the first ones may be reaped before the last
	// open; the figure is per session still live.
	live, alive := heapGrowth(base), s.Len()
	t.Logf("%d abandoned SockJS sessions: heap +%.2f MiB with %d live (%.1f KiB per session and spark)", n, mib(live), alive, float64(live)/float64(max(alive, 1))/1024)
	if !waitFor(10*time.Second, func() bool { return s.Len() == 0 }) {
		t.Fatalf("%d sparks left after the disconnect delay", s.Len())
	}
	tr.CloseIdleConnections()
	assertHeapBelow(t, base, 2*MiB, 0, "after reaping")
	assertServesSockJS(t, s)
}

// TestSockJSClientThatNeverPolls: a session whose client stops polling
// while the server writes to it: what waits is the spark's bounded queue
// (the session holds nothing of its own), the slow-consumer policy ends
// the spark, and the disconnect delay releases what its writer still
// held for the client.
func TestSockJSClientThatNeverPolls(t *testing.T) {
	const queue, size = 64, 64 << 10
	sparks := make(chan *allspark.Spark, 1)
	delay := time.Second
	s := startServer(t, allspark.Options{QueueSize: queue, SockJS: allspark.SockJSOptions{DisconnectDelay: delay}},
		func(srv *allspark.Server) {
			srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
				if isHostile(sp) {
					sparks <- sp
				}
				return nil
			})
		})
	cl := &http.Client{Timeout: 10 * time.Second}
	if _, body, err := sjPost(cl, s.Addr, "/0/stuck/xhr?role=hostile", ""); body != "o\n" || err != nil {
		t.Fatalf("open: %q %v", body, err)
	}
	sp := <-sparks
	base := heap()
	payload := strings.Repeat("p", size)
	var err error
	written := 0
	for ; written < 10*queue; written++ {
		if err = sp.Write(payload); err != nil {
			break
		}
	}
	t.Logf("writes to a client that never polls: %d accepted, then %v", written, err)
	// The writer may hold one batch taken off the queue (waiting for the
	// poll) while the queue fills again: at most twice QueueSize.
	if !errors.Is(err, allspark.ErrQueueFull) || written > 2*queue {
		t.Errorf("after %d writes: %v, want ErrQueueFull within 2 × QueueSize (%d)", written, err, queue)
	}
	if !waitFor(5*time.Second, func() bool { return sp.ReadyState() == allspark.Closed }) {
		t.Fatal("the spark was not ended")
	}
	// Until the delay, the writer holds the last batch for a poll that may
	// still come: one encoding per queued message, no copy in the session.
	assertHeapBelow(t, base, 2*queue*size+MiB, 10*queue*size, "the spark ended, its session waiting for a poll")
	time.Sleep(delay + 500*time.Millisecond)
	assertHeapBelow(t, base, MiB, 0, "after the disconnect delay")
	assertServesSockJS(t, s)
}
