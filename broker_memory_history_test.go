package allspark

import (
	"context"
	"math"
	"testing"
	"time"
)

type countingHandler struct{ got []Position }

func (h *countingHandler) HandlePublication(p *Publication) int {
	h.got = append(h.got, p.Pos)
	return 1
}
func (h *countingHandler) HandleMessage(string, []byte) {}

func TestMemoryHistoryPositionsSizeAndTTL(t *testing.T) {
	b := NewMemoryBroker()
	now := time.Unix(1000, 0)
	b.history.now = func() time.Time { return now }
	ctx := context.Background()
	self, other := &countingHandler{}, &countingHandler{}
	_ = b.Register(ctx, "self", self)
	_ = b.Register(ctx, "other", other)
	_ = b.Subscribe(ctx, "self", "r")
	_ = b.Subscribe(ctx, "other", "r")
	pol := HistoryPolicy{Size: 3, TTL: 10 * time.Second, MetaTTL: time.Hour}
	var epoch string
	for i := 1; i <= 5; i++ {
		pos, n, err := b.PublishHistory(ctx, &Publication{Node: "self", Rooms: []string{"r"}, Payload: []byte{byte(i)}}, pol)
		if err != nil || pos.Offset != uint64(i) || n != 2 {
			t.Fatalf("publish %d: %+v %d %v", i, pos, n, err)
		}
		epoch = pos.Epoch
	}
	if len(self.got) != 5 || self.got[4].Offset != 5 || len(other.got) != 5 {
		t.Fatalf("deliveries: own node %v, other %v", self.got, other.got)
	}
	res, _ := b.History(ctx, "r", HistoryQuery{}, pol)
	if len(res.Entries) != 3 || res.Entries[0].Pos.Offset != 3 || res.Top != (Position{5, epoch}) {
		t.Fatalf("size trim: %+v", res)
	}
	res, _ = b.History(ctx, "r", HistoryQuery{After: 3, Limit: 1}, pol)
	if len(res.Entries) != 1 || res.Entries[0].Pos.Offset != 4 {
		t.Fatalf("after/limit: %+v", res)
	}
	now = now.Add(11 * time.Second)
	res, _ = b.History(ctx, "r", HistoryQuery{}, pol)
	if len(res.Entries) != 0 || res.Top.Offset != 5 || res.Top.Epoch != epoch {
		t.Fatalf("after the TTL the position stays, the entries go: %+v", res)
	}
	now = now.Add(2 * time.Hour)
	res, _ = b.History(ctx, "r", HistoryQuery{After: math.MaxUint64}, pol)
	if res.Top.Offset != 0 || res.Top.Epoch == epoch || res.Top.Epoch == "" {
		t.Fatalf("after the meta TTL the stream is new: %+v", res)
	}
	again, _ := b.History(ctx, "r", HistoryQuery{}, pol)
	if again.Top != res.Top {
		t.Fatalf("a read of a new stream keeps its epoch: %+v then %+v", res.Top, again.Top)
	}
	if _, _, err := b.PublishHistory(ctx, &Publication{Rooms: []string{"a", "b"}}, pol); err != ErrHistoryTarget {
		t.Fatalf("two rooms: %v", err)
	}
	if NewMemoryBroker().history.now == nil {
		t.Fatal("no clock")
	}
}

// Abandoned streams are swept once their meta TTL ran out, so room names
// written once do not pile up.
func TestMemoryHistorySweep(t *testing.T) {
	b := NewMemoryBroker()
	now := time.Unix(1000, 0)
	b.history.now = func() time.Time { return now }
	ctx := context.Background()
	pol := HistoryPolicy{Size: 1, TTL: time.Second, MetaTTL: time.Minute}
	for i := range 2 * sweepEvery {
		_, _, _ = b.PublishHistory(ctx, &Publication{Rooms: []string{string(rune('a'+i%26)) + string(rune(i))}}, pol)
	}
	now = now.Add(2 * time.Minute)
	for range sweepEvery {
		_, _, _ = b.PublishHistory(ctx, &Publication{Rooms: []string{"live"}}, pol)
	}
	b.history.mu.Lock()
	n := len(b.history.streams)
	b.history.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d streams kept, want 1", n)
	}
}

// A new broker (a restarted process) gives every room a new epoch.
func TestMemoryHistoryNewBrokerNewEpoch(t *testing.T) {
	ctx := context.Background()
	pol := HistoryPolicy{Size: 1, TTL: time.Second, MetaTTL: time.Minute}
	p1, _, _ := NewMemoryBroker().PublishHistory(ctx, &Publication{Rooms: []string{"r"}}, pol)
	p2, _, _ := NewMemoryBroker().PublishHistory(ctx, &Publication{Rooms: []string{"r"}}, pol)
	if p1.Epoch == p2.Epoch || len(p1.Epoch) != 8 {
		t.Fatalf("epochs %q %q", p1.Epoch, p2.Epoch)
	}
}

func TestPublicationCodecPosition(t *testing.T) {
	p := &Publication{Node: "n", Rooms: []string{"r"}, Payload: []byte("x"), Pos: Position{Offset: 7, Epoch: "E"}}
	got, err := UnmarshalPublication(MarshalPublication(nil, p))
	if err != nil || got.Pos != p.Pos || string(got.Payload) != "x" {
		t.Fatalf("%+v %v", got, err)
	}
	p.Rooms = []string{"a", "b"}
	if _, err := UnmarshalPublication(MarshalPublication(nil, p)); err == nil {
		t.Fatal("a position for two rooms accepted")
	}
}
