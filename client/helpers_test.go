package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// waitTimeout bounds every wait for an event; it only matters when a test
// fails (a missing event), never for a passing run.
const waitTimeout = 10 * time.Second

// stamped is an event with the time the handler received it.
type stamped struct {
	client.Event
	at time.Time
}

// recorder is an OnEvent handler that records events in order and fails the
// test if two callbacks of the same client ever run at once.
type recorder struct {
	t       testing.TB
	ch      chan stamped
	inCall  atomic.Int32
	overlap atomic.Bool
}

func newRecorder(t testing.TB) *recorder {
	r := &recorder{t: t, ch: make(chan stamped, 4096)}
	t.Cleanup(func() {
		if r.overlap.Load() {
			t.Error("OnEvent ran concurrently with itself")
		}
	})
	return r
}

func (r *recorder) on(ev client.Event) {
	if r.inCall.Add(1) != 1 {
		r.overlap.Store(true)
	}
	r.ch <- stamped{Event: ev, at: time.Now()}
	r.inCall.Add(-1)
}

// next returns the next event, failing the test after waitTimeout.
func (r *recorder) next() stamped {
	r.t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(waitTimeout):
		r.t.Fatalf("no event within %v", waitTimeout)
		return stamped{}
	}
}

// expect reads the next events and requires exactly these kinds, in order.
func (r *recorder) expect(kinds ...client.EventKind) []stamped {
	r.t.Helper()
	out := make([]stamped, 0, len(kinds))
	for i, k := range kinds {
		ev := r.next()
		out = append(out, ev)
		if ev.Kind != k {
			r.t.Fatalf("event %d: got %q (err %v, data %v), want %q; so far %v", i, ev.Kind, ev.Err, ev.Data, k, kindsOf(out))
		}
	}
	return out
}

// until reads events up to and including the first of kind.
func (r *recorder) until(kind client.EventKind) []stamped {
	r.t.Helper()
	var out []stamped
	for {
		ev := r.next()
		out = append(out, ev)
		if ev.Kind == kind {
			return out
		}
	}
}

func kindsOf(evs []stamped) []string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = ev.Kind.String()
	}
	return s
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// echo makes srv write every message back to its sender.
func echo(srv *allspark.Server) {
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		s.OnData(func(d any) { _ = s.Write(d) })
		return nil
	})
}

// newServer returns an Allspark server configured by setup.
func newServer(t testing.TB, opts allspark.Options, setup func(*allspark.Server)) *allspark.Server {
	t.Helper()
	srv, err := allspark.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(srv)
	}
	return srv
}

// serve runs srv on an httptest server and returns its ws:// base URL. The
// server is shut down (without reconnect) at cleanup.
func serve(t testing.TB, srv *allspark.Server) string {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, allspark.ShutdownOptions{})
		ts.Close()
	})
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

// serveOn runs srv on ln with Serve until it is shut down; it returns a
// channel closed when Serve has returned.
func serveOn(t testing.TB, srv *allspark.Server, ln net.Listener) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, allspark.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, allspark.ShutdownOptions{})
		<-done
	})
	return done
}

// sparks reports every spark the server accepts.
func sparks(srv *allspark.Server) <-chan *allspark.Spark {
	ch := make(chan *allspark.Spark, 64)
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		ch <- s
		return nil
	})
	return ch
}

func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("nothing received within %v", waitTimeout)
		var zero T
		return zero
	}
}

// destroy destroys c at cleanup and waits for its goroutines.
func destroy(t testing.TB, c *client.Client) {
	t.Cleanup(func() {
		c.Destroy()
		select {
		case <-c.Done():
		case <-time.After(waitTimeout):
			t.Error("client goroutines still running after Destroy")
		}
	})
}
