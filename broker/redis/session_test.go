package redis

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

var _ allspark.SessionStore = (*Broker)(nil)

func TestSessions(t *testing.T) {
	b := newTestBroker(t, Options{})
	ctx := ctxT(t)
	rec := []byte("record\x00with binary \xff")
	if err := b.SaveSession(ctx, "s1", rec, time.Minute); err != nil {
		t.Fatal(err)
	}
	rec[0] = 'X' // the store keeps its own copy
	got, err := b.TakeSession(ctx, "s1")
	if err != nil || string(got) != "record\x00with binary \xff" {
		t.Fatalf("TakeSession = %q, %v", got, err)
	}
	if _, err := b.TakeSession(ctx, "s1"); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("second TakeSession: %v, want ErrNoSession", err)
	}
	if _, err := b.TakeSession(ctx, "never"); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("TakeSession of an unknown id: %v", err)
	}

	// A save replaces the record; Delete removes it.
	for _, r := range []string{"one", "two"} {
		if err := b.SaveSession(ctx, "s2", []byte(r), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.DeleteSession(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TakeSession(ctx, "s2"); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("TakeSession after Delete: %v", err)
	}
	if err := b.DeleteSession(ctx, "s2"); err != nil {
		t.Fatalf("Delete of nothing: %v", err)
	}

	// A record expires after its TTL.
	if err := b.SaveSession(ctx, "s3", []byte("brief"), 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, false, sharedRedis(t))
	if ms, _ := do(t, raw, "PTTL", b.keys.sessionKey("s3")).AsInt64(); ms <= 0 || ms > 150 {
		t.Errorf("PTTL %d ms, want (0, 150]", ms)
	}
	eventually(t, 5*time.Second, "the record expires", func() bool {
		n, _ := do(t, raw, "EXISTS", b.keys.sessionKey("s3")).AsInt64()
		return n == 0
	})
	if _, err := b.TakeSession(ctx, "s3"); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("TakeSession after the TTL: %v", err)
	}
}

// Two nodes presenting one token at once: exactly one gets the record.
func TestTakeSessionOnce(t *testing.T) {
	prefix := randomPrefix()
	b1 := newTestBroker(t, Options{Prefix: prefix})
	b2 := newTestBroker(t, Options{Prefix: prefix})
	ctx := ctxT(t)
	for round := range 50 {
		if err := b1.SaveSession(ctx, "s", []byte{byte(round)}, time.Minute); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := 0
		for _, b := range []*Broker{b1, b2, b1, b2} {
			wg.Go(func() {
				rec, err := b.TakeSession(ctx, "s")
				if errors.Is(err, allspark.ErrNoSession) {
					return
				}
				if err != nil || !bytes.Equal(rec, []byte{byte(round)}) {
					t.Errorf("TakeSession = %q, %v", rec, err)
				}
				mu.Lock()
				got++
				mu.Unlock()
			})
		}
		wg.Wait()
		if got != 1 {
			t.Fatalf("round %d: %d takers got the record", round, got)
		}
	}
}

func TestSessionBounds(t *testing.T) {
	b := newTestBroker(t, Options{})
	ctx := ctxT(t)
	if err := b.SaveSession(ctx, "big", make([]byte, MaxSessionRecord+1), time.Minute); !errors.Is(err, ErrSessionTooLarge) {
		t.Errorf("oversize record: %v", err)
	}
	if err := b.SaveSession(ctx, "max", make([]byte, MaxSessionRecord), time.Minute); err != nil {
		t.Errorf("record of MaxSessionRecord: %v", err)
	}
	if err := b.DeleteSession(ctx, "max"); err != nil {
		t.Error(err)
	}
	long := strings.Repeat("i", maxSessionID+1)
	for _, tc := range []struct {
		id  string
		ttl time.Duration
	}{{"", time.Minute}, {long, time.Minute}, {"ok", 0}, {"ok", -time.Second}} {
		if err := b.SaveSession(ctx, tc.id, []byte("r"), tc.ttl); !errors.Is(err, ErrBadSession) {
			t.Errorf("SaveSession(%.10q, %v) = %v, want ErrBadSession", tc.id, tc.ttl, err)
		}
	}
	for _, id := range []string{"", long} {
		if _, err := b.TakeSession(ctx, id); !errors.Is(err, allspark.ErrNoSession) {
			t.Errorf("TakeSession(%.10q) = %v, want ErrNoSession", id, err)
		}
		if err := b.DeleteSession(ctx, id); err != nil {
			t.Errorf("DeleteSession(%.10q) = %v", id, err)
		}
	}
	b.Close()
	if err := b.SaveSession(ctx, "s", nil, time.Minute); !errors.Is(err, ErrClosed) {
		t.Errorf("SaveSession after Close: %v", err)
	}
	if _, err := b.TakeSession(ctx, "s"); !errors.Is(err, ErrClosed) {
		t.Errorf("TakeSession after Close: %v", err)
	}
	if err := b.DeleteSession(ctx, "s"); !errors.Is(err, ErrClosed) {
		t.Errorf("DeleteSession after Close: %v", err)
	}
}
