package allspark

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func newClusterPair(t *testing.T, bOpts ClusterOptions) (a, b *Server) {
	t.Helper()
	broker := NewMemoryBroker()
	var err error
	if a, err = New(Options{Broker: broker, NodeID: "a"}); err != nil {
		t.Fatal(err)
	}
	if b, err = New(Options{Broker: broker, NodeID: "b", Cluster: bOpts}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = a.Shutdown(context.Background(), ShutdownOptions{})
		_ = b.Shutdown(context.Background(), ShutdownOptions{})
	})
	return a, b
}

// Past MaxConcurrentRequests a node answers ErrNodeBusy at once instead of
// queueing requests without bound.
func TestClusterBusyNodeAnswersAtOnce(t *testing.T) {
	a, b := newClusterPair(t, ClusterOptions{MaxConcurrentRequests: 1})
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	b.cluster.ops["slow"] = func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return []byte("done"), nil
	}
	first := make(chan error, 1)
	go func() {
		ans, err := a.cluster.request(context.Background(), "b", "slow", nil)
		if err == nil && string(ans) != "done" {
			err = errors.New("answer " + string(ans))
		}
		first <- err
	}()
	<-started
	t0 := time.Now()
	_, err := a.cluster.request(context.Background(), "b", "slow", nil)
	var pe *PartialError
	if !errors.As(err, &pe) || !errors.Is(err, ErrNodeBusy) || !slices.Equal(pe.Missing, []string{"b"}) {
		t.Fatalf("second request: %v", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("busy answer took %v", d)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first request: %v", err)
	}
}

// An op the other node does not know is answered ErrUnknownOp (a node of
// an older version), not left to time out.
func TestClusterUnknownOp(t *testing.T) {
	a, _ := newClusterPair(t, ClusterOptions{})
	t0 := time.Now()
	_, err := a.cluster.request(context.Background(), "b", "no-such-op", nil)
	if !errors.Is(err, ErrUnknownOp) || time.Since(t0) > time.Second {
		t.Fatalf("unknown op: %v after %v", err, time.Since(t0))
	}
}

// Requests still running at Shutdown end with it: their context is
// cancelled and Shutdown waits for them.
func TestClusterShutdownEndsRequests(t *testing.T) {
	a, b := newClusterPair(t, ClusterOptions{})
	ended := make(chan struct{})
	started := make(chan struct{})
	b.cluster.ops["hang"] = func(ctx context.Context, _ string, _ []byte) ([]byte, error) {
		close(started)
		<-ctx.Done()
		close(ended)
		return nil, ctx.Err()
	}
	go func() { _, _ = a.cluster.request(context.Background(), "b", "hang", nil) }()
	<-started
	if err := b.Shutdown(context.Background(), ShutdownOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	default:
		t.Fatal("Shutdown returned before the request handler ended")
	}
}

func TestNodeMessageRoundTrip(t *testing.T) {
	for _, m := range []nodeMessage{
		{kind: msgHeartbeat},
		{kind: msgRequest, id: 1 << 40, op: "count", body: []byte(`{"rooms":["a"]}`)},
		{kind: msgAnswer, id: 7, err: "busy"},
	} {
		got, err := unmarshalNodeMessage(m.marshal())
		if err != nil || got.kind != m.kind || got.id != m.id || got.op != m.op || got.err != m.err || string(got.body) != string(m.body) {
			t.Fatalf("%+v → %+v %v", m, got, err)
		}
	}
}

// plainBroker hides the MemoryBroker's node list: membership by heartbeats.
type plainBroker struct{ Broker }

// A peer unheard of for NodeTTL is forgotten and the peer-down hooks run
// once; a peer heard again is a member again.
func TestClusterExpiresPeersAndRunsDownHooks(t *testing.T) {
	s, err := New(Options{Broker: plainBroker{NewMemoryBroker()}, NodeID: "a", Cluster: ClusterOptions{HeartbeatInterval: time.Hour, NodeTTL: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background(), ShutdownOptions{}) }()
	var down []string
	s.cluster.onPeerDown(func(node string) { down = append(down, node) })
	if !s.cluster.heard("b") || s.cluster.heard("b") {
		t.Fatal("heard must report only the first message of a node")
	}
	s.cluster.heard("c")
	if got := s.Nodes(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Nodes: %v", got)
	}
	s.cluster.mu.Lock()
	s.cluster.peers["b"] = time.Now().Add(-2 * time.Minute)
	s.cluster.mu.Unlock()
	s.cluster.expire(time.Now())
	if got := s.Nodes(); !slices.Equal(got, []string{"a", "c"}) || !slices.Equal(down, []string{"b"}) {
		t.Fatalf("after expiry: nodes %v, down hooks %v", got, down)
	}
	s.cluster.expire(time.Now())
	if len(down) != 1 {
		t.Fatalf("down hook ran again: %v", down)
	}
}

// Whatever claims to be a node on the broker, membership stays bounded:
// past maxPeers new names are not counted (nor waited for by requests).
func TestClusterMembershipIsBounded(t *testing.T) {
	s, err := New(Options{Broker: plainBroker{NewMemoryBroker()}, NodeID: "a", Cluster: ClusterOptions{HeartbeatInterval: time.Hour, NodeTTL: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background(), ShutdownOptions{}) }()
	for i := range maxPeers + 500 {
		s.HandleMessage(fmt.Sprintf("fake-%d", i), (&nodeMessage{kind: msgHeartbeat}).marshal())
	}
	if n := len(s.Nodes()); n != maxPeers+1 {
		t.Fatalf("%d nodes counted, want maxPeers+1 (%d)", n, maxPeers+1)
	}
	// Once some expire, new nodes are counted again.
	s.cluster.mu.Lock()
	s.cluster.peers["fake-0"] = time.Now().Add(-time.Hour)
	s.cluster.mu.Unlock()
	s.cluster.expire(time.Now())
	s.HandleMessage("late", (&nodeMessage{kind: msgHeartbeat}).marshal())
	if !slices.Contains(s.Nodes(), "late") {
		t.Fatal("a new node after expiry was not counted")
	}
}
