package nats_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
)

// twoNodes registers nodes "a" and "b" on one Broker of an embedded server.
func twoNodes(t *testing.T, o natsbroker.Options) (*server.Server, *natsbroker.Broker, *recorder, *recorder) {
	t.Helper()
	s := runEmbedded(t, 0)
	o.Servers = []string{s.ClientURL()}
	b := newBroker(t, o)
	ra, rb := newRecorder(), newRecorder()
	if err := b.Register(ctxT(t), "a", ra); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(ctxT(t), "b", rb); err != nil {
		t.Fatal(err)
	}
	return s, b, ra, rb
}

func TestPublishRoomReachesSubscribersOnly(t *testing.T) {
	_, b, ra, rb := twoNodes(t, natsbroker.Options{})
	ctx := ctxT(t)
	rc := newRecorder()
	if err := b.Register(ctx, "c", rc); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if err := b.Subscribe(ctx, n, "room"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.Publish(ctx, &allspark.Publication{Node: "a", Rooms: []string{"room"}, Payload: []byte("hi")})
	if n != 0 || err != nil {
		t.Fatalf("Publish = %d, %v; want 0, nil", n, err)
	}
	waitFor(t, 5*time.Second, "b gets the room publication", func() bool { return rb.hasPayload("hi") })
	settle(t, b, "b", "a", ra)
	settle(t, b, "b", "c", rc)
	if ra.hasPayload("hi") {
		t.Fatal("the publishing node got its own publication back")
	}
	if rc.hasPayload("hi") {
		t.Fatal("a node not subscribed to the room got its single-room publication")
	}
	got := rb.publications()[0]
	if got.Node != "a" || len(got.Rooms) != 1 || got.Rooms[0] != "room" {
		t.Fatalf("received %+v", got)
	}
}

func TestPublishBroadcastReachesEveryOtherNode(t *testing.T) {
	_, b, ra, rb := twoNodes(t, natsbroker.Options{})
	ctx := ctxT(t)
	rc := newRecorder()
	if err := b.Register(ctx, "c", rc); err != nil {
		t.Fatal(err)
	}
	// None of these go on a room subject: no node subscribed any room.
	pubs := []*allspark.Publication{
		{Node: "a", All: true, Payload: []byte("all")},
		{Node: "a", Rooms: []string{"r1", "r2"}, Payload: []byte("two rooms")},
		{Node: "a", Sparks: []string{"s1"}, Payload: []byte("spark")},
		{Node: "a", Rooms: []string{"r1"}, Sparks: []string{"s1"}, Payload: []byte("room+spark")},
	}
	for _, p := range pubs {
		if _, err := b.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pubs {
		for name, r := range map[string]*recorder{"b": rb, "c": rc} {
			waitFor(t, 5*time.Second, fmt.Sprintf("%s gets %q", name, p.Payload), func() bool { return r.hasPayload(string(p.Payload)) })
		}
	}
	settle(t, b, "b", "a", ra)
	if pubs, _ := ra.counts(); pubs != 0 {
		t.Fatalf("publisher got %d of its own publications", pubs)
	}
}

func TestSend(t *testing.T) {
	_, b, ra, rb := twoNodes(t, natsbroker.Options{})
	ctx := ctxT(t)
	rc := newRecorder()
	if err := b.Register(ctx, "c", rc); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, "a", "", []byte("everyone")); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, "a", "c", []byte("just c")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "broadcast to b and c", func() bool {
		return rb.hasMessage("a", "everyone") && rc.hasMessage("a", "everyone")
	})
	waitFor(t, 5*time.Second, "direct to c", func() bool { return rc.hasMessage("a", "just c") })
	settle(t, b, "c", "a", ra)
	settle(t, b, "c", "b", rb)
	if ra.hasMessage("a", "everyone") {
		t.Fatal("sender got its own broadcast")
	}
	if rb.hasMessage("a", "just c") {
		t.Fatal("b got a message sent to c")
	}
	// A message to a node that is gone is dropped silently.
	if err := b.Send(ctx, "a", "nobody", []byte("x")); err != nil {
		t.Fatalf("Send to an unknown node: %v", err)
	}
}

// Nodes on different Broker values (different connections, as in different
// processes) reach each other; a different prefix is a different cluster.
func TestTwoConnectionsAndPrefixes(t *testing.T) {
	s := runEmbedded(t, 0)
	o := natsbroker.Options{Servers: []string{s.ClientURL()}, Prefix: "one"}
	b1, b2 := newBroker(t, o), newBroker(t, o)
	o.Prefix = "two"
	b3 := newBroker(t, o)
	ctx := ctxT(t)
	r1, r2, r3 := newRecorder(), newRecorder(), newRecorder()
	for _, reg := range []struct {
		b *natsbroker.Broker
		n string
		r *recorder
	}{{b1, "n1", r1}, {b2, "n2", r2}, {b3, "n3", r3}} {
		if err := reg.b.Register(ctx, reg.n, reg.r); err != nil {
			t.Fatal(err)
		}
		if err := reg.b.Subscribe(ctx, reg.n, "room"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b1.Publish(ctx, &allspark.Publication{Node: "n1", Rooms: []string{"room"}, Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := b1.Send(ctx, "n1", "", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "n2 gets both", func() bool { return r2.hasPayload("x") && r2.hasMessage("n1", "hello") })
	if err := b3.Send(ctx, "n3", "n3", []byte("self")); err != nil {
		t.Fatal(err)
	}
	// n3 sends to itself, which is filtered; so settle n3 with a second node.
	r4 := newRecorder()
	if err := b3.Register(ctx, "n4", r4); err != nil {
		t.Fatal(err)
	}
	settle(t, b1, "n1", "n2", r2)
	if r3.hasPayload("x") || r3.hasMessage("n1", "hello") {
		t.Fatal("traffic crossed prefixes")
	}
}

// Room names that would be wildcards or several tokens as raw subjects stay
// one literal room each.
func TestRoomNamesAreLiteral(t *testing.T) {
	_, b, _, rb := twoNodes(t, natsbroker.Options{})
	ctx := ctxT(t)
	subscribed := []string{"*", ">", "a.*", "a.>", "a", "", "nul\x00", "spa ce"}
	for _, r := range subscribed {
		if err := b.Subscribe(ctx, "b", r); err != nil {
			t.Fatalf("Subscribe(%q): %v", r, err)
		}
	}
	// Each of these would match one of the subscriptions above if room
	// names were subjects; none is subscribed itself.
	for _, r := range []string{"a.b", "x", "a.b.c", "nul", "spa"} {
		if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", Rooms: []string{r}, Payload: []byte("wrong " + r)}); err != nil {
			t.Fatalf("Publish(%q): %v", r, err)
		}
	}
	for _, r := range subscribed {
		if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", Rooms: []string{r}, Payload: []byte("right " + r)}); err != nil {
			t.Fatalf("Publish(%q): %v", r, err)
		}
	}
	for _, r := range subscribed {
		waitFor(t, 5*time.Second, fmt.Sprintf("room %q", r), func() bool { return rb.hasPayload("right " + r) })
	}
	for _, p := range rb.publications() {
		if bytes.HasPrefix(p.Payload, []byte("wrong")) {
			t.Fatalf("got %q: a room name acted as a wildcard or a prefix", p.Payload)
		}
	}
	if pubs, _ := rb.counts(); pubs != len(subscribed) {
		t.Fatalf("got %d publications, want %d", pubs, len(subscribed))
	}
}

func TestUnsubscribeAndUnregister(t *testing.T) {
	s, b, ra, rb := twoNodes(t, natsbroker.Options{ProbeInterval: -1})
	ctx := ctxT(t)
	base := clientSubs(t, s) // 2 per node: broadcast and node subjects
	if base != 4 {
		t.Fatalf("server has %d subscriptions for two nodes, want 4", base)
	}
	if err := b.Subscribe(ctx, "b", "room"); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx, "b", "room"); err != nil { // idempotent
		t.Fatal(err)
	}
	if got := clientSubs(t, s); got != base+1 {
		t.Fatalf("after Subscribe twice: %d subscriptions, want %d", got, base+1)
	}
	if err := b.Unsubscribe(ctx, "b", "room"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", Rooms: []string{"room"}, Payload: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	settle(t, b, "a", "b", rb)
	if rb.hasPayload("late") {
		t.Fatal("publication delivered after Unsubscribe")
	}
	if err := b.Unregister(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "b's subscriptions gone at the server", func() bool { return clientSubs(t, s) == 2 })
	if err := b.Send(ctx, "a", "b", []byte("gone")); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx, "b", "room"); !errors.Is(err, natsbroker.ErrUnknownNode) {
		t.Fatalf("Subscribe for an unregistered node: %v", err)
	}
	// The name can be registered again.
	rb2 := newRecorder()
	if err := b.Register(ctx, "b", rb2); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(ctx, "b", rb2); !errors.Is(err, natsbroker.ErrNodeExists) {
		t.Fatalf("second Register: %v", err)
	}
	settle(t, b, "a", "b", rb2)
	if rb.hasMessage("a", "gone") || rb2.hasMessage("a", "gone") {
		t.Fatal("message to an unregistered node delivered")
	}
	_ = ra
}

func TestCloseReleasesEverything(t *testing.T) {
	s, b, _, _ := twoNodes(t, natsbroker.Options{})
	ctx := ctxT(t)
	if err := b.Subscribe(ctx, "a", "room"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitFor(t, 5*time.Second, "connection gone at the server", func() bool { return s.NumClients() == 0 })
	if n := clientSubs(t, s); n != 0 {
		t.Fatalf("%d subscriptions left after Close", n)
	}
	for name, err := range map[string]error{
		"Publish":   func() error { _, err := b.Publish(ctx, &allspark.Publication{Node: "a", All: true}); return err }(),
		"Send":      b.Send(ctx, "a", "", nil),
		"Subscribe": b.Subscribe(ctx, "a", "r"),
		"Register":  b.Register(ctx, "z", newRecorder()),
		"Health":    b.Health(),
	} {
		if !errors.Is(err, natsbroker.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// NewWithConn leaves the application's connection open on Close.
func TestNewWithConn(t *testing.T) {
	s := runEmbedded(t, 0)
	nc, err := natsgo.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b, err := natsbroker.NewWithConn(nc, natsbroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ra, rb := newRecorder(), newRecorder()
	if err := b.Register(ctxT(t), "a", ra); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(ctxT(t), "b", rb); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctxT(t), "a", "b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "message", func() bool { return rb.hasMessage("a", "x") })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !nc.IsConnected() {
		t.Fatal("Close closed the application's connection")
	}
	if _, err := natsbroker.NewWithConn(nil, natsbroker.Options{}); !errors.Is(err, natsbroker.ErrBadOptions) {
		t.Fatalf("NewWithConn(nil): %v", err)
	}
}

// A publication or message over the server's max_payload is refused with
// natsgo.ErrMaxPayload; one under it goes through.
func TestMaxPayload(t *testing.T) {
	s := runEmbedded(t, 0, func(o *server.Options) { o.MaxPayload = 4096 })
	b := newBroker(t, natsbroker.Options{Servers: []string{s.ClientURL()}})
	ctx := ctxT(t)
	rb := newRecorder()
	if err := b.Register(ctx, "b", rb); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 5000)
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", All: true, Payload: big}); !errors.Is(err, natsgo.ErrMaxPayload) {
		t.Fatalf("Publish of 5000 bytes under max_payload 4096: %v, want ErrMaxPayload", err)
	}
	if err := b.Send(ctx, "a", "b", big); !errors.Is(err, natsgo.ErrMaxPayload) {
		t.Fatalf("Send of 5000 bytes: %v, want ErrMaxPayload", err)
	}
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "a", All: true, Payload: big[:3000]}); err != nil {
		t.Fatalf("Publish of 3000 bytes: %v", err)
	}
	waitFor(t, 5*time.Second, "the small one", func() bool { p, _ := rb.counts(); return p == 1 })
	if st := b.BrokerStats(); st.Errors < 2 || st.Published != 1 {
		t.Fatalf("stats %+v: want 2 errors, 1 published", st)
	}
}

func TestNewFailsClearly(t *testing.T) {
	port := freePort(t) // nothing listens there
	_, err := natsbroker.New(natsbroker.Options{Servers: []string{fmt.Sprintf("nats://127.0.0.1:%d", port)}})
	if err == nil || !errors.Is(err, natsgo.ErrNoServers) {
		t.Fatalf("New with no server: %v", err)
	}
	if _, err := natsbroker.New(natsbroker.Options{Prefix: "a.>"}); !errors.Is(err, natsbroker.ErrBadOptions) {
		t.Fatalf("New with a wildcard prefix: %v", err)
	}
}

func TestStatsCount(t *testing.T) {
	_, b, _, rb := twoNodes(t, natsbroker.Options{})
	ctx := ctxT(t)
	for i := range 10 {
		if err := b.Send(ctx, "a", "b", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "10 messages", func() bool { _, m := rb.counts(); return m == 10 })
	st := b.BrokerStats()
	if st.Published != 10 || st.Received != 10 || !st.Connected || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := b.Health(); err != nil {
		t.Fatalf("Health: %v", err)
	}
}

// Bytes on the broker's subjects that are not an envelope (another app, an
// older version) are counted as errors and dropped; the node carries on.
func TestGarbageOnSubjectsIsDropped(t *testing.T) {
	s, b, _, rb := twoNodes(t, natsbroker.Options{Prefix: "g"})
	nc, err := natsgo.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, junk := range [][]byte{nil, []byte("x"), []byte("p\x09"), []byte("m\xff\xff"), []byte("k")} {
		if err := nc.Publish("g.all", junk); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	settle(t, b, "a", "b", rb)
	if st := b.BrokerStats(); st.Errors < 10 { // 5 junk messages × 2 nodes
		t.Fatalf("stats %+v: want 10 errors for 5 malformed messages seen by 2 nodes", st)
	}
	if p, m := rb.counts(); p != 0 || m != 1 {
		t.Fatalf("handler got %d publications and %d messages, want only the settle marker", p, m)
	}
}

// Unregister returns once the node's handler is no longer called; a handler
// stuck past the caller's context makes it return the context's error, and
// the queued rest is dropped rather than delivered later.
func TestUnregisterWaitsForTheHandler(t *testing.T) {
	_, b, _, rb := twoNodes(t, natsbroker.Options{})
	rb.block, rb.entered = make(chan struct{}), make(chan struct{}, 1)
	ctx := ctxT(t)
	for i := range 5 {
		if err := b.Send(ctx, "a", "b", []byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-rb.entered: // stuck in the first call, four more queued
	case <-ctx.Done():
		t.Fatal("handler never called")
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := b.Unregister(short, "b"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Unregister with the handler stuck: %v", err)
	}
	close(rb.block)
	time.Sleep(100 * time.Millisecond)
	if _, m := rb.counts(); m > 1 {
		t.Fatalf("handler called %d times after Unregister, want only the call in progress", m)
	}
}
