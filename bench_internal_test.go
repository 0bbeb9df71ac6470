package allspark

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"
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

// BenchmarkRoomWrite measures a write to one room of 10,000 members (with
// 1,000 sparks in another room that must not be visited): encoded once, then
// one queue push (and an idle writer's start) per member.
//
// "drained" lets every writer finish between writes (outside the timer), so
// each write meets idle queues: the publisher's own cost, where allocations
// per member are exactly 0. "sustained" writes back to back while the writers
// run on the other core; queues then sometimes hold a few frames and grow
// their slices, an amortized cost that shrinks as capacities settle.
func BenchmarkRoomWrite(b *testing.B) {
	for _, mode := range []string{"drained", "sustained"} {
		b.Run(mode, func(b *testing.B) { benchRoomWrite(b, mode == "drained", false, false) })
	}
}

// BenchmarkRoomWriteHistory is the drained room write to a room that keeps
// history (MemoryBroker): the position is taken and the entry stored once
// per write, and delivery goes through the broker. "sessions" gives every
// member a session, so each write is also framed once as our clients'
// stamped envelope.
func BenchmarkRoomWriteHistory(b *testing.B) {
	b.Run("plain-members", func(b *testing.B) { benchRoomWrite(b, true, true, false) })
	b.Run("session-members", func(b *testing.B) { benchRoomWrite(b, true, true, true) })
}

func benchRoomWrite(b *testing.B, drain, history, sessions bool) {
	const members, others = 10000, 1000
	opts := Options{PingInterval: NoPing, QueueSize: 1 << 20}
	if history {
		opts.History.Rooms = []HistoryRule{{Pattern: "lobby", Size: 100, TTL: time.Minute}}
	}
	srv, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	path := "/primus"
	if sessions {
		path += "?_recover=1"
	}
	r, _ := http.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = "127.0.0.1:1"
	var sparks []*Spark
	for i := range members + others {
		sp := srv.attach(&nullConn{}, r)
		sparks = append(sparks, sp)
		room := "lobby"
		if i >= members {
			room = "elsewhere"
		}
		if err := sp.Join(room); err != nil {
			b.Fatal(err)
		}
	}
	msg := map[string]any{"room": "lobby", "text": "hello everyone"}
	target := srv.Room("lobby")
	// Warm up queues and goroutine free lists so steady state is measured.
	for range 20 {
		if _, err := target.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	waitIdle(sparks)
	b.ReportAllocs()
	b.ResetTimer()
	var mallocs uint64
	var before, after runtime.MemStats
	for range b.N {
		if drain {
			b.StopTimer()
			waitIdle(sparks)
			runtime.ReadMemStats(&before)
			b.StartTimer()
		}
		n, err := target.Write(msg)
		if drain {
			b.StopTimer()
			runtime.ReadMemStats(&after)
			mallocs += after.Mallocs - before.Mallocs
			b.StartTimer()
		}
		if err != nil || n != members {
			b.Fatalf("n=%d err=%v", n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/member")
	if drain {
		// Mallocs counts every goroutine's allocations, the writers' too.
		b.ReportMetric(float64(mallocs)/float64(b.N), "allocs/write")
		b.ReportMetric(float64(mallocs)/float64(b.N*members), "allocs/member")
	}
	for _, sp := range sparks {
		sp.OnClose(nil)
	}
	_ = srv.Shutdown(b.Context(), ShutdownOptions{})
}

// waitIdle waits until no spark has a writer running.
func waitIdle(sparks []*Spark) {
	for _, sp := range sparks {
		for {
			sp.queue.mu.Lock()
			busy := sp.queue.running
			sp.queue.mu.Unlock()
			if !busy {
				break
			}
			runtime.Gosched()
		}
	}
}
