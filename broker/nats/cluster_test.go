package nats_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
	"github.com/allspark/allspark/client"
)

var fastCluster = allspark.ClusterOptions{
	HeartbeatInterval: 100 * time.Millisecond, NodeTTL: 600 * time.Millisecond, RequestTimeout: 3 * time.Second,
}

// node starts an allspark.Server named name on its own NATS Broker (its own
// connection, as a separate process would have) and serves it over HTTP.
// Every spark joins the rooms of its ?rooms=a,b query.
func node(t *testing.T, url, prefix, name string) (*allspark.Server, *natsbroker.Broker, string) {
	t.Helper()
	b := newBroker(t, natsbroker.Options{Servers: []string{url}, Prefix: prefix, ProbeInterval: 200 * time.Millisecond})
	srv, base := serve(t, b, name)
	return srv, b, base
}

func serve(t testing.TB, b allspark.Broker, name string) (*allspark.Server, string) {
	srv, err := allspark.New(allspark.Options{Broker: b, NodeID: name, Cluster: fastCluster})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if q := sp.Query().Get("rooms"); q != "" {
			return sp.Join(strings.Split(q, ",")...)
		}
		return nil
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, allspark.ShutdownOptions{Timeout: time.Second})
		hs.Close()
	})
	return srv, hs.URL
}

// peer is a Go client that records the data it receives.
type peer struct {
	c  *client.Client
	id string
	mu sync.Mutex
	in []string
}

func connect(t *testing.T, base, rooms string) *peer {
	t.Helper()
	p := &peer{}
	ctx := ctxT(t)
	c, err := client.Dial(ctx, base+"/primus?rooms="+rooms, client.Options{OnEvent: func(ev client.Event) {
		if ev.Kind == client.EventData {
			p.mu.Lock()
			p.in = append(p.in, fmt.Sprint(ev.Data))
			p.mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy(); <-c.Done() })
	if p.id, err = c.ID(ctx); err != nil {
		t.Fatal(err)
	}
	p.c = c
	return p
}

func (p *peer) got(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.in, s)
}

func (p *peer) count(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, x := range p.in {
		if x == s {
			n++
		}
	}
	return n
}

// Three servers over the shared nats-server: a room spanning them, To(id)
// across nodes, and the cluster-wide Count, Locate and Disconnect.
func TestClusterOverNATS(t *testing.T) {
	url, prefix := sharedNATS(t), randomPrefix()
	var srvs []*allspark.Server
	var peers []*peer
	for _, name := range []string{"a", "b", "c"} {
		srv, _, base := node(t, url, prefix, name)
		srvs = append(srvs, srv)
		peers = append(peers, connect(t, base, "lobby"))
	}
	_, _, baseC := node(t, url, prefix, "d")
	lone := connect(t, baseC, "other.room")
	a := srvs[0]
	waitFor(t, 10*time.Second, "membership", func() bool { return slices.Equal(a.Nodes(), []string{"a", "b", "c", "d"}) })
	ctx := ctxT(t)

	if n, err := a.Room("lobby").Write("hello lobby"); err != nil || n != 1 {
		t.Fatalf("room write: %d %v (want the one local delivery)", n, err)
	}
	for i, p := range peers {
		waitFor(t, 5*time.Second, fmt.Sprintf("peer %d gets the room write", i), func() bool { return p.got("hello lobby") })
	}
	if _, err := a.To(lone.id).Write("just you"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "To(id) on another node", func() bool { return lone.got("just you") })
	// A spark in two rooms gets a two-room write once.
	if _, err := a.To(peers[1].id).Join(ctx, "other.room"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Room("lobby").Room("other.room").Write("once"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "two-room write", func() bool { return lone.got("once") && peers[1].got("once") })

	if n, err := a.Room("lobby").Count(ctx); n != 3 || err != nil {
		t.Fatalf("Count: %d %v", n, err)
	}
	if at, err := a.Locate(ctx, lone.id); at != "d" || err != nil {
		t.Fatalf("Locate: %q %v", at, err)
	}
	if n, err := a.To(peers[2].id).Disconnect(ctx, false); n != 1 || err != nil {
		t.Fatalf("Disconnect: %d %v", n, err)
	}
	waitFor(t, 5*time.Second, "the remote spark ends", func() bool { return srvs[2].Room("lobby").Len() == 0 })
	if _, err := a.Locate(ctx, peers[2].id); !errors.Is(err, allspark.ErrNotFound) {
		t.Fatalf("Locate after Disconnect: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if c := peers[1].count("once"); c != 1 {
		t.Fatalf("two-room write arrived %d times", c)
	}
}

// A nats-server of the test's own is killed and restarted in the middle of
// traffic between two servers: writes during the outage fail fast with a
// broker error but still reach local sparks, and traffic resumes afterwards
// without anyone re-joining rooms.
func TestClusterSurvivesNATSRestart(t *testing.T) {
	proc := startNATSProcess(t, freePort(t))
	prefix := randomPrefix()
	a, ba, baseA := node(t, proc.url(), prefix, "a")
	_, bb, baseB := node(t, proc.url(), prefix, "b")
	pa, pb := connect(t, baseA, "lobby"), connect(t, baseB, "lobby")
	waitFor(t, 10*time.Second, "membership", func() bool { return len(a.Nodes()) == 2 })
	if _, err := a.Room("lobby").Write("before"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "before", func() bool { return pb.got("before") })

	proc.kill()
	waitFor(t, 5*time.Second, "the brokers notice", func() bool { return ba.Health() != nil && bb.Health() != nil })
	var slowest time.Duration
	for i := range 20 {
		msg := fmt.Sprintf("during %d", i)
		start := time.Now()
		n, err := a.Room("lobby").Write(msg)
		took := time.Since(start)
		slowest = max(slowest, took)
		var be *allspark.BrokerError
		if !errors.As(err, &be) || !errors.Is(err, natsbroker.ErrNotConnected) {
			t.Fatalf("write during the outage: %v, want a BrokerError wrapping ErrNotConnected", err)
		}
		if took > 500*time.Millisecond {
			t.Fatalf("write during the outage took %v", took)
		}
		if n != 1 {
			t.Fatalf("write during the outage reached %d local sparks, want 1", n)
		}
	}
	t.Logf("slowest of 20 room writes during the outage: %v", slowest)
	waitFor(t, 5*time.Second, "local delivery during the outage", func() bool { return pa.got("during 19") })
	if st := ba.BrokerStats(); st.Connected || st.Errors == 0 {
		t.Fatalf("stats during the outage: %+v", st)
	}

	restarted := time.Now()
	_ = startNATSProcess(t, proc.port) // stopped by its cleanup
	waitFor(t, 15*time.Second, "brokers healthy again", func() bool { return ba.Health() == nil && bb.Health() == nil })
	t.Logf("healthy %v after the restart", time.Since(restarted).Round(time.Millisecond))
	waitFor(t, 10*time.Second, "traffic resumes", func() bool {
		_, _ = a.Room("lobby").Write("after")
		return pb.got("after")
	})
	if pb.got("during 0") {
		t.Fatal("a write refused during the outage was delivered later")
	}
	if st := ba.BrokerStats(); st.Reconnects == 0 || !st.Connected {
		t.Fatalf("stats after the restart: %+v", st)
	}
}

// testNodeEnv makes the test binary a node: "<nats url>|<prefix>|<node>".
// It prints its HTTP base URL on stdout and serves until killed.
const testNodeEnv = "ALLSPARK_NATS_TEST_NODE"

func runTestNode(spec string) {
	parts := strings.Split(spec, "|")
	if len(parts) != 3 && (len(parts) != 4 || parts[3] != "history") {
		fmt.Fprintln(os.Stderr, "bad", testNodeEnv, spec)
		os.Exit(2)
	}
	withHistory := len(parts) == 4
	b, err := natsbroker.New(natsbroker.Options{Servers: []string{parts[0]}, Prefix: parts[1], History: withHistory, HistoryStorage: natsbroker.MemoryStorage})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	opts := allspark.Options{Broker: b, NodeID: parts[2], Cluster: fastCluster}
	if withHistory {
		// As TestHistoryKilledNode's own node: JetStream history in chat:*.
		opts.Broker, opts.PingInterval, opts.History = b.WithHistory(), allspark.NoPing, killedNodeHistory
	}
	srv, err := allspark.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if withHistory {
		srv.OnConnection(joinChatUnlessRestored)
	}
	hs := httptest.NewServer(srv)
	fmt.Println(hs.URL)
	select {} // until SIGKILL
}

// A node in another process killed with SIGKILL (no goodbye) is forgotten
// after NodeTTL, and its sparks can no longer be located.
func TestKilledNodeIsForgotten(t *testing.T) {
	url, prefix := sharedNATS(t), randomPrefix()
	a, _, _ := node(t, url, prefix, "a")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), testNodeEnv+"="+url+"|"+prefix+"|victim")
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
	p := connect(t, strings.TrimSpace(line), "lobby")
	waitFor(t, 10*time.Second, "the child joins", func() bool { return slices.Equal(a.Nodes(), []string{"a", "victim"}) })
	ctx := ctxT(t)
	if at, err := a.Locate(ctx, p.id); at != "victim" || err != nil {
		t.Fatalf("Locate in the child: %q %v", at, err)
	}
	if _, err := a.To(p.id).Write("to the child"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "write reaches the child's spark", func() bool { return p.got("to the child") })

	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	waitFor(t, 10*time.Second, "the killed node forgotten", func() bool { return slices.Equal(a.Nodes(), []string{"a"}) })
	t.Logf("forgotten %v after SIGKILL (NodeTTL %v)", time.Since(killed).Round(time.Millisecond), fastCluster.NodeTTL)
	if _, err := a.Locate(ctx, p.id); !errors.Is(err, allspark.ErrNotFound) {
		t.Fatalf("Locate after the kill: %v", err)
	}
}
