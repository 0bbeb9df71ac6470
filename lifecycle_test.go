package allspark_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

func TestConnectionHooksRunInOrderAndQueueData(t *testing.T) {
	var mu sync.Mutex
	var order []string
	got := make(chan []float64, 1)
	release := make(chan struct{})
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			mu.Lock()
			order = append(order, "first")
			mu.Unlock()
			var seen []float64
			sp.OnData(func(d any) {
				seen = append(seen, d.(float64))
				if len(seen) == 50 {
					got <- seen
				}
			})
			<-release // data arrives while we block
			return nil
		})
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			mu.Lock()
			order = append(order, "second")
			mu.Unlock()
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	for i := range 50 {
		c.sendText(strconv.Itoa(i))
	}
	time.Sleep(20 * time.Millisecond) // let the frames reach the server while the hook blocks
	close(release)
	seen := <-got
	for i, v := range seen {
		if int(v) != i {
			t.Fatalf("data out of order: %v", seen)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(order) != "[first second]" {
		t.Fatalf("hook order %v", order)
	}
}

func TestConnectionHookErrorEndsSparkWithoutReconnect(t *testing.T) {
	errs := make(chan error, 1)
	hookErr := errors.New("no room for you")
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			sp.OnError(func(err error) { errs <- err })
			return hookErr
		})
	})
	c := dial(t, url, "/primus", nil)
	msgs, _ := c.waitClose()
	if len(msgs) != 1 || msgs[0] != `"primus::server::close"` {
		t.Fatalf("messages = %v, want server::close", msgs)
	}
	if err := <-errs; !errors.Is(err, hookErr) {
		t.Fatalf("error = %v", err)
	}
}

func TestDisconnectionHooksAndOnEnd(t *testing.T) {
	events := make(chan string, 4)
	registered := make(chan struct{})
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			sp.OnEnd(func() {
				if ctx.Err() == nil {
					events <- "context still live in OnEnd"
				}
				events <- "end"
			})
			close(registered)
			return nil
		})
		s.OnDisconnection(func(sp *allspark.Spark) { events <- "disconnection" })
	})
	c := dial(t, url, "/primus", nil)
	waitFor(t, "connection", func() bool { return srv.Len() == 1 })
	<-registered // the hook runs on its own goroutine: close after it
	_ = c.conn.WriteClose(1000, nil)
	if a, b := <-events, <-events; a != "end" || b != "disconnection" {
		t.Fatalf("events %q %q", a, b)
	}
	waitFor(t, "removal", func() bool { return srv.Len() == 0 })
}

func TestBroadcastForEachLookupLen(t *testing.T) {
	ready := make(chan *allspark.Spark, 3)
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error { ready <- sp; return nil })
	})
	clients := []*wsClient{dial(t, url, "/primus", nil), dial(t, url, "/primus", nil), dial(t, url, "/primus", nil)}
	var ids []string
	for range clients {
		ids = append(ids, (<-ready).ID())
	}
	if srv.Len() != 3 {
		t.Fatalf("Len = %d", srv.Len())
	}
	for _, id := range ids {
		if sp, ok := srv.Spark(id); !ok || sp.ID() != id {
			t.Fatalf("Spark(%s) not found", id)
		}
	}
	if _, ok := srv.Spark("nope"); ok {
		t.Fatal("Spark(nope) found")
	}
	n, err := srv.Broadcast(map[string]string{"news": "all"})
	if err != nil || n != 3 {
		t.Fatalf("Broadcast = %d, %v", n, err)
	}
	for _, c := range clients {
		c.expect(`{"news":"all"}`)
	}
	visited := 0
	srv.ForEach(func(*allspark.Spark) bool { visited++; return visited < 2 })
	if visited != 2 {
		t.Fatalf("ForEach did not stop early: %d", visited)
	}
}

func TestSparkStateAndContextValues(t *testing.T) {
	type key struct{}
	got := make(chan string, 1)
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		_ = s.UseAt(0, "user", func(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
			next(r.WithContext(context.WithValue(r.Context(), key{}, "alice")))
		}, nil)
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			sp.Set("n", 42)
			v, _ := sp.Get("n")
			_, missing := sp.Get("missing")
			got <- fmt.Sprint(ctx.Value(key{}), " ", sp.Context().Value(key{}), " ", v, " ", missing, " ", sp.RemoteAddr().Addr())
			return nil
		})
	})
	dial(t, url, "/primus", nil)
	if s := <-got; s != "alice alice 42 false 127.0.0.1" {
		t.Fatalf("got %q", s)
	}
}

func TestDuplicateIDRefused(t *testing.T) {
	errs := make(chan error, 1)
	srv, url := startServer(t, allspark.Options{IDGenerator: func() string { return "same" }}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			sp.OnError(func(err error) { errs <- err })
			return nil
		})
	})
	dial(t, url, "/primus", nil)
	waitFor(t, "first", func() bool { return srv.Len() == 1 })
	c2 := dial(t, url, "/primus", nil)
	_, _ = c2.waitClose()
	if srv.Len() != 1 {
		t.Fatalf("Len = %d after duplicate", srv.Len())
	}
	if sp, ok := srv.Spark("same"); !ok || sp.ReadyState() != allspark.Open {
		t.Fatal("first spark lost")
	}
}

// An id request that arrives while OnConnection hooks run is answered after
// them, so a client holding its id can look its spark up and see what the
// hooks did (here: the room they joined).
func TestIDAnsweredAfterHooks(t *testing.T) {
	release := make(chan struct{})
	srv, base := startServer(t, allspark.Options{PingInterval: allspark.NoPing}, func(srv *allspark.Server) {
		srv.OnConnection(func(ctx context.Context, s *allspark.Spark) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return s.Join("lobby")
		})
	})
	c := dial(t, base, "/primus", nil)
	c.sendText(`"primus::id::"`)
	select {
	case m := <-c.msgs:
		t.Fatalf("answered while the hook still ran: %s", m.text)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	m := c.next().text
	id, ok := strings.CutPrefix(m, `"primus::id::`)
	if !ok {
		t.Fatalf("got %s, want the id", m)
	}
	sp, ok := srv.Spark(strings.TrimSuffix(id, `"`))
	if !ok || !sp.InRoom("lobby") {
		t.Fatalf("spark %q found=%v, in lobby=%v", id, ok, ok && sp.InRoom("lobby"))
	}
}
