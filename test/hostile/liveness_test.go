package hostile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/parser"
)

// envelope is the part of an event envelope (docs/events.md) the tests read.
type envelope struct {
	Version int    `json:"allspark"`
	Event   string `json:"event"`
	ID      uint64 `json:"id"`
}

// TestEmitWithAckBehindQueuedEvents: a handler that awaits EmitWithAck to
// its own client, while that client has queued 300 more events (past the
// 256-event bound), must still get the reply: acks are always read (issue 11
// §8). Today the reader blocks on the full event queue and never reads it.
func TestEmitWithAckBehindQueuedEvents(t *testing.T) {
	const queued = 300
	var noops atomic.Int64
	asked := make(chan error, 1)
	s := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		_ = srv.On("noop", func(context.Context, *allspark.Event) (any, error) {
			noops.Add(1)
			return nil, nil
		})
		_ = srv.On("ask", func(ctx context.Context, ev *allspark.Event) (any, error) {
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			_, err := ev.Spark.EmitWithAck(ctx, "question")
			asked <- err
			return nil, err
		})
	})
	p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery})
	var buf []byte
	buf = appendFrame(buf, true, false, opText, []byte(`{"allspark":1,"event":"ask","args":[]}`))
	for range queued {
		buf = appendFrame(buf, true, false, opText, []byte(`{"allspark":1,"event":"noop","args":[]}`))
	}
	if err := p.Write(buf); err != nil { // ~15 KB: fits the socket buffers
		t.Fatal(err)
	}
	var q envelope
	for q.Event != "question" {
		msg, err := p.ReadMessage(5 * time.Second)
		if err != nil {
			t.Fatalf("waiting for the server's question: %v", err)
		}
		q = envelope{}
		_ = json.Unmarshal([]byte(msg), &q)
	}
	if err := p.WriteText(fmt.Sprintf(`{"allspark":1,"ack":%d,"args":["yes"]}`, q.ID)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-asked:
		if err != nil {
			t.Errorf("EmitWithAck = %v, want the client's reply: the ack was not read behind %d queued events", err, queued)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("EmitWithAck did not return")
	}
	if !waitFor(10*time.Second, func() bool { return noops.Load() == queued }) {
		t.Errorf("%d of %d queued events handled", noops.Load(), queued)
	}
	assertServes(t, s)
}

// slowWrite queues total bytes for the hostile spark as soon as it connects,
// in 64 KiB binary messages, and reports when the spark ends.
func slowWrite(t *testing.T, total int) (*server, <-chan time.Time, <-chan time.Time) {
	const chunk = 64 << 10
	written := make(chan time.Time, 1)
	ended := make(chan time.Time, 1)
	s := startServer(t, allspark.Options{WriteTimeout: time.Second}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if !isHostile(sp) {
				return nil
			}
			sp.OnEnd(func() { ended <- time.Now() })
			for i := range total / chunk {
				if err := sp.Write(parser.Binary(seqMsg(i, chunk))); err != nil {
					t.Errorf("Write %d: %v", i, err)
					break
				}
			}
			written <- time.Now()
			return nil
		})
	})
	return s, written, ended
}

// TestSteadySlowReaderIsNotCut: a client reading 12 MB steadily at ~3 MB/s
// accepts bytes all the time, so WriteTimeout (1 s) must not cut it, though
// the whole queue takes ~4 s to drain (issue 11 §9). Today the deadline
// covers one writev of everything queued, and the reader is cut after ~1 s.
func TestSteadySlowReaderIsNotCut(t *testing.T) {
	const (
		total = 12 << 20
		rate  = 3 << 20 // bytes per second
	)
	s, _, ended := slowWrite(t, total)
	// A fixed, small receive buffer: the kernel cannot absorb the queue.
	p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery, RcvBuf: 128 << 10})
	start := time.Now()
	got := 0
	for i := 0; got < total; i++ {
		f, err := p.ReadFrame(10 * time.Second)
		if err != nil {
			t.Fatalf("after %.1f of %d MB in %v at %d MB/s: %v (WriteTimeout cut a reader that was making progress)",
				float64(got)/1e6, total>>20, time.Since(start).Round(time.Millisecond), rate>>20, err)
		}
		if f.Op == opClose {
			t.Fatalf("server closed (%d) after %.1f of %d MiB in %v: WriteTimeout cut a reader that was making progress",
				f.CloseCode(), mib(int64(got)), total>>20, time.Since(start).Round(time.Millisecond))
		}
		if n := seqOf(parser.Binary(f.Payload)); n != i {
			t.Fatalf("message %d arrived as %d", i, n)
		}
		got += len(f.Payload)
		if ahead := time.Duration(float64(got)/rate*float64(time.Second)) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	t.Logf("read %d MiB in %v without being cut", total>>20, time.Since(start).Round(time.Millisecond))
	select {
	case <-ended:
		t.Error("the spark ended although its reader kept up")
	default:
	}
	assertServes(t, s)
}

// TestStalledReaderIsCut: a client that reads nothing is cut after about
// WriteTimeout (1 s), and the server serves others afterwards.
func TestStalledReaderIsCut(t *testing.T) {
	s, written, ended := slowWrite(t, 12<<20)
	mustDial(t, s.Addr, dialOpts{Query: hostileQuery, RcvBuf: 128 << 10})
	w := <-written
	select {
	case e := <-ended:
		d := e.Sub(w)
		t.Logf("stalled reader cut %v after the writes", d.Round(time.Millisecond))
		if d < 500*time.Millisecond {
			t.Errorf("stalled reader cut after %v, before WriteTimeout (1 s)", d)
		}
	case <-time.After(6 * time.Second):
		t.Error("a reader that accepts nothing was not cut 6 s after the writes (WriteTimeout 1 s)")
	}
	assertServes(t, s)
}

// shutdownPastBlockedHook runs Shutdown with a 500 ms deadline while an
// OnConnection hook ignores its context, and returns Shutdown's error and
// how long it took (issue 11 §10). The hook is let go before returning, so no
// goroutine is left behind whatever the outcome.
func shutdownPastBlockedHook(t *testing.T) (time.Duration, error) {
	t.Helper()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if isHostile(sp) {
				entered <- struct{}{}
				<-release // ignores ctx, as a careless hook does
			}
			return nil
		})
	})
	mustDial(t, s.Addr, dialOpts{Query: hostileQuery})
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("the hook did not run")
	}
	assertServes(t, s) // one blocked hook delays its own spark only
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx, allspark.ShutdownOptions{}) }()
	var err error
	var took time.Duration
	select {
	case err = <-done:
		took = time.Since(start)
		close(release)
	case <-time.After(3 * time.Second):
		took = time.Since(start)
		close(release) // let Shutdown finish so nothing leaks
		err = <-done
		t.Logf("Shutdown returned %v only after the hook was released", err)
	}
	return took, err
}

// TestShutdownHonoursDeadline: Shutdown returns by its deadline, reporting
// it, even when a connection hook ignores its context.
func TestShutdownHonoursDeadline(t *testing.T) {
	took, err := shutdownPastBlockedHook(t)
	t.Logf("Shutdown(500 ms deadline) took %v: %v", took.Round(time.Millisecond), err)
	if took > 1500*time.Millisecond {
		t.Errorf("Shutdown with a 500 ms deadline took %v, still blocked on a hook that ignores ctx", took.Round(time.Millisecond))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want an error matching context.DeadlineExceeded", err)
	}
}
