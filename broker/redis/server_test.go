package redis

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// Three allspark servers on Redis: a room spanning them, writes to one
// spark on another node, Locate, Count, remote Disconnect. Each node has
// its own Broker value (as separate processes would), or all share one.
func TestServersOnRedis(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := "broker per node"
		if shared {
			name = "one broker"
		}
		t.Run(name, func(t *testing.T) {
			prefix := randomPrefix()
			var one *Broker
			if shared {
				one = newTestBroker(t, Options{Prefix: prefix})
			}
			var srvs []*allspark.Server
			var peers []*peer
			nodes := []string{"a", "b", "c"}
			for _, node := range nodes {
				b := one
				if b == nil {
					b = newTestBroker(t, Options{Prefix: prefix})
				}
				srv, base := startServer(t, b, node)
				srvs = append(srvs, srv)
				peers = append(peers, connectPeer(t, base, "rooms=lobby"))
			}
			eventually(t, 10*time.Second, "every node knows the others", func() bool {
				for _, s := range srvs {
					if !slices.Equal(s.Nodes(), nodes) {
						return false
					}
				}
				return true
			})
			a := srvs[0]
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			if _, err := a.Room("lobby").Write("hello lobby"); err != nil {
				t.Fatal(err)
			}
			for i, p := range peers {
				p.expect(t, nodes[i], "hello lobby")
				p.reset()
			}
			// One spark on another node, through the broadcast channel.
			if _, err := a.To(peers[2].id).Write("for c only"); err != nil {
				t.Fatal(err)
			}
			peers[2].expect(t, "c", "for c only")
			peers[1].expect(t, "b")
			peers[2].reset()

			if node, err := a.Locate(ctx, peers[1].id); node != "b" || err != nil {
				t.Fatalf("Locate: %q %v", node, err)
			}
			if n, err := a.Room("lobby").Count(ctx); n != 3 || err != nil {
				t.Fatalf("Count: %d %v", n, err)
			}
			if n, err := a.To(peers[2].id).Disconnect(ctx, false); n != 1 || err != nil {
				t.Fatalf("Disconnect: %d %v", n, err)
			}
			eventually(t, 10*time.Second, "the remote spark ends", func() bool { return srvs[2].Room("lobby").Len() == 0 })
			if _, err := a.Locate(ctx, peers[2].id); !errors.Is(err, allspark.ErrNotFound) {
				t.Fatalf("Locate after Disconnect: %v", err)
			}
			if n, err := a.Room("lobby").Count(ctx); n != 2 || err != nil {
				t.Fatalf("Count after Disconnect: %d %v", n, err)
			}
		})
	}
}

// Redis is killed and restarted under two servers: local delivery goes on
// during the outage, room writes to the other node fail fast, and after the
// restart traffic flows again with nobody re-joining a room.
func TestServersSurviveRedisRestart(t *testing.T) {
	own := startOwnRedis(t)
	prefix := randomPrefix()
	opts := Options{Addrs: []string{own.addr()}, Prefix: prefix, ProbeInterval: 300 * time.Millisecond}
	a, baseA := startServer(t, newTestBroker(t, opts), "a")
	_, baseB := startServer(t, newTestBroker(t, opts), "b")
	pa := connectPeer(t, baseA, "rooms=lobby")
	pb := connectPeer(t, baseB, "rooms=lobby")
	eventually(t, 10*time.Second, "a knows b", func() bool { return len(a.Nodes()) == 2 })

	if _, err := a.Room("lobby").Write("before"); err != nil {
		t.Fatal(err)
	}
	pa.expect(t, "a", "before")
	pb.expect(t, "b", "before")
	pa.reset()
	pb.reset()

	// Traffic runs throughout: a write every 20 ms from a, while Redis is
	// killed and, later, restarted.
	stopTraffic := make(chan struct{})
	trafficDone := make(chan struct{})
	var slowest time.Duration
	var failed, local int
	go func() {
		defer close(trafficDone)
		for {
			select {
			case <-stopTraffic:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			n, err := a.Room("lobby").Write("traffic")
			slowest = max(slowest, time.Since(start))
			local += n
			var be *allspark.BrokerError
			if errors.As(err, &be) {
				failed++
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	own.stop()
	eventually(t, 10*time.Second, "writes fail during the outage", func() bool {
		n, err := a.Room("lobby").Write("during")
		return err != nil && n == 1
	})
	time.Sleep(time.Second)
	if n, err := a.Room("lobby").Write("local"); n != 1 || err == nil {
		t.Errorf("write during the outage: %d deliveries, err %v (want 1 local and a BrokerError)", n, err)
	}
	eventually(t, 10*time.Second, "a's own spark gets the write", func() bool { return slices.Contains(pa.received(), "local") })

	own.start()
	// Publications are at most once: keep writing until one gets through.
	eventually(t, 15*time.Second, "b receives again", func() bool {
		_, _ = a.Room("lobby").Write("after")
		time.Sleep(100 * time.Millisecond)
		return slices.Contains(pb.received(), "after")
	})
	close(stopTraffic)
	<-trafficDone
	t.Logf("traffic: %d local deliveries, %d writes failed remotely, slowest write %v", local, failed, slowest)
	if failed == 0 {
		t.Error("no write failed during the outage")
	}
	if slowest > 2*time.Second {
		t.Errorf("a write during the outage took %v", slowest)
	}
	if got := pb.received(); slices.Contains(got, "during") || slices.Contains(got, "local") {
		t.Errorf("b got an outage write: %q", got)
	}
}
