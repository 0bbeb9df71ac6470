package redis

import (
	"errors"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// A PUB/SUB connection that stays open but delivers nothing (the proxy
// holds every server→client byte) is caught by the probe: Health goes
// non-nil, the connection is rebuilt once the path forwards again, and
// subscriptions work without being asked again.
func TestProbeDetectsBlackhole(t *testing.T) {
	p := startProxy(t, sharedRedis(t))
	b := newTestBroker(t, Options{Addrs: []string{p.addr()}, ProbeInterval: 200 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	other := newTestBroker(t, Options{Prefix: b.opts.Prefix}) // direct, not through the proxy
	r := registerAll(t, b, "behind")
	ctx := ctxT(t)
	if err := b.Subscribe(ctx, "behind", "room"); err != nil {
		t.Fatal(err)
	}
	if err := b.Health(); err != nil {
		t.Fatalf("Health before the fault: %v", err)
	}
	p.blackhole(true)
	// Sooner than the client's own keepalive (ConnWriteTimeout, 3 s) could
	// notice: only the probe can.
	blackholed := time.Now()
	eventually(t, 2500*time.Millisecond, "Health reports the blackhole", func() bool { return b.Health() != nil })
	t.Logf("blackhole detected after %v: %v", time.Since(blackholed), b.Health())
	if err := b.Health(); !errors.Is(err, ErrProbeTimeout) {
		t.Errorf("Health = %v, want ErrProbeTimeout", err)
	}
	// Publishing through the blackhole fails within the write timeout.
	start := time.Now()
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "behind", All: true}); err == nil {
		t.Error("Publish through a blackhole succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Publish took %v to fail", d)
	}
	p.blackhole(false)
	eventually(t, 15*time.Second, "Health recovers", func() bool { return b.Health() == nil })
	if b.BrokerStats().Reconnects == 0 {
		t.Error("no reconnect counted")
	}
	// The room is subscribed again on the new connection.
	eventually(t, 10*time.Second, "room traffic flows again", func() bool {
		if _, err := other.Publish(ctx, &allspark.Publication{Node: "x", Rooms: []string{"room"}, Payload: []byte("again")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		return len(r["behind"].payloads()) > 0
	})
}

// A real outage: the broker's own redis-server is killed and restarted.
// Publish and Subscribe fail quickly meanwhile; afterwards the broker has
// reconnected and resubscribed by itself (including a room asked for
// during the outage).
func TestRedisRestart(t *testing.T) {
	srv := startOwnRedis(t)
	opts := Options{Addrs: []string{srv.addr()}, ProbeInterval: 300 * time.Millisecond}
	b1 := newTestBroker(t, opts)
	b2 := newTestBroker(t, Options{Addrs: opts.Addrs, Prefix: b1.opts.Prefix, ProbeInterval: opts.ProbeInterval})
	registerAll(t, b1, "n1")
	r2 := registerAll(t, b2, "n2")
	ctx := ctxT(t)
	if err := b2.Subscribe(ctx, "n2", "before"); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	eventually(t, 10*time.Second, "Health reports the outage", func() bool { return b2.Health() != nil })
	for range 3 {
		start := time.Now()
		if _, err := b1.Publish(ctx, &allspark.Publication{Node: "n1", Rooms: []string{"before"}, Payload: []byte("lost")}); err == nil {
			t.Error("Publish during the outage succeeded")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Publish during the outage took %v", d)
		}
	}
	start := time.Now()
	if err := b2.Subscribe(ctx, "n2", "during"); err == nil {
		t.Error("Subscribe during the outage succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Subscribe during the outage took %v", d)
	}
	srv.start()
	eventually(t, 15*time.Second, "both brokers healthy again", func() bool { return b1.Health() == nil && b2.Health() == nil })
	for _, room := range []string{"before", "during"} {
		eventually(t, 10*time.Second, "traffic to "+room+" flows again", func() bool {
			if _, err := b1.Publish(ctx, &allspark.Publication{Node: "n1", Rooms: []string{room}, Payload: []byte(room)}); err != nil {
				return false
			}
			time.Sleep(50 * time.Millisecond)
			for _, p := range r2["n2"].payloads() {
				if p == room {
					return true
				}
			}
			return false
		})
	}
	if b2.BrokerStats().Reconnects == 0 || b2.BrokerStats().Errors == 0 {
		t.Errorf("stats after the outage: %+v", b2.BrokerStats())
	}
}
