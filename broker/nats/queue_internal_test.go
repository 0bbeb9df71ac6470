package nats

import (
	"testing"

	"github.com/allspark/allspark"
)

func TestInboundBoundedByItems(t *testing.T) {
	q := newInbound(100, 1<<30)
	for i := range 100 {
		if !q.push(item{from: "a", size: 1, msg: []byte{byte(i)}}) {
			t.Fatalf("push %d refused below the bound", i)
		}
	}
	if q.push(item{size: 1}) {
		t.Fatal("push past 100 items accepted")
	}
	for i := range 100 {
		it, ok := q.pop()
		if !ok || it.msg[0] != byte(i) {
			t.Fatalf("pop %d: %v %v (want FIFO order)", i, ok, it.msg)
		}
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop from an empty queue")
	}
	if q.push(item{size: 1}) != true {
		t.Fatal("push refused after draining")
	}
}

func TestInboundBoundedByBytes(t *testing.T) {
	q := newInbound(1000, 10_000)
	n := 0
	for q.push(item{pub: &allspark.Publication{}, size: 1000}) {
		n++
	}
	if n != 10 {
		t.Fatalf("accepted %d items of 1000 bytes under a 10,000-byte bound, want 10", n)
	}
	q.pop()
	if !q.push(item{size: 1000}) {
		t.Fatal("push refused after a pop freed the bytes")
	}
	if _, bytes := q.len(); bytes != 10_000 {
		t.Fatalf("queued bytes %d, want 10000", bytes)
	}
}

func TestInboundReleasesItsRing(t *testing.T) {
	q := newInbound(10_000, 1<<30)
	for range 5000 {
		q.push(item{size: 1})
	}
	for {
		if _, ok := q.pop(); !ok {
			break
		}
	}
	if len(q.ring) != 0 {
		t.Fatalf("ring of %d kept after draining a burst", len(q.ring))
	}
	// Wrap-around keeps order.
	q = newInbound(minRing, 1<<30)
	next, want := 0, 0
	for round := range 10 {
		for range minRing / 2 {
			q.push(item{size: next})
			next++
		}
		for range minRing / 2 {
			it, _ := q.pop()
			if it.size != want {
				t.Fatalf("round %d: got %d, want %d", round, it.size, want)
			}
			want++
		}
	}
}
