package sockjs_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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

// parallel runs fn n times, 16 at a time.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// TestHostileAbandonedSessions: sessions opened and never polled again are
// all reaped after the disconnect delay, and the heap returns near where
// it started.
func TestHostileAbandonedSessions(t *testing.T) {
	n := 2000
	if testing.Short() || raceEnabled {
		n = 500
	}
	cfg := fast()
	cfg.DisconnectDelay = 200 * time.Millisecond
	e := newEnv(t, cfg)
	e.acc.eventBuf = 4
	base := heap()
	parallel(n, func(i int) {
		if r, err := e.try("POST", fmt.Sprintf("/s/0/ab%d/xhr", i), "", ""); err != nil || r.body != "o\n" {
			t.Errorf("open: %v %q", err, r.body)
		}
	})
	peak := growth(base)
	start := time.Now()
	waitLen(t, e.srv, 0, 5*time.Second)
	reaped := time.Since(start)
	for range n {
		<-e.acc.handlers
	}
	e.acc.mu.Lock()
	e.acc.all = nil // the fake acceptor's record is not the server's memory
	e.acc.mu.Unlock()
	e.tr.CloseIdleConnections()
	after := growth(base)
	t.Logf("%d abandoned sessions: heap +%.2f MiB live (%.1f KiB each, with the fake handler), +%.2f MiB after reaping (in %v)",
		n, float64(peak)/mib, float64(peak)/float64(n)/1024, float64(after)/mib, reaped)
	if after > 2*mib {
		t.Errorf("heap +%.2f MiB after every session was reaped", float64(after)/mib)
	}
}

// TestHostileUnknownSessions: sends to sessions that do not exist are 404
// without reading their bodies or creating anything, and new sessions
// past MaxSessions are 503: neither grows the heap with the flood.
func TestHostileUnknownSessions(t *testing.T) {
	n := 4000
	if testing.Short() || raceEnabled {
		n = 800
	}
	cfg := fast()
	cfg.MaxSessions = 50
	e := newEnv(t, cfg)
	e.acc.eventBuf = 4
	body := `["` + strings.Repeat("x", 4096) + `"]`
	base := heap()
	var notFound, refused atomic.Int32
	parallel(n, func(i int) {
		r, err := e.try("POST", fmt.Sprintf("/s/0/nobody%d/xhr_send", i), "text/plain", body)
		if err == nil && r.status == 404 {
			notFound.Add(1)
		}
		r, err = e.try("POST", fmt.Sprintf("/s/0/new%d/xhr", i), "", "")
		if err == nil && r.status == 503 {
			refused.Add(1)
		}
	})
	e.tr.CloseIdleConnections()
	g := growth(base)
	t.Logf("%d sends to unknown sessions (%d × 404), %d new sessions past MaxSessions=50 (%d × 503): heap +%.2f MiB, %d sessions",
		n, notFound.Load(), n, refused.Load(), float64(g)/mib, e.srv.Len())
	if int(notFound.Load()) != n || int(refused.Load()) != n-50 {
		t.Errorf("404s %d, 503s %d", notFound.Load(), refused.Load())
	}
	if e.srv.Len() != 50 {
		t.Errorf("Len = %d, want 50", e.srv.Len())
	}
	// 50 live sessions and their fake handlers are most of it.
	if g > 4*mib {
		t.Errorf("heap +%.2f MiB", float64(g)/mib)
	}
}

// TestHostileOversizedSends: bodies announcing 100 MB get 413 at once;
// a chunked body that never ends is read no further than MaxMessage.
func TestHostileOversizedSends(t *testing.T) {
	cfg := fast()
	cfg.MaxMessage = 1 << 20
	e := newEnv(t, cfg)
	const n = 50
	for i := range n {
		e.open(fmt.Sprintf("o%d", i))
	}
	u, _ := url.Parse(e.ts.URL)
	base := heap()
	conns := make([]net.Conn, 0, n)
	for i := range n {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /s/0/o%d/xhr_send HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: 100000000\r\n\r\n[\"xxxx", i, u.Host)
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
		c.Close()
	}
	g1 := growth(base)

	// A chunked body of 64 MiB: the server stops reading after 1 MiB.
	e.open("chunked")
	pr, pw := io.Pipe()
	var written atomic.Int64
	go func() {
		chunk := []byte(strings.Repeat("y", 64<<10))
		_, _ = pw.Write([]byte(`["`))
		for range 1024 {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			written.Add(int64(len(chunk)))
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.ts.URL+"/s/0/chunked/xhr_send", pr)
	req.Header.Set("Content-Type", "text/plain")
	base2 := heap()
	res, err := e.cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	pr.CloseWithError(io.ErrClosedPipe)
	g2 := growth(base2)
	t.Logf("%d sends announcing 100 MB: 413, heap +%.2f MiB; a 64 MiB chunked send: %d, %.1f MiB written by the client before it was cut, heap +%.2f MiB",
		n, float64(g1)/mib, res.StatusCode, float64(written.Load())/mib, float64(g2)/mib)
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversize: %d", res.StatusCode)
	}
	if g1 > 4*mib || g2 > 4*mib {
		t.Errorf("heap grew for bodies over the limit")
	}
}

// TestHostileConcurrentReceivers: a flood of receiving requests on one
// session: one stays attached, every other gets c[2010] and ends; the
// session keeps working and nothing is held for the losers.
func TestHostileConcurrentReceivers(t *testing.T) {
	e := newEnv(t, fast())
	s := e.openStream("POST", "/s/0/cr/xhr_streaming")
	s.until("o\n")
	h := e.acc.next(t)
	base := heap()
	const n = 300
	var another atomic.Int32
	parallel(n, func(int) {
		r, err := e.try("POST", "/s/0/cr/xhr", "", "")
		if err == nil && r.body == "c[2010,\"Another connection still open\"]\n" {
			another.Add(1)
		}
	})
	e.tr.CloseIdleConnections()
	g := growth(base)
	t.Logf("%d concurrent receivers on one session: %d × c[2010], heap +%.2f MiB", n, another.Load(), float64(g)/mib)
	if another.Load() != n {
		t.Errorf("%d of %d got c[2010]", another.Load(), n)
	}
	go h.write(t, data(`"alive"`))
	if got := s.until("\n"); got != `a["alive"]`+"\n" {
		t.Fatalf("first receiver got %q", got)
	}
	if g > 2*mib {
		t.Errorf("heap +%.2f MiB", float64(g)/mib)
	}
}

// TestHostileConcurrentSends: many large sends on one session whose
// handler is stuck: only the send being delivered has its body read; the
// others wait for the slot with their bodies unread (in TCP buffers).
func TestHostileConcurrentSends(t *testing.T) {
	e := newEnv(t, fast())
	h := e.open("cs")
	h.block = make(chan struct{})
	const n, size = 40, 512 << 10
	body := `["` + strings.Repeat("s", size) + `"]`
	base := heap()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = e.try("POST", "/s/0/cs/xhr_send", "text/plain", body)
		}()
	}
	h.next(t, "value")
	time.Sleep(300 * time.Millisecond) // every sender has sent what TCP takes
	g := growth(base)
	close(h.block)
	wg.Wait()
	t.Logf("%d concurrent %d KiB sends on one stuck session: heap +%.2f MiB (the bodies total %.1f MiB)",
		n, size>>10, float64(g)/mib, float64(n*size)/mib)
	// Client-side request copies are part of the measure; a server that
	// read every body would add n × 512 KiB more.
	if g > int64(n*size)/2 {
		t.Errorf("heap +%.2f MiB: bodies read while waiting", float64(g)/mib)
	}
}
