package nats_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
	"github.com/allspark/allspark/client"
)

// Presence over NATS: nodes with their own connections; deltas, refreshes
// and sync answers travel on the broadcast and node subjects. A read lists
// the other node's spark, a hook hears its join and leave, and a node that
// starts late learns the entries at once.
func TestPresenceOnNATS(t *testing.T) {
	url, prefix := sharedNATS(t), randomPrefix()
	start := func(name string) (*allspark.Server, string, chan allspark.PresenceEvent) {
		b := newBroker(t, natsbroker.Options{Servers: []string{url}, Prefix: prefix})
		srv, err := allspark.New(allspark.Options{
			Broker: b, NodeID: name, Cluster: fastCluster,
			Presence: allspark.PresenceOptions{Rooms: []string{"chat:*"}, TTL: time.Hour},
		})
		if err != nil {
			t.Fatal(err)
		}
		evs := make(chan allspark.PresenceEvent, 64)
		srv.OnPresence(func(ev allspark.PresenceEvent) {
			select {
			case evs <- ev:
			default:
			}
		})
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Join("chat:1") })
		hs := httptest.NewServer(srv)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx, allspark.ShutdownOptions{Timeout: time.Second})
			hs.Close()
		})
		return srv, hs.URL, evs
	}
	a, _, aEvents := start("a")
	b, baseB, _ := start("b")
	waitFor(t, 10*time.Second, "a and b know each other", func() bool { return len(a.Nodes()) == 2 && len(b.Nodes()) == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, baseB+"/primus", client.Options{Strategy: client.StrategyNone})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Destroy(); <-c.Done() }()
	id, err := c.ID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait := func(action string) allspark.PresenceEvent {
		t.Helper()
		for {
			select {
			case ev := <-aEvents:
				if ev.SparkID == id && ev.Action == action {
					return ev
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("a heard no %s of b's spark", action)
			}
		}
	}
	if ev := wait(allspark.PresenceJoin); ev.Node != "b" || ev.Room != "chat:1" {
		t.Fatalf("join: %+v", ev)
	}
	entries, err := a.Presence(ctx, "chat:1")
	if err != nil || len(entries) != 1 || entries[0].SparkID != id || entries[0].Node != "b" {
		t.Fatalf("Presence on a: %+v %v", entries, err)
	}
	late, _, _ := start("c")
	waitFor(t, 10*time.Second, "c learns b's entry from its sync", func() bool { return late.PresenceStats().Remote == 1 })
	c.Destroy()
	<-c.Done()
	if ev := wait(allspark.PresenceLeave); ev.Expired {
		t.Fatalf("leave: %+v", ev)
	}
	waitFor(t, 10*time.Second, "c drops it too", func() bool { return late.PresenceStats().Remote == 0 })
}
