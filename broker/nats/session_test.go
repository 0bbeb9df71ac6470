package nats_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestSessionSaveTakeDelete: a saved record is taken once (by any node),
// a saved-over record returns the newest, and a deleted one is gone.
func TestSessionSaveTakeDelete(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	a := newHistoryBroker(t, url, prefix)
	b := newHistoryBroker(t, url, prefix)
	ctx := ctxT(t)
	if _, err := a.TakeSession(ctx, "none"); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("take of unsaved = %v", err)
	}
	id := "sess.*> with odd bytes\x00"
	if err := a.SaveSession(ctx, id, []byte("one"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.SaveSession(ctx, id, []byte("two"), time.Minute); err != nil {
		t.Fatal(err)
	}
	rec, err := b.TakeSession(ctx, id)
	if err != nil || string(rec) != "two" {
		t.Fatalf("take on the other node = %q, %v", rec, err)
	}
	if _, err := a.TakeSession(ctx, id); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("second take = %v", err)
	}
	if err := a.SaveSession(ctx, "d", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteSession(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.TakeSession(ctx, "d"); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("take after delete = %v", err)
	}
	if err := a.DeleteSession(ctx, "never"); err != nil {
		t.Fatalf("delete of unsaved = %v", err)
	}
}

// TestSessionTakeAtomic: many takers on two nodes racing for one record:
// exactly one gets it, every round.
func TestSessionTakeAtomic(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	nodes := []*natsbroker.HistoryBroker{newHistoryBroker(t, url, prefix), newHistoryBroker(t, url, prefix)}
	ctx := ctxT(t)
	for round := range 20 {
		if err := nodes[0].SaveSession(ctx, "s", []byte{byte(round)}, time.Minute); err != nil {
			t.Fatal(err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec, err := nodes[i%2].TakeSession(ctx, "s")
				switch {
				case err == nil:
					if !bytes.Equal(rec, []byte{byte(round)}) {
						t.Errorf("round %d took %v", round, rec)
					}
					wins.Add(1)
				case !errors.Is(err, allspark.ErrNoSession):
					t.Errorf("take: %v", err)
				}
			}()
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d takers won, want 1", round, n)
		}
	}
}

// TestSessionExpiry: a record is not returned after its TTL, though the
// stream (MaxAge SessionMaxAge) still holds it.
func TestSessionExpiry(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	h := newHistoryBroker(t, url, prefix)
	ctx := ctxT(t)
	if err := h.SaveSession(ctx, "e", []byte("x"), 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if rec, err := h.TakeSession(ctx, "e"); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("take after expiry = %q, %v", rec, err)
	}
	if err := h.SaveSession(ctx, "f", []byte("y"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if rec, err := h.TakeSession(ctx, "f"); err != nil || string(rec) != "y" {
		t.Fatalf("take before expiry = %q, %v", rec, err)
	}
}

// TestSessionBadInput: bad ids, TTLs and oversized records are refused
// with the sentinels.
func TestSessionBadInput(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	h := newHistoryBroker(t, url, prefix, func(o *natsbroker.Options) { o.SessionMaxAge = time.Hour })
	ctx := ctxT(t)
	for _, c := range []struct {
		id  string
		ttl time.Duration
	}{{"", time.Minute}, {string(make([]byte, 300)), time.Minute}, {"x", 0}, {"x", 2 * time.Hour}} {
		if err := h.SaveSession(ctx, c.id, []byte("r"), c.ttl); !errors.Is(err, natsbroker.ErrBadSession) {
			t.Fatalf("SaveSession(%d-byte id, %v) = %v", len(c.id), c.ttl, err)
		}
	}
	if err := h.SaveSession(ctx, "x", make([]byte, natsbroker.MaxSessionRecord+1), time.Minute); !errors.Is(err, natsbroker.ErrSessionTooLarge) {
		t.Fatalf("oversized record = %v", err)
	}
	if _, err := h.TakeSession(ctx, ""); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("take of empty id = %v", err)
	}
}

// TestSessionMessageTTL: on a server with per-message TTLs (2.11+) a
// record nobody takes is removed by NATS at its expiry (plus a second),
// not only refused when taken.
func TestSessionMessageTTL(t *testing.T) {
	url := historyURL(t)
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if v := nc.ConnectedServerVersion(); !strings.HasPrefix(v, "2.1") || v < "2.11" {
		t.Skipf("nats-server %s has no per-message TTL", v)
	}
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	h := newHistoryBroker(t, url, prefix)
	ctx := ctxT(t)
	if err := h.SaveSession(ctx, "gone", []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, prefix+"_sessions")
	if err != nil {
		t.Fatal(err)
	}
	msgs := func() uint64 {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	if n := msgs(); n != 1 {
		t.Fatalf("%d records stored, want 1", n)
	}
	waitFor(t, 5*time.Second, "NATS removes the expired record", func() bool { return msgs() == 0 })
}
