package load

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// node is one "cluster node" for the test: a listener that counts the
// connections it accepts and forwards each to one shared raw server, so the
// three nodes share their rooms as a perfect broker would.
type node struct {
	addr     string
	accepted atomic.Int64
}

func startNodes(t *testing.T, backend string, n int) []*node {
	t.Helper()
	var nodes []*node
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // cleanups run last first: after the listeners close
	for range n {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		nd := &node{addr: ln.Addr().String()}
		nodes = append(nodes, nd)
		var mu sync.Mutex
		var open []net.Conn
		wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				nd.accepted.Add(1)
				b, err := net.Dial("tcp4", backend)
				if err != nil {
					c.Close()
					continue
				}
				mu.Lock()
				open = append(open, c, b)
				mu.Unlock()
				wg.Go(func() { _, _ = io.Copy(b, c); b.Close() })
				wg.Go(func() { _, _ = io.Copy(c, b); c.Close() })
			}
		})
		t.Cleanup(func() {
			ln.Close()
			mu.Lock()
			for _, c := range open {
				c.Close()
			}
			mu.Unlock()
		})
	}
	return nodes
}

func TestClusterSpreadsMembersAndPublishersOverNodes(t *testing.T) {
	nodes := startNodes(t, startRaw(t), 3)
	addrs := []string{nodes[0].addr, nodes[1].addr, nodes[2].addr}
	c, d := drive(t, Config{Server: "raw", Addrs: addrs, Scenario: Cluster, N: 90, Warmup: 200 * time.Millisecond, Duration: time.Second})
	// One publisher per node by default: 90 members + 3 publishers.
	if c.OK != 93 || c.Ready != 93 {
		t.Fatalf("connected %+v", c)
	}
	for i, nd := range nodes {
		if got := nd.accepted.Load(); got != 31 {
			t.Fatalf("node %d accepted %d connections, want 30 members + 1 publisher", i, got)
		}
	}
	// Every message published on any node reaches all 90 members.
	if d.Sent == 0 || d.Stalls != 0 {
		t.Fatalf("done %+v", d)
	}
	if ratio := float64(d.Deliveries) / float64(d.Sent); ratio < 80 || ratio > 100 {
		t.Fatalf("%d deliveries for %d messages: %.1f per message, want ≈ 90", d.Deliveries, d.Sent, ratio)
	}
}

func TestClusterOffsetKeepsTheGlobalSpread(t *testing.T) {
	cfg := Config{Server: "raw", Addrs: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, Scenario: Cluster, N: 4, Offset: 5, Publishers: 4}
	cfg.setDefaults()
	// Members 5..8 globally: nodes 2, 0, 1, 2; publishers 0..3: nodes 0, 1, 2, 0.
	want := []string{"127.0.0.1:3", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1"}
	for i, w := range want {
		if got := cfg.nodeAddr(i); got != w {
			t.Fatalf("connection %d goes to %s, want %s", i, got, w)
		}
	}
}

func TestSeveralAddressesOnlyForCluster(t *testing.T) {
	for _, c := range []Config{
		{Server: "raw", Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, Scenario: Fanout, N: 1},
		{Server: "raw", Addrs: []string{"127.0.0.1:1", "10.0.0.1:2"}, Scenario: Cluster, N: 1},
		{Server: "raw", Scenario: Cluster, N: 1},
	} {
		c.setDefaults()
		if _, _, err := c.validate(); !errors.Is(err, ErrConfig) {
			t.Fatalf("%+v: err = %v, want ErrConfig", c, err)
		}
	}
}
