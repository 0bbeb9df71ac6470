package nats_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// runJetStream starts an embedded nats-server with JetStream in a
// temporary directory.
func runJetStream(t testing.TB) *server.Server {
	t.Helper()
	dir := t.TempDir()
	return runEmbedded(t, 0, func(o *server.Options) {
		o.JetStream = true
		o.StoreDir = dir
	})
}

// historyURL is where history tests run: the embedded server by default,
// or the machine's nats-server (2.9.10) when ALLSPARK_NATS_SHARED=1, to
// check that nothing newer than 2.9 is needed.
func historyURL(t testing.TB) string {
	t.Helper()
	if os.Getenv("ALLSPARK_NATS_SHARED") == "1" {
		return sharedNATS(t)
	}
	return runJetStream(t).ClientURL()
}

func newHistoryBroker(t testing.TB, url, prefix string, tweak ...func(*natsbroker.Options)) *natsbroker.HistoryBroker {
	t.Helper()
	o := natsbroker.Options{Servers: []string{url}, Prefix: prefix, History: true, ProbeInterval: -1, HistoryStorage: natsbroker.MemoryStorage}
	for _, f := range tweak {
		f(&o)
	}
	b := newBroker(t, o)
	hb := b.WithHistory()
	if hb == nil {
		t.Fatal("WithHistory nil with Options.History")
	}
	return hb
}

var testPolicy = allspark.HistoryPolicy{Size: 100, TTL: time.Minute, MetaTTL: time.Hour}

func roomPub(node, room, payload string) *allspark.Publication {
	return &allspark.Publication{Node: node, Rooms: []string{room}, Payload: []byte(payload)}
}

// cleanupStreams deletes the streams a test made on a shared server.
func cleanupStreams(t testing.TB, url, prefix string) {
	t.Cleanup(func() {
		nc, err := natsgo.Connect(url)
		if err != nil {
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		names := js.StreamNames(ctx)
		for n := range names.Name() {
			if len(n) > len(prefix) && n[:len(prefix)] == prefix {
				_ = js.DeleteStream(ctx, n)
			}
		}
	})
}

func setup2(t *testing.T) (url, prefix string, a, b *natsbroker.HistoryBroker, ra, rb *recorder) {
	url = historyURL(t)
	prefix = randomPrefix()
	cleanupStreams(t, url, prefix)
	a = newHistoryBroker(t, url, prefix)
	b = newHistoryBroker(t, url, prefix)
	ra, rb = newRecorder(), newRecorder()
	ctx := ctxT(t)
	for _, x := range []struct {
		br   *natsbroker.HistoryBroker
		name string
		r    *recorder
	}{{a, "A", ra}, {b, "B", rb}} {
		if err := x.br.Register(ctx, x.name, x.r); err != nil {
			t.Fatal(err)
		}
		if err := x.br.Subscribe(ctx, x.name, "room"); err != nil {
			t.Fatal(err)
		}
	}
	return
}

// TestHistoryNoJetStream: Options.History against a server without
// JetStream fails at New with ErrNoJetStream; without History the Broker
// has no history side.
func TestHistoryNoJetStream(t *testing.T) {
	s := runEmbedded(t, 0)
	_, err := natsbroker.New(natsbroker.Options{Servers: []string{s.ClientURL()}, History: true, ProbeInterval: -1})
	if !errors.Is(err, natsbroker.ErrNoJetStream) {
		t.Fatalf("New = %v, want ErrNoJetStream", err)
	}
	b := newBroker(t, natsbroker.Options{Servers: []string{s.ClientURL()}, ProbeInterval: -1})
	if b.WithHistory() != nil {
		t.Fatal("WithHistory without Options.History")
	}
}

// TestHistoryOffsetsAcrossNodes: two nodes (two connections) writing one
// room concurrently get gap-free offsets 1..N in one epoch, and each node,
// the writer's own included, receives all N in offset order.
func TestHistoryOffsetsAcrossNodes(t *testing.T) {
	_, _, a, b, ra, rb := setup2(t)
	const perNode = 200
	ctx := ctxT(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []allspark.Position
	for i, br := range []*natsbroker.HistoryBroker{a, b} {
		node := []string{"A", "B"}[i]
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range perNode / 2 {
					pos, n, err := br.PublishHistory(ctx, roomPub(node, "room", fmt.Sprintf("%s-%d-%d", node, g, j)), testPolicy)
					if err != nil || n != 0 {
						t.Errorf("PublishHistory = %v, %d, %v", pos, n, err)
						return
					}
					mu.Lock()
					got = append(got, pos)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.SortFunc(got, func(x, y allspark.Position) int { return int(x.Offset) - int(y.Offset) })
	for i, p := range got {
		if p.Offset != uint64(i+1) || p.Epoch != got[0].Epoch {
			t.Fatalf("position %d = %+v, want offset %d epoch %s", i, p, i+1, got[0].Epoch)
		}
	}
	total := 2 * perNode
	for name, r := range map[string]*recorder{"A": ra, "B": rb} {
		waitFor(t, 10*time.Second, name+" receives all", func() bool { p, _ := r.counts(); return p >= total })
		pubs := r.publications()
		if len(pubs) != total {
			t.Fatalf("%s got %d, want %d", name, len(pubs), total)
		}
		for i, p := range pubs {
			if p.Pos.Offset != uint64(i+1) || p.Pos.Epoch != got[0].Epoch || p.Rooms[0] != "room" {
				t.Fatalf("%s delivery %d at %+v (room %v), want offset %d", name, i, p.Pos, p.Rooms, i+1)
			}
		}
	}
	t.Logf("conflicts retried: A %d, B %d of %d writes", a.Conflicts(), b.Conflicts(), total)
	res, err := a.History(ctx, "room", allspark.HistoryQuery{After: 390}, testPolicy)
	if err != nil || res.Top.Offset != uint64(total) || len(res.Entries) != 10 || res.Entries[0].Pos.Offset != 391 {
		t.Fatalf("History after 390 = top %+v, %d entries, %v", res.Top, len(res.Entries), err)
	}
}

// TestHistorySizeTruncates: a room keeps its last Size messages; a read
// from the start gets those, so a client behind them sees the gap.
func TestHistorySizeTruncates(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	h := newHistoryBroker(t, url, prefix)
	ctx := ctxT(t)
	pol := allspark.HistoryPolicy{Size: 5, TTL: time.Minute, MetaTTL: time.Hour}
	for i := range 12 {
		if _, _, err := h.PublishHistory(ctx, roomPub("A", "r", fmt.Sprint(i+1)), pol); err != nil {
			t.Fatal(err)
		}
	}
	res, err := h.History(ctx, "r", allspark.HistoryQuery{}, pol)
	if err != nil {
		t.Fatal(err)
	}
	if res.Top.Offset != 12 || len(res.Entries) != 5 || res.Entries[0].Pos.Offset != 8 || string(res.Entries[4].Payload) != "12" {
		t.Fatalf("History = top %+v, entries %v", res.Top, offsets(res.Entries))
	}
	res, err = h.History(ctx, "r", allspark.HistoryQuery{After: 2, Limit: 2}, pol)
	if err != nil || len(res.Entries) != 2 || res.Entries[0].Pos.Offset != 8 {
		t.Fatalf("History after 2 limit 2 = %v, %v", offsets(res.Entries), err)
	}
	res, err = h.History(ctx, "r", allspark.HistoryQuery{After: 12}, pol)
	if err != nil || len(res.Entries) != 0 || res.Top.Offset != 12 {
		t.Fatalf("History after top = %+v %v, %v", res.Top, offsets(res.Entries), err)
	}
}

func offsets(es []allspark.HistoryEntry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Pos.Offset)
	}
	return out
}

// TestHistoryTTL: entries older than TTL are not returned, but the room's
// position (epoch and top) is, so a client away longer than TTL is told
// it missed messages, not that the stream was lost.
func TestHistoryTTL(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	h := newHistoryBroker(t, url, prefix)
	ctx := ctxT(t)
	pol := allspark.HistoryPolicy{Size: 10, TTL: 300 * time.Millisecond, MetaTTL: time.Hour}
	var first allspark.Position
	for i := range 3 {
		pos, _, err := h.PublishHistory(ctx, roomPub("A", "r", fmt.Sprint(i)), pol)
		if err != nil {
			t.Fatal(err)
		}
		first = pos
	}
	time.Sleep(400 * time.Millisecond)
	pos4, _, err := h.PublishHistory(ctx, roomPub("A", "r", "late"), pol)
	if err != nil || pos4.Offset != 4 || pos4.Epoch != first.Epoch {
		t.Fatalf("write after TTL = %+v, %v", pos4, err)
	}
	res, err := h.History(ctx, "r", allspark.HistoryQuery{}, pol)
	if err != nil || len(res.Entries) != 1 || res.Entries[0].Pos.Offset != 4 {
		t.Fatalf("History = %v, %v; want only offset 4", offsets(res.Entries), err)
	}
	time.Sleep(400 * time.Millisecond)
	res, err = h.History(ctx, "r", allspark.HistoryQuery{After: 1}, pol)
	if err != nil || len(res.Entries) != 0 || res.Top != pos4 {
		t.Fatalf("History after all expired = top %+v %v, %v; want top %+v and no entries", res.Top, offsets(res.Entries), err, pos4)
	}
}

// TestHistoryUnknownRoom: a room never written answers offset 0 in a fresh
// epoch, the same one to every node and to the first write (which takes
// offset 1 in it).
func TestHistoryUnknownRoom(t *testing.T) {
	_, _, a, b, _, _ := setup2(t)
	ctx := ctxT(t)
	ra, err := a.History(ctx, "nobody", allspark.HistoryQuery{}, testPolicy)
	if err != nil || ra.Top.Offset != 0 || ra.Top.Epoch == "" || len(ra.Entries) != 0 {
		t.Fatalf("History of unknown room = %+v, %v", ra, err)
	}
	rb, err := b.History(ctx, "nobody", allspark.HistoryQuery{}, testPolicy)
	if err != nil || rb.Top != ra.Top {
		t.Fatalf("other node reads %+v, %v; want %+v", rb.Top, err, ra.Top)
	}
	pos, _, err := b.PublishHistory(ctx, roomPub("B", "nobody", "x"), testPolicy)
	if err != nil || pos.Offset != 1 || pos.Epoch != ra.Top.Epoch {
		t.Fatalf("first write = %+v, %v; want offset 1 in epoch %s", pos, err, ra.Top.Epoch)
	}
	res, err := a.History(ctx, "nobody", allspark.HistoryQuery{}, testPolicy)
	if err != nil || len(res.Entries) != 1 || res.Entries[0].Pos != pos {
		t.Fatalf("History after first write = %+v, %v", res, err)
	}
}

// TestHistoryStreamDeleted: after the stream is deleted, the next write
// starts a new epoch at offset 1, and a read sees it.
func TestHistoryStreamDeleted(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	h := newHistoryBroker(t, url, prefix)
	ctx := ctxT(t)
	var old allspark.Position
	for i := range 3 {
		var err error
		if old, _, err = h.PublishHistory(ctx, roomPub("A", "r", fmt.Sprint(i)), testPolicy); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deleted := 0
	for n := range js.StreamNames(ctx).Name() {
		if len(n) > len(prefix) && n[:len(prefix)] == prefix {
			if err := js.DeleteStream(ctx, n); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if deleted != 1 {
		t.Fatalf("deleted %d streams, want 1", deleted)
	}
	pos, _, err := h.PublishHistory(ctx, roomPub("A", "r", "after"), testPolicy)
	if err != nil || pos.Offset != 1 || pos.Epoch == old.Epoch {
		t.Fatalf("write after delete = %+v, %v; want offset 1 in a new epoch (old %+v)", pos, err, old)
	}
	res, err := h.History(ctx, "r", allspark.HistoryQuery{}, testPolicy)
	if err != nil || res.Top != pos || len(res.Entries) != 1 {
		t.Fatalf("History after delete = %+v, %v", res, err)
	}
}

// TestHistoryBadInput: a publication for several rooms, or one over the
// server's max_payload, is refused and takes no offset.
func TestHistoryBadInput(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	h := newHistoryBroker(t, url, prefix)
	ctx := ctxT(t)
	if _, _, err := h.PublishHistory(ctx, &allspark.Publication{Rooms: []string{"a", "b"}}, testPolicy); !errors.Is(err, allspark.ErrHistoryTarget) {
		t.Fatalf("two rooms: %v", err)
	}
	big := &allspark.Publication{Rooms: []string{"r"}, Payload: make([]byte, 2<<20)}
	if _, _, err := h.PublishHistory(ctx, big, testPolicy); !errors.Is(err, natsgo.ErrMaxPayload) {
		t.Fatalf("oversized: %v", err)
	}
	pos, _, err := h.PublishHistory(ctx, roomPub("A", "r", "ok"), testPolicy)
	if err != nil || pos.Offset != 1 {
		t.Fatalf("after refusals: %+v, %v", pos, err)
	}
}

// TestHistoryBrokerZero: a HistoryBroker not made by WithHistory refuses
// every operation with ErrNoJetStream instead of panicking.
func TestHistoryBrokerZero(t *testing.T) {
	ctx := ctxT(t)
	for _, h := range []*natsbroker.HistoryBroker{nil, {}} {
		if _, _, err := h.PublishHistory(ctx, roomPub("A", "r", "x"), testPolicy); !errors.Is(err, natsbroker.ErrNoJetStream) {
			t.Fatalf("PublishHistory: %v", err)
		}
		if _, err := h.History(ctx, "r", allspark.HistoryQuery{}, testPolicy); !errors.Is(err, natsbroker.ErrNoJetStream) {
			t.Fatalf("History: %v", err)
		}
		if err := h.SaveSession(ctx, "s", nil, time.Minute); !errors.Is(err, natsbroker.ErrNoJetStream) {
			t.Fatalf("SaveSession: %v", err)
		}
		if _, err := h.TakeSession(ctx, "s"); !errors.Is(err, natsbroker.ErrNoJetStream) {
			t.Fatalf("TakeSession: %v", err)
		}
		if err := h.DeleteSession(ctx, "s"); !errors.Is(err, natsbroker.ErrNoJetStream) {
			t.Fatalf("DeleteSession: %v", err)
		}
		if h.Conflicts() != 0 {
			t.Fatal("Conflicts")
		}
	}
}
