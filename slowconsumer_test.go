package allspark_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// A peer that never reads fills the socket buffers, then the bounded queue.
func TestSlowConsumerClosePolicy(t *testing.T) {
	var events atomic.Int32
	result := make(chan error, 1)
	big := strings.Repeat("x", 256<<10)
	srv, url := startServer(t, allspark.Options{
		QueueSize:      4,
		OnSlowConsumer: func(*allspark.Spark, allspark.SlowConsumerEvent) { events.Add(1) },
	}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			go func() {
				for i := 0; i < 10000; i++ {
					if err := sp.Write(big); err != nil {
						result <- err
						return
					}
				}
				result <- nil
			}()
			return nil
		})
	})
	rawUpgrade(t, url, "/primus")
	select {
	case err := <-result:
		if !errors.Is(err, allspark.ErrQueueFull) {
			t.Fatalf("Write = %v, want ErrQueueFull", err)
		}
	case <-time.After(waitLong):
		t.Fatal("writes never hit the queue bound: memory is unbounded")
	}
	waitFor(t, "spark ended", func() bool { return srv.Len() == 0 })
	if events.Load() != 1 || srv.Stats().SlowConsumers != 1 {
		t.Fatalf("events %d, stats %+v", events.Load(), srv.Stats())
	}
}

func TestSlowConsumerDropOldestPolicy(t *testing.T) {
	var dropped atomic.Int32
	done := make(chan error, 1)
	big := strings.Repeat("y", 256<<10)
	srv, url := startServer(t, allspark.Options{
		QueueSize:    4,
		SlowConsumer: allspark.SlowConsumerDropOldest,
		OnSlowConsumer: func(_ *allspark.Spark, ev allspark.SlowConsumerEvent) {
			if ev.Policy == allspark.SlowConsumerDropOldest {
				dropped.Add(int32(ev.Dropped))
			}
		},
	}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			go func() {
				for range 200 {
					if err := sp.Write(big); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			return nil
		})
	})
	rawUpgrade(t, url, "/primus")
	if err := <-done; err != nil {
		t.Fatalf("Write under drop-oldest = %v", err)
	}
	if dropped.Load() == 0 || srv.Stats().Dropped != uint64(dropped.Load()) {
		t.Fatalf("dropped %d, stats %+v", dropped.Load(), srv.Stats())
	}
	if srv.Len() != 1 {
		t.Fatal("drop-oldest must keep the connection")
	}
}

func TestBroadcastToSlowConsumerDoesNotBlockOthers(t *testing.T) {
	srv, url := startServer(t, allspark.Options{QueueSize: 2}, nil)
	rawUpgrade(t, url, "/primus")
	fast := dial(t, url, "/primus", nil)
	waitFor(t, "two sparks", func() bool { return srv.Len() == 2 })
	big := strings.Repeat("z", 512<<10)
	for range 40 {
		if _, err := srv.Broadcast(big); err != nil {
			t.Fatal(err)
		}
		fast.next()
	}
	waitFor(t, "slow spark cut", func() bool { return srv.Len() == 1 })
}

func TestWriteTimeoutCutsPeerThatStopsReading(t *testing.T) {
	ended := make(chan struct{})
	srv, url := startServer(t, allspark.Options{WriteTimeout: 50 * time.Millisecond}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			sp.OnEnd(func() { close(ended) })
			big := strings.Repeat("w", 1<<20)
			for range 32 { // more than loopback socket buffers hold
				_ = sp.Write(big)
			}
			return nil
		})
	})
	rawUpgrade(t, url, "/primus")
	select {
	case <-ended:
	case <-time.After(waitLong):
		t.Fatal("a peer that accepts no bytes was not cut after WriteTimeout")
	}
	waitFor(t, "removal", func() bool { return srv.Len() == 0 })
}
