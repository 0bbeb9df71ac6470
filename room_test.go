package allspark_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// peer is a Go client that records the data and named events it receives.
type peer struct {
	t    testing.TB
	c    *client.Client
	mu   sync.Mutex
	got  []string
	errs []error
	id   string
}

// joinRooms is a server setup: every spark joins the rooms listed in its
// ?rooms=a,b query.
func joinRooms(srv *allspark.Server) {
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if q := sp.Query().Get("rooms"); q != "" {
			return sp.Join(strings.Split(q, ",")...)
		}
		return nil
	})
}

func connectPeer(t testing.TB, base, query string, opts client.Options) *peer {
	t.Helper()
	p := &peer{t: t}
	opts.OnEvent = func(ev client.Event) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch ev.Kind {
		case client.EventData:
			p.got = append(p.got, fmt.Sprint(ev.Data))
		case client.EventError:
			p.errs = append(p.errs, ev.Err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	c, err := client.Dial(ctx, base+"/primus?"+query, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Destroy()
		<-c.Done()
	})
	id, err := c.ID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.c, p.id = c, id
	return p
}

func (p *peer) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

// waitFor waits until the peer has received want (in any order) and then
// checks it received nothing else.
func (p *peer) expectExactly(name string, want ...string) {
	p.t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		got := p.received()
		if len(got) >= len(want) || time.Now().After(deadline) {
			slices.Sort(got)
			w := slices.Clone(want)
			slices.Sort(w)
			if !slices.Equal(got, w) {
				p.t.Errorf("%s received %q, want %q", name, got, w)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRoomMembershipAndHooks(t *testing.T) {
	var mu sync.Mutex
	var log []string
	srv, base := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		joinRooms(srv)
		srv.OnJoin(func(sp *allspark.Spark, room string) {
			mu.Lock()
			log = append(log, "join "+room)
			mu.Unlock()
		})
		srv.OnLeave(func(sp *allspark.Spark, room string) {
			mu.Lock()
			log = append(log, fmt.Sprintf("leave %s closed=%v", room, sp.ReadyState() == allspark.Closed))
			mu.Unlock()
		})
	})
	p := connectPeer(t, base, "rooms=red,blue,red", client.Options{})
	sp, ok := srv.Spark(p.id)
	if !ok {
		t.Fatal("spark not found")
	}
	if got := sp.Rooms(); !slices.Equal(got, []string{"blue", "red"}) {
		t.Fatalf("Rooms = %v", got)
	}
	if got := srv.RoomNames(); !slices.Equal(got, []string{"blue", "red"}) {
		t.Fatalf("RoomNames = %v", got)
	}
	if err := sp.Join("red"); err != nil { // already a member: no-op, no hook
		t.Fatal(err)
	}
	if err := sp.Join("green", ""); !errors.Is(err, allspark.ErrInvalidRoom) {
		t.Fatalf("Join with empty name: %v", err)
	}
	if sp.InRoom("green") {
		t.Fatal("a failed Join must join nothing")
	}
	if err := sp.Join(strings.Repeat("x", allspark.MaxRoomNameLen+1)); !errors.Is(err, allspark.ErrInvalidRoom) {
		t.Fatalf("Join with long name: %v", err)
	}
	if err := sp.Leave("blue", "never-joined"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Room("blue").Len(); got != 0 {
		t.Fatalf("blue has %d members after leave", got)
	}
	if got := srv.Room("red").Sparks(); len(got) != 1 || got[0] != sp {
		t.Fatalf("red members = %v", got)
	}

	p.c.Destroy()
	waitFor(t, "automatic leave", func() bool { return len(srv.RoomNames()) == 0 })
	if err := sp.Join("late"); !errors.Is(err, allspark.ErrClosed) {
		t.Fatalf("Join after end: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"join red", "join blue", "leave blue closed=false", "leave red closed=true"}
	if !slices.Equal(log, want) {
		t.Fatalf("hooks ran %q, want %q", log, want)
	}
}

// Several clients in different rooms: who receives what, and who does not.
func TestRoomDeliveryWhoReceivesWhat(t *testing.T) {
	srv, base := startServer(t, allspark.Options{}, joinRooms)
	a := connectPeer(t, base, "rooms=red", client.Options{})
	b := connectPeer(t, base, "rooms=red,blue", client.Options{})
	c := connectPeer(t, base, "rooms=blue", client.Options{})
	d := connectPeer(t, base, "", client.Options{})
	e := connectPeer(t, base, "rooms=red,green", client.Options{})

	writes := []struct {
		target allspark.Target
		msg    string
		want   int
	}{
		{srv.Room("red"), "1", 3},                            // a b e
		{srv.Room("red", "blue"), "2", 4},                    // a b c e, b once
		{srv.Room("red").Except(a.id, e.id), "3", 1},         // b
		{srv.To(c.id, d.id), "4", 2},                         // c d
		{srv.Room("blue").To(d.id, b.id), "5", 3},            // b c d, b once
		{srv.Room("nobody"), "6", 0},                         // none
		{srv.Room("green", "red").Except(b.id), "7", 2},      // a e
		{srv.To("no-such-spark"), "8", 0},                    // none
		{srv.Room("blue", "blue").Except(c.id), "9", 1},      // b
		{srv.Room("red").Room("blue").Except(d.id), "10", 4}, // a b c e
	}
	for _, w := range writes {
		n, err := w.target.Write(w.msg)
		if err != nil || n != w.want {
			t.Fatalf("write %s: n=%d err=%v, want %d", w.msg, n, err, w.want)
		}
	}
	a.expectExactly("a", "1", "2", "7", "10")
	b.expectExactly("b", "1", "2", "3", "5", "9", "10")
	c.expectExactly("c", "2", "4", "5", "10")
	d.expectExactly("d", "4", "5")
	e.expectExactly("e", "1", "2", "7", "10")
	// Nothing late: a final broadcast arrives after everything above.
	if _, err := srv.Broadcast("end"); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*peer{"a": a, "b": b, "c": c, "d": d, "e": e} {
		waitFor(t, name+" end", func() bool { got := p.received(); return len(got) > 0 && got[len(got)-1] == "end" })
	}
	a.expectExactly("a", "1", "2", "7", "10", "end")
	d.expectExactly("d", "4", "5", "end")

	if _, err := srv.Room("red").Write("primus::server::close"); !errors.Is(err, allspark.ErrReserved) {
		t.Fatalf("reserved write: %v", err)
	}
	if _, err := srv.Room("red").Emit("open"); !errors.Is(err, allspark.ErrReserved) {
		t.Fatalf("reserved emit: %v", err)
	}
}

// Room writes and lookups cross between servers that share a broker.
func TestRoomsAcrossNodes(t *testing.T) {
	broker := allspark.NewMemoryBroker()
	srvA, baseA := startServer(t, allspark.Options{Broker: broker, NodeID: "a"}, joinRooms)
	srvB, baseB := startServer(t, allspark.Options{Broker: broker, NodeID: "b"}, joinRooms)
	if _, err := allspark.New(allspark.Options{Broker: broker, NodeID: "a"}); !errors.Is(err, allspark.ErrNodeExists) {
		t.Fatalf("duplicate node: %v", err)
	}
	a1 := connectPeer(t, baseA, "rooms=lobby", client.Options{})
	b1 := connectPeer(t, baseB, "rooms=lobby", client.Options{})
	b2 := connectPeer(t, baseB, "rooms=other", client.Options{})

	if n, err := srvA.Room("lobby").Write("hi"); err != nil || n != 2 {
		t.Fatalf("cross-node room write: n=%d err=%v", n, err)
	}
	if n, err := srvB.Room("lobby").Except(a1.id).Write("from b"); err != nil || n != 1 {
		t.Fatalf("except across nodes: n=%d err=%v", n, err)
	}
	if n, err := srvA.To(b2.id).Write("direct"); err != nil || n != 1 {
		t.Fatalf("To a spark on another node: n=%d err=%v", n, err)
	}
	if n, err := srvB.Broadcast("everyone"); err != nil || n != 3 {
		t.Fatalf("Broadcast across nodes: n=%d err=%v", n, err)
	}
	if n, err := srvA.All().Except(b2.id, a1.id).Write("all but two"); err != nil || n != 1 {
		t.Fatalf("All().Except across nodes: n=%d err=%v", n, err)
	}
	a1.expectExactly("a1", "hi", "everyone")
	b1.expectExactly("b1", "hi", "from b", "everyone", "all but two")
	b2.expectExactly("b2", "direct", "everyone")

	ctx := context.Background()
	if node, err := srvA.Locate(ctx, b2.id); err != nil || node != "b" {
		t.Fatalf("Locate remote: %q %v", node, err)
	}
	if node, err := srvA.Locate(ctx, a1.id); err != nil || node != "a" {
		t.Fatalf("Locate local: %q %v", node, err)
	}
	if _, err := srvA.Locate(ctx, "nope"); !errors.Is(err, allspark.ErrNotFound) {
		t.Fatalf("Locate missing: %v", err)
	}
	// Local views stay local.
	if srvA.Room("lobby").Len() != 1 || srvB.Room("lobby").Len() != 1 {
		t.Fatal("Len must count this node only")
	}
	// When B's last lobby member leaves, B unsubscribes: A's writes stop
	// reaching B.
	spB1, _ := srvB.Spark(b1.id)
	if err := spB1.Leave("lobby"); err != nil {
		t.Fatal(err)
	}
	if n, err := srvA.Room("lobby").Write("after"); err != nil || n != 1 {
		t.Fatalf("after leave: n=%d err=%v", n, err)
	}
	a1.expectExactly("a1", "hi", "everyone", "after")
	b1.expectExactly("b1", "hi", "from b", "everyone", "all but two")
}

// failingBroker is a MemoryBroker whose subscribe and publish fail, to see
// what a broker outage does to rooms: local membership and delivery go on,
// and the caller is told.
type failingBroker struct {
	*allspark.MemoryBroker
	unsubscribed *atomic.Int32
}

var errBrokerDown = errors.New("broker down")

func (failingBroker) Subscribe(context.Context, string, string) error { return errBrokerDown }
func (b failingBroker) Unsubscribe(context.Context, string, string) error {
	b.unsubscribed.Add(1)
	return errBrokerDown
}
func (failingBroker) Publish(context.Context, *allspark.Publication) (int, error) {
	return 0, errBrokerDown
}
func (failingBroker) HasPeers(string) bool { return true }

func TestRoomsWhenTheBrokerFails(t *testing.T) {
	broker := failingBroker{allspark.NewMemoryBroker(), new(atomic.Int32)}
	srv, base := startServer(t, allspark.Options{Broker: broker}, nil)
	p := connectPeer(t, base, "", client.Options{})
	sp, _ := srv.Spark(p.id)
	err := sp.Join("lobby")
	var be *allspark.BrokerError
	if !errors.As(err, &be) || be.Op != "subscribe" || be.Room != "lobby" || !errors.Is(err, errBrokerDown) {
		t.Fatalf("Join with a failing broker: %v", err)
	}
	if !sp.InRoom("lobby") {
		t.Fatal("local membership must stand when the broker fails")
	}
	n, err := srv.Room("lobby").Write("local still works")
	if n != 1 || !errors.As(err, &be) || be.Op != "publish" {
		t.Fatalf("Write with a failing broker: n=%d err=%v", n, err)
	}
	p.expectExactly("p", "local still works")
	// The broker recorded the interest despite the error, so the last
	// member's leave must withdraw it.
	if err := sp.Leave("lobby"); !errors.As(err, &be) || be.Op != "unsubscribe" {
		t.Fatalf("Leave with a failing broker: %v", err)
	}
	if broker.unsubscribed.Load() != 1 {
		t.Fatalf("Unsubscribe called %d times, want 1", broker.unsubscribed.Load())
	}
}
