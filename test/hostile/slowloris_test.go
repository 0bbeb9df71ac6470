package hostile_test

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// TestSlowlorisUpgrades: many connections trickle a partial upgrade request,
// one header byte at a time. Each costs the server one goroutine and a few
// KiB until ReadHeaderTimeout (10 s in Serve) cuts it; meanwhile a normal
// client connects and is served. The timeout itself is not waited for (it
// would take 10 s); what is asserted is that the cost per connection is
// small and fixed, and that it is all returned when they go.
func TestSlowlorisUpgrades(t *testing.T) {
	const (
		conns      = 200
		perConn    = 64 << 10 // heap per connection, generous
		trickleFor = 1500 * time.Millisecond
	)
	s := startServer(t, allspark.Options{}, nil)
	baseHeap := heap()
	baseG := runtime.NumGoroutine()

	lorises := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range lorises {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		lorises = append(lorises, c)
		if _, err := fmt.Fprintf(c, "GET /primus HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n", s.Addr); err != nil {
			t.Fatal(err)
		}
	}
	// One goroutine trickles a byte of an endless header on every
	// connection each 100 ms.
	header := []byte("X-Slow: ")
	deadline := time.Now().Add(trickleFor)
	for n := 0; time.Now().Before(deadline); n++ {
		b := []byte{'a'}
		if n < len(header) {
			b[0] = header[n]
		}
		for _, c := range lorises {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(b); err != nil {
				t.Fatalf("the server dropped a trickling connection after %d bytes, before ReadHeaderTimeout: %v", n, err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}

	assertServes(t, s) // while the lorises hold their connections

	g := runtime.NumGoroutine() - baseG
	t.Logf("%d trickling upgrades: +%d goroutines, heap +%.1f MiB", conns, g, mib(heapGrowth(baseHeap)))
	if g > 2*conns+20 {
		t.Errorf("%d trickling upgrades cost %d goroutines, want ≤ %d", conns, g, 2*conns+20)
	}
	assertHeapBelow(t, baseHeap, conns*perConn, 0, fmt.Sprintf("%d trickling upgrades", conns))
	if n := s.Len(); n != 0 {
		t.Errorf("Len = %d: a partial upgrade became a spark", n)
	}

	for _, c := range lorises {
		c.Close()
	}
	lorises = nil
	if !waitFor(5*time.Second, func() bool { return runtime.NumGoroutine() <= baseG+10 }) {
		t.Errorf("goroutines %d after the lorises left, %d before", runtime.NumGoroutine(), baseG)
	}
	assertServes(t, s)
}
