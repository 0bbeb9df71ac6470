package nats_test

import (
	"bufio"
	"context"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// switchDialer opens the client's TCP connections to target (whatever
// address the client asks for) while its gate is open, and can cut every
// connection it opened: a node the client loses, and the other node its
// reconnect reaches (as through a load balancer).
type switchDialer struct {
	mu     sync.Mutex
	target string
	gate   chan struct{} // closed while the network is up
	conns  []net.Conn
}

func (d *switchDialer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	d.mu.Lock()
	gate := d.gate
	d.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	d.mu.Lock()
	target := d.target // set by reopen, after the gate was closed
	d.mu.Unlock()
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, target)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *switchDialer) cut() {
	d.mu.Lock()
	d.gate = make(chan struct{})
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// hold makes new connections wait, leaving the open ones alone, and
// points the next ones at target.
func (d *switchDialer) hold(target string) {
	d.mu.Lock()
	d.gate, d.target = make(chan struct{}), target
	d.mu.Unlock()
}

func (d *switchDialer) release() {
	d.mu.Lock()
	close(d.gate)
	d.mu.Unlock()
}

func (d *switchDialer) reopen(target string) {
	d.mu.Lock()
	d.target = target
	close(d.gate)
	d.mu.Unlock()
}

// TestHistoryServersOnNATS: two allspark servers, each on its own NATS
// connection with JetStream history and sessions. A client on node a
// receives live writes of node b in order; cut off while b writes 50 more,
// it reconnects through node b, whose server restores its session (saved
// by a, in JetStream) and replays the missed writes from the room's stream:
// recovered, each missed write once, in order, then live writes of a.
func TestHistoryServersOnNATS(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	history := allspark.HistoryOptions{Rooms: []allspark.HistoryRule{{Pattern: "chat:*", Size: 1000, TTL: time.Minute}}}
	var srvs []*allspark.Server
	var addrs []string
	for _, name := range []string{"a", "b"} {
		srv, err := allspark.New(allspark.Options{
			Broker: newHistoryBroker(t, url, prefix), NodeID: name, Cluster: fastCluster,
			PingInterval: allspark.NoPing, History: history,
		})
		if err != nil {
			t.Fatal(err)
		}
		srv.OnConnection(joinChatUnlessRestored)
		base := serveHTTP(t, srv)
		srvs, addrs = append(srvs, srv), append(addrs, strings.TrimPrefix(base, "http://"))
	}
	a, b := srvs[0], srvs[1]

	d := &switchDialer{target: addrs[0], gate: make(chan struct{})}
	close(d.gate)
	data := make(chan any, 1024)
	sessions := make(chan client.RecoveryInfo, 4)
	c, err := client.Dial(ctxT(t), "http://"+addrs[0]+"/primus", client.Options{
		NetDial:     d.dial,
		PingTimeout: client.Off,
		Reconnect:   client.ReconnectOptions{Min: 10 * time.Millisecond},
		OnEvent: func(ev client.Event) {
			if ev.Kind == client.EventData {
				data <- ev.Data
			}
		},
		OnSession: func(s client.RecoveryInfo) { sessions <- s },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy(); <-c.Done() })
	if s := nextOf(t, sessions); s.Restored || s.Reason != client.ReasonNew {
		t.Fatalf("first session %+v", s)
	}
	first, err := c.ID(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	expectData := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			if got := nextOf(t, data); got != float64(i) {
				t.Fatalf("message %d arrived as %v", i, got)
			}
		}
	}
	waitFor(t, 10*time.Second, "the spark joined on a", func() bool { return len(a.Room("chat:1").Sparks()) == 1 })
	for i := 1; i <= 20; i++ {
		if _, err := b.Room("chat:1").Write(i); err != nil {
			t.Fatal(err)
		}
	}
	expectData(1, 20)

	d.cut()
	waitFor(t, 10*time.Second, "a sees the cut", func() bool { return a.Len() == 0 })
	for i := 21; i <= 70; i++ {
		if _, err := b.Room("chat:1").Write(i); err != nil {
			t.Fatal(err)
		}
	}
	d.reopen(addrs[1])
	s := nextOf(t, sessions)
	if !s.Restored || !s.Recovered || s.ID != first {
		t.Fatalf("reconnect through b: %+v (first id %s)", s, first)
	}
	expectData(21, 70)
	if _, err := a.Room("chat:1").Write(71); err != nil {
		t.Fatal(err)
	}
	expectData(71, 71)                                    // a duplicate of the replay would come first
	if _, err := b.Room("chat:1").Write(72); err != nil { // the spark's own node now
		t.Fatal(err)
	}
	expectData(72, 72)
	if b.Len() != 1 {
		t.Fatalf("b has %d sparks, a %d; want the restored one on b", b.Len(), a.Len())
	}
}

// joinChatUnlessRestored joins new sparks to chat:1; restored ones are back
// in their rooms already.
func joinChatUnlessRestored(_ context.Context, sp *allspark.Spark) error {
	if sp.Restored() {
		return nil
	}
	return sp.Join("chat:1")
}

// killedNodeHistory is the history of TestHistoryKilledNode's nodes.
var killedNodeHistory = allspark.HistoryOptions{Rooms: []allspark.HistoryRule{{Pattern: "chat:*", Size: 1000, TTL: time.Minute}}}

// TestHistoryKilledNode: a node in another process, on JetStream history,
// holds a client's spark and is killed with SIGKILL (nothing saved at the
// end, no goodbye). The client reconnects to the surviving node, which
// restores the spark from the session the dead node kept in JetStream
// while it lived and replays what was written meanwhile: recovered, in
// order, once.
func TestHistoryKilledNode(t *testing.T) {
	url := historyURL(t)
	prefix := randomPrefix()
	cleanupStreams(t, url, prefix)
	b, err := allspark.New(allspark.Options{
		Broker: newHistoryBroker(t, url, prefix), NodeID: "b", Cluster: fastCluster,
		PingInterval: allspark.NoPing, History: killedNodeHistory,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.OnConnection(joinChatUnlessRestored)
	addrB := strings.TrimPrefix(serveHTTP(t, b), "http://")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), testNodeEnv+"="+url+"|"+prefix+"|victim|history")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child node: %v", err)
	}
	addrVictim := strings.TrimPrefix(strings.TrimSpace(line), "http://")

	d := &switchDialer{target: addrVictim, gate: make(chan struct{})}
	close(d.gate)
	data := make(chan any, 1024)
	sessions := make(chan client.RecoveryInfo, 4)
	c, err := client.Dial(ctxT(t), "http://"+addrVictim+"/primus", client.Options{
		NetDial:     d.dial,
		PingTimeout: client.Off,
		Reconnect:   client.ReconnectOptions{Min: 10 * time.Millisecond},
		OnEvent: func(ev client.Event) {
			if ev.Kind == client.EventData {
				data <- ev.Data
			}
		},
		OnSession: func(s client.RecoveryInfo) { sessions <- s },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy(); <-c.Done() })
	if s := nextOf(t, sessions); s.Restored || s.Reason != client.ReasonNew {
		t.Fatalf("first session %+v", s)
	}
	first, err := c.ID(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	waitFor(t, 10*time.Second, "the spark in chat:1 on the victim", func() bool {
		at, err := b.Locate(ctx, first)
		n, _ := b.Room("chat:1").Count(ctx)
		return err == nil && at == "victim" && n == 1
	})
	expect := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			if got := nextOf(t, data); got != float64(i) {
				t.Fatalf("message %d arrived as %v", i, got)
			}
		}
	}
	for i := 1; i <= 10; i++ {
		if _, err := b.Room("chat:1").Write(i); err != nil {
			t.Fatal(err)
		}
	}
	expect(1, 10)

	d.hold(addrB)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for i := 11; i <= 40; i++ {
		if _, err := b.Room("chat:1").Write(i); err != nil {
			t.Fatal(err)
		}
	}
	d.release()
	s := nextOf(t, sessions)
	if !s.Restored || !s.Recovered || s.ID != first {
		t.Fatalf("reconnect to b after the kill: %+v (first id %s)", s, first)
	}
	expect(11, 40)
	if _, err := b.Room("chat:1").Write(41); err != nil {
		t.Fatal(err)
	}
	expect(41, 41)
}

func serveHTTP(t testing.TB, srv *allspark.Server) string {
	t.Helper()
	hs := httptestServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, allspark.ShutdownOptions{Timeout: time.Second})
		hs.Close()
	})
	return hs.URL
}

func nextOf[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing within 10 s")
	}
	var zero T
	return zero
}

func httptestServer(srv *allspark.Server) *httptest.Server { return httptest.NewServer(srv) }
