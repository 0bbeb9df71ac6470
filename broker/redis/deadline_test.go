package redis

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

func TestSharedDeadline(t *testing.T) {
	s := sharedDeadline{timeout: 200 * time.Millisecond}
	defer s.stop()
	start := time.Now()
	ctx := s.get()
	d, ok := ctx.Deadline()
	if !ok || d.Sub(start) < 200*time.Millisecond || d.Sub(start) > 230*time.Millisecond {
		t.Fatalf("deadline %v after the call, want 200-220 ms", d.Sub(start))
	}
	if s.get() != ctx {
		t.Error("a call within the window got another context")
	}
	time.Sleep(25 * time.Millisecond)
	if s.get() == ctx {
		t.Error("a call after the window got the old context")
	}
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the shared context never expired")
	}
}

// The publish path allocates nothing per call: the envelope is built in a
// pooled buffer and the deadline is shared.
func TestPublishAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b := newTestBroker(t, Options{})
	p := &allspark.Publication{Node: "n", Rooms: []string{"room"}, Payload: bytes.Repeat([]byte("x"), 256)}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := b.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.5 {
		t.Errorf("Publish allocates %.1f times per call", allocs)
	}
}
