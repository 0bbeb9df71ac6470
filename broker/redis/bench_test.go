package redis

import (
	"bytes"
	"context"
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
