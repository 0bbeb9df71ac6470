package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// A restore's reads (TakeSession, History) wait for the caller's deadline,
// not WriteTimeout: during a reconnect storm they queue behind thousands of
// others, and cutting them at WriteTimeout made every such spark
// recovered: false (reason unavailable). Writes keep WriteTimeout. Redis is
// made slow with DEBUG SLEEP on a server of the test's own.
func TestRestoreReadsWaitForTheCallersDeadline(t *testing.T) {
	t.Parallel()
	own := startOwnRedis(t, "--enable-debug-command", "local")
	b := newTestBroker(t, Options{Addrs: []string{own.addr()}, WriteTimeout: 200 * time.Millisecond, ProbeInterval: -1})
	raw := rawClient(t, false, own.addr())
	ctx := ctxT(t)
	if err := b.SaveSession(ctx, "s1", []byte("rec"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.PublishHistory(ctx, &allspark.Publication{Rooms: []string{"room"}, Payload: []byte("m")}, testPolicy); err != nil {
		t.Fatal(err)
	}
	slow := func() chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = raw.Do(context.Background(), raw.B().Arbitrary("DEBUG", "SLEEP", "0.6").Build()).Error()
		}()
		time.Sleep(50 * time.Millisecond) // the sleep has begun
		return done
	}

	done := slow()
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	rec, err := b.TakeSession(rctx, "s1")
	cancel()
	<-done
	if err != nil || string(rec) != "rec" {
		t.Fatalf("take with a 5 s deadline while Redis sleeps 0.6 s: %q, %v", rec, err)
	}

	done = slow()
	rctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	res, err := b.History(rctx, "room", allspark.HistoryQuery{}, testPolicy)
	cancel()
	<-done
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("history with a 5 s deadline while Redis sleeps 0.6 s: %+v, %v", res, err)
	}

	// Without a deadline of its own the read is bounded by WriteTimeout.
	done = slow()
	start := time.Now()
	_, err = b.History(context.Background(), "room", allspark.HistoryQuery{}, testPolicy)
	took := time.Since(start)
	<-done
	if !errors.Is(err, context.DeadlineExceeded) || took > 500*time.Millisecond {
		t.Fatalf("history without a deadline while Redis sleeps: %v after %v, want a WriteTimeout error", err, took)
	}
}
