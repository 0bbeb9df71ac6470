package allspark

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkBroadcast measures the per-receiver cost of a broadcast: one
// encode, then a queue push per spark (the writers drain into fake sockets).
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("sparks=%d", n), func(b *testing.B) {
			srv, err := New(Options{PingInterval: NoPing, QueueSize: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
			r.RemoteAddr = "127.0.0.1:1"
			sparks := make([]*Spark, n)
			for i := range sparks {
				sparks[i] = srv.attach(&nullConn{}, r)
			}
			msg := map[string]any{"room": "lobby", "text": "hello everyone"}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := srv.Broadcast(msg); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/receiver")
			for _, sp := range sparks {
				sp.OnClose(nil)
			}
			_ = srv.Shutdown(b.Context(), ShutdownOptions{})
		})
	}
}

// BenchmarkIncomingMessage measures decode → protocol check → delivery for
// one JSON message.
func BenchmarkIncomingMessage(b *testing.B) {
	srv, sp, _ := newFakeSpark(b, Options{PingInterval: NoPing})
	n := 0
	sp.OnData(func(any) { n++ })
	payload := []byte(`{"room":"lobby","text":"hello everyone","n":42}`)
	b.ReportAllocs()
	for range b.N {
		sp.OnMessage(false, payload)
	}
	if n != b.N {
		b.Fatalf("delivered %d of %d", n, b.N)
	}
	sp.OnClose(nil)
	_ = srv.Shutdown(b.Context(), ShutdownOptions{})
}
