package eio_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"
)

const mib = 1 << 20

// heap is the live heap after a full collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func growth(base uint64) int64 { return int64(heap()) - int64(base) }

// Sessions that handshake and vanish are all reaped within
// PingInterval+PingTimeout, and the heap returns near where it started.
func TestHostileVanishingSessions(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	cfg := fast()
	cfg.PingInterval, cfg.PingTimeout = 200*time.Millisecond, 200*time.Millisecond
	e := newEnv(t, cfg)
	// Drain the accepted handlers so the acceptor's channel does not hold
	// them; keep nothing.
	e.acc.all = nil
	e.acc.eventBuf = 4
	base := heap()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if st, _, _, err := e.try("GET", "EIO=4&transport=polling", "", ""); err != nil || st != 200 {
				t.Errorf("handshake: %d %v", st, err)
			}
		}()
	}
	wg.Wait()
	last := time.Now()
	for range n {
		<-e.acc.handlers
	}
	peak := growth(base)
	waitLen(t, e.srv, 0, cfg.PingInterval+cfg.PingTimeout+2*time.Second)
	reaped := time.Since(last)
	e.acc.mu.Lock()
	e.acc.all = nil // the fake acceptor's record is not the server's memory
	e.acc.mu.Unlock()
	e.cl.Transport.(*http.Transport).CloseIdleConnections()
	after := growth(base)
	t.Logf("%d sessions: heap +%.2f MiB live (%.1f KiB each, with the fake handler), +%.2f MiB after reaping (in %v)",
		n, float64(peak)/mib, float64(peak)/float64(n)/1024, float64(after)/mib, reaped)
	if after > 2*mib {
		t.Errorf("heap +%.2f MiB after every session was reaped", float64(after)/mib)
	}
}

// A flood of concurrent GETs on one session: one is held, the others get
// 400 and end the session; memory does not grow with the flood.
func TestHostileGetFlood(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	base := heap()
	const n = 300
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, _, _ := e.try("GET", p.q(), "", "")
			codes <- st
		}()
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		if c == 200 {
			ok++
		}
	}
	if ok > 1 {
		t.Errorf("%d GETs answered 200, want at most 1", ok)
	}
	p.h.waitClosed(t, time.Second)
	e.cl.Transport.(*http.Transport).CloseIdleConnections()
	// The bound allows for the flood's own connections (their bufio
	// buffers, some still closing): under 32 KiB per GET, where a server
	// that held every GET's response would be far over.
	g := growth(base)
	t.Logf("%d concurrent GETs on one session: heap +%.2f MiB", n, float64(g)/mib)
	if g > n*32<<10 {
		t.Errorf("heap +%.2f MiB after a GET flood", float64(g)/mib)
	}
}

// POSTs announcing 100 MB each are answered 413 at once, without reading
// or allocating what they announce.
func TestHostileHugeContentLength(t *testing.T) {
	e := newEnv(t, fast())
	const n = 100
	// One session per POST: concurrent POSTs on one session are an
	// overlap (400), checked first as in the reference.
	ps := make([]*poller, n)
	for i := range ps {
		ps[i], _ = e.handshake()
	}
	u, _ := url.Parse(e.ts.URL)
	base := heap()
	conns := make([]net.Conn, 0, n)
	for _, p := range ps {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /engine.io/?%s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: 100000000\r\n\r\n4xxxx", p.q(), u.Host)
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", res.StatusCode)
		}
	}
	g := growth(base)
	for _, c := range conns {
		c.Close()
	}
	t.Logf("%d POSTs announcing 100 MB: heap +%.2f MiB", n, float64(g)/mib)
	if g > 8*mib {
		t.Errorf("heap +%.2f MiB for bodies that never came", float64(g)/mib)
	}
}

// Probes that never finish the upgrade are closed by UpgradeTimeout; the
// sessions stay on polling.
func TestHostileNeverUpgradingProbes(t *testing.T) {
	cfg := fast()
	cfg.UpgradeTimeout = 200 * time.Millisecond
	e := newEnv(t, cfg)
	const n = 50
	var ps []*poller
	var wss []*wsClient
	for i := range n {
		p, _ := e.handshake()
		ws := e.mustWS("EIO=4&transport=websocket&sid=" + p.sid)
		if i%2 == 0 { // half probe, half stay silent
			ws.send("2probe")
			if got := ws.recv(); got != "3probe" {
				t.Fatalf("probe: %q", got)
			}
		}
		ps = append(ps, p)
		wss = append(wss, ws)
	}
	for i, ws := range wss {
		if !ws.waitGone(3 * time.Second) {
			t.Fatalf("probe %d still open after UpgradeTimeout", i)
		}
	}
	for _, p := range ps {
		if p.h.isClosed() {
			t.Fatal("a session ended with its probe")
		}
	}
	if e.srv.Len() != n {
		t.Errorf("Len = %d, want %d", e.srv.Len(), n)
	}
}
