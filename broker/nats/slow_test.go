package nats_test

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
)

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// A node whose handler blocks holds at most its bounded queue (and the
// intake channel before it): the rest is dropped and counted, memory stays
// flat however much is published, and the other node on the same
// connection keeps getting its traffic.
func TestBlockedHandlerIsBounded(t *testing.T) {
	const (
		queue = 2000
		total = 50_000
		size  = 1024
	)
	// A nats-server process, not an embedded one: the server's own
	// per-client buffers (up to 64 MB) would otherwise count in this heap.
	p := startNATSProcess(t, freePort(t))
	o := natsbroker.Options{Servers: []string{p.url()}, InboundQueue: queue, ProbeInterval: -1}
	pubB := newBroker(t, o)
	subB := newBroker(t, o)
	ctx := ctxT(t)
	slow, fast := newRecorder(), newRecorder()
	slow.discard, fast.discard = true, true
	slow.block = make(chan struct{})
	unblocked := false
	defer func() {
		if !unblocked {
			close(slow.block)
		}
	}()
	if err := pubB.Register(ctx, "pub", newRecorder()); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*recorder{"slow": slow, "fast": fast} {
		if err := subB.Register(ctx, name, r); err != nil {
			t.Fatal(err)
		}
		if err := subB.Subscribe(ctx, name, "room"); err != nil {
			t.Fatal(err)
		}
	}

	before := heapInUse()
	payload := bytes.Repeat([]byte("x"), size)
	for i := range total {
		if _, err := pubB.Publish(ctx, &allspark.Publication{Node: "pub", Rooms: []string{"room"}, Payload: payload}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	// Wait until everything published has been delivered or dropped: the
	// counters stop moving.
	quiet(t, subB)
	after := heapInUse()
	grown := int64(after) - int64(before)
	// Unbounded, the slow node alone would hold total*size = 50 MB. Bounded,
	// it holds queue + intake (2000 + 1024) messages of ~1.3 KB with their
	// decoded publications: about 4 MB. Allow 12 MB for the rest.
	const bound = 12 << 20
	t.Logf("heap grew %d KB for %d MB published to two nodes; stats %+v", grown>>10, total*size>>20, subB.BrokerStats())
	if grown > bound {
		t.Fatalf("heap grew %d bytes with a blocked handler, bound %d", grown, bound)
	}
	if st := subB.BrokerStats(); st.Dropped < total-queue-1024-1 {
		t.Fatalf("dropped %d of the %d for the blocked node, want at least %d", st.Dropped, total, total-queue-1024-1)
	}

	close(slow.block)
	unblocked = true
	quiet(t, subB)
	sp, _ := slow.counts()
	fp, _ := fast.counts()
	if sp > queue+1024+1 {
		t.Fatalf("blocked node was handed %d publications, more than its queue (%d) and intake (1024)", sp, queue)
	}
	// Every delivery is accounted for: handed to a node or counted dropped.
	if st := subB.BrokerStats(); uint64(sp+fp)+st.Dropped != 2*total {
		t.Fatalf("slow %d + fast %d + dropped %d != %d deliveries", sp, fp, st.Dropped, 2*total)
	}
	t.Logf("fast node got %d of %d; slow node %d after unblocking", fp, total, sp)
}

// quiet waits until b's Received and Dropped counters stop moving.
func quiet(t *testing.T, b *natsbroker.Broker) {
	t.Helper()
	var last allspark.BrokerStats
	stable := 0
	waitFor(t, 30*time.Second, "traffic to settle", func() bool {
		time.Sleep(50 * time.Millisecond)
		st := b.BrokerStats()
		if st.Received == last.Received && st.Dropped == last.Dropped {
			stable++
		} else {
			stable = 0
		}
		last = st
		return stable >= 6
	})
}

// The queue is bounded in bytes as well as in messages.
func TestInboundBytesBound(t *testing.T) {
	s := runEmbedded(t, 0)
	o := natsbroker.Options{Servers: []string{s.ClientURL()}, InboundBytes: 64 << 10, ProbeInterval: -1}
	b := newBroker(t, o)
	ctx := ctxT(t)
	slow := newRecorder()
	slow.block = make(chan struct{})
	if err := b.Register(ctx, "slow", slow); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("y"), 8<<10)
	for range 200 {
		if _, err := b.Publish(ctx, &allspark.Publication{Node: "pub", All: true, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "drops", func() bool { return b.BrokerStats().Dropped >= 200-9 })
	close(slow.block)
	waitFor(t, 10*time.Second, "delivery", func() bool { p, _ := slow.counts(); return p > 0 })
	time.Sleep(100 * time.Millisecond)
	// 64 KiB holds 7 messages of 8 KiB and their envelope; one more may be
	// in the handler's hands when the rest were refused.
	if p, _ := slow.counts(); p > 9 {
		t.Fatalf("handler got %d messages of 8 KiB through a 64 KiB queue", p)
	}
}
