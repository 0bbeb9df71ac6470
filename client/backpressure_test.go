package client_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// waitUntil polls cond every few milliseconds until it holds, failing the
// test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flood writes n numbered messages of size bytes to s, keeping at most window
// of them in the server's send queue (the server's own bound would end the
// spark otherwise), so the only place a flood can pile up is the client.
func flood(srv *allspark.Server, s *allspark.Spark, n, size, window int) {
	pad := strings.Repeat("x", size-8)
	base := int(srv.Stats().MessagesOut) // one spark at a time
	for i := range n {
		for i-(int(srv.Stats().MessagesOut)-base) >= window {
			if s.ReadyState() == allspark.Closed {
				return
			}
			time.Sleep(time.Millisecond)
		}
		if s.Write(fmt.Sprintf("%08d", i)+pad) != nil {
			return
		}
	}
}

// stalled waits until the server has written nothing for quiet (the client
// stopped reading and the socket buffers are full) or has written all of
// want.
func stalled(t *testing.T, srv *allspark.Server, want uint64, quiet time.Duration) uint64 {
	t.Helper()
	last, since := srv.Stats().MessagesOut, time.Now()
	waitUntil(t, time.Minute, "the flood to stall or finish", func() bool {
		n := srv.Stats().MessagesOut
		if n != last {
			last, since = n, time.Now()
		}
		return n >= want || time.Since(since) >= quiet
	})
	return last
}

// A handler that blocks while the server floods 100,000 × 1 KB (25,000 under
// the race detector): the client stops reading once its handler queue is
// full, so the heap grows by a small fraction of the 100 MB the server has
// to send (the unbounded queue grew it by ~108 MB). Once the handler runs
// again, every message arrives, in order.
func TestSlowHandlerBackPressure(t *testing.T) {
	n := 100_000
	if raceEnabled {
		n = 25_000
	}
	const size = 1 << 10
	srv := newServer(t, allspark.Options{PingInterval: allspark.NoPing, WriteTimeout: 5 * time.Minute}, nil)
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		go flood(srv, s, n, size, 256)
		return nil
	})
	url := serve(t, srv)

	gate := make(chan struct{})
	var got, disorder atomic.Int64
	var closed atomic.Value
	before := heapInUse()
	c, err := client.Dial(ctxFor(t), url, client.Options{OnEvent: func(ev client.Event) {
		switch ev.Kind {
		case client.EventData:
			<-gate
			s, _ := ev.Data.(string)
			if i, err := strconv.Atoi(s[:min(8, len(s))]); err != nil || int64(i) != got.Load() || len(s) != size {
				if disorder.Add(1) == 1 {
					t.Logf("message %d: %.20q (%d bytes)", got.Load(), s, len(s))
				}
			}
			got.Add(1)
		case client.EventClose:
			if !errors.Is(ev.Err, client.ErrDestroyed) {
				closed.Store(fmt.Sprintf("after %d messages: %v", got.Load(), ev.Err))
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	var open sync.Once
	release := func() { open.Do(func() { close(gate) }) }
	t.Cleanup(release) // before destroy's, which waits for the handler

	sent := stalled(t, srv, uint64(n), time.Second)
	growth := int64(heapInUse()) - int64(before)
	t.Logf("server wrote %d of %d messages before the client pushed back; heap growth %.1f MB", sent, n, float64(growth)/(1<<20))
	if growth > 8<<20 {
		t.Fatalf("heap grew by %.1f MB while the handler was blocked: the client buffers without bound", float64(growth)/(1<<20))
	}
	if sent >= uint64(n) {
		t.Fatal("the server wrote the whole flood while the handler was blocked: no back-pressure")
	}

	release()
	waitUntil(t, 2*time.Minute, "every message", func() bool { return got.Load() >= int64(n) })
	if d := disorder.Load(); d != 0 {
		t.Fatalf("%d messages out of order or damaged", d)
	}
	if v := closed.Load(); v != nil {
		t.Fatalf("connection closed during the flood: %v", v)
	}
}

// The handler blocks far longer than the watchdog (a 400 ms ping interval
// gives 600 ms) with the queue full. The client must neither cut the
// connection as dead (its reader is paused, not the server) nor let the
// server cut it for missed pongs: it keeps the server's heartbeat fed with
// WebSocket pings while it does not read.
func TestSlowHandlerKeepsHeartbeat(t *testing.T) {
	const msgs = 50
	srv := newServer(t, allspark.Options{PingInterval: 400 * time.Millisecond}, nil)
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		for i := range msgs {
			_ = s.Write(i)
		}
		return nil
	})
	url := serve(t, srv)
	gate := make(chan struct{})
	rec := newRecorder(t)
	var first atomic.Bool
	c, err := client.Dial(ctxFor(t), url, client.Options{MaxQueuedEvents: 4, OnEvent: func(ev client.Event) {
		if ev.Kind == client.EventData && first.CompareAndSwap(false, true) {
			<-gate
		}
		rec.on(ev)
	}})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	var open sync.Once
	release := func() { open.Do(func() { close(gate) }) }
	t.Cleanup(release)
	time.Sleep(2 * time.Second) // five ping intervals with the reader paused
	release()
	rec.expect(client.EventOpen)
	for i := range msgs {
		if ev := rec.expect(client.EventData)[0]; ev.Data != float64(i) {
			t.Fatalf("message %d = %v", i, ev.Data)
		}
	}
	if st := srv.Stats(); st.MissedPongs != 0 || st.Connections != 1 {
		t.Fatalf("server stats %+v: the server cut the paused client", st)
	}
	select {
	case ev := <-rec.ch:
		t.Fatalf("unexpected %v after the data", ev.Event)
	case <-time.After(300 * time.Millisecond):
	}
}

// jobServer emits n "job" events to each client as it connects and answers
// "done" with its argument. sent is closed when all n are on the socket.
func jobServer(t *testing.T, n int) (url string, sent <-chan struct{}) {
	srv := newServer(t, allspark.Options{}, nil)
	ch := make(chan struct{})
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		go func() {
			for i := range n {
				if s.Emit("job", i) != nil {
					return
				}
			}
			for srv.Stats().MessagesOut < uint64(n) && s.ReadyState() != allspark.Closed {
				time.Sleep(time.Millisecond)
			}
			close(ch)
		}()
		return nil
	})
	if err := srv.On("done", func(_ context.Context, ev *allspark.Event) (any, error) {
		return allspark.Args(ev.Args), nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.On("never", func(ctx context.Context, _ *allspark.Event) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	return serve(t, srv), ch
}

// Each "job" handler awaits EmitWithAck to the server, and the first one
// starts only once all jobs are on the socket, so its reply sits behind
// many more events than the bound of 8. The reader must keep reading while
// the request is outstanding, or the handler waits for ever.
func TestHandlerAwaitsAckWithQueueFull(t *testing.T) {
	const jobs, bound = 30, 8 // within the hard limit, 4 × 8
	url, sent := jobServer(t, jobs)
	var c *client.Client
	ready := make(chan struct{})
	results := make(chan error, jobs)
	c, err := client.New(url, client.Options{Manual: true, MaxQueuedEvents: bound})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	next := 0
	if err := c.On("job", func(ctx context.Context, ev *client.NamedEvent) (any, error) {
		<-ready
		var i int
		if err := ev.Decode(0, &i); err != nil || i != next {
			results <- fmt.Errorf("job %v, want %d (%v)", ev.Args, next, err)
			return nil, nil
		}
		next++
		ctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		r, err := c.EmitWithAck(ctx, "done", i)
		if err == nil && (len(r.Args) != 1 || r.Args[0] != float64(i)) {
			err = fmt.Errorf("reply %v to job %d", r.Args, i)
		}
		results <- err
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Open(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	recv(t, sent)
	close(ready)
	for range jobs {
		if err := recv(t, results); err != nil {
			t.Fatal(err)
		}
	}
}

// While a request is outstanding the reader reads past the bound only up to
// the hard limit (4 × the bound); then it closes the connection with
// ErrEventOverflow, reported in EventClose. Every event it read is still
// delivered, and the waiting request fails as disconnected.
func TestOverflowPastHardLimitCloses(t *testing.T) {
	const jobs, bound = 200, 4
	url, _ := jobServer(t, jobs)
	rec := newRecorder(t)
	var c *client.Client
	var handled atomic.Int32
	ackErr := make(chan error, 1)
	c, err := client.New(url, client.Options{Manual: true, MaxQueuedEvents: bound, Strategy: client.StrategyNone, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	if err := c.On("job", func(ctx context.Context, _ *client.NamedEvent) (any, error) {
		if handled.Add(1) == 1 {
			_, err := c.EmitWithAck(ctx, "never")
			ackErr <- err
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	// The flood starts as the server accepts the connection, so on a
	// loaded machine it can overflow the queue before Open has returned:
	// Open then reports the same ErrEventOverflow the close carries.
	if err := c.Open(ctxFor(t)); err != nil && !errors.Is(err, client.ErrEventOverflow) {
		t.Fatal(err)
	}
	evs := rec.until(client.EventClose)
	if last := evs[len(evs)-1]; !errors.Is(last.Err, client.ErrEventOverflow) {
		t.Fatalf("close reason %v, want ErrEventOverflow", last.Err)
	}
	rec.expect(client.EventEnd)
	var ce *client.CallError
	if err := recv(t, ackErr); !errors.As(err, &ce) || ce.Code != client.CodeDisconnected {
		t.Fatalf("EmitWithAck = %v, want code disconnected", err)
	}
	// Every job the reader took is handled: more than the bound (it read on
	// for the reply), at most the hard limit plus the one that crossed it.
	waitUntil(t, waitTimeout, "the queued jobs", func() bool { return handled.Load() > bound })
	time.Sleep(100 * time.Millisecond)
	if h := handled.Load(); h > 4*bound+1 {
		t.Fatalf("%d jobs handled, past the hard limit %d", h, 4*bound)
	}
}

// Requests awaiting a reply are bounded: past MaxPendingAcks, EmitWithAck
// fails at once with ErrTooManyRequests.
func TestPendingAcksBounded(t *testing.T) {
	rs := newRawServer(t, false)
	c, err := client.Dial(ctxFor(t), rs.url, client.Options{MaxPendingAcks: 2})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.EmitWithAck(ctxFor(t), "hold")
			errs <- err
		}()
	}
	recv(t, rs.msgs)
	recv(t, rs.msgs) // both requests are on the wire, so both are pending
	if _, err := c.EmitWithAck(ctxFor(t), "hold"); !errors.Is(err, client.ErrTooManyRequests) {
		t.Fatalf("third EmitWithAck = %v, want ErrTooManyRequests", err)
	}
	c.Destroy()
	for range 2 {
		if err := recv(t, errs); err == nil {
			t.Fatal("a held request succeeded")
		}
	}
}

// ID from a handler is a request like EmitWithAck: its answer comes behind
// the messages the server wrote first, more than the bound of 4.
func TestHandlerAwaitsIDWithQueueFull(t *testing.T) {
	const msgs, bound = 12, 4
	srv := newServer(t, allspark.Options{}, nil)
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		for i := range msgs {
			_ = s.Write(i)
		}
		return nil
	})
	url := serve(t, srv)
	self := make(chan *client.Client, 1)
	got := make(chan error, msgs)
	var first atomic.Bool
	c, err := client.New(url, client.Options{MaxQueuedEvents: bound, OnEvent: func(ev client.Event) {
		if ev.Kind != client.EventData {
			return
		}
		if first.CompareAndSwap(false, true) {
			c := <-self
			// Wait until the reader has paused with the queue full.
			for srv.Stats().MessagesOut < msgs {
				time.Sleep(time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			_, err := c.ID(ctx)
			got <- err
			return
		}
		got <- nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	self <- c
	destroy(t, c)
	for range msgs {
		if err := recv(t, got); err != nil {
			t.Fatalf("ID from the handler: %v", err)
		}
	}
}
