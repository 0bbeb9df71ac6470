package nats_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
	redisbroker "github.com/allspark/allspark/broker/redis"
	natsgo "github.com/nats-io/nats.go"
	"github.com/redis/rueidis"
)

// Measurements for docs/decisions.md, "History on NATS (issue 16)": the
// cost of a history write on JetStream (memory and file storage) beside
// the Redis history broker and a plain NATS publish, on this machine, and
// what two nodes writing one room cost in retries. Rerun with
//
//	go test -run '^$' -bench 'HistoryStores|HistoryTwoNodes|HistoryRedisBesideNATS' -benchtime 2000x ./broker/nats
//
// Redis must run at 127.0.0.1:6379 (the Redis cases are skipped
// otherwise). Set ALLSPARK_NATS_SHARED=1 to measure the machine's
// nats-server (127.0.0.1:4222) instead of an embedded one.

var benchPolicy = allspark.HistoryPolicy{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}

// historyWriter is the one operation every store is measured on.
type historyWriter func(ctx context.Context, p *allspark.Publication) error

func benchStores(b *testing.B) map[string]func(b *testing.B) historyWriter {
	return map[string]func(b *testing.B) historyWriter{
		"nats-core-publish": func(b *testing.B) historyWriter {
			br := newBroker(b, natsbroker.Options{Servers: []string{historyURL(b)}, Prefix: randomPrefix(), ProbeInterval: -1})
			return func(ctx context.Context, p *allspark.Publication) error { _, err := br.Publish(ctx, p); return err }
		},
		"jetstream-memory": func(b *testing.B) historyWriter {
			return jsWriter(b, natsbroker.MemoryStorage)
		},
		"jetstream-file": func(b *testing.B) historyWriter {
			return jsWriter(b, natsbroker.FileStorage)
		},
		"redis": func(b *testing.B) historyWriter {
			if !dialable("127.0.0.1:6379") {
				b.Skip("no Redis at 127.0.0.1:6379")
			}
			br, err := redisbroker.New(redisbroker.Options{Prefix: randomPrefix(), ProbeInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = br.Close() })
			return func(ctx context.Context, p *allspark.Publication) error {
				_, _, err := br.PublishHistory(ctx, p, benchPolicy)
				return err
			}
		},
	}
}

func jsWriter(b *testing.B, st natsbroker.Storage) historyWriter {
	url := historyURL(b)
	prefix := randomPrefix()
	cleanupStreams(b, url, prefix)
	h := newHistoryBroker(b, url, prefix, func(o *natsbroker.Options) { o.HistoryStorage = st })
	return func(ctx context.Context, p *allspark.Publication) error {
		_, _, err := h.PublishHistory(ctx, p, benchPolicy)
		return err
	}
}

// BenchmarkHistoryStores: one history write (256 B payload) per op.
// "serial" is one writer, so ns/op is the write's latency; "parallel" is
// 32 writers over 64 rooms, so ns/op is the inverse of throughput.
func BenchmarkHistoryStores(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 256)
	for _, name := range []string{"nats-core-publish", "jetstream-memory", "jetstream-file", "redis"} {
		mk := benchStores(b)[name]
		b.Run(name+"/serial", func(b *testing.B) {
			w := mk(b)
			p := &allspark.Publication{Node: "bench", Rooms: []string{"room"}, Payload: payload}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := w(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			w := mk(b)
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(16) // 16 x GOMAXPROCS (2) = 32 writers
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				p := &allspark.Publication{Node: "bench", Rooms: []string{fmt.Sprint("room-", next.Add(1)%64)}, Payload: payload}
				for pb.Next() {
					if err := w(ctx, p); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkHistoryTwoNodes: two nodes (two connections), 8 writers each,
// all writing one room: the retries of lost offset races, per write
// ("retries/op"), with and without members of the room on the writing
// nodes (with members, a loser learns the winner's position from the
// republished message instead of reading it back).
func BenchmarkHistoryTwoNodes(b *testing.B) {
	for _, members := range []bool{false, true} {
		b.Run(fmt.Sprintf("members=%v", members), func(b *testing.B) {
			url := historyURL(b)
			prefix := randomPrefix()
			cleanupStreams(b, url, prefix)
			nodes := []*natsbroker.HistoryBroker{newHistoryBroker(b, url, prefix), newHistoryBroker(b, url, prefix)}
			ctx := context.Background()
			if members {
				for i, n := range nodes {
					r := newRecorder()
					r.discard = true
					name := fmt.Sprint("n", i)
					if err := n.Register(ctx, name, r); err != nil {
						b.Fatal(err)
					}
					if err := n.Subscribe(ctx, name, "room"); err != nil {
						b.Fatal(err)
					}
				}
			}
			payload := bytes.Repeat([]byte("x"), 256)
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				n := nodes[next.Add(1)%2]
				p := &allspark.Publication{Node: "bench", Rooms: []string{"room"}, Payload: payload}
				for pb.Next() {
					if _, _, err := n.PublishHistory(ctx, p, benchPolicy); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(nodes[0].Conflicts()+nodes[1].Conflicts())/float64(b.N), "retries/op")
		})
	}
}

// BenchmarkHistoryRedisBesideNATS measures the design not taken: offsets
// from Redis (INCR) and fan-out on core NATS, by two nodes writing one
// room. A receiver counts deliveries that arrive after a higher offset
// ("inversions/op"): the two steps are not one, so node X's offset 6 can
// reach NATS before node Y's 5. Each node takes and publishes its own
// offsets one at a time (as this broker's per-room lock does), so every
// inversion counted is between the two nodes. The JetStream design cannot invert (one
// stream orders both; TestHistoryOffsetsAcrossNodes checks it).
func BenchmarkHistoryRedisBesideNATS(b *testing.B) {
	if !dialable("127.0.0.1:6379") {
		b.Skip("no Redis at 127.0.0.1:6379")
	}
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	url := historyURL(b)
	key, subject := randomPrefix()+":top", randomPrefix()+".room"
	var conns []*natsgo.Conn
	for range 3 {
		nc, err := natsgo.Connect(url)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		conns = append(conns, nc)
	}
	var mu sync.Mutex
	var last, inversions, got int64
	sub, err := conns[2].Subscribe(subject, func(m *natsgo.Msg) {
		off, _ := strconv.ParseInt(string(m.Data), 10, 64)
		mu.Lock()
		if off < last {
			inversions++
		} else {
			last = off
		}
		got++
		mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	_ = conns[2].Flush()
	var next atomic.Int64
	var locks [2]sync.Mutex
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1) % 2
		nc, lock := conns[i], &locks[i]
		ctx := context.Background()
		for pb.Next() {
			lock.Lock()
			off, err := rc.Do(ctx, rc.B().Incr().Key(key).Build()).AsInt64()
			if err == nil {
				err = nc.Publish(subject, strconv.AppendInt(nil, off, 10))
			}
			lock.Unlock()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	for _, nc := range conns[:2] {
		_ = nc.Flush()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := got
		mu.Unlock()
		if n >= int64(b.N) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	_ = rc.Do(context.Background(), rc.B().Del().Key(key).Build())
	mu.Lock()
	b.ReportMetric(float64(inversions)/float64(b.N), "inversions/op")
	mu.Unlock()
}

// BenchmarkHistoryRead: reading a room's last 100, 8 or 1 entries (256 B
// each) or its position alone, on JetStream (100: an ephemeral consumer;
// 8 and 1: direct gets back from the last message) and on Redis (one
// script).
func BenchmarkHistoryRead(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 256)
	stores := map[string]func(b *testing.B) allspark.HistoryBroker{
		"jetstream-memory": func(b *testing.B) allspark.HistoryBroker {
			url := historyURL(b)
			prefix := randomPrefix()
			cleanupStreams(b, url, prefix)
			return newHistoryBroker(b, url, prefix)
		},
		"redis": func(b *testing.B) allspark.HistoryBroker {
			if !dialable("127.0.0.1:6379") {
				b.Skip("no Redis at 127.0.0.1:6379")
			}
			br, err := redisbroker.New(redisbroker.Options{Prefix: randomPrefix(), ProbeInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = br.Close() })
			return br
		},
	}
	for _, name := range []string{"jetstream-memory", "redis"} {
		for _, q := range []struct {
			name string
			q    allspark.HistoryQuery
			want int
		}{{"last100", allspark.HistoryQuery{}, 100}, {"last8", allspark.HistoryQuery{After: 92}, 8}, {"last1", allspark.HistoryQuery{After: 99}, 1}, {"top", allspark.HistoryQuery{After: 100}, 0}} {
			b.Run(name+"/"+q.name, func(b *testing.B) {
				h := stores[name](b)
				ctx := context.Background()
				p := &allspark.Publication{Node: "bench", Rooms: []string{"room"}, Payload: payload}
				for range 100 {
					if _, _, err := h.PublishHistory(ctx, p, benchPolicy); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				for b.Loop() {
					res, err := h.History(ctx, "room", q.q, benchPolicy)
					if err != nil || len(res.Entries) != q.want {
						b.Fatal(len(res.Entries), err)
					}
				}
			})
		}
	}
}
