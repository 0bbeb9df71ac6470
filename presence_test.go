package allspark_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// presenceSetup names each spark's user from ?user= and lets clients join
// and leave rooms with acknowledged "join"/"leave" events, so a test can
// register its event handlers before the first presence event.
func presenceSetup(srv *allspark.Server) {
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		sp.SetUser(sp.Query().Get("user"))
		return nil
	})
	_ = srv.On("join", allspark.Handle(func(_ context.Context, sp *allspark.Spark, room string) (bool, error) {
		return true, sp.Join(room)
	}))
	_ = srv.On("leave", allspark.Handle(func(_ context.Context, sp *allspark.Spark, room string) (bool, error) {
		return true, sp.Leave(room)
	}))
}

// watcher is a client that records the presence events it receives.
type watcher struct {
	t   *testing.T
	c   *client.Client
	id  string
	mu  sync.Mutex
	evs []allspark.PresenceEvent
}

func dialWatcher(t *testing.T, base, user string) *watcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	c, err := client.Dial(ctx, base+"/primus?user="+user, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Destroy()
		<-c.Done()
	})
	w := &watcher{t: t, c: c}
	err = c.On(allspark.DefaultPresenceEvent, func(_ context.Context, ev *client.NamedEvent) (any, error) {
		var pe allspark.PresenceEvent
		if err := ev.Decode(0, &pe); err != nil {
			t.Errorf("presence event: %v", err)
			return nil, nil
		}
		w.mu.Lock()
		w.evs = append(w.evs, pe)
		w.mu.Unlock()
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if w.id, err = c.ID(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *watcher) call(event, room string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	r, err := w.c.EmitWithAck(ctx, event, room)
	if err != nil || len(r.Args) != 1 || r.Args[0] != true {
		w.t.Fatalf("%s %s: %+v %v", event, room, r, err)
	}
}

func (w *watcher) events() []allspark.PresenceEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.evs)
}

// waitEvent waits for an event matching (spark, action) and returns it.
func (w *watcher) waitEvent(what, spark, action string) allspark.PresenceEvent {
	w.t.Helper()
	var got allspark.PresenceEvent
	waitFor(w.t, what, func() bool {
		for _, ev := range w.events() {
			if ev.SparkID == spark && ev.Action == action {
				got = ev
				return true
			}
		}
		return false
	})
	return got
}

// count is how many events the watcher got for (spark, action).
func (w *watcher) count(spark, action string) int {
	n := 0
	for _, ev := range w.events() {
		if ev.SparkID == spark && ev.Action == action {
			n++
		}
	}
	return n
}

func presenceOpts(broker allspark.Broker, node string) allspark.Options {
	return allspark.Options{
		Broker: broker, NodeID: node, Cluster: fastCluster,
		Presence: allspark.PresenceOptions{Rooms: []string{"chat:*"}, TTL: 2 * time.Second, RefreshInterval: 100 * time.Millisecond},
	}
}

func startCluster(t *testing.T, broker allspark.Broker, opts func(node string) allspark.Options, nodes ...string) ([]*allspark.Server, []string) {
	t.Helper()
	var srvs []*allspark.Server
	var bases []string
	for _, n := range nodes {
		srv, base := startServer(t, opts(n), presenceSetup)
		srvs = append(srvs, srv)
		bases = append(bases, base)
	}
	waitFor(t, "every node knows the others", func() bool {
		for _, s := range srvs {
			if len(s.Nodes()) != len(nodes) {
				return false
			}
		}
		return true
	})
	return srvs, bases
}

// Presence lists a tracked room's sparks on every node, per spark and per
// user (one user with two tabs on two nodes); members anywhere get each
// join and leave once, and can tell a user's first and last tab.
func TestPresenceAcrossNodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		broker func() allspark.Broker
	}{
		{"memory broker", func() allspark.Broker { return allspark.NewMemoryBroker() }},
		{"heartbeats", func() allspark.Broker { return newHeartbeatBroker() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broker := tc.broker()
			srvs, bases := startCluster(t, broker, func(n string) allspark.Options { return presenceOpts(broker, n) }, "a", "b", "c")
			var hookMu sync.Mutex
			var hooked []allspark.PresenceEvent
			srvs[0].OnPresence(func(ev allspark.PresenceEvent) {
				hookMu.Lock()
				hooked = append(hooked, ev)
				hookMu.Unlock()
			})

			carol := dialWatcher(t, bases[2], "carol")
			carol.call("join", "chat:1")
			carol.waitEvent("carol's own join", carol.id, allspark.PresenceJoin)
			tab1 := dialWatcher(t, bases[0], "alice")
			tab1.call("join", "chat:1")
			tab2 := dialWatcher(t, bases[1], "alice")
			tab2.call("join", "chat:1")
			anon := dialWatcher(t, bases[1], "")
			anon.call("join", "chat:1")
			anon.call("join", "untracked")

			first := carol.waitEvent("alice's first tab", tab1.id, allspark.PresenceJoin)
			if first.Sparks != 1 || !first.UserChanged() || first.User != "alice" || first.Node != "a" || first.Room != "chat:1" {
				t.Fatalf("first tab: %+v", first)
			}
			second := carol.waitEvent("alice's second tab", tab2.id, allspark.PresenceJoin)
			if second.Sparks != 2 || second.UserChanged() || second.Node != "b" {
				t.Fatalf("second tab: %+v", second)
			}
			if a := carol.waitEvent("the anonymous spark", anon.id, allspark.PresenceJoin); a.Sparks != 1 || a.User != "" {
				t.Fatalf("anonymous: %+v", a)
			}

			ctx := context.Background()
			for _, srv := range srvs {
				entries, err := srv.Presence(ctx, "chat:1")
				if err != nil || len(entries) != 4 {
					t.Fatalf("%s: Presence: %+v %v", srv.NodeID(), entries, err)
				}
				byID := make(map[string]allspark.PresenceEntry)
				for _, e := range entries {
					byID[e.SparkID] = e
				}
				if byID[tab1.id].Node != "a" || byID[tab2.id].Node != "b" || byID[carol.id].Node != "c" ||
					byID[tab1.id].User != "alice" || byID[carol.id].Since.IsZero() || byID[anon.id].User != "" {
					t.Fatalf("%s: entries %+v", srv.NodeID(), entries)
				}
				users, err := srv.PresenceUsers(ctx, "chat:1")
				if err != nil || !maps.Equal(users, map[string]int{"alice": 2, "carol": 1, "": 1}) {
					t.Fatalf("%s: PresenceUsers %v %v", srv.NodeID(), users, err)
				}
			}
			if _, err := srvs[0].Presence(ctx, "untracked"); !errors.Is(err, allspark.ErrNotTracked) {
				t.Fatalf("untracked room: %v", err)
			}

			tab2.call("leave", "chat:1")
			if ev := carol.waitEvent("a tab closes", tab2.id, allspark.PresenceLeave); ev.Sparks != 1 || ev.UserChanged() || ev.Expired {
				t.Fatalf("tab closes: %+v", ev)
			}
			tab1.c.Destroy()
			<-tab1.c.Done()
			if ev := carol.waitEvent("the last tab closes", tab1.id, allspark.PresenceLeave); ev.Sparks != 0 || !ev.UserChanged() {
				t.Fatalf("last tab: %+v", ev)
			}
			waitFor(t, "the hook on a saw alice arrive and go", func() bool {
				hookMu.Lock()
				defer hookMu.Unlock()
				n := 0
				for _, ev := range hooked {
					if ev.SparkID == tab1.id {
						n++
					}
				}
				return n == 2
			})
			// Each change reached each member once; nobody heard of the
			// untracked room; tab2 saw its own join but not its leave.
			time.Sleep(300 * time.Millisecond) // refreshes and duplicates would show by now
			for _, id := range []string{tab1.id, tab2.id, anon.id} {
				if n := carol.count(id, allspark.PresenceJoin); n != 1 {
					t.Fatalf("carol got %d joins of %s", n, id)
				}
			}
			if anon.count(anon.id, allspark.PresenceJoin) != 1 || anon.count(tab1.id, allspark.PresenceLeave) != 1 || anon.count(tab2.id, allspark.PresenceLeave) != 1 {
				t.Fatalf("anon's events: %+v", anon.events())
			}
			if n := carol.count(tab1.id, allspark.PresenceLeave) + carol.count(tab2.id, allspark.PresenceLeave); n != 2 {
				t.Fatalf("carol got %d leaves", n)
			}
			if tab2.count(tab2.id, allspark.PresenceJoin) != 1 || tab2.count(tab2.id, allspark.PresenceLeave) != 0 {
				t.Fatalf("tab2's events: %+v", tab2.events())
			}
			for _, ev := range anon.events() {
				if ev.Room != "chat:1" {
					t.Fatalf("event for %q", ev.Room)
				}
			}
			users, err := srvs[1].PresenceUsers(ctx, "chat:1")
			if err != nil || !maps.Equal(users, map[string]int{"carol": 1, "": 1}) {
				t.Fatalf("PresenceUsers after leaves: %v %v", users, err)
			}
		})
	}
}

// A node killed without a word (cut from the broker) leaves no zombies:
// its entries go when the cluster forgets it, and a member on another node
// gets the leaves, marked expired.
func TestPresenceCutNode(t *testing.T) {
	broker := newHeartbeatBroker()
	srvs, bases := startCluster(t, broker, func(n string) allspark.Options { return presenceOpts(broker, n) }, "a", "b", "c")
	watch := dialWatcher(t, bases[0], "w")
	watch.call("join", "chat:1")
	var gone []*watcher
	for i := range 2 {
		g := dialWatcher(t, bases[2], fmt.Sprintf("u%d", i))
		g.call("join", "chat:1")
		watch.waitEvent("join from c", g.id, allspark.PresenceJoin)
		gone = append(gone, g)
	}
	waitFor(t, "b caches c's entries", func() bool { return srvs[1].PresenceStats().Remote == 3 })

	start := time.Now()
	broker.setCut("c", true)
	for _, g := range gone {
		if ev := watch.waitEvent("leave of a dead node's spark", g.id, allspark.PresenceLeave); !ev.Expired || ev.Node != "c" || ev.Sparks != 0 {
			t.Fatalf("leave: %+v", ev)
		}
	}
	// NodeTTL is 400 ms; the entry TTL (2 s) must not be what removed them.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("leaves took %v", d)
	}
	entries, err := srvs[0].Presence(context.Background(), "chat:1")
	if err != nil || len(entries) != 1 || entries[0].SparkID != watch.id {
		t.Fatalf("after the cut: %+v %v", entries, err)
	}
	waitFor(t, "b dropped them too", func() bool { return srvs[1].PresenceStats().Remote == 1 })
	if n := watch.count(gone[0].id, allspark.PresenceLeave); n != 1 {
		t.Fatalf("%d leaves", n)
	}
}

// lossyBroker drops some node messages, as a broker under load may.
type lossyBroker struct {
	*heartbeatBroker
	mu   sync.Mutex
	drop func(from string, msg []byte) bool
}

func (b *lossyBroker) Send(ctx context.Context, from, to string, msg []byte) error {
	b.mu.Lock()
	drop := b.drop != nil && b.drop(from, msg)
	b.mu.Unlock()
	if drop {
		return nil
	}
	return b.heartbeatBroker.Send(ctx, from, to, msg)
}

func (b *lossyBroker) setDrop(fn func(from string, msg []byte) bool) {
	b.mu.Lock()
	b.drop = fn
	b.mu.Unlock()
}

// Refreshes keep live entries alive past TTL and repair lost deltas: a
// join whose delta was lost arrives with the next refresh, and a spark
// whose leave was lost expires after TTL, with a leave to members.
func TestPresenceRefreshAndTTL(t *testing.T) {
	broker := &lossyBroker{heartbeatBroker: newHeartbeatBroker()}
	const ttl = 500 * time.Millisecond
	opts := func(n string) allspark.Options {
		o := presenceOpts(broker, n)
		o.Presence.TTL, o.Presence.RefreshInterval = ttl, 80*time.Millisecond
		return o
	}
	srvs, bases := startCluster(t, broker, opts, "a", "b")
	watch := dialWatcher(t, bases[0], "w")
	watch.call("join", "chat:1")

	live := dialWatcher(t, bases[1], "live")
	live.call("join", "chat:1")
	watch.waitEvent("a live spark's join", live.id, allspark.PresenceJoin)
	time.Sleep(3 * ttl)
	if n := watch.count(live.id, allspark.PresenceLeave); n != 0 || srvs[0].PresenceStats().Remote != 1 {
		t.Fatalf("a live entry expired: %d leaves, %+v", n, srvs[0].PresenceStats())
	}

	// From now on b's deltas are lost; only its refreshes get through.
	broker.setDrop(func(from string, msg []byte) bool {
		return from == "b" && bytes.Contains(msg, []byte("presence.delta"))
	})
	lost := dialWatcher(t, bases[1], "lost")
	lost.call("join", "chat:1")
	watch.waitEvent("a join repaired by a refresh", lost.id, allspark.PresenceJoin)
	lost.call("leave", "chat:1")
	start := time.Now()
	ev := watch.waitEvent("a lost leave expires", lost.id, allspark.PresenceLeave)
	if !ev.Expired {
		t.Fatalf("leave: %+v", ev)
	}
	if d := time.Since(start); d < ttl/2 {
		t.Fatalf("expired after %v, before the TTL could pass", d)
	}
	if n := watch.count(live.id, allspark.PresenceLeave); n != 0 {
		t.Fatal("the live spark expired")
	}
}

// A node that shuts down sends its sparks' leaves (or is dropped at its
// goodbye); other nodes' members hear of them.
func TestPresenceShutdown(t *testing.T) {
	for _, tc := range []struct {
		name   string
		broker func() allspark.Broker
	}{
		{"memory broker", func() allspark.Broker { return allspark.NewMemoryBroker() }},
		{"heartbeats", func() allspark.Broker { return newHeartbeatBroker() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broker := tc.broker()
			a, base := startServer(t, presenceOpts(broker, "a"), presenceSetup)
			watch := dialWatcher(t, base, "w")
			watch.call("join", "chat:1")
			b, bs := startServer(t, presenceOpts(broker, "b"), presenceSetup)
			waitFor(t, "membership", func() bool { return len(a.Nodes()) == 2 })
			other := dialWatcher(t, bs, "o")
			other.call("join", "chat:1")
			watch.waitEvent("join from b", other.id, allspark.PresenceJoin)
			ctx, cancel := context.WithTimeout(context.Background(), waitLong)
			defer cancel()
			if err := b.Shutdown(ctx, allspark.ShutdownOptions{}); err != nil {
				t.Fatal(err)
			}
			// Announced by b, not expired by a (which the goodbye or the
			// MemoryBroker's node list would also cause, a moment later).
			if ev := watch.waitEvent("leave at shutdown", other.id, allspark.PresenceLeave); ev.Expired {
				t.Fatalf("the leave was not sent: %+v", ev)
			}
			if entries, err := a.Presence(context.Background(), "chat:1"); err != nil || len(entries) != 1 {
				t.Fatalf("after shutdown: %+v %v", entries, err)
			}
		})
	}
}

// A node that starts learns the entries of the others at once (sync), not
// only at their next refresh.
func TestPresenceLateNodeSyncs(t *testing.T) {
	broker := allspark.NewMemoryBroker()
	opts := func(n string) allspark.Options {
		o := presenceOpts(broker, n)
		o.Presence.TTL, o.Presence.RefreshInterval = time.Hour, 50*time.Minute
		return o
	}
	_, base := startServer(t, opts("a"), presenceSetup)
	w := dialWatcher(t, base, "early")
	w.call("join", "chat:1")
	b, _ := startServer(t, opts("b"), presenceSetup)
	waitFor(t, "b has a's entry", func() bool { return b.PresenceStats().Remote == 1 })
}

// Presence off (the zero value) tracks nothing and answers ErrNotTracked;
// a reserved event name is refused by New.
func TestPresenceOff(t *testing.T) {
	srv, base := startServer(t, allspark.Options{}, presenceSetup)
	w := dialWatcher(t, base, "x")
	w.call("join", "chat:1")
	if _, err := srv.Presence(context.Background(), "chat:1"); !errors.Is(err, allspark.ErrNotTracked) {
		t.Fatalf("off: %v", err)
	}
	if st := srv.PresenceStats(); st != (allspark.PresenceStats{}) {
		t.Fatalf("stats: %+v", st)
	}
	time.Sleep(100 * time.Millisecond)
	if evs := w.events(); len(evs) != 0 {
		t.Fatalf("events with presence off: %+v", evs)
	}
	if _, err := allspark.New(allspark.Options{Presence: allspark.PresenceOptions{Rooms: []string{"*"}, Event: "open"}}); !errors.Is(err, allspark.ErrReserved) {
		t.Fatalf("reserved event name: %v", err)
	}
}

// A Track function chooses rooms by namespace and name; events and reads
// follow it.
func TestPresenceTrackFunc(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	track := func(ns, room string) bool {
		mu.Lock()
		seen = append(seen, ns+" "+room)
		mu.Unlock()
		return strings.HasPrefix(room, "t-")
	}
	srv, base := startServer(t, allspark.Options{Presence: allspark.PresenceOptions{Track: track}}, presenceSetup)
	w := dialWatcher(t, base, "u")
	w.call("join", "t-1")
	w.call("join", "x-1")
	w.waitEvent("own join", w.id, allspark.PresenceJoin)
	if es, err := srv.Presence(context.Background(), "t-1"); err != nil || len(es) != 1 {
		t.Fatalf("tracked: %+v %v", es, err)
	}
	if _, err := srv.Presence(context.Background(), "x-1"); !errors.Is(err, allspark.ErrNotTracked) {
		t.Fatalf("untracked: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(seen, "/ t-1") || !slices.Contains(seen, "/ x-1") {
		t.Fatalf("Track saw %v", seen)
	}
	for _, ev := range w.events() {
		if ev.Room != "t-1" {
			t.Fatalf("event for %s", ev.Room)
		}
	}
}

// SetUser on a spark already present re-announces it under the new name.
func TestPresenceSetUserLater(t *testing.T) {
	srv, base := startServer(t, allspark.Options{Presence: allspark.PresenceOptions{Rooms: []string{"*"}}}, presenceSetup)
	w := dialWatcher(t, base, "")
	w.call("join", "r")
	w.waitEvent("anonymous join", w.id, allspark.PresenceJoin)
	sp, _ := srv.Spark(w.id)
	sp.SetUser("named")
	waitFor(t, "join under the name", func() bool {
		for _, ev := range w.events() {
			if ev.Action == allspark.PresenceJoin && ev.User == "named" {
				return true
			}
		}
		return false
	})
	users, err := srv.PresenceUsers(context.Background(), "r")
	if err != nil || !maps.Equal(users, map[string]int{"named": 1}) {
		t.Fatalf("users: %v %v", users, err)
	}
}

// The presence event is a plain named event: its JSON is what JS clients
// get.
func TestPresenceEventJSON(t *testing.T) {
	b, _ := json.Marshal(allspark.PresenceEvent{Room: "r", Namespace: "/", Action: "leave", SparkID: "s", User: "u", Node: "n", Sparks: 0, Expired: true})
	if got := string(b); got != `{"room":"r","action":"leave","spark":"s","user":"u","node":"n","sparks":0,"expired":true}` {
		t.Fatal(got)
	}
}

// Rooms of a Socket.IO namespace are tracked apart from the main
// namespace's room of the same name, across nodes; their members get the
// events in their namespace.
func TestPresenceNamespacedRooms(t *testing.T) {
	broker := allspark.NewMemoryBroker()
	setup := func(s *allspark.Server) {
		admin := s.Namespace("/admin")
		admin.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Join("lobby") })
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Join("lobby") })
	}
	opts := func(n string) allspark.Options {
		return allspark.Options{Broker: broker, NodeID: n, Presence: allspark.PresenceOptions{Rooms: []string{"lobby"}}}
	}
	a, baseA := startServer(t, opts("a"), setup)
	b, baseB := startServer(t, opts("b"), setup)
	ca := sioDial(t, baseA)
	ca.sendText(`40/admin,`)
	if got := ca.next().text; !strings.HasPrefix(got, `40/admin,{"sid":`) {
		t.Fatalf("CONNECT reply %q", got)
	}
	ca.next() // its own join
	// A main-namespace spark in b's "lobby", which a's admin socket must
	// not hear of.
	connectPeer(t, baseB, "", client.Options{})
	cb := sioDial(t, baseB)
	cb.sendText(`40/admin,`)
	if got := cb.next().text; !strings.HasPrefix(got, `40/admin,{"sid":`) {
		t.Fatalf("CONNECT reply %q", got)
	}
	waitFor(t, "admin sockets", func() bool {
		return a.Namespace("/admin").Len() == 1 && b.Namespace("/admin").Len() == 1
	})
	idB := b.Namespace("/admin").All().Sparks()[0].ID()
	// a's admin socket hears of b's, in its namespace, and nothing of the
	// main namespace's lobby.
	got := ca.next().text
	if !strings.HasPrefix(got, `42/admin,["presence_diff",`) || !strings.Contains(got, idB) || !strings.Contains(got, `"node":"b"`) {
		t.Fatalf("event %q", got)
	}
	ctx := context.Background()
	es, err := a.Namespace("/admin").Presence(ctx, "lobby")
	if err != nil || len(es) != 2 {
		t.Fatalf("admin lobby: %+v %v", es, err)
	}
	main, err := a.Presence(ctx, "lobby")
	if err != nil || len(main) != 1 || main[0].Node != "b" {
		t.Fatalf("main lobby: %+v %v", main, err)
	}
	if st := a.PresenceStats(); st.Remote != 2 || st.Local != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A node that does not answer a read leaves its part out, named in a
// *PartialError; PresenceUsers counts what the others answered.
func TestPresencePartial(t *testing.T) {
	broker := newHeartbeatBroker()
	opts := func(n string) allspark.Options {
		o := presenceOpts(broker, n)
		o.Cluster.NodeTTL = time.Hour // c stays a member while it is cut
		return o
	}
	srvs, bases := startCluster(t, broker, opts, "a", "b", "c")
	for i, base := range bases {
		w := dialWatcher(t, base, fmt.Sprint("u", i))
		w.call("join", "chat:1")
	}
	waitFor(t, "a caches every entry", func() bool { return srvs[0].PresenceStats().Remote == 2 })
	broker.setCut("c", true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	entries, err := srvs[0].Presence(ctx, "chat:1")
	var pe *allspark.PartialError
	if !errors.As(err, &pe) || pe.Op != "presence" || !slices.Equal(pe.Missing, []string{"c"}) || len(entries) != 2 {
		t.Fatalf("Presence with c cut: %+v %v", entries, err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	users, err := srvs[0].PresenceUsers(ctx2, "chat:1")
	if !errors.As(err, &pe) || !maps.Equal(users, map[string]int{"u0": 1, "u1": 1}) {
		t.Fatalf("PresenceUsers with c cut: %v %v", users, err)
	}
	broker.setCut("c", false)
}
