// Scenarios for the bounds that have options and errors of their own:
// MaxRoomsPerSpark (ErrTooManyRooms), MaxPendingAcks (ErrTooManyAcks) and
// Shutdown's deadline (*ShutdownError).

package hostile_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// TestJoinFlood: one connection sends 100,000 join events; past
// MaxRoomsPerSpark (default 1024) Join fails with ErrTooManyRooms and the
// heap stays bounded (issue 11 §4). Today all 100,000 rooms are joined.
func TestJoinFlood(t *testing.T) {
	const (
		joins = 100_000
		limit = 12 * MiB
	)
	var handled, refused, other atomic.Int64
	s := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		_ = srv.On("join", allspark.Handle(func(_ context.Context, sp *allspark.Spark, room string) (struct{}, error) {
			defer handled.Add(1)
			switch err := sp.Join(room); {
			case errors.Is(err, allspark.ErrTooManyRooms):
				refused.Add(1)
			case err != nil:
				other.Add(1)
			}
			// No error back to the client: 99,000 error reports would
			// only slow the test down.
			return struct{}{}, nil
		}))
	})
	if max := s.Options().MaxRoomsPerSpark; max != 1024 {
		t.Errorf("default MaxRoomsPerSpark = %d, want 1024", max)
	}
	p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery})
	// Whatever the server sends is read, so its send queue never fills.
	go func() {
		for {
			if _, err := p.ReadMessage(30 * time.Second); err != nil {
				return
			}
		}
	}()
	base := heap()
	i := 0
	f := flood(p, func() []byte {
		if i == joins {
			return nil
		}
		i++
		return appendFrame(nil, true, false, opText, fmt.Appendf(nil, `{"allspark":1,"event":"join","args":["room-%06d"]}`, i))
	})
	if err := f.wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !waitFor(30*time.Second, func() bool { return handled.Load() == joins }) {
		t.Fatalf("%d of %d joins handled", handled.Load(), joins)
	}
	rooms := len(s.RoomNames())
	t.Logf("%d joins: %d rooms, %d refused with ErrTooManyRooms, %d other errors", joins, rooms, refused.Load(), other.Load())
	if rooms != 1024 {
		t.Errorf("one spark is in %d rooms, want MaxRoomsPerSpark = 1024", rooms)
	}
	if want := int64(joins - 1024); refused.Load() != want || other.Load() != 0 {
		t.Errorf("Join refused %d times with ErrTooManyRooms and %d otherwise, want %d and 0", refused.Load(), other.Load(), want)
	}
	assertHeapBelow(t, base, limit, 33*MiB, fmt.Sprintf("%d joins", joins))
	assertServes(t, s)
}

// TestPendingAckCap: EmitWithAck to a client that never answers is bounded
// by MaxPendingAcks (default 1024): past it, EmitWithAck fails at once with
// ErrTooManyAcks (issue 11 §5). Today the request waits for its ctx.
func TestPendingAckCap(t *testing.T) {
	const pending = 1024
	ready := make(chan *allspark.Spark, 1)
	s := startServer(t, allspark.Options{QueueSize: 4 * pending}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if isHostile(sp) {
				ready <- sp
			}
			return nil
		})
	})
	if max := s.Options().MaxPendingAcks; max != pending {
		t.Errorf("default MaxPendingAcks = %d, want %d", max, pending)
	}
	p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery})
	sp := <-ready
	received := make(chan struct{}, 2*pending)
	go func() { // reads every request and never answers
		for {
			if _, err := p.ReadMessage(30 * time.Second); err != nil {
				return
			}
			received <- struct{}{}
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	var waiting sync.WaitGroup
	defer func() { cancel(); waiting.Wait() }()
	for range pending {
		waiting.Go(func() { _, _ = sp.EmitWithAck(ctx, "never-answered") })
	}
	for n := range pending {
		select {
		case <-received:
		case <-time.After(10 * time.Second):
			t.Fatalf("the client received %d of %d requests", n, pending)
		}
	}
	for range 3 {
		one, cancelOne := context.WithTimeout(context.Background(), 2*time.Second)
		start := time.Now()
		_, err := sp.EmitWithAck(one, "one-too-many")
		cancelOne()
		took := time.Since(start)
		if !errors.Is(err, allspark.ErrTooManyAcks) {
			t.Errorf("EmitWithAck with %d pending = %v after %v, want ErrTooManyAcks", pending, err, took.Round(time.Millisecond))
			break
		} else if took > time.Second {
			t.Errorf("ErrTooManyAcks after %v, want at once", took)
		}
	}
	cancel()
	waiting.Wait()
	assertServes(t, s)
}

// TestShutdownReportsAbandoned: the error of a Shutdown cut short by its
// deadline is a *ShutdownError (what it abandoned) that still matches
// context.DeadlineExceeded.
func TestShutdownReportsAbandoned(t *testing.T) {
	_, err := shutdownPastBlockedHook(t)
	var se *allspark.ShutdownError
	if !errors.As(err, &se) {
		t.Errorf("Shutdown = %v (%T), want a *ShutdownError", err, err)
	} else {
		t.Logf("Shutdown: %v", se)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want it to match context.DeadlineExceeded", err)
	}
}
