package clientbench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// publishers is the number of goroutines publishing at once, as a busy
// node's rooms would.
const publishers = 64

var payload = strings.Repeat("x", 256)

func addr() string {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

func parallelism() int {
	return max(1, publishers/runtime.GOMAXPROCS(0))
}

func newRueidis(b *testing.B) rueidis.Client {
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:  []string{addr()},
		DisableCache: true,
		// The broker's settings (the centrifuge shard's): pipeline always,
		// flush at most 100 µs late.
		AlwaysPipelining: true,
		MaxFlushDelay:    100 * time.Microsecond,
	})
	if err != nil {
		b.Skip("redis:", err)
	}
	b.Cleanup(c.Close)
	return c
}

func newGoRedis(b *testing.B) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: addr()})
	if err := c.Ping(context.Background()).Err(); err != nil {
		b.Skip("redis:", err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func channel(b *testing.B) string {
	return fmt.Sprintf("clientbench:%s:%d", b.Name(), time.Now().UnixNano())
}

func BenchmarkPublish(b *testing.B) {
	b.Run("rueidis", func(b *testing.B) {
		c := newRueidis(b)
		ch := channel(b)
		b.ReportAllocs()
		b.SetParallelism(parallelism())
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if err := c.Do(ctx, c.B().Publish().Channel(ch).Message(payload).Build()).Error(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("go-redis", func(b *testing.B) {
		c := newGoRedis(b)
		ch := channel(b)
		b.ReportAllocs()
		b.SetParallelism(parallelism())
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if err := c.Publish(ctx, ch, payload).Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("go-redis-autopipeline", func(b *testing.B) {
		c := newGoRedis(b)
		ap, err := c.AutoPipeline()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ap.Close() })
		ch := channel(b)
		b.ReportAllocs()
		b.SetParallelism(parallelism())
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if err := ap.Publish(ctx, ch, payload).Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkReceive measures the subscriber side: b.N messages published
// (by a pipelining rueidis client in both cases, so the publisher costs the
// same) and received on one PUB/SUB connection; ns/op is per message
// received, allocs/op include the publisher's.
func BenchmarkReceive(b *testing.B) {
	b.Run("rueidis", func(b *testing.B) {
		pub := newRueidis(b)
		sub := newRueidis(b)
		ch := channel(b)
		dc, cancel := sub.Dedicate()
		defer cancel()
		var got atomic.Int64
		done := make(chan struct{})
		target := int64(b.N)
		wait := dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: func(m rueidis.PubSubMessage) {
			if got.Add(1) == target {
				close(done)
			}
		}})
		if err := dc.Do(context.Background(), dc.B().Subscribe().Channel(ch).Build()).Error(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		publishN(b, pub, ch, done)
		b.StopTimer()
		dc.Do(context.Background(), dc.B().Unsubscribe().Channel(ch).Build())
		_ = wait
	})
	b.Run("go-redis", func(b *testing.B) {
		pub := newRueidis(b)
		sub := newGoRedis(b)
		ch := channel(b)
		ps := sub.Subscribe(context.Background(), ch)
		defer ps.Close()
		if _, err := ps.Receive(context.Background()); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for n := 0; n < b.N; n++ {
				if _, err := ps.ReceiveMessage(context.Background()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		publishN(b, pub, ch, done)
		b.StopTimer()
	})
}

func publishN(b *testing.B, pub rueidis.Client, ch string, done <-chan struct{}) {
	var next atomic.Int64
	errs := make(chan error, publishers)
	for range publishers {
		go func() {
			ctx := context.Background()
			for next.Add(1) <= int64(b.N) {
				if err := pub.Do(ctx, pub.B().Publish().Channel(ch).Message(payload).Build()).Error(); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range publishers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatal("not every message arrived")
	}
}
