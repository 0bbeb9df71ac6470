package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// registerAll registers recorders for names on b.
func registerAll(t *testing.T, b *Broker, names ...string) map[string]*recorder {
	t.Helper()
	out := make(map[string]*recorder)
	for _, n := range names {
		r := &recorder{}
		if err := b.Register(ctxT(t), n, r); err != nil {
			t.Fatal(err)
		}
		out[n] = r
	}
	return out
}

func TestPublishRoomReachesOnlySubscribers(t *testing.T) {
	b := newTestBroker(t, Options{})
	r := registerAll(t, b, "a", "b", "c")
	ctx := ctxT(t)
	for _, n := range []string{"a", "b"} {
		if err := b.Subscribe(ctx, n, "room"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", Rooms: []string{"room"}, Payload: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	// A marker on the broadcast channel, behind the room publication on
	// the same connection, tells when everything has arrived.
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", All: true, Payload: []byte("end")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b and c get the marker", func() bool {
		return slices.Contains(r["b"].payloads(), "end") && slices.Contains(r["c"].payloads(), "end")
	})
	if got := r["b"].payloads(); !slices.Equal(got, []string{"1", "end"}) {
		t.Errorf("b (subscribed) got %q", got)
	}
	if got := r["c"].payloads(); !slices.Equal(got, []string{"end"}) {
		t.Errorf("c (not subscribed) got %q", got)
	}
	if got := r["a"].payloads(); len(got) != 0 {
		t.Errorf("publisher a got its own publications back: %q", got)
	}
}

func TestPublishBroadcastKinds(t *testing.T) {
	b := newTestBroker(t, Options{})
	r := registerAll(t, b, "a", "b")
	ctx := ctxT(t)
	// None of these is a single-room publication, so each goes to every
	// node, subscribed or not.
	for i, p := range []*allspark.Publication{
		{Node: "a", All: true},
		{Node: "a", Rooms: []string{"x", "y"}},
		{Node: "a", Sparks: []string{"s1"}},
		{Node: "a", Rooms: []string{"x"}, Sparks: []string{"s1"}},
	} {
		p.Payload = []byte(fmt.Sprint(i))
		if _, err := b.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "b gets four broadcasts", func() bool { return len(r["b"].payloads()) == 4 })
	if got := r["b"].payloads(); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Errorf("b got %q", got)
	}
	r["b"].mu.Lock()
	p := r["b"].pubs[3]
	r["b"].mu.Unlock()
	if p.Node != "a" || !slices.Equal(p.Rooms, []string{"x"}) || !slices.Equal(p.Sparks, []string{"s1"}) {
		t.Errorf("publication arrived as %+v", p)
	}
	if len(r["a"].payloads()) != 0 {
		t.Error("publisher got its own broadcasts")
	}
}

func TestSend(t *testing.T) {
	b := newTestBroker(t, Options{})
	r := registerAll(t, b, "a", "b", "c")
	ctx := ctxT(t)
	if err := b.Send(ctx, "a", "b", []byte("to b")); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, "a", "", []byte("to all")); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, "a", "a", []byte("to self")); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, "a", "gone", []byte("nobody")); err != nil {
		t.Fatalf("Send to an unknown node: %v (want silent drop)", err)
	}
	eventually(t, 5*time.Second, "c gets the broadcast", func() bool { return len(r["c"].messages()) == 1 })
	eventually(t, 5*time.Second, "b gets both", func() bool { return len(r["b"].messages()) == 2 })
	if got := r["b"].messages(); got[0] != (message{"a", "to b"}) || got[1] != (message{"a", "to all"}) {
		t.Errorf("b got %+v", got)
	}
	if got := r["c"].messages(); got[0] != (message{"a", "to all"}) {
		t.Errorf("c got %+v", got)
	}
	// A message after everything else, to a, shows a got nothing before.
	if err := b.Send(ctx, "b", "a", []byte("last")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a gets b's message", func() bool { return len(r["a"].messages()) > 0 })
	if got := r["a"].messages(); len(got) != 1 || got[0] != (message{"b", "last"}) {
		t.Errorf("a got %+v (its own messages must not come back)", got)
	}
}

// Each node owns its copy of a broadcast message (the handler owns msg).
func TestSendCopiesPerNode(t *testing.T) {
	b := newTestBroker(t, Options{})
	got := make(chan []byte, 2)
	for _, n := range []string{"b", "c"} {
		if err := b.Register(ctxT(t), n, handlerFunc(func(_ string, m []byte) { got <- m })); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(ctxT(t), "a", "", []byte("xy")); err != nil {
		t.Fatal(err)
	}
	m1, m2 := <-got, <-got
	m1[0] = 'z'
	if string(m2) != "xy" {
		t.Fatalf("nodes share one message buffer: %q", m2)
	}
}

type handlerFunc func(from string, msg []byte)

func (handlerFunc) HandlePublication(*allspark.Publication) int { return 0 }
func (f handlerFunc) HandleMessage(from string, msg []byte)     { f(from, msg) }

func TestUnsubscribeAndUnregister(t *testing.T) {
	b := newTestBroker(t, Options{})
	r := registerAll(t, b, "a", "b", "c")
	ctx := ctxT(t)
	for _, n := range []string{"b", "c"} {
		if err := b.Subscribe(ctx, n, "room"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Unsubscribe(ctx, "b", "room"); err != nil {
		t.Fatal(err)
	}
	if err := b.Unregister(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	b.subMu.Lock()
	_, still := b.subscribed[b.topics.name(b.topics.room, "room")]
	_, nodeCh := b.subscribed[b.topics.name(b.topics.node, "c")]
	b.subMu.Unlock()
	if still || nodeCh {
		t.Errorf("channels of a room and a node nobody wants are still subscribed (room %v, node %v)", still, nodeCh)
	}
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", Rooms: []string{"room"}, Payload: []byte("r")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, "a", "", []byte("end")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b gets the marker", func() bool { return len(r["b"].messages()) == 1 })
	if len(r["b"].payloads()) != 0 || len(r["c"].payloads()) != 0 || len(r["c"].messages()) != 0 {
		t.Errorf("unsubscribed/unregistered nodes got traffic: b %q, c %q %v", r["b"].payloads(), r["c"].payloads(), r["c"].messages())
	}
	if err := b.Subscribe(ctx, "c", "room"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Subscribe for an unregistered node: %v", err)
	}
	if err := b.Register(ctx, "a", &recorder{}); !errors.Is(err, ErrNodeExists) {
		t.Errorf("second Register: %v", err)
	}
}

// Two Broker values (two processes, in effect) under one prefix see each
// other; another prefix is another cluster.
func TestTwoBrokersAndPrefixIsolation(t *testing.T) {
	prefix := randomPrefix()
	b1 := newTestBroker(t, Options{Prefix: prefix})
	b2 := newTestBroker(t, Options{Prefix: prefix})
	other := newTestBroker(t, Options{})
	r1 := registerAll(t, b1, "n1")
	r2 := registerAll(t, b2, "n2")
	ro := registerAll(t, other, "n3")
	ctx := ctxT(t)
	if err := b2.Subscribe(ctx, "n2", "room"); err != nil {
		t.Fatal(err)
	}
	if _, err := b1.Publish(ctx, &allspark.Publication{Node: "n1", Rooms: []string{"room"}, Payload: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	if err := b2.Send(ctx, "n2", "n1", []byte("back")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "traffic between the brokers", func() bool {
		return len(r2["n2"].payloads()) == 1 && len(r1["n1"].messages()) == 1
	})
	if err := other.Send(ctx, "n3", "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b1.Send(ctx, "n1", "", []byte("y")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "n2 gets n1's broadcast", func() bool { return len(r2["n2"].messages()) == 1 })
	if got := r2["n2"].messages(); got[0].from != "n1" {
		t.Errorf("another prefix's traffic crossed over: %+v", got)
	}
	if len(ro["n3"].messages()) != 0 {
		t.Errorf("n3 (other prefix) got %+v", ro["n3"].messages())
	}
	st := b1.BrokerStats()
	if st.Published < 2 || !st.Connected {
		t.Errorf("stats = %+v", st)
	}
	if b2.BrokerStats().Received < 2 {
		t.Errorf("b2 stats = %+v", b2.BrokerStats())
	}
}

func TestClosed(t *testing.T) {
	b := newTestBroker(t, Options{})
	registerAll(t, b, "a")
	b.Close()
	ctx := ctxT(t)
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", All: true}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if err := b.Send(ctx, "a", "", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if err := b.Subscribe(ctx, "a", "r"); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if err := b.Health(); !errors.Is(err, ErrClosed) {
		t.Errorf("Health after Close: %v", err)
	}
}

func TestNewFailsWithoutRedis(t *testing.T) {
	start := time.Now()
	_, err := New(Options{Addrs: []string{"127.0.0.1:1"}, Logger: quietLogger()})
	if err == nil {
		t.Fatal("New connected to nothing")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("New took %v to fail", d)
	}
}

func TestDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.Addrs[0] != DefaultAddr || o.Prefix != "allspark" || o.WriteTimeout != time.Second ||
		o.ProbeInterval != 5*time.Second || o.InboundQueue != 65536 || o.Logger == nil {
		t.Fatalf("defaults = %+v", o)
	}
	_ = context.Background
}
