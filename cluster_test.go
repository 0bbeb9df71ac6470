package allspark_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// heartbeatBroker hides the MemoryBroker's exact node list, so the servers
// on it find each other by heartbeats, as they do on Redis and NATS. It can
// cut a node off: messages to and from a cut node are dropped, as when the
// node is killed or partitioned.
type heartbeatBroker struct {
	allspark.Broker
	mu  sync.Mutex
	cut map[string]bool
}

func newHeartbeatBroker() *heartbeatBroker {
	return &heartbeatBroker{Broker: allspark.NewMemoryBroker(), cut: make(map[string]bool)}
}

func (b *heartbeatBroker) setCut(node string, cut bool) {
	b.mu.Lock()
	b.cut[node] = cut
	b.mu.Unlock()
}

func (b *heartbeatBroker) isCut(node string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cut[node]
}

func (b *heartbeatBroker) Register(ctx context.Context, node string, h allspark.BrokerHandler) error {
	return b.Broker.Register(ctx, node, cuttable{h: h, node: node, b: b})
}

func (b *heartbeatBroker) Send(ctx context.Context, from, to string, msg []byte) error {
	if b.isCut(from) {
		return nil
	}
	return b.Broker.Send(ctx, from, to, msg)
}

type cuttable struct {
	h    allspark.BrokerHandler
	node string
	b    *heartbeatBroker
}

func (c cuttable) HandlePublication(p *allspark.Publication) int { return c.h.HandlePublication(p) }
func (c cuttable) HandleMessage(from string, msg []byte) {
	if !c.b.isCut(c.node) {
		c.h.HandleMessage(from, msg)
	}
}

var fastCluster = allspark.ClusterOptions{HeartbeatInterval: 40 * time.Millisecond, NodeTTL: 400 * time.Millisecond, RequestTimeout: 2 * time.Second}

// Count, Fetch, ClusterRooms, Join, Leave and Disconnect act on every
// node; Len and Sparks stay local.
func TestClusterWideOperations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		broker func() allspark.Broker
	}{
		{"memory broker", func() allspark.Broker { return allspark.NewMemoryBroker() }},
		{"heartbeats", func() allspark.Broker { return newHeartbeatBroker() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broker := tc.broker()
			var srvs []*allspark.Server
			var peers []*peer
			var base string
			for _, node := range []string{"a", "b", "c"} {
				var srv *allspark.Server
				srv, base = startServer(t, allspark.Options{Broker: broker, NodeID: node, Cluster: fastCluster}, joinRooms)
				srvs = append(srvs, srv)
				peers = append(peers, connectPeer(t, base, "rooms=lobby", client.Options{}))
			}
			extra := connectPeer(t, base, "rooms=other", client.Options{})
			a := srvs[0]
			waitFor(t, "every node knows the others", func() bool {
				for _, s := range srvs {
					if !slices.Equal(s.Nodes(), []string{"a", "b", "c"}) {
						return false
					}
				}
				return true
			})
			ctx := context.Background()
			if n, err := a.Room("lobby").Count(ctx); n != 3 || err != nil {
				t.Fatalf("Count lobby: %d %v", n, err)
			}
			if n := a.Room("lobby").Len(); n != 1 {
				t.Fatalf("Len is this node's: %d", n)
			}
			if n, err := a.All().Count(ctx); n != 4 || err != nil {
				t.Fatalf("Count all: %d %v", n, err)
			}
			carol, _ := srvs[2].Spark(peers[2].id)
			carol.SetUser("carol")
			infos, err := a.Room("lobby").Except(peers[1].id).Fetch(ctx)
			if err != nil || len(infos) != 2 {
				t.Fatalf("Fetch: %+v %v", infos, err)
			}
			if infos[0].Node != "a" || infos[0].Spark == nil || infos[1].Node != "c" || infos[1].Spark != nil ||
				infos[1].ID != peers[2].id || !slices.Equal(infos[1].Rooms, []string{"lobby"}) || infos[1].Protocol == "" || infos[1].User != "carol" || infos[0].User != "" {
				t.Fatalf("Fetch infos: %+v", infos)
			}
			rooms, err := a.ClusterRooms(ctx, "")
			if err != nil || !slices.Equal(rooms, []allspark.RoomCount{{Name: "lobby", Members: 3}, {Name: "other", Members: 1}}) {
				t.Fatalf("ClusterRooms: %+v %v", rooms, err)
			}
			if node, err := a.Locate(ctx, extra.id); node != "c" || err != nil {
				t.Fatalf("Locate: %q %v", node, err)
			}

			// Remote join: the spark on c joins "vip" and gets its writes.
			if n, err := a.To(extra.id).Join(ctx, "vip"); n != 1 || err != nil {
				t.Fatalf("Join: %d %v", n, err)
			}
			if n, err := a.Room("vip").Write("welcome"); n != 1 || err != nil {
				t.Fatalf("write vip: %d %v", n, err)
			}
			extra.expectExactly("extra", "welcome")
			if n, err := a.Room("lobby").Leave(ctx, "lobby"); n != 3 || err != nil {
				t.Fatalf("Leave: %d %v", n, err)
			}
			if n, err := a.Room("lobby").Count(ctx); n != 0 || err != nil {
				t.Fatalf("Count after Leave: %d %v", n, err)
			}
			if n, err := a.Room("vip").Disconnect(ctx, false); n != 1 || err != nil {
				t.Fatalf("Disconnect: %d %v", n, err)
			}
			waitFor(t, "the remote spark ends", func() bool { return srvs[2].Room("vip").Len() == 0 })
			if _, err := a.Locate(ctx, extra.id); !errors.Is(err, allspark.ErrNotFound) {
				t.Fatalf("Locate after Disconnect: %v", err)
			}
		})
	}
}

// A node that stops answering leaves a partial result naming it, and is
// forgotten after NodeTTL; when it comes back it is counted again.
func TestClusterPartialResultAndNodeTTL(t *testing.T) {
	broker := newHeartbeatBroker()
	var srvs []*allspark.Server
	for _, node := range []string{"a", "b", "c"} {
		srv, base := startServer(t, allspark.Options{Broker: broker, NodeID: node, Cluster: fastCluster}, joinRooms)
		srvs = append(srvs, srv)
		connectPeer(t, base, "rooms=lobby", client.Options{})
	}
	a := srvs[0]
	waitFor(t, "membership", func() bool { return len(a.Nodes()) == 3 })

	broker.setCut("c", true)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	n, err := a.Room("lobby").Count(ctx)
	cancel()
	var pe *allspark.PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.Missing, []string{"c"}) || pe.Op != "count" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a partial error naming c, got %v", err)
	}
	if n != 2 {
		t.Fatalf("partial count %d, want the 2 that answered", n)
	}
	waitFor(t, "c forgotten after NodeTTL", func() bool { return slices.Equal(a.Nodes(), []string{"a", "b"}) })
	if n, err := a.Room("lobby").Count(context.Background()); n != 2 || err != nil {
		t.Fatalf("count without c: %d %v", n, err)
	}
	broker.setCut("c", false)
	waitFor(t, "c back", func() bool { return len(a.Nodes()) == 3 })
	if n, err := a.Room("lobby").Count(context.Background()); n != 3 || err != nil {
		t.Fatalf("count with c back: %d %v", n, err)
	}
}

// A node that shuts down says goodbye: the others forget it at once, not
// after NodeTTL.
func TestClusterGoodbye(t *testing.T) {
	broker := newHeartbeatBroker()
	slow := allspark.ClusterOptions{HeartbeatInterval: 40 * time.Millisecond, NodeTTL: time.Hour}
	a, _ := startServer(t, allspark.Options{Broker: broker, NodeID: "a", Cluster: slow}, nil)
	b, err := allspark.New(allspark.Options{Broker: broker, NodeID: "b", Cluster: slow})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "membership", func() bool { return len(a.Nodes()) == 2 })
	if err := b.Shutdown(context.Background(), allspark.ShutdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := a.Nodes(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after goodbye: %v", got)
	}
}

// Malformed node messages are dropped without harm.
func TestClusterIgnoresMalformedMessages(t *testing.T) {
	broker := allspark.NewMemoryBroker()
	a, _ := startServer(t, allspark.Options{Broker: broker, NodeID: "a"}, nil)
	var calls atomic.Int32
	for _, m := range [][]byte{nil, {1}, {9, 'q'}, {1, 'z'}, {1, 'q', 0xff}, {1, 'q', 1, 50}, {1, 'a', 7, 0, 0}} {
		calls.Add(1)
		a.HandleMessage("x", m)
	}
	// An unknown op is answered with ErrUnknownOp, which the asking node
	// sees as a partial result.
	b, _ := startServer(t, allspark.Options{Broker: broker, NodeID: "b"}, nil)
	if _, err := b.Locate(context.Background(), "nobody"); !errors.Is(err, allspark.ErrNotFound) {
		t.Fatalf("Locate over a healthy cluster: %v", err)
	}
	if calls.Load() == 0 {
		t.Fatal("no messages were tried")
	}
}

func FuzzNodeMessage(f *testing.F) {
	f.Add([]byte{1, 'q', 1, 5, 'c', 'o', 'u', 'n', 't', 0, '{', '}'})
	f.Add([]byte{1, 'h', 0, 0, 0})
	f.Add([]byte{1, 'a', 3, 0, 4, 'b', 'u', 's', 'y'})
	broker := allspark.NewMemoryBroker()
	srv, err := allspark.New(allspark.Options{Broker: broker, NodeID: "a"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Shutdown(context.Background(), allspark.ShutdownOptions{}) })
	f.Fuzz(func(t *testing.T, msg []byte) {
		srv.HandleMessage("peer", msg)
	})
}

// wireBroker is a MemoryBroker whose publications cross as bytes, in the
// format Redis and NATS carry, so whatever a publication loses on the wire
// is lost here too.
type wireBroker struct{ *allspark.MemoryBroker }

func (b wireBroker) Publish(ctx context.Context, p *allspark.Publication) (int, error) {
	q, err := allspark.UnmarshalPublication(allspark.MarshalPublication(nil, p))
	if err != nil {
		return 0, err
	}
	return b.MemoryBroker.Publish(ctx, q)
}

// A []byte emitted on a node without Socket.IO clients reaches a Socket.IO
// client on another node as a binary attachment, not as base64 text.
func TestSocketIOBinaryAcrossNodes(t *testing.T) {
	broker := wireBroker{allspark.NewMemoryBroker()}
	a, _ := startServer(t, allspark.Options{Broker: broker, NodeID: "a"}, nil)
	_, baseB := startServer(t, allspark.Options{Broker: broker, NodeID: "b"}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Join("files") })
	})
	c := sioDial(t, baseB)
	sioConnect(t, c)
	waitFor(t, "the socket joined", func() bool { n, _ := a.Room("files").Count(context.Background()); return n == 1 })
	if _, err := a.Room("files").Emit("file", "name.bin", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	c.expect(`451-["file","name.bin",{"_placeholder":true,"num":0}]`)
	if m := c.next(); !m.binary || m.text != "\x01\x02\x03" {
		t.Fatalf("attachment %+v", m)
	}
	// Plain text values carry no second encoding.
	if _, err := a.Room("files").Emit("note", "hi"); err != nil {
		t.Fatal(err)
	}
	c.expect(`42["note","hi"]`)
}

// Target.EmitWithAck collects the replies of sparks on every node: answers,
// ack errors, and the silent ones as missing; a node that does not answer
// adds a PartialError.
func TestEmitWithAckAcrossNodes(t *testing.T) {
	broker := newHeartbeatBroker()
	var srvs []*allspark.Server
	var ids []string
	waited := make(chan struct{}, 1)
	for i, node := range []string{"a", "b", "c"} {
		srv, base := startServer(t, allspark.Options{Broker: broker, NodeID: node, Cluster: fastCluster}, joinRooms)
		srvs = append(srvs, srv)
		p := connectPeer(t, base, "rooms=r", client.Options{})
		switch i {
		case 0, 1: // answer with the node's name and the argument
			name := node
			if err := p.c.On("q", func(_ context.Context, ev *client.NamedEvent) (any, error) {
				return client.Args{name, ev.Args[0]}, nil
			}); err != nil {
				t.Fatal(err)
			}
		case 2: // refuse, and answer "wait" too late
			if err := p.c.On("q", func(context.Context, *client.NamedEvent) (any, error) {
				return nil, &client.CallError{Code: "nope", Message: "refused"}
			}); err != nil {
				t.Fatal(err)
			}
			if err := p.c.On("wait", func(ctx context.Context, _ *client.NamedEvent) (any, error) {
				defer func() { waited <- struct{}{} }()
				time.Sleep(700 * time.Millisecond)
				return "late", nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, p.id)
	}
	waitFor(t, "membership", func() bool { return len(srvs[0].Nodes()) == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	replies, err := srvs[0].Room("r").EmitWithAck(ctx, "q", []any{1.5})
	cancel()
	if err != nil || len(replies) != 3 {
		t.Fatalf("EmitWithAck: %v %+v", err, replies)
	}
	got := map[string]string{}
	for _, r := range replies {
		if r.Err != nil {
			var ee *allspark.EventError
			if !errors.As(r.Err, &ee) || ee.Code != "nope" {
				t.Fatalf("ack error from %s: %v", r.From, r.Err)
			}
			got[r.From] = "refused"
			continue
		}
		got[r.From] = fmt.Sprint(r.Args)
	}
	want := map[string]string{ids[0]: "[a [1.5]]", ids[1]: "[b [1.5]]", ids[2]: "refused"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replies %v, want %v", got, want)
	}

	// A spark on another node that answers too late is missing.
	ctx, cancel = context.WithTimeout(context.Background(), 400*time.Millisecond)
	replies, err = srvs[0].Room("r").EmitWithAck(ctx, "wait")
	cancel()
	var ate *allspark.AckTimeoutError
	if !errors.As(err, &ate) || ate.Missing != 1 || ate.Total != 3 || len(replies) != 2 {
		t.Fatalf("late spark: %v, %d replies", err, len(replies))
	}
	<-waited // c's client handles its events in order
	// A node cut off is named in a PartialError; the others' replies come.
	broker.setCut("b", true)
	ctx, cancel = context.WithTimeout(context.Background(), 400*time.Millisecond)
	replies, err = srvs[0].Room("r").EmitWithAck(ctx, "q", 2)
	cancel()
	var pe *allspark.PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.Missing, []string{"b"}) || errors.As(err, &ate) || len(replies) != 2 {
		t.Fatalf("cut node: %v, %d replies", err, len(replies))
	}
}
