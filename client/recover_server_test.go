package client_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// Recovery end to end: the client against an Allspark server whose rooms
// keep history, with the network cut while messages are published.

// gatedDialer opens TCP connections while its gate is open and can cut
// every connection it opened: a network outage the client only learns
// about by its socket failing, and which lasts until reopen.
type gatedDialer struct {
	mu    sync.Mutex
	gate  chan struct{} // closed while the network is up
	conns []net.Conn
	dials atomic.Int32
}

func newGatedDialer() *gatedDialer {
	g := &gatedDialer{gate: make(chan struct{})}
	close(g.gate)
	return g
}

func (g *gatedDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		g.dials.Add(1)
		g.mu.Lock()
		g.conns = append(g.conns, c)
		g.mu.Unlock()
	}
	return c, err
}

// cut closes every connection and holds new ones until reopen.
func (g *gatedDialer) cut() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	conns := g.conns
	g.conns = nil
	g.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (g *gatedDialer) reopen() {
	g.mu.Lock()
	close(g.gate)
	g.mu.Unlock()
}

// historyServer serves rooms "chat" (2,000 messages kept) and "small"
// (100). A new spark joins the room named by its "room" query; a restored
// one is back in its rooms without anyone's help. joins counts Join calls.
func historyServer(t *testing.T) (srv *allspark.Server, url string, sparkCh <-chan *allspark.Spark, joins *atomic.Int32) {
	t.Helper()
	joins = new(atomic.Int32)
	ch := make(chan *allspark.Spark, 16)
	srv = newServer(t, allspark.Options{
		PingInterval: allspark.NoPing,
		History: allspark.HistoryOptions{Rooms: []allspark.HistoryRule{
			{Pattern: "chat", Size: 2000, TTL: time.Minute},
			{Pattern: "small", Size: 100, TTL: time.Minute},
		}},
	}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if !sp.Restored() {
				joins.Add(1)
				if err := sp.Join(sp.Query().Get("room")); err != nil {
					return err
				}
			}
			ch <- sp
			return nil
		})
	})
	return srv, serve(t, srv), ch, joins
}

// outage connects a client to room, delivers pre messages live, cuts the
// network, publishes n messages to the room while the client is away, and
// lets it reconnect. It returns the client, its recorder (at the second
// EventOpen), the session of the reconnect and the two sparks.
func outage(t *testing.T, room string, pre, n int) (*client.Client, *recorder, client.RecoveryInfo, *allspark.Spark, *allspark.Spark, *allspark.Server, *atomic.Int32) {
	t.Helper()
	srv, url, sparkCh, joins := historyServer(t)
	g := newGatedDialer()
	rec := newRecorder(t)
	sessions := make(chan client.RecoveryInfo, 4)
	c, err := client.Dial(ctxFor(t), url, client.Options{
		Query:       map[string][]string{"room": {room}},
		NetDial:     g.dial,
		PingTimeout: client.Off,
		Reconnect:   client.ReconnectOptions{Min: 10 * time.Millisecond},
		OnEvent:     rec.on,
		OnSession:   func(s client.RecoveryInfo) { sessions <- s },
	})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	if s := recv(t, sessions); s.Restored || s.Recovered || s.Reason != client.ReasonNew {
		t.Fatalf("first session %+v", s)
	}
	first := recv(t, sparkCh)
	for i := range pre {
		if _, err := srv.Room(room).Write(map[string]any{"pre": i}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range pre {
		if ev := rec.expect(client.EventData)[0]; !equalJSON(ev.Data, map[string]any{"pre": float64(i)}) {
			t.Fatalf("live message %d: %v", i, ev.Data)
		}
	}

	g.cut()
	waitUntil(t, waitTimeout, "the server to see the cut", func() bool { return srv.Len() == 0 })
	rec.expect(client.EventClose, client.EventReconnectScheduled, client.EventReconnect) // the dial now waits for the network
	for i := range n {
		if _, err := srv.Room(room).Write(i); err != nil {
			t.Fatal(err)
		}
	}
	g.reopen()
	rec.expect(client.EventReconnected, client.EventOpen)
	s := recv(t, sessions)
	second := recv(t, sparkCh)
	return c, rec, s, first, second, srv, joins
}

func equalJSON(a, b any) bool {
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	if !ok1 || !ok2 || len(am) != len(bm) {
		return false
	}
	for k, v := range am {
		if bm[k] != v {
			return false
		}
	}
	return true
}

// 1,000 messages published while the network is down arrive after the
// reconnect, each once, in order, before live ones; the spark is the same
// (id, membership: nobody joined it again).
func TestRecoverFromServerAfterOutage(t *testing.T) {
	const n = 1000
	c, rec, s, first, second, srv, joins := outage(t, "chat", 3, n)
	if !s.Restored || !s.Recovered || !s.Resumed || s.Unrecovered() || s.ID != first.ID() {
		t.Fatalf("session after the outage %+v (first spark %s)", s, first.ID())
	}
	if !c.Recovered() || !c.Restored() {
		t.Fatal("Recovered/Restored false")
	}
	if _, err := srv.Room("chat").Write("live"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if ev := rec.expect(client.EventData)[0]; ev.Data != float64(i) {
			t.Fatalf("message %d: got %v", i, ev.Data)
		}
	}
	if ev := rec.expect(client.EventData)[0]; ev.Data != "live" {
		t.Fatalf("after the replay: %v, want the live message (a duplicate or more?)", ev.Data)
	}
	if second.ID() != first.ID() || !second.Restored() {
		t.Fatalf("second spark %s (restored %v), first %s", second.ID(), second.Restored(), first.ID())
	}
	if id, err := c.ID(ctxFor(t)); err != nil || id != first.ID() {
		t.Fatalf("ID after the outage %q, %v", id, err)
	}
	if !slices.Contains(second.Rooms(), "chat") || joins.Load() != 1 {
		t.Fatalf("rooms %v after %d joins", second.Rooms(), joins.Load())
	}
}

// Past the room's history (100 kept, 150 missed) the spark still comes
// back, but nothing is replayed and the client is told to reload.
func TestRecoverFromServerPastHistory(t *testing.T) {
	c, rec, s, first, second, srv, joins := outage(t, "small", 2, 150)
	if !s.Restored || s.Recovered || s.Reason != client.ReasonTruncated || !s.Unrecovered() || s.ID != first.ID() {
		t.Fatalf("session after the outage %+v", s)
	}
	if c.Recovered() || !c.Restored() {
		t.Fatal("Recovered/Restored do not follow the session")
	}
	if _, err := srv.Room("small").Write("live"); err != nil {
		t.Fatal(err)
	}
	if ev := rec.expect(client.EventData)[0]; ev.Data != "live" {
		t.Fatalf("first message after the reconnect %v, want the live one: nothing replayed", ev.Data)
	}
	if !slices.Contains(second.Rooms(), "small") || joins.Load() != 1 {
		t.Fatalf("rooms %v after %d joins", second.Rooms(), joins.Load())
	}
}

// End tells the server the session is over: its record is deleted at
// once, so the token restores nothing (a plain transport close keeps it
// for the window).
func TestRecoverEndDeletesTheSession(t *testing.T) {
	b := allspark.NewMemoryBroker()
	ch := make(chan *allspark.Spark, 1)
	srv := newServer(t, allspark.Options{PingInterval: allspark.NoPing, Broker: b}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error { ch <- sp; return nil })
	})
	url := serve(t, srv)
	sessions := make(chan client.RecoveryInfo, 1)
	c, err := client.Dial(ctxFor(t), url, client.Options{PingTimeout: client.Off, OnSession: func(s client.RecoveryInfo) { sessions <- s }})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	s := recv(t, sessions)
	sp := recv(t, ch)
	c.End(nil)
	// The spark leaves the registry after its session record was dealt
	// with: kept for a transport close, deleted after an end.
	waitUntil(t, waitTimeout, "the spark to end", func() bool { return srv.Len() == 0 })
	if _, err := b.TakeSession(context.Background(), sp.ID()); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("the session outlived End: %v", err)
	}
	if sp.ID() != s.ID {
		t.Fatalf("session %s for spark %s", s.ID, sp.ID())
	}
}
