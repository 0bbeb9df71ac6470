package redis

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// BenchmarkPublish is the hot path: one room publication (256 B payload)
// from 64 goroutines, enveloped in a pooled buffer and pipelined.
//
//	go test -run '^$' -bench Publish -benchmem ./broker/redis
func BenchmarkPublish(b *testing.B) {
	br := newTestBroker(b, Options{})
	p := &allspark.Publication{Node: "bench", Rooms: []string{"room"}, Payload: bytes.Repeat([]byte("x"), 256)}
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := br.Publish(ctx, p); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPublishHistory is BenchmarkPublish for a room with history:
// the same publication through the history script (offset, XADD with
// MAXLEN, two PEXPIREs, PUBLISH) instead of a PUBLISH. "one room" is the
// worst case, every write on one stream; "64 rooms" spreads them.
//
//	go test -run '^$' -bench 'Publish' -benchmem ./broker/redis
func BenchmarkPublishHistory(b *testing.B) {
	for _, rooms := range []int{1, 64} {
		b.Run(fmt.Sprintf("%d rooms", rooms), func(b *testing.B) {
			br := newTestBroker(b, Options{})
			pol := allspark.HistoryPolicy{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}
			payload := bytes.Repeat([]byte("x"), 256)
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				p := &allspark.Publication{Node: "bench", Rooms: []string{fmt.Sprint("room-", next.Add(1)%int64(rooms))}, Payload: payload}
				for pb.Next() {
					if _, _, err := br.PublishHistory(ctx, p, pol); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkHistoryRead reads the last 100 entries (256 B each) of a room.
func BenchmarkHistoryRead(b *testing.B) {
	br := newTestBroker(b, Options{})
	pol := allspark.HistoryPolicy{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}
	ctx := context.Background()
	p := &allspark.Publication{Node: "bench", Rooms: []string{"room"}, Payload: bytes.Repeat([]byte("x"), 256)}
	for range 100 {
		if _, _, err := br.PublishHistory(ctx, p, pol); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := br.History(ctx, "room", allspark.HistoryQuery{}, pol)
		if err != nil || len(res.Entries) != 100 {
			b.Fatal(len(res.Entries), err)
		}
	}
}

// BenchmarkSend: a node-to-node message (64 B) to one node.
func BenchmarkSend(b *testing.B) {
	br := newTestBroker(b, Options{})
	msg := bytes.Repeat([]byte("m"), 64)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := br.Send(ctx, "a", "b", msg); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDeliver measures the receive path end to end: publications from
// another Broker value through Redis to a node's handler; ns/op is per
// publication handed to the handler.
func BenchmarkDeliver(b *testing.B) {
	prefix := randomPrefix()
	pub := newTestBroker(b, Options{Prefix: prefix})
	sub := newTestBroker(b, Options{Prefix: prefix})
	var got atomic.Int64
	if err := sub.Register(context.Background(), "sink", countHandler{&got}); err != nil {
		b.Fatal(err)
	}
	if err := sub.Subscribe(context.Background(), "sink", "room"); err != nil {
		b.Fatal(err)
	}
	p := &allspark.Publication{Node: "src", Rooms: []string{"room"}, Payload: bytes.Repeat([]byte("x"), 256)}
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	done := make(chan struct{})
	for range 64 {
		go func() {
			defer func() { done <- struct{}{} }()
			for next.Add(1) <= int64(b.N) {
				if _, err := pub.Publish(context.Background(), p); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for range 64 {
		<-done
	}
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if d := sub.BrokerStats().Dropped; d > 0 {
		b.Logf("dropped %d", d)
	}
}
