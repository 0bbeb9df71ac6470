package redis

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/redis/rueidis"
)

// startRedisCluster runs a three-master Redis Cluster of the test's own
// and returns its node addresses.
func startRedisCluster(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not installed")
	}
	var addrs []string
	for range 3 {
		r := startOwnRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		addrs = append(addrs, r.addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	eventually(t, 20*time.Second, "cluster_state:ok on every node", func() bool {
		for _, a := range addrs {
			host, port, _ := strings.Cut(a, ":")
			out, err := exec.Command("redis-cli", "-h", host, "-p", port, "cluster", "info").Output()
			if err != nil || !bytes.Contains(out, []byte("cluster_state:ok")) {
				return false
			}
		}
		return true
	})
	return addrs
}

// In Cluster mode two brokers seeded with different nodes exchange room
// publications and messages, and the room channel is hash-tagged.
func TestClusterMode(t *testing.T) {
	t.Parallel()
	addrs := startRedisCluster(t)
	prefix := randomPrefix()
	b1 := newTestBroker(t, Options{Addrs: addrs[:1], Cluster: true, Prefix: prefix, ProbeInterval: 200 * time.Millisecond})
	b2 := newTestBroker(t, Options{Addrs: addrs[2:], Cluster: true, Prefix: prefix})
	registerAll(t, b1, "n1")
	r2 := registerAll(t, b2, "n2")
	ctx := ctxT(t)
	if err := b2.Subscribe(ctx, "n2", "room"); err != nil {
		t.Fatal(err)
	}
	for _, room := range []string{"room", "other"} {
		if _, err := b1.Publish(ctx, &allspark.Publication{Node: "n1", Rooms: []string{room}, Payload: []byte(room)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b1.Send(ctx, "n1", "n2", []byte("direct")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "n2 gets the room publication and the message", func() bool {
		return len(r2["n2"].payloads()) == 1 && len(r2["n2"].messages()) == 1
	})
	if got := r2["n2"].payloads(); got[0] != "room" {
		t.Errorf("n2 got %q", got)
	}
	// The subscription is visible on the node b2 listens on, tagged.
	want := prefix + ":r:{room}"
	found := false
	for _, a := range addrs {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{a}, ForceSingleClient: true, DisableCache: true})
		if err != nil {
			t.Fatal(err)
		}
		chans, err := c.Do(context.Background(), c.B().PubsubChannels().Pattern(prefix+":*").Build()).AsStrSlice()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chans {
			found = found || ch == want
		}
	}
	if !found {
		t.Errorf("no node has %q subscribed", want)
	}
	// Probes come back through the cluster too.
	eventually(t, 10*time.Second, "three probes", func() bool { return b1.probeSent.Load() >= 3 })
	if err := b1.Health(); err != nil || b1.BrokerStats().Reconnects != 0 {
		t.Errorf("Health %v, stats %+v", err, b1.BrokerStats())
	}
}

// In Cluster mode a room's stream and meta share a slot (one script
// touches both, which Redis refuses across slots), for any room name;
// writes from two brokers seeded with different nodes are ordered and
// delivered to both, reads see them, and sessions cross over.
func TestHistoryClusterMode(t *testing.T) {
	t.Parallel()
	addrs := startRedisCluster(t)
	prefix := randomPrefix()
	b1 := newTestBroker(t, Options{Addrs: addrs[:1], Cluster: true, Prefix: prefix})
	b2 := newTestBroker(t, Options{Addrs: addrs[2:], Cluster: true, Prefix: prefix})
	r1 := registerAll(t, b1, "n1")["n1"]
	r2 := registerAll(t, b2, "n2")["n2"]
	ctx := ctxT(t)
	rooms := []string{"room", "", "}x", "a{b}c", "\x00/chat\x00lobby"}
	for _, room := range rooms {
		for _, sub := range []struct {
			b    *Broker
			name string
		}{{b1, "n1"}, {b2, "n2"}} {
			if err := sub.b.Subscribe(ctx, sub.name, room); err != nil {
				t.Fatal(err)
			}
		}
	}
	const perRoom = 4
	epochs := make(map[string]string)
	for i := range perRoom {
		for _, room := range rooms {
			b := []*Broker{b1, b2}[i%2]
			pos, _, err := b.PublishHistory(ctx, &allspark.Publication{Node: "n", Rooms: []string{room}, Payload: []byte(room)}, testPolicy)
			if err != nil {
				t.Fatalf("room %q: %v", room, err)
			}
			if pos.Offset != uint64(i+1) || (i > 0 && pos.Epoch != epochs[room]) {
				t.Fatalf("room %q write %d at %+v", room, i+1, pos)
			}
			epochs[room] = pos.Epoch
		}
	}
	for _, r := range []*recorder{r1, r2} {
		eventually(t, 10*time.Second, "every write delivered", func() bool { return len(r.positions()) == perRoom*len(rooms) })
		next := make(map[string]uint64)
		r.mu.Lock()
		for _, p := range r.pubs {
			room := p.Rooms[0]
			next[room]++
			if p.Pos.Offset != next[room] || p.Pos.Epoch != epochs[room] || string(p.Payload) != room {
				t.Errorf("room %q: delivery %d is %+v %q", room, next[room], p.Pos, p.Payload)
			}
		}
		r.mu.Unlock()
	}
	for _, room := range rooms {
		res, err := b2.History(ctx, room, allspark.HistoryQuery{After: 1}, testPolicy)
		if err != nil {
			t.Fatalf("room %q: %v", room, err)
		}
		if !slices.Equal(offsets(res.Entries), seq(2, perRoom)) || res.Top != (allspark.Position{Offset: perRoom, Epoch: epochs[room]}) {
			t.Errorf("room %q: top %+v entries %v", room, res.Top, offsets(res.Entries))
		}
	}
	fresh, err := b1.History(ctx, "unknown", allspark.HistoryQuery{}, testPolicy)
	if err != nil || fresh.Top.Offset != 0 || fresh.Top.Epoch == "" {
		t.Fatalf("unknown room: %+v, %v", fresh, err)
	}
	if err := b1.SaveSession(ctx, "sess", []byte("rec"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if rec, err := b2.TakeSession(ctx, "sess"); err != nil || string(rec) != "rec" {
		t.Fatalf("TakeSession on the other broker: %q, %v", rec, err)
	}
	if _, err := b1.TakeSession(ctx, "sess"); !errors.Is(err, allspark.ErrNoSession) {
		t.Fatalf("second TakeSession: %v", err)
	}
}
