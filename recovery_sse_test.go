package allspark_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/allspark/allspark"
)

// An EventSource that reconnects with its last event id gets its spark
// back and what it missed, exactly once, then live events.
func TestSSELastEventIDResumes(t *testing.T) {
	srv, base := startServer(t, historyOpts(), nil)
	s := sseOpen(t, base+"/primus/sse?rooms=chat:1", nil)
	sp := onlySpark(t, srv)
	publishN(t, srv, "chat:1", 1, 2)
	var last string
	for i := 1; i <= 2; i++ {
		ev := s.next()
		if ev.data != strconv.Itoa(i) || !strings.Contains(ev.id, "~") {
			t.Fatalf("event %d: %+v", i, ev)
		}
		last = ev.id
	}
	s.res.Body.Close()
	waitFor(t, "the stream to end", func() bool { return srv.Len() == 0 })
	publishN(t, srv, "chat:1", 3, 50)

	s2 := sseOpen(t, base+"/primus/sse?rooms=chat:1", http.Header{"Last-Event-ID": {last}})
	for i := 3; i <= 50; i++ {
		if ev := s2.next(); ev.data != strconv.Itoa(i) {
			t.Fatalf("replayed event %d: %+v", i, ev)
		}
	}
	publishN(t, srv, "chat:1", 51, 51)
	if ev := s2.next(); ev.data != "51" {
		t.Fatalf("live event: %+v", ev)
	}
	sp2 := onlySpark(t, srv)
	if sp2.ID() != sp.ID() || !sp2.Restored() || !sp2.Recovered() {
		t.Fatalf("spark %s (was %s) restored %v recovered %v", sp2.ID(), sp.ID(), sp2.Restored(), sp2.Recovered())
	}
}

// A stream that cannot be recovered is told so by an event before
// anything else, and nothing missed is replayed.
func TestSSEUnrecoveredEvent(t *testing.T) {
	opts := historyOpts()
	opts.History.Rooms[0].Size = 5
	srv, base := startServer(t, opts, nil)
	s := sseOpen(t, base+"/primus/sse?rooms=chat:1", nil)
	onlySpark(t, srv)
	publishN(t, srv, "chat:1", 1, 1)
	last := s.next().id
	s.res.Body.Close()
	waitFor(t, "the stream to end", func() bool { return srv.Len() == 0 })
	publishN(t, srv, "chat:1", 2, 20)
	s2 := sseOpen(t, base+"/primus/sse?rooms=chat:1", http.Header{"Last-Event-ID": {last}})
	ev := s2.next()
	if ev.event != allspark.UnrecoveredEvent || ev.data != `"truncated"` {
		t.Fatalf("first event: %+v", ev)
	}
	publishN(t, srv, "chat:1", 21, 21)
	if ev := s2.next(); ev.data != "21" {
		t.Fatalf("next event: %+v", ev)
	}
}

// Sparks on several servers sharing one broker: a session ended on one
// node is restored on another, and a history write from any node reaches
// every member in one order.
func TestRecoveryAcrossNodes(t *testing.T) {
	b := allspark.NewMemoryBroker()
	optsA, optsB := historyOpts(), historyOpts()
	optsA.Broker, optsB.Broker = b, b
	optsA.NodeID, optsB.NodeID = "a", "b"
	srvA, baseA := startServer(t, optsA, joinChat)
	srvB, baseB := startServer(t, optsB, joinChat)
	c, s, epoch := connectFresh(t, baseA)
	publishN(t, srvB, "chat:1", 1, 2) // from the other node
	expectStamped(t, c, "chat:1", epoch, 1, 2)
	cut(t, srvA, c)
	publishN(t, srvA, "chat:1", 3, 10)
	c2 := dial(t, baseB, "/primus?_session="+s.Token+"&_since="+sinceQuery("chat:1", 2, epoch), nil)
	if s2 := readSession(t, c2); !s2.Recovered || s2.ID != s.ID {
		t.Fatalf("restore on the other node: %+v", s2)
	}
	expectStamped(t, c2, "chat:1", epoch, 3, 10)
	publishN(t, srvA, "chat:1", 11, 11)
	expectStamped(t, c2, "chat:1", epoch, 11, 11)
	if n, err := srvA.Room("chat:1").Count(context.Background()); err != nil || n != 1 {
		t.Fatalf("cluster count %d %v", n, err)
	}
}

// A write that excludes a member moves that member's position on without
// the message, live and in a replay, so it sees no gap.
func TestHistoryExceptAnnounces(t *testing.T) {
	srv, base := startServer(t, historyOpts(), joinChat)
	c, s, epoch := connectFresh(t, base)
	if _, err := srv.Room("chat:1").Except(s.ID).Write("hidden"); err != nil {
		t.Fatal(err)
	}
	if w := readWire(t, c); w.Offset != 1 || w.Data != nil {
		t.Fatalf("excluded member got %+v", w)
	}
	cut(t, srv, c)
	if _, err := srv.Room("chat:1").Except(s.ID).Write("hidden"); err != nil {
		t.Fatal(err)
	}
	publishN(t, srv, "chat:1", 3, 3)
	c2 := dial(t, base, "/primus?_session="+s.Token+"&_since="+sinceQuery("chat:1", 1, epoch), nil)
	if s2 := readSession(t, c2); !s2.Recovered {
		t.Fatalf("%+v", s2)
	}
	if w := readWire(t, c2); w.Offset != 2 || w.Data != nil {
		t.Fatalf("replay of an excluded write: %+v", w)
	}
	expectStamped(t, c2, "chat:1", epoch, 3, 3)
}

// A live message that skips an offset (a broker dropped one on its way to
// this node) cuts a stream that carries positions, so its client
// reconnects from its last id and the replay fills the gap.
func TestSSEGapCutsTheStream(t *testing.T) {
	srv, base := startServer(t, historyOpts(), nil)
	s := sseOpen(t, base+"/primus/sse?rooms=chat:1", nil)
	onlySpark(t, srv)
	publishN(t, srv, "chat:1", 1, 1)
	if ev := s.next(); ev.data != "1" {
		t.Fatalf("first event %+v", ev)
	}
	msgs, top, err := srv.History(context.Background(), "chat:1", allspark.HistoryQuery{})
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	// Offset 3 without 2, as if the broker had lost 2.
	srv.HandlePublication(&allspark.Publication{Node: "x", Rooms: []string{"chat:1"}, Payload: []byte("3"), Pos: allspark.Position{Offset: 3, Epoch: top.Epoch}})
	rest := s.end()
	if strings.Contains(rest, "data: 3") {
		t.Fatalf("the message past the gap was sent: %q", rest)
	}
	waitFor(t, "the spark to end", func() bool { return srv.Len() == 0 })
}
