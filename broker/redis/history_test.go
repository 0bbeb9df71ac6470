package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/redis/rueidis"
)

var _ allspark.HistoryBroker = (*Broker)(nil)

// testPolicy keeps 100 messages for a minute.
var testPolicy = allspark.HistoryPolicy{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}

// rawClient is a plain client to addrs, for looking at and tampering with
// the broker's keys.
func rawClient(t testing.TB, cluster bool, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, ForceSingleClient: !cluster, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func do(t testing.TB, c rueidis.Client, args ...string) rueidis.RedisResult {
	t.Helper()
	res := c.Do(ctxT(t), c.B().Arbitrary(args...).Build())
	if err := res.Error(); err != nil && !rueidis.IsRedisNil(err) {
		t.Fatalf("%q: %v", args, err)
	}
	return res
}

func streamKey(b *Broker, room string) string {
	return string(b.keys.appendHistory(nil, room, keyStream))
}

func metaKey(b *Broker, room string) string { return string(b.keys.appendHistory(nil, room, keyMeta)) }

func publishH(t testing.TB, b *Broker, room, payload string, pol allspark.HistoryPolicy) allspark.Position {
	t.Helper()
	pos, n, err := b.PublishHistory(ctxT(t), &allspark.Publication{Node: "pub", Rooms: []string{room}, Payload: []byte(payload)}, pol)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("PublishHistory reported %d deliveries, want 0 (asynchronous)", n)
	}
	return pos
}

func readH(t testing.TB, b *Broker, room string, q allspark.HistoryQuery, pol allspark.HistoryPolicy) allspark.HistoryResult {
	t.Helper()
	res, err := b.History(ctxT(t), room, q, pol)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func offsets(es []allspark.HistoryEntry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Pos.Offset)
	}
	return out
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// positions lists the positions r received, in order.
func (r *recorder) positions() []allspark.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []allspark.Position
	for _, p := range r.pubs {
		out = append(out, p.Pos)
	}
	return out
}

// Three Broker values (three processes, in effect), four goroutines each,
// write one room concurrently: the offsets they get back are 1..N without
// a gap or a repeat, and every node, the writers' own included, receives
// all N in offset order with the payload the writer of each offset sent.
func TestHistoryOffsetsOrderedAcrossNodes(t *testing.T) {
	const brokers, writers = 3, 4
	perWriter := 500
	if raceEnabled {
		perWriter = 150
	}
	total := brokers * writers * perWriter
	prefix := randomPrefix()
	pol := allspark.HistoryPolicy{Size: total, TTL: time.Minute, MetaTTL: time.Hour}
	var bs []*Broker
	var recs []*recorder
	for i := range brokers {
		b := newTestBroker(t, Options{Prefix: prefix})
		name := fmt.Sprintf("n%d", i)
		recs = append(recs, registerAll(t, b, name)[name])
		if err := b.Subscribe(ctxT(t), name, "room"); err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	var mu sync.Mutex
	sent := make(map[uint64]string)
	epochs := make(map[string]bool)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, b := range bs {
		for w := range writers {
			wg.Go(func() {
				for k := range perWriter {
					payload := fmt.Sprintf("n%d-w%d-%d", i, w, k)
					pos, _, err := b.PublishHistory(ctx, &allspark.Publication{Node: fmt.Sprintf("n%d", i), Rooms: []string{"room"}, Payload: []byte(payload)}, pol)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if prev, dup := sent[pos.Offset]; dup {
						t.Errorf("offset %d given to %q and %q", pos.Offset, prev, payload)
					}
					sent[pos.Offset] = payload
					epochs[pos.Epoch] = true
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(epochs) != 1 {
		t.Fatalf("writes saw %d epochs: %v", len(epochs), epochs)
	}
	for off := range uint64(total) {
		if _, ok := sent[off+1]; !ok {
			t.Fatalf("offset %d was never given out", off+1)
		}
	}
	for i, r := range recs {
		eventually(t, 30*time.Second, fmt.Sprintf("n%d receives %d writes", i, total), func() bool { return len(r.positions()) >= total })
		r.mu.Lock()
		for k, p := range r.pubs {
			if p.Pos.Offset != uint64(k+1) || !epochs[p.Pos.Epoch] {
				r.mu.Unlock()
				t.Fatalf("n%d: delivery %d has position %+v, want offset %d", i, k, p.Pos, k+1)
			}
			if string(p.Payload) != sent[p.Pos.Offset] {
				r.mu.Unlock()
				t.Fatalf("n%d: offset %d carries %q, its writer sent %q", i, p.Pos.Offset, p.Payload, sent[p.Pos.Offset])
			}
		}
		extra := len(r.pubs) - total
		r.mu.Unlock()
		if extra != 0 {
			t.Errorf("n%d received %d deliveries too many", i, extra)
		}
	}
	res := readH(t, bs[1], "room", allspark.HistoryQuery{}, pol)
	if !slices.Equal(offsets(res.Entries), seq(1, uint64(total))) || res.Top.Offset != uint64(total) || !epochs[res.Top.Epoch] {
		t.Fatalf("history: top %+v, %d entries", res.Top, len(res.Entries))
	}
}

// A write to a room with history reaches a node of the publishing Broker
// that has members in the room, but a node without members gets nothing;
// plain publications still never come back to their own node.
func TestHistoryDeliveredToOwnNode(t *testing.T) {
	b := newTestBroker(t, Options{})
	r := registerAll(t, b, "a", "b")
	ctx := ctxT(t)
	if err := b.Subscribe(ctx, "a", "room"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", Rooms: []string{"room"}, Payload: []byte("plain")}); err != nil {
		t.Fatal(err)
	}
	pos, _, err := b.PublishHistory(ctx, &allspark.Publication{Node: "a", Rooms: []string{"room"}, Payload: []byte("stamped"), Pos: allspark.Position{Offset: 77, Epoch: "stale"}}, testPolicy)
	if err != nil || pos.Offset != 1 || len(pos.Epoch) != epochLen {
		t.Fatalf("PublishHistory = %+v, %v", pos, err)
	}
	eventually(t, 5*time.Second, "a receives its own history write", func() bool { return len(r["a"].payloads()) > 0 })
	if got := r["a"].payloads(); !slices.Equal(got, []string{"stamped"}) {
		t.Errorf("a got %q (its plain publication must not come back)", got)
	}
	if got := r["a"].positions(); got[0] != pos {
		t.Errorf("delivered at %+v, PublishHistory said %+v", got[0], pos)
	}
	if len(r["b"].payloads()) != 0 {
		t.Errorf("b (no members) got %q", r["b"].payloads())
	}
	res := readH(t, b, "room", allspark.HistoryQuery{}, testPolicy)
	if len(res.Entries) != 1 || res.Entries[0].Pos != pos {
		t.Errorf("stored %+v (the caller's stale position must not be kept)", res.Entries)
	}
}

// The stream keeps the newest Size entries; a read returns those after
// After, at most Limit, with every field of the publication that an entry
// carries.
func TestHistorySizeAfterLimit(t *testing.T) {
	b := newTestBroker(t, Options{})
	pol := allspark.HistoryPolicy{Size: 5, TTL: time.Minute, MetaTTL: time.Hour}
	ctx := ctxT(t)
	var last allspark.Position
	for i := range 10 {
		p := &allspark.Publication{Node: "n", Rooms: []string{"room"}, Payload: []byte(fmt.Sprint(i + 1))}
		if i == 9 {
			p.Binary, p.Value, p.Except = true, []byte{0x91, 0x01}, []string{"s1", "s2"}
		}
		pos, _, err := b.PublishHistory(ctx, p, pol)
		if err != nil {
			t.Fatal(err)
		}
		if pos.Offset != uint64(i+1) || (last.Epoch != "" && pos.Epoch != last.Epoch) {
			t.Fatalf("write %d at %+v after %+v", i+1, pos, last)
		}
		last = pos
	}
	raw := rawClient(t, false, sharedRedis(t))
	if n, _ := do(t, raw, "XLEN", streamKey(b, "room")).AsInt64(); n != 5 {
		t.Errorf("stream holds %d entries, want 5 (MAXLEN)", n)
	}
	for _, tc := range []struct {
		q    allspark.HistoryQuery
		want []uint64
	}{
		{allspark.HistoryQuery{}, seq(6, 10)},
		{allspark.HistoryQuery{After: 2}, seq(6, 10)},
		{allspark.HistoryQuery{After: 7}, seq(8, 10)},
		{allspark.HistoryQuery{After: 7, Limit: 2}, seq(8, 9)},
		{allspark.HistoryQuery{Limit: 1}, seq(6, 6)},
		{allspark.HistoryQuery{After: 10}, nil},
		{allspark.HistoryQuery{After: 11}, nil},
		{allspark.HistoryQuery{After: 1 << 60}, nil},
	} {
		res := readH(t, b, "room", tc.q, pol)
		if !slices.Equal(offsets(res.Entries), tc.want) || res.Top != last {
			t.Errorf("%+v: top %+v entries %v, want top %+v entries %v", tc.q, res.Top, offsets(res.Entries), last, tc.want)
		}
		for _, e := range res.Entries {
			if e.Pos.Epoch != last.Epoch || string(e.Payload) != fmt.Sprint(e.Pos.Offset) {
				t.Errorf("entry %+v", e)
			}
		}
	}
	e := readH(t, b, "room", allspark.HistoryQuery{After: 9}, pol).Entries[0]
	if !e.Binary || string(e.Value) != "\x91\x01" || !slices.Equal(e.Except, []string{"s1", "s2"}) {
		t.Errorf("last entry lost fields: %+v", e)
	}
	e = readH(t, b, "room", allspark.HistoryQuery{After: 8, Limit: 1}, pol).Entries[0]
	if e.Binary || e.Value != nil || e.Except != nil {
		t.Errorf("entry 9 gained fields: %+v", e)
	}
}

func TestHistoryCount(t *testing.T) {
	for _, tc := range []struct {
		limit, size, want int
	}{
		{0, 50, 50},
		{10, 50, 10},
		{80, 50, 80}, // a stream can hold more than a policy that shrank
		{0, 1 << 30, MaxHistoryRead},
		{1 << 30, 10, MaxHistoryRead},
		{-5, 7, 7},
	} {
		if got := historyCount(allspark.HistoryQuery{Limit: tc.limit}, allspark.HistoryPolicy{Size: tc.size}); got != tc.want {
			t.Errorf("limit %d size %d: %d, want %d", tc.limit, tc.size, got, tc.want)
		}
	}
}

// An entry lives TTL after it was written, even while later writes keep
// the stream itself alive; once all have expired the position stays (the
// meta's TTL is far longer), and the stream key itself expires TTL after
// the last write.
func TestHistoryTTL(t *testing.T) {
	b := newTestBroker(t, Options{})
	raw := rawClient(t, false, sharedRedis(t))
	ttl := 3 * time.Second
	pol := allspark.HistoryPolicy{Size: 10, TTL: ttl, MetaTTL: time.Hour}
	// Redis stamps the entry while publishH runs, so the time before the
	// call is the lower bound on its write time (taken after, the check
	// below failed by 2 ms in CI: the entry expired on time).
	written := time.Now()
	first := publishH(t, b, "room", "old", pol)
	if ms, _ := do(t, raw, "PTTL", streamKey(b, "room")).AsInt64(); ms <= 0 || ms > ttl.Milliseconds() {
		t.Errorf("stream PTTL %d ms, want (0, %d]", ms, ttl.Milliseconds())
	}
	if ms, _ := do(t, raw, "PTTL", metaKey(b, "room")).AsInt64(); ms <= ttl.Milliseconds() || ms > time.Hour.Milliseconds() {
		t.Errorf("meta PTTL %d ms, want the meta TTL", ms)
	}
	time.Sleep(ttl / 2)
	publishH(t, b, "room", "new", pol) // refreshes the stream's TTL
	// The first entry goes at ttl, the second (and the stream key) at
	// 1.5 ttl: in between only the second is left.
	var res allspark.HistoryResult
	eventually(t, 4*ttl, "the first entry expires", func() bool {
		res = readH(t, b, "room", allspark.HistoryQuery{}, pol)
		return len(res.Entries) == 0 || res.Entries[0].Pos.Offset != 1
	})
	// Stream ids and Redis's clock have millisecond resolution: allow one.
	if waited := time.Since(written); waited < ttl-time.Millisecond {
		t.Fatalf("the first entry expired after %v, before its TTL %v", waited, ttl)
	}
	if !slices.Equal(offsets(res.Entries), []uint64{2}) {
		t.Fatalf("when the first entry expired the history held %v, want [2] (the second lives %v longer)", offsets(res.Entries), ttl/2)
	}
	if n, _ := do(t, raw, "XLEN", streamKey(b, "room")).AsInt64(); n != 1 {
		t.Errorf("the stream still holds %d entries, want the expired one trimmed", n)
	}
	eventually(t, 4*ttl, "the stream key expires", func() bool {
		n, _ := do(t, raw, "EXISTS", streamKey(b, "room")).AsInt64()
		return n == 0
	})
	res = readH(t, b, "room", allspark.HistoryQuery{}, pol)
	if len(res.Entries) != 0 || res.Top != (allspark.Position{Offset: 2, Epoch: first.Epoch}) {
		t.Errorf("after every TTL: top %+v, %d entries, want top 2 in epoch %s", res.Top, len(res.Entries), first.Epoch)
	}
	if pos := publishH(t, b, "room", "later", pol); pos != (allspark.Position{Offset: 3, Epoch: first.Epoch}) {
		t.Errorf("the next write after the stream expired: %+v", pos)
	}
}

// A read of a room that never had a position creates one with a fresh
// epoch, which the next reads and writes keep.
func TestHistoryUnknownRoom(t *testing.T) {
	b := newTestBroker(t, Options{})
	raw := rawClient(t, false, sharedRedis(t))
	one := readH(t, b, "nobody", allspark.HistoryQuery{}, testPolicy)
	if len(one.Top.Epoch) != epochLen || one.Top.Offset != 0 || len(one.Entries) != 0 {
		t.Fatalf("first read: %+v", one)
	}
	two := readH(t, b, "nobody", allspark.HistoryQuery{After: 5}, testPolicy)
	if two.Top != one.Top {
		t.Fatalf("second read: %+v, first %+v", two.Top, one.Top)
	}
	if ms, _ := do(t, raw, "PTTL", metaKey(b, "nobody")).AsInt64(); ms <= 0 || ms > testPolicy.MetaTTL.Milliseconds() {
		t.Errorf("meta PTTL %d ms after a read", ms)
	}
	if pos := publishH(t, b, "nobody", "x", testPolicy); pos != (allspark.Position{Offset: 1, Epoch: one.Top.Epoch}) {
		t.Errorf("first write: %+v, want offset 1 in the read's epoch %s", pos, one.Top.Epoch)
	}
	other := readH(t, b, "somebody", allspark.HistoryQuery{}, testPolicy)
	if other.Top.Epoch == one.Top.Epoch {
		t.Errorf("two rooms got one epoch %s", one.Top.Epoch)
	}
	// A read refreshes the meta's TTL as a write does.
	do(t, raw, "PEXPIRE", metaKey(b, "nobody"), "5000")
	readH(t, b, "nobody", allspark.HistoryQuery{}, testPolicy)
	if ms, _ := do(t, raw, "PTTL", metaKey(b, "nobody")).AsInt64(); ms <= 5000 {
		t.Errorf("meta PTTL %d ms after a read, want it refreshed", ms)
	}
}

// A meta key that was evicted (DEL by hand) makes the stream a dead
// epoch's: the next write starts a new epoch at offset 1 and the old
// entries are gone; a read in between already reports the new epoch and
// serves none of them.
func TestHistoryMetaEvicted(t *testing.T) {
	b := newTestBroker(t, Options{})
	raw := rawClient(t, false, sharedRedis(t))
	for _, readFirst := range []bool{false, true} {
		room := fmt.Sprint("room-", readFirst)
		var old allspark.Position
		for range 3 {
			old = publishH(t, b, room, "old", testPolicy)
		}
		do(t, raw, "DEL", metaKey(b, room))
		var seen allspark.Position
		if readFirst {
			res := readH(t, b, room, allspark.HistoryQuery{}, testPolicy)
			if res.Top.Offset != 0 || res.Top.Epoch == old.Epoch || len(res.Entries) != 0 {
				t.Fatalf("read after the eviction: top %+v, %d entries (old epoch %s)", res.Top, len(res.Entries), old.Epoch)
			}
			seen = res.Top
		}
		pos := publishH(t, b, room, "new", testPolicy)
		if pos.Offset != 1 || pos.Epoch == old.Epoch || (readFirst && pos.Epoch != seen.Epoch) {
			t.Fatalf("write after the eviction at %+v (old %+v, read %+v)", pos, old, seen)
		}
		res := readH(t, b, room, allspark.HistoryQuery{}, testPolicy)
		if len(res.Entries) != 1 || string(res.Entries[0].Payload) != "new" || res.Top != pos {
			t.Errorf("history after the eviction: %+v", res)
		}
	}
}

// A meta whose top offset went back (restored from an older copy, changed
// by hand) cannot be trusted: the write starts a new epoch instead of
// failing or reusing offsets.
func TestHistoryStreamAheadOfMeta(t *testing.T) {
	b := newTestBroker(t, Options{})
	raw := rawClient(t, false, sharedRedis(t))
	var old allspark.Position
	for range 5 {
		old = publishH(t, b, "room", "old", testPolicy)
	}
	do(t, raw, "HSET", metaKey(b, "room"), "s", "2")
	pos := publishH(t, b, "room", "new", testPolicy)
	if pos.Offset != 1 || pos.Epoch == old.Epoch {
		t.Fatalf("write at %+v after the meta went back (old %+v)", pos, old)
	}
	res := readH(t, b, "room", allspark.HistoryQuery{}, testPolicy)
	if !slices.Equal(offsets(res.Entries), []uint64{1}) || res.Top != pos {
		t.Errorf("history: %+v", res)
	}
	if pos := publishH(t, b, "room", "next", testPolicy); pos.Offset != 2 {
		t.Errorf("next write at %+v", pos)
	}
}

func TestHistoryRefusals(t *testing.T) {
	b := newTestBroker(t, Options{})
	ctx := ctxT(t)
	for _, p := range []*allspark.Publication{
		{Node: "n"},
		{Node: "n", Rooms: []string{"a", "b"}},
		{Node: "n", Rooms: []string{"a"}, Sparks: []string{"s"}},
		{Node: "n", Rooms: []string{"a"}, All: true},
	} {
		if _, _, err := b.PublishHistory(ctx, p, testPolicy); !errors.Is(err, allspark.ErrHistoryTarget) {
			t.Errorf("PublishHistory(%+v) = %v, want ErrHistoryTarget", p, err)
		}
	}
	for _, pol := range []allspark.HistoryPolicy{{}, {Size: 10}, {TTL: time.Second}} {
		if _, _, err := b.PublishHistory(ctx, &allspark.Publication{Node: "n", Rooms: []string{"a"}}, pol); !errors.Is(err, allspark.ErrNoHistory) {
			t.Errorf("PublishHistory under %+v = %v, want ErrNoHistory", pol, err)
		}
		if _, err := b.History(ctx, "a", allspark.HistoryQuery{}, pol); !errors.Is(err, allspark.ErrNoHistory) {
			t.Errorf("History under %+v = %v, want ErrNoHistory", pol, err)
		}
	}
	b.Close()
	if _, _, err := b.PublishHistory(ctx, &allspark.Publication{Node: "n", Rooms: []string{"a"}}, testPolicy); !errors.Is(err, ErrClosed) {
		t.Errorf("PublishHistory after Close: %v", err)
	}
	if _, err := b.History(ctx, "a", allspark.HistoryQuery{}, testPolicy); !errors.Is(err, ErrClosed) {
		t.Errorf("History after Close: %v", err)
	}
}

// What arrives on a room's channel as a history write must be one, for
// that room: anything else is counted and dropped.
func TestHistoryEnvelopeChecked(t *testing.T) {
	b := newTestBroker(t, Options{})
	r := registerAll(t, b, "a")
	if err := b.Subscribe(ctxT(t), "a", "room"); err != nil {
		t.Fatal(err)
	}
	ch := b.topics.name(b.topics.room, "room")
	other := appendStamped(nil, allspark.Position{Offset: 1, Epoch: "e"}, &allspark.Publication{Node: "x", Rooms: []string{"other"}})
	before := b.BrokerStats().Errors
	b.onMessage(rueidis.PubSubMessage{Channel: ch, Message: string(other)})
	b.onMessage(rueidis.PubSubMessage{Channel: ch, Message: "h1 e \x09"})
	if got := b.BrokerStats().Errors - before; got != 2 {
		t.Errorf("%d errors counted, want 2", got)
	}
	good := appendStamped(nil, allspark.Position{Offset: 3, Epoch: "e"}, &allspark.Publication{Node: "x", Rooms: []string{"room"}, Payload: []byte("ok")})
	b.onMessage(rueidis.PubSubMessage{Channel: ch, Message: string(good)})
	eventually(t, 5*time.Second, "the good one is delivered", func() bool { return len(r["a"].payloads()) > 0 })
	if got := r["a"].positions(); len(got) != 1 || got[0] != (allspark.Position{Offset: 3, Epoch: "e"}) {
		t.Errorf("delivered %+v", got)
	}
}

// Redis restarts empty (no persistence): writes and reads fail fast during
// the outage; afterwards the scripts are loaded again by themselves
// (NOSCRIPT falls back to EVAL) and the room starts over in a new epoch.
func TestHistoryAcrossRedisRestart(t *testing.T) {
	srv := startOwnRedis(t)
	b := newTestBroker(t, Options{Addrs: []string{srv.addr()}, ProbeInterval: 300 * time.Millisecond})
	r := registerAll(t, b, "a")
	ctx := ctxT(t)
	if err := b.Subscribe(ctx, "a", "room"); err != nil {
		t.Fatal(err)
	}
	before := publishH(t, b, "room", "before", testPolicy)
	srv.stop()
	start := time.Now()
	if _, _, err := b.PublishHistory(ctx, &allspark.Publication{Node: "a", Rooms: []string{"room"}}, testPolicy); err == nil {
		t.Error("PublishHistory during the outage succeeded")
	}
	if _, err := b.History(ctx, "room", allspark.HistoryQuery{}, testPolicy); err == nil {
		t.Error("History during the outage succeeded")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("failing took %v", d)
	}
	srv.start()
	eventually(t, 15*time.Second, "healthy again", func() bool { return b.Health() == nil })
	var after allspark.Position
	eventually(t, 10*time.Second, "a write succeeds", func() bool {
		pos, _, err := b.PublishHistory(ctx, &allspark.Publication{Node: "a", Rooms: []string{"room"}, Payload: []byte("after")}, testPolicy)
		after = pos
		return err == nil
	})
	if after.Offset != 1 || after.Epoch == before.Epoch {
		t.Errorf("first write after the restart at %+v (before %+v)", after, before)
	}
	eventually(t, 10*time.Second, "the write is delivered", func() bool { return slices.Contains(r["a"].payloads(), "after") })
	res := readH(t, b, "room", allspark.HistoryQuery{}, testPolicy)
	if res.Top != after || len(res.Entries) != 1 {
		t.Errorf("history after the restart: %+v", res)
	}
}
