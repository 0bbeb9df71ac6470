package nats_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
)

// proxy forwards TCP to upstream; blackholed, it keeps every connection
// open but stops passing server-to-client bytes, as a half-broken network
// or a wedged server would.
type proxy struct {
	l        net.Listener
	upstream string
	hole     atomic.Bool
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func startProxy(t *testing.T, upstream string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, upstream: upstream}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "nats://" + p.l.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(u, c); _ = u.Close() }()
		go func() { defer p.wg.Done(); p.down(c, u); _ = c.Close() }()
	}
}

// down copies server→client bytes unless the hole is open, when it drops them.
func (p *proxy) down(c, u net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := u.Read(buf)
		if n > 0 && !p.hole.Load() {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) close() {
	_ = p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// A connection that stays open but delivers nothing is caught by the probe:
// Health fails within a couple of intervals, the connection is rebuilt, and
// once the network heals Health recovers and traffic flows, with no
// Subscribe repeated.
func TestProbeCatchesBlackhole(t *testing.T) {
	s := runEmbedded(t, 0)
	px := startProxy(t, s.Addr().String())
	b := newBroker(t, natsbroker.Options{Servers: []string{px.url()}, ProbeInterval: 100 * time.Millisecond})
	direct := newBroker(t, natsbroker.Options{Servers: []string{s.ClientURL()}, ProbeInterval: -1})
	ctx := ctxT(t)
	r := newRecorder()
	if err := b.Register(ctx, "behind", r); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx, "behind", "room"); err != nil {
		t.Fatal(err)
	}
	if err := direct.Register(ctx, "direct", newRecorder()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "healthy", func() bool { return b.Health() == nil })
	time.Sleep(300 * time.Millisecond) // a few probes come back
	if err := b.Health(); err != nil {
		t.Fatalf("Health with probes coming back: %v", err)
	}

	px.hole.Store(true)
	start := time.Now()
	waitFor(t, 5*time.Second, "the probe notices", func() bool { return b.Health() != nil })
	t.Logf("blackhole noticed after %v: %v", time.Since(start).Round(time.Millisecond), b.Health())

	px.hole.Store(false)
	waitFor(t, 15*time.Second, "healthy again", func() bool { return b.Health() == nil })
	if st := b.BrokerStats(); st.Reconnects == 0 {
		t.Fatalf("no reconnect counted: %+v", st)
	}
	waitFor(t, 10*time.Second, "room traffic after healing", func() bool {
		_, _ = direct.Publish(ctx, &allspark.Publication{Node: "direct", Rooms: []string{"room"}, Payload: []byte("healed")})
		return r.hasPayload("healed")
	})
}

// Subscribe while NATS is down fails at once but keeps the interest: after
// the server is back, the room's traffic arrives without a new Subscribe.
// Publish and Send fail fast meanwhile.
func TestSubscribeDuringOutage(t *testing.T) {
	port := freePort(t)
	s := runEmbedded(t, port)
	o := natsbroker.Options{Servers: []string{s.ClientURL()}, ProbeInterval: -1}
	b, other := newBroker(t, o), newBroker(t, o)
	ctx := ctxT(t)
	r := newRecorder()
	if err := b.Register(ctx, "n", r); err != nil {
		t.Fatal(err)
	}
	if err := other.Register(ctx, "o", newRecorder()); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	s.WaitForShutdown()
	waitFor(t, 5*time.Second, "disconnected", func() bool { return errors.Is(b.Health(), natsbroker.ErrNotConnected) })

	start := time.Now()
	if err := b.Subscribe(ctx, "n", "room"); !errors.Is(err, natsbroker.ErrNotConnected) {
		t.Fatalf("Subscribe during the outage: %v, want ErrNotConnected", err)
	}
	if _, err := b.Publish(ctx, &allspark.Publication{Node: "n", All: true}); !errors.Is(err, natsbroker.ErrNotConnected) {
		t.Fatalf("Publish during the outage: %v", err)
	}
	if err := b.Send(ctx, "n", "", []byte("x")); !errors.Is(err, natsbroker.ErrNotConnected) {
		t.Fatalf("Send during the outage: %v", err)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Fatalf("three calls during the outage took %v", took)
	}

	runEmbedded(t, port)
	waitFor(t, 15*time.Second, "both reconnected", func() bool { return b.Health() == nil && other.Health() == nil })
	waitFor(t, 10*time.Second, "room traffic after the outage", func() bool {
		_, _ = other.Publish(ctx, &allspark.Publication{Node: "o", Rooms: []string{"room"}, Payload: []byte("back")})
		return r.hasPayload("back")
	})
}
