package hostile_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// sseHelperEnv makes the test binary a holder of idle event streams (see
// sseHolderMain): the client side of 10,000 streams needs 10,000 sockets,
// as many as the server side, and both together do not fit under one
// process's descriptor limit (20,000 here).
const sseHelperEnv = "ALLSPARK_HOSTILE_SSE_HOLDER"

// sseRequest is the stream request of a hostile subscriber.
func sseRequest(query string, extra string) string {
	return "GET /primus/sse?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" + extra + "\r\n"
}

// readStreamStart reads a stream's response head and its body up to the
// retry field, and returns the (de-chunked) body.
func readStreamStart(r *bufio.Reader) (*bufio.Reader, error) {
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", res.Status)
	}
	body := bufio.NewReader(res.Body)
	for {
		line, err := body.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(line, "retry: ") {
			return body, nil
		}
	}
}

// sseHolderMain dials n streams to addr, reads their starts, prints READY
// and holds them until stdin closes. It runs in a child process.
func sseHolderMain(spec string) int {
	addr, nText, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(nText)
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := net.Dial("tcp", addr)
				if err == nil {
					_, err = io.WriteString(c, sseRequest("rooms=idle", ""))
				}
				if err == nil {
					_, err = readStreamStart(bufio.NewReaderSize(c, 4096))
				}
				if err != nil {
					failed.Store(err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		fmt.Println("FAILED", err)
		return 1
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// memStats is the live heap and the goroutine stacks after a full
// collection: what an idle connection costs in the Go runtime.
func memStats() (heap, stacks uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse
}

// TestSSEIdleSubscribers opens 10,000 idle event streams (2,000 under the
// race detector, 1,000 with -short), held by a child process, and measures what each costs the
// server: heap and goroutine stacks, which together must stay under
// 12 KiB (its spark, its request's headers, the hijacked connection and
// the goroutine that reads it; on the ResponseWriter, with net/http's
// goroutines and buffers, it was 38 KiB). When the holder goes away, every
// spark and room membership goes with it.
func TestSSEIdleSubscribers(t *testing.T) {
	n := 10_000
	switch {
	case testing.Short():
		n = 1000
	case raceEnabled:
		n = 2000
	}
	const perSubscriber = 12 << 10
	s := startServer(t, allspark.Options{}, nil)
	heap0, stacks0 := memStats()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sseHelperEnv+"="+s.Addr+","+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "READY\n" {
		t.Fatalf("holder: %q, %v", line, err)
	}
	opened := time.Since(start)
	if !waitFor(10*time.Second, func() bool { return s.Len() == n }) {
		t.Fatalf("Len = %d, want %d", s.Len(), n)
	}
	if got := s.Room("idle").Len(); got != n {
		t.Fatalf("room has %d members, want %d", got, n)
	}
	heap1, stacks1 := memStats()
	dh, ds := int64(heap1)-int64(heap0), int64(stacks1)-int64(stacks0)
	each := (dh + ds) / int64(n)
	t.Logf("%d idle event streams (opened in %v, %.0f/s): heap +%.1f MiB, stacks +%.1f MiB: %d B each (%d heap + %d stacks), limit %d",
		n, opened.Round(time.Millisecond), float64(n)/opened.Seconds(), mib(dh), mib(ds), each, dh/int64(n), ds/int64(n), perSubscriber)
	if each > perSubscriber {
		t.Errorf("an idle event stream costs %d bytes, want < %d", each, perSubscriber)
	}
	// A broadcast reaches them all, and a well-behaved client is served.
	if got, err := s.Room("idle").Write("to all"); err != nil || got != n {
		t.Errorf("room write reached %d, %v", got, err)
	}
	assertServes(t, s)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("holder: %v", err)
	}
	if !waitFor(10*time.Second, func() bool { return s.Len() == 0 && s.Room("idle").Len() == 0 }) {
		t.Fatalf("after the holder left: %d sparks, %d in the room", s.Len(), s.Room("idle").Len())
	}
}

// sseHostile opens a stream from a raw socket with a small receive buffer
// that the test never reads past the prelude.
func sseHostile(t *testing.T, addr, query, extra string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, sseRequest(query, extra)); err != nil {
		t.Fatal(err)
	}
	return c
}

// sseReader is a well-behaved subscriber that counts the events it reads.
type sseReader struct {
	events atomic.Int64
	done   chan struct{}
}

func startSSEReader(t *testing.T, addr, query string) *sseReader {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, sseRequest(query, "")); err != nil {
		t.Fatal(err)
	}
	r, err := readStreamStart(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	sr := &sseReader{done: make(chan struct{})}
	go func() {
		defer close(sr.done)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "id: ") {
				sr.events.Add(1)
			}
		}
	}()
	return sr
}

// TestSSEReaderThatNeverReads: a room flood to a subscriber that reads
// nothing fills its spark's send queue, and the slow-consumer policy ends
// it (the client would reconnect); the stream buffered nothing beyond the
// queue, and a reading subscriber of the same room got every message.
func TestSSEReaderThatNeverReads(t *testing.T) {
	const (
		msgs, size = 8000, 2 << 10 // 16 MiB, and as much again in SSE frames
		// QueueSize (1024) messages held for the reader that reads nothing,
		// each its 2 KiB encoding and its 2 KiB frame (cached on the
		// message), the reading subscriber's backlog, and slack.
		limit = 12 * MiB
	)
	var slow atomic.Int32
	s := startServer(t, allspark.Options{OnSlowConsumer: func(sp *allspark.Spark, _ allspark.SlowConsumerEvent) {
		if isHostile(sp) {
			slow.Add(1)
		}
	}}, nil)
	sseHostile(t, s.Addr, "rooms=flood&"+hostileQuery, "")
	good := startSSEReader(t, s.Addr, "rooms=flood")
	if !waitFor(5*time.Second, func() bool { return s.Room("flood").Len() == 2 }) {
		t.Fatal("subscribers did not join")
	}
	payload := strings.Repeat("x", size)
	base := heap()
	var peak int64
	delivered := 0
	for i := range msgs {
		n, err := s.Room("flood").Write(payload)
		if err != nil {
			t.Fatal(err)
		}
		delivered += n
		if i%256 == 255 {
			// Paced by the reading subscriber, so only the one that reads
			// nothing falls behind by a full queue.
			if !waitFor(5*time.Second, func() bool { return good.events.Load() > int64(i)-256 }) {
				t.Fatalf("the reading subscriber is stuck at %d of %d", good.events.Load(), i)
			}
		}
		if i%1000 == 0 {
			peak = max(peak, heapGrowth(base))
		}
	}
	peak = max(peak, heapGrowth(base))
	t.Logf("%d MiB to a room with a subscriber that reads nothing: heap peaked at +%.1f MiB (limit %.0f MiB)", msgs*size/MiB, mib(peak), mib(limit))
	if peak > limit {
		t.Errorf("heap grew %.1f MiB, want < %.0f MiB: the stream buffered what its reader did not take", mib(peak), mib(limit))
	}
	if !waitFor(5*time.Second, func() bool { return slow.Load() > 0 && s.Room("flood").Len() == 1 }) {
		t.Fatalf("slow-consumer policy fired %d times; room has %d members, want the reader ended", slow.Load(), s.Room("flood").Len())
	}
	if !waitFor(10*time.Second, func() bool { return good.events.Load() == msgs }) {
		t.Errorf("the reading subscriber got %d of %d events (%d deliveries)", good.events.Load(), msgs, delivered)
	}
}

// TestSSEReaderThatNeverReadsDropOldest: under SlowConsumerDropOldest the
// queue never ends the spark, so the write timeout must: the writer's
// batch to a client that takes no bytes fails after WriteTimeout.
func TestSSEReaderThatNeverReadsDropOldest(t *testing.T) {
	s := startServer(t, allspark.Options{SlowConsumer: allspark.SlowConsumerDropOldest, WriteTimeout: 300 * time.Millisecond}, nil)
	sseHostile(t, s.Addr, "rooms=flood&"+hostileQuery, "")
	if !waitFor(5*time.Second, func() bool { return s.Room("flood").Len() == 1 }) {
		t.Fatal("subscriber did not join")
	}
	payload := strings.Repeat("x", 1<<10)
	base := heap()
	start := time.Now()
	for s.Len() > 0 && time.Since(start) < 10*time.Second {
		_, _ = s.Room("flood").Write(payload)
	}
	if s.Len() != 0 {
		t.Fatal("a subscriber that reads nothing was still connected after 10 s")
	}
	t.Logf("cut after %v, heap %+.1f MiB", time.Since(start).Round(time.Millisecond), mib(heapGrowth(base)))
	assertHeapBelow(t, base, 8*MiB, 0, "drop-oldest flood to a reader that reads nothing")
}

// TestSSEHeaderFlood: a stream request's headers are held by its spark
// for its life, so Serve's MaxHeaderBytes (64 KiB) bounds them: past it the
// request gets 431 and opens nothing; 1,000 streams with 32 KiB of headers
// each cost about that and no more.
func TestSSEHeaderFlood(t *testing.T) {
	s := startServer(t, allspark.Options{}, nil)
	c := sseHostile(t, s.Addr, hostileQuery, "X-Flood: "+strings.Repeat("a", 100<<10)+"\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(status, " 431 ") {
		t.Fatalf("100 KiB of headers: %q, %v; want 431", status, err)
	}
	if s.Len() != 0 {
		t.Fatal("a refused stream made a spark")
	}

	const n, hdr = 500, 32 << 10
	base := heap()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	conns := make([]net.Conn, n)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cc, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			conns[i] = cc
			if _, err = io.WriteString(cc, sseRequest(hostileQuery, "X-Pad: "+strings.Repeat("b", hdr)+"\r\n")); err == nil {
				_, err = readStreamStart(bufio.NewReader(cc))
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, cc := range conns {
			if cc != nil {
				cc.Close()
			}
		}
	}()
	if !waitFor(5*time.Second, func() bool { return s.Len() == n }) {
		t.Fatalf("Len = %d, want %d", s.Len(), n)
	}
	g := heapGrowth(base)
	t.Logf("%d streams with %d KiB of headers: heap +%.1f MiB (%.1f KiB each)", n, hdr>>10, mib(g), float64(g)/n/1024)
	if each := g / n; each > hdr+16<<10 {
		t.Errorf("a stream with %d KiB of headers costs %d KiB", hdr>>10, each>>10)
	}
}
