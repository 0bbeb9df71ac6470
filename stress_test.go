package allspark_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"go.uber.org/goleak"
)

// Item 14: Shutdown racing everything a server does — Join, Leave, Write,
// Emit, EmitWithAck, End and room writes from user goroutines, clients
// vanishing mid-write, handshakes completing during Shutdown — returns with
// no spark registered and, once the test's own goroutines stop, no goroutine
// left.
func TestShutdownUnderConcurrentLoad(t *testing.T) {
	for iter := range 4 {
		t.Run(fmt.Sprint(iter), func(t *testing.T) {
			stressOnce(t, int64(iter))
		})
	}
}

func stressOnce(t *testing.T, seed int64) {
	ignore := goleak.IgnoreCurrent()
	srv, err := allspark.New(allspark.Options{PingInterval: 20 * time.Millisecond, QueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
		sp.OnData(func(d any) { _ = sp.Write(d) })
		if rand.IntN(4) == 0 {
			select { // a hook that takes a moment, honouring its context
			case <-time.After(time.Duration(rand.IntN(20)) * time.Millisecond):
			case <-ctx.Done():
			}
		}
		return nil
	})
	// Disconnection hooks take a moment, so a Shutdown that does not wait
	// for a spark's end run by another goroutine shows as ended < accepted.
	var ended atomic.Int64
	srv.OnDisconnection(func(*allspark.Spark) {
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		ended.Add(1)
	})
	_ = srv.On("ping", func(context.Context, *allspark.Event) (any, error) { return "pong", nil })
	hs := httptest.NewServer(srv)
	defer hs.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	var rmu sync.Mutex
	intn := func(n int) int {
		rmu.Lock()
		defer rmu.Unlock()
		return rng.IntN(n)
	}

	// Clients: dial, chatter, sometimes vanish mid-write; keep dialling
	// until told to stop, which happens after Shutdown began.
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := tryDial(t, hs.URL, "/primus", nil)
				if err != nil {
					continue // refused once Shutdown has started
				}
				for i := range intn(20) {
					if c.conn.WriteString(fmt.Sprintf(`{"n":%d,"pad":"%0100d"}`, i, 0)) != nil {
						break
					}
					if i%5 == 0 {
						_ = c.conn.WriteString(`{"allspark":1,"event":"ping","id":1}`)
					}
				}
				if intn(2) == 0 {
					_ = c.conn.NetConn().Close() // vanish, maybe with writes in flight
				}
			}
		})
	}

	// User goroutines working on whatever sparks exist.
	ops := []func(sp *allspark.Spark){
		func(sp *allspark.Spark) { _ = sp.Join(fmt.Sprint("room", intn(4))) },
		func(sp *allspark.Spark) { _ = sp.Leave(fmt.Sprint("room", intn(4))) },
		func(sp *allspark.Spark) { _ = sp.Write("hello") },
		func(sp *allspark.Spark) { _ = sp.Emit("news", 1, 2) },
		func(sp *allspark.Spark) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			_, _ = sp.EmitWithAck(ctx, "question")
			cancel()
		},
		func(sp *allspark.Spark) { sp.End("bye", intn(2) == 0) },
		func(*allspark.Spark) { _, _ = srv.Room(fmt.Sprint("room", intn(4))).Write("to the room") },
		func(*allspark.Spark) { _, _ = srv.Broadcast("to all") },
	}
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var list []*allspark.Spark
				srv.ForEach(func(sp *allspark.Spark) bool { list = append(list, sp); return true })
				if len(list) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				ops[intn(len(ops))](list[intn(len(list))])
			}
		})
	}

	time.Sleep(150 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(ctx, allspark.ShutdownOptions{Reconnect: seed%2 == 0, Timeout: time.Second})
	n, done, accepted := srv.Len(), ended.Load(), srv.Stats().Accepted
	close(stop)
	wg.Wait()
	t.Logf("%d connections accepted", accepted)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	var se *allspark.ShutdownError
	if errors.As(err, &se) {
		t.Fatalf("Shutdown abandoned work that honours its context: %v", err)
	}
	if n != 0 {
		t.Fatalf("Len() = %d when Shutdown returned", n)
	}
	if done != int64(accepted) {
		t.Fatalf("Shutdown returned with %d of %d sparks' disconnection hooks done", done, accepted)
	}
	if l := srv.Len(); l != 0 {
		t.Fatalf("Len() = %d after Shutdown", l)
	}
	hs.Close()
	goleak.VerifyNone(t, ignore)
}
