package allspark_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// historyOpts keeps 2,000 messages of every "chat:*" room.
func historyOpts() allspark.Options {
	return allspark.Options{
		PingInterval: allspark.NoPing,
		History:      allspark.HistoryOptions{Rooms: []allspark.HistoryRule{{Pattern: "chat:*", Size: 2000, TTL: time.Minute}}},
	}
}

// joinChat puts every new spark in chat:1; a restored one is back in it
// without the application's help.
func joinChat(srv *allspark.Server) {
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if !sp.Restored() {
			return sp.Join("chat:1")
		}
		return nil
	})
}

// sessionMsg is the first envelope of a session.
type sessionMsg struct {
	ID        string `json:"id"`
	Token     string `json:"token"`
	Restored  bool   `json:"restored"`
	Recovered bool   `json:"recovered"`
	Reason    string `json:"reason"`
}

// wireMsg is any envelope of the session wire.
type wireMsg struct {
	Session *sessionMsg     `json:"session"`
	Room    string          `json:"room"`
	Offset  uint64          `json:"offset"`
	Epoch   string          `json:"epoch"`
	Data    json.RawMessage `json:"data"`
}

func readWire(t *testing.T, c *wsClient) wireMsg {
	t.Helper()
	m := c.next()
	var w wireMsg
	if err := json.Unmarshal([]byte(m.text), &w); err != nil {
		t.Fatalf("not an envelope: %s", m.text)
	}
	return w
}

func readSession(t *testing.T, c *wsClient) sessionMsg {
	t.Helper()
	w := readWire(t, c)
	if w.Session == nil {
		t.Fatalf("first message is not the session envelope: %+v", w)
	}
	return *w.Session
}

func sinceQuery(room string, off uint64, epoch string) string {
	return url.QueryEscape(fmt.Sprintf(`{%q:[%d,%q]}`, room, off, epoch))
}

func publishN(t *testing.T, srv *allspark.Server, room string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := srv.Room(room).Write(i); err != nil {
			t.Fatal(err)
		}
	}
}

// expectStamped reads messages from..to, stamped with their offsets.
func expectStamped(t *testing.T, c *wsClient, room, epoch string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		w := readWire(t, c)
		if w.Room != room || w.Offset != uint64(i) || w.Epoch != epoch || string(w.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d: got %+v (data %s)", i, w, w.Data)
		}
	}
}

// connectFresh opens a session, reads the envelope and the join
// announcement, and returns the session and the room's epoch.
func connectFresh(t *testing.T, base string) (*wsClient, sessionMsg, string) {
	t.Helper()
	c := dial(t, base, "/primus?_recover=1", nil)
	s := readSession(t, c)
	if s.Restored || s.Recovered || s.Reason != "new" || s.ID == "" || !strings.HasPrefix(s.Token, s.ID+".") {
		t.Fatalf("fresh session: %+v", s)
	}
	ann := readWire(t, c)
	if ann.Room != "chat:1" || ann.Data != nil || ann.Epoch == "" {
		t.Fatalf("join announcement: %+v", ann)
	}
	// The id is answered once the connection hooks are done: from then
	// on the spark is set up, and a cut keeps its session (a spark cut
	// while its hooks run keeps none).
	c.sendText(`"primus::id::"`)
	c.expect(`"primus::id::` + s.ID + `"`)
	return c, s, ann.Epoch
}

func cut(t *testing.T, srv *allspark.Server, c *wsClient) {
	t.Helper()
	_ = c.conn.NetConn().Close()
	waitFor(t, "the server to see the cut", func() bool { return srv.Len() == 0 })
}

func TestRecoveryReplaysWhatWasMissedExactlyOnce(t *testing.T) {
	srv, base := startServer(t, historyOpts(), joinChat)
	c, s, epoch := connectFresh(t, base)
	publishN(t, srv, "chat:1", 1, 3)
	expectStamped(t, c, "chat:1", epoch, 1, 3)
	cut(t, srv, c)
	publishN(t, srv, "chat:1", 4, 1003)

	c2 := dial(t, base, "/primus?_session="+url.QueryEscape(s.Token)+"&_since="+sinceQuery("chat:1", 3, epoch), nil)
	s2 := readSession(t, c2)
	if !s2.Restored || !s2.Recovered || s2.ID != s.ID || s2.Token != s.Token {
		t.Fatalf("reconnect: %+v (first %+v)", s2, s)
	}
	expectStamped(t, c2, "chat:1", epoch, 4, 1003)
	publishN(t, srv, "chat:1", 1004, 1004)
	expectStamped(t, c2, "chat:1", epoch, 1004, 1004)
	sp, ok := srv.Spark(s.ID)
	if !ok || !sp.Restored() || !sp.Recovered() {
		t.Fatalf("spark %v restored/recovered flags wrong", ok)
	}
	if got := sp.Rooms(); len(got) != 1 || got[0] != "chat:1" {
		t.Fatalf("rooms after restore: %v", got)
	}
}

func TestRecoveryWithNothingReceivedStartsAtTheJoin(t *testing.T) {
	srv, base := startServer(t, historyOpts(), joinChat)
	c, s, epoch := connectFresh(t, base)
	cut(t, srv, c)
	publishN(t, srv, "chat:1", 1, 5)
	c2 := dial(t, base, "/primus?_session="+url.QueryEscape(s.Token), nil)
	if s2 := readSession(t, c2); !s2.Recovered {
		t.Fatalf("reconnect without positions: %+v", s2)
	}
	expectStamped(t, c2, "chat:1", epoch, 1, 5)
}

func TestRecoveryPastTheLimitReplaysNothing(t *testing.T) {
	opts := historyOpts()
	opts.Recovery.MaxReplay = 100
	srv, base := startServer(t, opts, joinChat)
	c, s, epoch := connectFresh(t, base)
	cut(t, srv, c)
	publishN(t, srv, "chat:1", 1, 101)
	c2 := dial(t, base, "/primus?_session="+url.QueryEscape(s.Token)+"&_since="+sinceQuery("chat:1", 0, epoch), nil)
	s2 := readSession(t, c2)
	if !s2.Restored || s2.Recovered || s2.Reason != "limit" {
		t.Fatalf("reconnect past the limit: %+v", s2)
	}
	ann := readWire(t, c2)
	if ann.Data != nil || ann.Offset != 101 || ann.Epoch != epoch {
		t.Fatalf("want the position announcement at 101, got %+v", ann)
	}
	publishN(t, srv, "chat:1", 102, 102)
	expectStamped(t, c2, "chat:1", epoch, 102, 102)
}

func TestRecoveryPastTheHistorySizeIsTruncated(t *testing.T) {
	opts := historyOpts()
	opts.History.Rooms[0].Size = 10
	srv, base := startServer(t, opts, joinChat)
	c, s, epoch := connectFresh(t, base)
	publishN(t, srv, "chat:1", 1, 1)
	expectStamped(t, c, "chat:1", epoch, 1, 1)
	cut(t, srv, c)
	publishN(t, srv, "chat:1", 2, 20)
	c2 := dial(t, base, "/primus?_session="+url.QueryEscape(s.Token)+"&_since="+sinceQuery("chat:1", 1, epoch), nil)
	if s2 := readSession(t, c2); s2.Recovered || s2.Reason != "truncated" {
		t.Fatalf("reconnect past the size: %+v", s2)
	}
	if ann := readWire(t, c2); ann.Data != nil || ann.Offset != 20 {
		t.Fatalf("want the announcement at 20, got %+v", ann)
	}
}

func TestRecoveryEpochMismatch(t *testing.T) {
	srv, base := startServer(t, historyOpts(), joinChat)
	c, s, _ := connectFresh(t, base)
	cut(t, srv, c)
	c2 := dial(t, base, "/primus?_session="+url.QueryEscape(s.Token)+"&_since="+sinceQuery("chat:1", 7, "OtherEpo"), nil)
	if s2 := readSession(t, c2); !s2.Restored || s2.Recovered || s2.Reason != "epoch" {
		t.Fatalf("reconnect from another epoch: %+v", s2)
	}
}

func TestSessionTokenChecks(t *testing.T) {
	srv, base := startServer(t, historyOpts(), joinChat)
	c, s, _ := connectFresh(t, base)
	cut(t, srv, c)
	// A wrong secret for the right id restores nothing, and does not
	// destroy the session either.
	bad := s.ID + ".AAAAAAAAAAAAAAAAAAAAAA"
	c2 := dial(t, base, "/primus?_session="+url.QueryEscape(bad), nil)
	if s2 := readSession(t, c2); s2.Restored || s2.Reason != "expired" || s2.ID == s.ID {
		t.Fatalf("wrong secret: %+v", s2)
	}
	c3 := dial(t, base, "/primus?_session="+url.QueryEscape(s.Token), nil)
	if s3 := readSession(t, c3); !s3.Restored || s3.ID != s.ID {
		t.Fatalf("right token after a wrong one: %+v", s3)
	}
	// A session is restored once: the same token again while the spark
	// lives takes it over (the old connection is ended), and a clean end
	// makes the token worthless.
	readWire(t, c3) // nothing replayed: the announcement
	c3.sendText(`{"allspark":1,"end":true}`)
	_ = c3.conn.WriteClose(1000, nil)
	waitFor(t, "the end", func() bool { return srv.Len() <= 1 })
	waitFor(t, "the spark to go", func() bool { _, ok := srv.Spark(s.ID); return !ok })
	c4 := dial(t, base, "/primus?_session="+url.QueryEscape(s.Token), nil)
	if s4 := readSession(t, c4); s4.Restored || s4.Reason != "expired" {
		t.Fatalf("token after a clean end: %+v", s4)
	}
}

func TestSessionTakeOverOfAHalfOpenConnection(t *testing.T) {
	srv, base := startServer(t, historyOpts(), joinChat)
	c, s, _ := connectFresh(t, base)
	c2 := dial(t, base, "/primus?_session="+url.QueryEscape(s.Token), nil)
	if s2 := readSession(t, c2); !s2.Restored || s2.ID != s.ID {
		t.Fatalf("take-over: %+v", s2)
	}
	if _, err := c.waitClose(); err == nil {
		t.Log("old connection closed cleanly")
	}
	if n := srv.Len(); n != 1 {
		t.Fatalf("%d sparks after the take-over, want 1", n)
	}
}

func TestStockPrimusSeesNoStamps(t *testing.T) {
	srv, base := startServer(t, historyOpts(), joinChat)
	c := dial(t, base, "/primus", nil)
	waitFor(t, "the join", func() bool { return srv.Room("chat:1").Len() == 1 })
	publishN(t, srv, "chat:1", 1, 2)
	c.expect("1")
	c.expect("2")
}

func TestHistoryAPIAndJoinFrom(t *testing.T) {
	srv, base := startServer(t, historyOpts(), nil)
	publishN(t, srv, "chat:9", 1, 5)
	msgs, top, err := srv.History(context.Background(), "chat:9", allspark.HistoryQuery{After: 2})
	if err != nil || len(msgs) != 3 || top.Offset != 5 || msgs[0].Pos.Offset != 3 || msgs[0].Data != float64(3) {
		t.Fatalf("history: %v %+v %v", msgs, top, err)
	}
	if _, _, err := srv.History(context.Background(), "lobby", allspark.HistoryQuery{}); err != allspark.ErrNoHistory {
		t.Fatalf("history of a room without: %v", err)
	}
	if _, err := srv.Room("chat:9", "chat:8").Write("x"); err != allspark.ErrHistoryTarget {
		t.Fatalf("two history rooms: %v", err)
	}
	joined := make(chan *allspark.Spark, 1)
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error { joined <- sp; return nil })
	c := dial(t, base, "/primus", nil)
	sp := <-joined
	ok, reason, err := sp.JoinFrom(context.Background(), "chat:9", allspark.Position{Offset: 3, Epoch: top.Epoch})
	if !ok || err != nil {
		t.Fatalf("JoinFrom: %v %q %v", ok, reason, err)
	}
	c.expect("4")
	c.expect("5")
	publishN(t, srv, "chat:9", 6, 6)
	c.expect("6")
}

// OnRestore hooks run for restored sparks only, with the rooms and values
// already back, before the connection hooks.
func TestOnRestoreHook(t *testing.T) {
	type seen struct {
		rooms []string
		v     any
		conn  bool
	}
	got := make(chan seen, 4)
	srv, base := startServer(t, historyOpts(), func(srv *allspark.Server) {
		var connected sync.Map
		srv.OnRestore(func(_ context.Context, sp *allspark.Spark) error {
			v, _ := sp.Get("n")
			_, conn := connected.Load(sp)
			got <- seen{rooms: sp.Rooms(), v: v, conn: conn}
			return nil
		})
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			connected.Store(sp, true)
			if !sp.Restored() {
				sp.Set("n", 42)
				return sp.Join("chat:1")
			}
			return nil
		})
	})
	c, s, _ := connectFresh(t, base)
	cut(t, srv, c)
	select {
	case g := <-got:
		t.Fatalf("restore hook ran for a new spark: %+v", g)
	default:
	}
	dial(t, base, "/primus?_session="+s.Token, nil)
	select {
	case g := <-got:
		if len(g.rooms) != 1 || g.rooms[0] != "chat:1" || g.v != 42 || g.conn {
			t.Fatalf("restore hook saw %+v", g)
		}
	case <-time.After(waitLong):
		t.Fatal("no restore hook")
	}
}

// durableStore is a SessionStore outside any server (as Redis is), which
// makes servers write sessions while their sparks live.
type durableStore struct {
	mu    sync.Mutex
	recs  map[string][]byte
	saves int
}

func (d *durableStore) SaveSession(_ context.Context, id string, rec []byte, _ time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recs[id] = append([]byte(nil), rec...)
	d.saves++
	return nil
}

func (d *durableStore) TakeSession(_ context.Context, id string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.recs[id]
	if !ok {
		return nil, allspark.ErrNoSession
	}
	delete(d.recs, id)
	return r, nil
}

func (d *durableStore) DeleteSession(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.recs, id)
	return nil
}

// With a store outside the process a session is written while the spark
// lives, so another node restores it even though the first one never saw
// the connection end (a node killed, a half-open connection): the other
// node takes the spark over and replays from the positions.
func TestDurableSessionRestoredElsewhereWhileStillLive(t *testing.T) {
	store := &durableStore{recs: map[string][]byte{}}
	b := allspark.NewMemoryBroker()
	optsA, optsB := historyOpts(), historyOpts()
	for _, o := range []*allspark.Options{&optsA, &optsB} {
		o.Broker, o.Recovery.Store = b, store
	}
	optsA.NodeID, optsB.NodeID = "a", "b"
	srvA, baseA := startServer(t, optsA, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if sp.Restored() {
				return nil
			}
			for i := range 50 {
				if err := sp.Join(fmt.Sprintf("room%d", i)); err != nil {
					return err
				}
			}
			return sp.Join("chat:1")
		})
	})
	srvB, baseB := startServer(t, optsB, nil)
	c, s, epoch := connectFresh(t, baseA)
	waitFor(t, "the joins", func() bool { return srvA.Room("room49").Len() == 1 })
	publishN(t, srvA, "chat:1", 1, 2)
	expectStamped(t, c, "chat:1", epoch, 1, 2)
	waitFor(t, "the record with every room", func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return strings.Contains(string(store.recs[s.ID]), `"room49"`)
	})
	store.mu.Lock()
	saves := store.saves
	store.mu.Unlock()
	if saves > 30 {
		t.Fatalf("%d store writes for 51 joins: not coalesced", saves)
	}
	// Connection to A still open; the client comes back through B.
	publishN(t, srvB, "chat:1", 3, 4)
	expectStamped(t, c, "chat:1", epoch, 3, 4)
	c2 := dial(t, baseB, "/primus?_session="+s.Token+"&_since="+sinceQuery("chat:1", 2, epoch), nil)
	s2 := readSession(t, c2)
	if !s2.Restored || !s2.Recovered || s2.ID != s.ID {
		t.Fatalf("restore on B: %+v", s2)
	}
	expectStamped(t, c2, "chat:1", epoch, 3, 4)
	waitFor(t, "A to let the spark go", func() bool { _, ok := srvA.Spark(s.ID); return !ok })
	sp, ok := srvB.Spark(s.ID)
	if !ok || len(sp.Rooms()) != 51 {
		t.Fatalf("rooms on B: %v", ok)
	}
}

// slowStore is a durableStore whose saves take a while, as a Redis round
// trip under load does.
type slowStore struct {
	durableStore
	delay time.Duration
}

func (s *slowStore) SaveSession(ctx context.Context, id string, rec []byte, ttl time.Duration) error {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	time.Sleep(d)
	return s.durableStore.SaveSession(ctx, id, rec, ttl)
}

// A Shutdown with Reconnect writes every session's final record (not live
// any more, so another node restores it without asking this one) and must
// not take a store round trip per spark one after the other: with 10,000
// sparks on Redis that ran past any deadline.
func TestShutdownSavesSessionsSideBySide(t *testing.T) {
	const sparks, delay = 100, 20 * time.Millisecond
	store := &slowStore{durableStore: durableStore{recs: map[string][]byte{}}, delay: delay}
	opts := historyOpts()
	opts.Recovery.Store = store
	srv, base := startServer(t, opts, joinChat)
	ids := make([]string, sparks)
	for i := range ids {
		_, s, _ := connectFresh(t, base)
		ids[i] = s.ID
	}
	waitFor(t, "every live record", func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return len(store.recs) == sparks
	})
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx, allspark.ShutdownOptions{Reconnect: true, KeepListener: true}); err != nil {
		t.Fatal(err)
	}
	// One after the other: sparks × delay = 2 s.
	if took := time.Since(start); took > sparks*delay/4 {
		t.Fatalf("Shutdown took %v for %d sessions saved in %v each", took, sparks, delay)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	for _, id := range ids {
		var rec struct {
			Live bool `json:"l"`
		}
		if err := json.Unmarshal(store.recs[id], &rec); err != nil || rec.Live {
			t.Fatalf("record of %s after Shutdown: %s (%v)", id, store.recs[id], err)
		}
	}
}

// Past Shutdown's deadline the final records are not written any more:
// the sparks still to end keep the live record written while they lived,
// which another node restores as after a SIGKILL, and Shutdown returns
// near its deadline instead of after every store round trip.
func TestShutdownDeadlineBoundsTheFinalRecords(t *testing.T) {
	const sparks, delay = 130, time.Second // three rounds of 64 saves: 3 s
	store := &slowStore{durableStore: durableStore{recs: map[string][]byte{}}}
	opts := historyOpts()
	opts.Recovery.Store = store
	srv, base := startServer(t, opts, joinChat)
	for range sparks {
		connectFresh(t, base)
	}
	waitFor(t, "every live record", func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return len(store.recs) == sparks
	})
	store.mu.Lock()
	store.delay = delay
	store.mu.Unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = srv.Shutdown(ctx, allspark.ShutdownOptions{Reconnect: true, KeepListener: true})
	if took := time.Since(start); took > 2*delay {
		t.Fatalf("Shutdown with a 300 ms deadline took %v", took)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	live := 0
	for id, b := range store.recs {
		var rec struct {
			Live bool `json:"l"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("record of %s: %v", id, err)
		}
		if rec.Live {
			live++
		}
	}
	if len(store.recs) != sparks || live == 0 {
		t.Fatalf("%d records, %d still live: want every spark's, the late ones live", len(store.recs), live)
	}
}
