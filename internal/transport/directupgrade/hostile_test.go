package directupgrade

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// Slowloris: connections that trickle a head hold one pooled MaxHeadBytes
// buffer and a goroutine each, for at most HeadTimeout; then the
// http.Server has them (and its ReadHeaderTimeout). Heap growth is bounded
// by the number of connections, never by what they announce.
func TestSlowlorisHeadsAreBounded(t *testing.T) {
	const n = 400
	f := newFixture(t, Options{HeadTimeout: 700 * time.Millisecond})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, 0, n)
	for range n {
		c := f.dial(t)
		_, _ = io.WriteString(c, "GET /primus/ HTTP/1.1\r\nX-Slow: ")
		conns = append(conns, c)
	}
	// Each keeps sending a byte of a header that never ends.
	for range 3 {
		for _, c := range conns {
			_, _ = c.Write([]byte{'a'})
		}
		time.Sleep(50 * time.Millisecond)
	}
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	grown := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	bound := int64(n) * (defaultMaxHeadBytes + 4<<10) // the buffer, the goroutine, the socket
	t.Logf("%d trickling heads: heap +%d B (%d B per connection; bound %d)", n, grown, grown/n, bound/n)
	if grown > bound {
		t.Fatalf("heap grew %d B for %d heads, bound %d", grown, n, bound)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.l.mu.Lock()
		left := len(f.l.reading)
		f.l.mu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d heads still read after HeadTimeout", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A head that never ends stops being read at MaxHeadBytes: the rest is
// net/http's, which refuses it past its MaxHeaderBytes (431).
func TestEndlessHeadStopsAtTheBound(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.dial(t)
	go func() {
		_, _ = io.WriteString(c, "GET /primus/ HTTP/1.1\r\nHost: a\r\nX-Flood: ")
		chunk := make([]byte, 4096)
		for i := range chunk {
			chunk[i] = 'a'
		}
		for range 40 { // 160 KiB, over both bounds
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	resp, _ := readResponse(t, c)
	if resp.StatusCode != 431 {
		t.Fatalf("status %d, want 431 from net/http", resp.StatusCode)
	}
}
