package redis

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// A node whose handler blocks must cost at most its InboundQueue: 200,000
// publications of 1 KB (200 MB) arrive while it is stuck, the heap stays
// within a bound derived from the queue, the overflow is dropped and
// counted, and a healthy node on the same broker keeps receiving.
func TestSlowNodeMemoryBounded(t *testing.T) {
	const (
		queue = 2048
		size  = 1024
	)
	total := 200_000
	if raceEnabled {
		total = 50_000
	}
	logs := &countingLog{}
	b := newTestBroker(t, Options{InboundQueue: queue, Logger: slog.New(logs)})
	started := time.Now()
	stuck := &recorder{block: make(chan struct{})}
	var healthy atomic.Int64
	ctx := ctxT(t)
	if err := b.Register(ctx, "stuck", stuck); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(ctx, "healthy", countHandler{&healthy}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(stuck.block) }) // before the broker's Close waits for it

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	payload := bytes.Repeat([]byte("x"), size)
	pubCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var next atomic.Int64
	var failed atomic.Int64
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(total) {
				if _, err := b.Publish(pubCtx, &allspark.Publication{Node: "publisher", All: true, Payload: payload}); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d publishes failed", f)
	}
	eventually(t, 30*time.Second, "the healthy node gets every publication", func() bool { return healthy.Load() == int64(total) })

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// The queue (plus the one batch in the stuck handler) at its size with
	// per-item overhead, and slack for the clients' buffers.
	bound := int64(queue+256)*(size+512) + 16<<20
	t.Logf("heap grew %.1f MB after %d × %d B behind a blocked handler (bound %.1f MB); dropped %d",
		float64(grown)/(1<<20), total, size, float64(bound)/(1<<20), b.BrokerStats().Dropped)
	if grown > bound {
		t.Errorf("heap grew %d bytes, bound %d", grown, bound)
	}
	st := b.BrokerStats()
	if st.Dropped == 0 || st.Dropped < uint64(total-queue-256-1) {
		t.Errorf("Dropped = %d, want ≥ %d", st.Dropped, total-queue-257)
	}
	// Drops are reported at most once a second per node.
	if n, limit := logs.drops.Load(), int64(time.Since(started)/time.Second)+1; n == 0 || n > limit {
		t.Errorf("%d drop reports in %v, want 1..%d", n, time.Since(started), limit)
	}
	if n := b.nodeQueueLen("stuck"); n > queue {
		t.Errorf("stuck node queue holds %d > %d", n, queue)
	}
}

type countHandler struct{ n *atomic.Int64 }

func (c countHandler) HandlePublication(*allspark.Publication) int { c.n.Add(1); return 1 }
func (c countHandler) HandleMessage(string, []byte)                { c.n.Add(1) }

func (b *Broker) nodeQueueLen(name string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.nodes[name].q.len()
}

// countingLog counts the broker's drop reports.
type countingLog struct{ drops atomic.Int64 }

func (l *countingLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *countingLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "dropping") {
		l.drops.Add(1)
	}
	return nil
}
func (l *countingLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *countingLog) WithGroup(string) slog.Handler      { return l }
