package redis

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// Presence over Redis: three nodes, each with its own Broker value as
// separate processes would have; the deltas, refreshes and sync answers
// travel on the broadcast and per-node channels. A read lists every node's
// sparks, another node's hook hears of each join and leave, and a node
// that starts late learns the entries at once.
func TestPresenceOnRedis(t *testing.T) {
	prefix := randomPrefix()
	start := func(node string) (*allspark.Server, string, chan allspark.PresenceEvent) {
		srv, err := allspark.New(allspark.Options{
			Broker: newTestBroker(t, Options{Prefix: prefix}), NodeID: node, Cluster: fastCluster, Logger: quietLogger(),
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
		joinRooms(srv)
		hs := httptest.NewServer(srv)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx, allspark.ShutdownOptions{Timeout: time.Second})
			hs.Close()
		})
		return srv, hs.URL, evs
	}
	a, _, aEvents := start("a")
	b, baseB, _ := start("b")
	eventually(t, 10*time.Second, "a and b know each other", func() bool { return len(a.Nodes()) == 2 && len(b.Nodes()) == 2 })
	p := connectPeer(t, baseB, "rooms=chat:1")
	wait := func(action string) allspark.PresenceEvent {
		t.Helper()
		for {
			select {
			case ev := <-aEvents:
				if ev.SparkID == p.id && ev.Action == action {
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
	entries, err := a.Presence(ctxT(t), "chat:1")
	if err != nil || len(entries) != 1 || entries[0].SparkID != p.id || entries[0].Node != "b" {
		t.Fatalf("Presence on a: %+v %v", entries, err)
	}
	c, _, _ := start("c")
	eventually(t, 10*time.Second, "c learns b's entry from its sync", func() bool { return c.PresenceStats().Remote == 1 })
	p.c.Destroy()
	<-p.c.Done()
	if ev := wait(allspark.PresenceLeave); ev.Expired {
		t.Fatalf("leave: %+v", ev)
	}
	eventually(t, 10*time.Second, "c drops it too", func() bool { return c.PresenceStats().Remote == 0 })
}
