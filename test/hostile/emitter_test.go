package hostile_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// TestEmitterAcksForUnknownIDs: primus-emitter acks for requests the
// server never made are dropped, with nothing kept and the connection
// open.
func TestEmitterAcksForUnknownIDs(t *testing.T) {
	const n = 20000
	s := startServer(t, allspark.Options{}, nil)
	p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery})
	base := heap()
	var batch []byte
	for i := range n {
		batch = appendFrame(batch, true, false, opText, fmt.Appendf(nil, `{"type":1,"id":%d,"data":["late",%q]}`, i+1, strings.Repeat("x", 64)))
		if len(batch) > 64<<10 {
			if err := p.Write(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := p.Write(batch); err != nil {
		t.Fatal(err)
	}
	// After the flood the connection still speaks the dialect: an event
	// without a handler is answered with an emitter ack error.
	if err := p.WriteText(`{"type":0,"data":["nobody"],"id":7}`); err != nil {
		t.Fatal(err)
	}
	got, err := p.ReadMessage(10 * time.Second)
	if err != nil || !strings.HasPrefix(got, `{"type":1,"data":[{"error":{"code":"unknown_event"`) {
		t.Fatalf("after the flood: %q %v", got, err)
	}
	assertHeapBelow(t, base, 2*MiB, 0, "after 20,000 emitter acks for unknown ids")
	assertServes(t, s)
}

// TestEmitterFloodBehindBlockedHandler: emitter events behind a blocked
// handler wait in the same bounded queue as our envelopes: the server
// stops reading, the heap stays bounded, and once the handler returns
// every event runs, in order.
func TestEmitterFloodBehindBlockedHandler(t *testing.T) {
	const (
		msgs, size = 4096, 4 << 10 // 16 MiB
		limit      = 8 * MiB
	)
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	var slowRan atomic.Bool
	var next, bad atomic.Int64
	s := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		if err := srv.On("slow", func(ctx context.Context, _ *allspark.Event) (any, error) {
			slowRan.Store(true)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := srv.On("queued", func(_ context.Context, ev *allspark.Event) (any, error) {
			var seq int64
			if err := ev.Decode(0, &seq); err != nil || seq != next.Load() {
				bad.CompareAndSwap(0, seq+1)
			} else {
				next.Add(1)
			}
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery})
	if err := p.WriteText(`{"type":0,"data":["slow"]}`); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, slowRan.Load) {
		t.Fatal("the slow handler did not start")
	}
	base := heap()
	pad := strings.Repeat("a", size-48)
	i := 0
	f := flood(p, func() []byte {
		if i == msgs {
			return nil
		}
		i++
		return appendFrame(nil, true, false, opText, fmt.Appendf(nil, `{"type":0,"data":["queued",%d,%q]}`, i-1, pad))
	})
	f.settle(500*time.Millisecond, 20*time.Second)
	g := maxGrowthOver(base, time.Second)
	in := s.Stats().BytesIn
	t.Logf("flood of %d MiB of emitter events behind a blocked handler: server took in %.1f MiB, heap +%.1f MiB",
		msgs*size/MiB, mib(int64(in)), mib(g))
	if g > limit {
		t.Errorf("heap grew %.1f MiB behind a blocked handler, want < %.0f MiB", mib(g), mib(limit))
	}
	assertStoppedReading(t, in, msgs*size)
	close(release)
	released = true
	if err := f.wait(20 * time.Second); err != nil {
		t.Fatalf("flood after release: %v", err)
	}
	if !waitFor(20*time.Second, func() bool { return next.Load() == msgs || bad.Load() != 0 }) || bad.Load() != 0 {
		t.Fatalf("ran %d of %d queued events in order (first out of order: %d)", next.Load(), msgs, bad.Load()-1)
	}
	assertServes(t, s)
}
