package allspark

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// nopHandler is a broker handler for a node that exists only to be a live
// member of the MemoryBroker (a hostile peer the test speaks for).
type nopHandler struct{}

func (nopHandler) HandlePublication(*Publication) int { return 0 }
func (nopHandler) HandleMessage(string, []byte)       {}

func presenceServer(t testing.TB, broker Broker, po PresenceOptions) *Server {
	t.Helper()
	srv, err := New(Options{PingInterval: NoPing, Broker: broker, NodeID: "self", Presence: po})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// notice builds the node message a peer sends for a presence op.
func notice(op string, es []wireEntry) []byte {
	bodies := encodeWireEntries(es)
	body := []byte("[]")
	if len(bodies) > 0 {
		body = bodies[0]
	}
	return (&nodeMessage{kind: msgNotice, op: op, body: body}).marshal()
}

func entries(room string, from, n int) []wireEntry {
	es := make([]wireEntry, n)
	for i := range es {
		es[i] = wireEntry{Room: room, Spark: fmt.Sprintf("evil-%08d", from+i), User: "u", Since: 1}
	}
	return es
}

// checkPresence verifies the counters and per-user counts against the
// entries.
func checkPresence(t testing.TB, p *presence) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	local, remote := 0, 0
	for key, r := range p.rooms {
		if len(r.entries) == 0 {
			t.Fatalf("room %q kept empty", key)
		}
		users := make(map[string]int)
		for _, e := range r.entries {
			if e.node == p.srv.nodeID {
				local++
			} else {
				remote++
			}
			if e.user != "" {
				users[e.user]++
			}
		}
		if len(users) != len(r.users) {
			t.Fatalf("room %q users %v, entries say %v", key, r.users, users)
		}
		for u, n := range users {
			if r.users[u] != n {
				t.Fatalf("room %q user %q: %d, entries say %d", key, u, r.users[u], n)
			}
		}
	}
	if local != p.local || remote != p.remote {
		t.Fatalf("counters local %d remote %d, entries %d %d", p.local, p.remote, local, remote)
	}
}

// A peer flooding deltas for a huge room fills neither the cache (past
// MaxRemoteEntries) nor the inbound queue (past MaxQueued and its bytes):
// the heap stays flat whatever it sends.
func TestPresenceFloodIsBounded(t *testing.T) {
	broker := NewMemoryBroker()
	_ = broker.Register(context.Background(), "evil", nopHandler{})
	srv := presenceServer(t, broker, PresenceOptions{Rooms: []string{"*"}, MaxRemoteEntries: 5000, MaxQueued: 32, TTL: time.Hour})
	p := &srv.presence

	// Hold the worker in a hook, so the inbound queue fills.
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	srv.OnPresence(func(PresenceEvent) {
		select {
		case held <- struct{}{}:
			<-release
		default:
		}
	})
	srv.HandleMessage("evil", notice("presence.delta", entries("big", 0, 1)))
	<-held

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const msgs = 400 // 400 × 512 entries = 204,800 entries, ≈ 21 MB of JSON
	for i := range msgs {
		srv.HandleMessage("evil", notice("presence.delta", entries("big", 1+i*maxWireEntries, maxWireEntries)))
		p.mu.Lock()
		q, qb := len(p.in), p.inBytes
		p.mu.Unlock()
		if q > 32 || qb > maxPresenceInBytes {
			t.Fatalf("inbound queue at %d messages, %d bytes", q, qb)
		}
	}
	if srv.PresenceStats().DroppedIn < msgs-32 {
		t.Fatalf("dropped %d of %d messages past a bound of 32", srv.PresenceStats().DroppedIn, msgs)
	}
	close(release)
	waitUntil(t, "the worker drains", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.in) == 0 && len(p.evs) == 0
	})
	// Past the queue, a steady flood the worker keeps up with still stops
	// at MaxRemoteEntries.
	for i := range 40 {
		srv.HandleMessage("evil", notice("presence.refresh", entries("big", 1_000_000+i*maxWireEntries, maxWireEntries)))
		waitUntil(t, "the worker drains", func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return len(p.in) == 0
		})
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	st := srv.PresenceStats()
	if st.Remote != 5000 || st.DroppedEntries == 0 {
		t.Fatalf("stats: %+v", st)
	}
	checkPresence(t, p)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew %d KiB for 5000 kept entries after %d entries sent; %+v", grown>>10, (msgs+40)*maxWireEntries, st)
	if grown > 16<<20 {
		t.Fatalf("heap grew %d MiB", grown>>20)
	}
}

// Sync requests from many nodes are bounded; a peer cannot speak for this
// node's sparks or remove another node's entries.
func TestPresencePeersSpeakForThemselves(t *testing.T) {
	broker := NewMemoryBroker()
	for _, n := range []string{"evil", "good"} {
		_ = broker.Register(context.Background(), n, nopHandler{})
	}
	srv := presenceServer(t, broker, PresenceOptions{Rooms: []string{"*"}, TTL: time.Hour})
	p := &srv.presence
	r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
	r.RemoteAddr = "127.0.0.1:1"
	sp := srv.attach(&nullConn{}, r)
	defer sp.OnClose(nil)
	if err := sp.Join("room"); err != nil {
		t.Fatal(err)
	}
	srv.HandleMessage("good", notice("presence.delta", []wireEntry{{Room: "room", Spark: "g1", User: "g", Since: 5}}))
	srv.HandleMessage("evil", notice("presence.delta", []wireEntry{
		{Room: "room", Spark: sp.id, Leave: true}, {Room: "room", Spark: "g1", Leave: true},
		{Room: "room", Spark: sp.id, User: "impostor"},
	}))
	for i := range 3 * maxSyncRequests {
		srv.HandleMessage(fmt.Sprintf("n%d", i), (&nodeMessage{kind: msgNotice, op: "presence.sync"}).marshal())
		p.mu.Lock()
		n := len(p.syncTo)
		p.mu.Unlock()
		if n > maxSyncRequests {
			t.Fatalf("%d sync requests kept", n)
		}
	}
	waitUntil(t, "the worker takes the queue", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.in) == 0
	})
	// An empty queue is not an applied one (the worker takes the queue,
	// then applies it): a last delta, applied in order after the others,
	// says when they all were.
	srv.HandleMessage("good", notice("presence.delta", []wireEntry{{Room: "room", Spark: "g2", User: "g", Since: 6}}))
	waitUntil(t, "the worker applies the queue", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.entry("room", "g2") != nil
	})
	p.mu.Lock()
	own, g := p.entry("room", sp.id), p.entry("room", "g1")
	p.mu.Unlock()
	if own == nil || own.node != "self" || own.user != "" || g == nil || g.node != "good" {
		t.Fatalf("own %+v, good's %+v", own, g)
	}
	checkPresence(t, p)
}

// Joins and leaves of untracked rooms allocate exactly as with presence
// off: tracking costs nothing outside the tracked rooms.
func TestPresenceUntrackedJoinAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counting")
	}
	allocs := func(po PresenceOptions) float64 {
		srv := presenceServer(t, NewMemoryBroker(), po)
		r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
		r.RemoteAddr = "127.0.0.1:1"
		sp := srv.attach(&nullConn{}, r)
		defer sp.OnClose(nil)
		cycle := func() {
			if err := sp.Join("lobby"); err != nil {
				t.Fatal(err)
			}
			if err := sp.Leave("lobby"); err != nil {
				t.Fatal(err)
			}
		}
		best := testing.AllocsPerRun(200, cycle)
		for range 2 {
			best = min(best, testing.AllocsPerRun(200, cycle))
		}
		return best
	}
	off := allocs(PresenceOptions{})
	on := allocs(PresenceOptions{Rooms: []string{"chat:*", "game-?"}})
	t.Logf("Join+Leave of an untracked room: %.1f allocations with presence off, %.1f with it on", off, on)
	if on > off {
		t.Fatalf("presence costs %.1f allocations on an untracked room", on-off)
	}
}

// BenchmarkJoinLeave measures a Join+Leave cycle with presence off, on an
// untracked room and on a tracked one.
func BenchmarkJoinLeave(b *testing.B) {
	for _, tc := range []struct {
		name string
		po   PresenceOptions
		room string
	}{
		{"off", PresenceOptions{}, "lobby"},
		{"untracked", PresenceOptions{Rooms: []string{"chat:*"}}, "lobby"},
		{"tracked", PresenceOptions{Rooms: []string{"chat:*"}, TTL: time.Hour}, "chat:1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := presenceServer(b, NewMemoryBroker(), tc.po)
			r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
			r.RemoteAddr = "127.0.0.1:1"
			sp := srv.attach(&nullConn{}, r)
			defer sp.OnClose(nil)
			b.ReportAllocs()
			for b.Loop() {
				_ = sp.Join(tc.room)
				_ = sp.Leave(tc.room)
			}
		})
	}
}

// FuzzPresenceMessage feeds arbitrary delta and refresh bodies to the
// decoder and the cache: no panic, and the counters stay true.
func FuzzPresenceMessage(f *testing.F) {
	f.Add([]byte(`[{"r":"chat","s":"x","u":"alice","t":1}]`), true)
	f.Add([]byte(`[{"r":"chat","s":"x","l":true}]`), true)
	f.Add([]byte(`[{"r":"\u0000/n\u0000room","s":"y"},{"r":"chat","s":"x","u":"bob"}]`), false)
	f.Add([]byte(`[{"r":"","s":""}]`), false)
	f.Add([]byte(`{}`), true)
	broker := NewMemoryBroker()
	_ = broker.Register(context.Background(), "peer", nopHandler{})
	srv := presenceServer(f, broker, PresenceOptions{Rooms: []string{"*"}, MaxRemoteEntries: 50, TTL: time.Hour})
	p := &srv.presence
	f.Fuzz(func(t *testing.T, body []byte, delta bool) {
		if _, err := decodeWireEntries(body); err == nil && len(body) == 0 {
			t.Fatal("empty body decoded")
		}
		kind := wireRefresh
		if delta {
			kind = wireDelta
		}
		p.apply(inboundNotice{from: "peer", kind: kind, body: body})
		checkPresence(t, p)
		if p.statsSnapshot().Remote > 50 {
			t.Fatal("past MaxRemoteEntries")
		}
	})
}

// countingBroker counts the bytes of node messages sent through it.
type countingBroker struct {
	Broker
	mu    sync.Mutex
	bytes map[string]int // op-ish key → bytes
}

func (b *countingBroker) Send(ctx context.Context, from, to string, msg []byte) error {
	if m, err := unmarshalNodeMessage(msg); err == nil && m.kind == msgNotice {
		b.mu.Lock()
		b.bytes[m.op] += len(msg)
		b.mu.Unlock()
	}
	return b.Broker.Send(ctx, from, to, msg)
}

func (b *countingBroker) count(op string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes[op]
}

// A burst of 2,000 joins on one node reaches another node's cache and
// hooks, every one of them, with nothing dropped; the test logs how long that took and what the
// deltas and a refresh cost on the wire.
func TestPresenceBurstPropagates(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	broker := &countingBroker{Broker: NewMemoryBroker(), bytes: make(map[string]int)}
	// Without events to members: a join's event costs one queue push per
	// member, so k joins into a room of m local members cost k×m pushes,
	// like any room write; this measures the node-to-node path.
	po := PresenceOptions{Rooms: []string{"chat:*"}, TTL: time.Hour, RefreshInterval: 50 * time.Minute, NoEvents: true}
	newNode := func(id string) *Server {
		srv, err := New(Options{PingInterval: NoPing, Broker: broker, NodeID: id, Presence: po})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		return srv
	}
	a, b := newNode("a"), newNode("b")
	var joins atomic.Int64
	a.OnPresence(func(ev PresenceEvent) {
		if ev.Action == PresenceJoin {
			joins.Add(1)
		}
	})
	r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
	r.RemoteAddr = "127.0.0.1:1"
	const n = 2000
	sparks := make([]*Spark, n)
	for i := range sparks {
		sparks[i] = b.attach(&nullConn{}, r)
		sparks[i].SetUser(fmt.Sprint("user", i%500))
	}
	defer func() {
		for _, sp := range sparks {
			sp.OnClose(nil)
		}
	}()
	start := time.Now()
	for _, sp := range sparks {
		if err := sp.Join("chat:big"); err != nil {
			t.Fatal(err)
		}
	}
	joined := time.Since(start)
	waitUntil(t, "a has every join", func() bool { return joins.Load() == n && a.PresenceStats().Remote == n })
	took := time.Since(start)
	deltaBytes := broker.count("presence.delta")
	refreshStart := broker.count("presence.refresh")
	b.presence.sendAll(context.Background(), "")
	refreshBytes := broker.count("presence.refresh") - refreshStart
	t.Logf("%d joins on b: %v to join, %v until a's cache and hooks had all; deltas %d B (%.0f B/entry), one refresh %d B (%.0f B/entry)",
		n, joined.Round(time.Millisecond), took.Round(time.Millisecond), deltaBytes, float64(deltaBytes)/n, refreshBytes, float64(refreshBytes)/n)
	if st := a.PresenceStats(); st.DroppedIn+st.DroppedEntries+st.DroppedEvents != 0 || b.PresenceStats().DroppedOut != 0 {
		t.Fatalf("drops: a %+v, b %+v", st, b.PresenceStats())
	}
	users, err := a.PresenceUsers(context.Background(), "chat:big")
	if err != nil || len(users) != 500 || users["user7"] != 4 {
		t.Fatalf("users: %d %v", len(users), err)
	}
}
