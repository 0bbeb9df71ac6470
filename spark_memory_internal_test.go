package allspark

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Per-spark memory (docs/benchmarks.md, "Per-spark memory").
//
// TestIdleSparkMemory opens ALLSPARK_SPARKMEM idle WebSocket sparks through
// the real server over loopback, with default Options, and reports the live
// heap per spark. The clients run in a child process (this test binary again,
// TestIdleSparkMemoryClient), so the heap measured is the server's alone.
// With ALLSPARK_SPARKMEM_PROFILE set it also writes an in-use heap profile,
// sampled at every allocation, taken while the sparks are open:
//
//	ALLSPARK_SPARKMEM=2000 ALLSPARK_SPARKMEM_PROFILE=/tmp/spark.heap \
//	  go test -run 'TestIdleSparkMemory$' -v .
//	go tool pprof -sample_index=inuse_space -top /tmp/spark.heap
//
// The server reads upgrades itself (Server.Listener, as Serve does); with
// ALLSPARK_SPARKMEM_NETHTTP set they go through net/http's hijack instead.
// With ALLSPARK_SPARKMEM_TRANSPORT=polling the sparks are Engine.IO
// long-polling sessions, each holding a poll. With ALLSPARK_SPARKMEM_PONG
// set the clients answer the heartbeat, and the test then reports what a
// heartbeat (ping out, pong in) allocates per spark: the garbage an idle
// server makes, which sets how far its heap grows past the live figure
// between collections.
//
// Without ALLSPARK_SPARKMEM it is skipped: it opens thousands of sockets.

// sparkMemHeaders are the handshake headers of the measured clients: what a
// browser's Primus client sends (Chrome; Origin is the page's, same-origin), so the retained request is
// realistic rather than the minimal handshake.
const sparkMemHeaders = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
	"Cache-Control: no-cache\r\n" +
	"Pragma: no-cache\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

func TestIdleSparkMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ALLSPARK_SPARKMEM"))
	if n <= 0 {
		t.Skip("set ALLSPARK_SPARKMEM=N to open N idle sparks and report their heap")
	}
	reportSparkSizes(t)

	profile := os.Getenv("ALLSPARK_SPARKMEM_PROFILE")
	if profile != "" {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		t.Cleanup(func() { runtime.MemProfileRate = old })
	}
	var opts Options
	if os.Getenv("ALLSPARK_SPARKMEM_PONG") != "" {
		// measureHeartbeats runs them by hand; the loop's own first slot
		// comes an hour/64 after the first connect, after the test.
		opts.PingInterval = time.Hour
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	if os.Getenv("ALLSPARK_SPARKMEM_NETHTTP") == "" {
		// As Serve does: upgrades read off the connection (Listener).
		hs.Listener = srv.Listener(hs.Listener)
	}
	hs.Start()
	defer hs.Close()
	defer shutdownQuietly(srv)

	// One spark first, so what the server sets up once (heartbeat loop,
	// pools) is in the baseline, not in the per-spark figure.
	warm := sparkMemDial(t, hs.Listener.Addr().String())
	if os.Getenv("ALLSPARK_SPARKMEM_PONG") != "" {
		go answerPings(warm)
	}
	waitSparks(t, srv, 1)

	base := liveHeap()
	baseRSS := selfRSS()
	child := exec.Command(os.Args[0], "-test.run=^TestIdleSparkMemoryClient$")
	child.Env = append(os.Environ(),
		"ALLSPARK_SPARKMEM_CLIENT="+hs.Listener.Addr().String(),
		"ALLSPARK_SPARKMEM_N="+strconv.Itoa(n))
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close() // the child closes its sockets and exits
		_ = child.Wait()
	}()
	waitSparks(t, srv, n+1)
	time.Sleep(500 * time.Millisecond) // let the handshakes' goroutines settle
	rss := selfRSS()                   // before liveHeap's GCs: what the connects left resident
	after := liveHeap()
	per := float64(int64(after.HeapAlloc)-int64(base.HeapAlloc)) / float64(n)
	// Allocated per connect, live or not: garbage sets how far the heap
	// grows past its live size while connections arrive.
	alloc := float64(after.TotalAlloc-base.TotalAlloc) / float64(n)
	t.Logf("idle sparks: %d; live heap %d -> %d B: %.0f B per spark; HeapObjects %+d (%.1f per spark); allocated %.0f B per connect (%.0f B garbage); goroutines %d",
		n, base.HeapAlloc, after.HeapAlloc, per,
		int64(after.HeapObjects)-int64(base.HeapObjects),
		float64(int64(after.HeapObjects)-int64(base.HeapObjects))/float64(n),
		alloc, alloc-per, runtime.NumGoroutine())
	if rss > 0 && baseRSS > 0 {
		per := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(n) }
		t.Logf("RSS %d -> %d KB: %.2f KB per spark; per spark: HeapInuse %+.0f B, GC metadata %+.0f B, other runtime %+.0f B, stacks %+.0f B, spans %+.0f B",
			baseRSS, rss, float64(rss-baseRSS)/float64(n), per(after.HeapInuse, base.HeapInuse), per(after.GCSys, base.GCSys),
			per(after.OtherSys, base.OtherSys), per(after.StackInuse, base.StackInuse), per(after.MSpanInuse, base.MSpanInuse))
	}
	if os.Getenv("ALLSPARK_SPARKMEM_PONG") != "" {
		measureHeartbeats(t, srv, n)
		// What a spark keeps once it has been written to and read from
		// (its queue's slice, the socket's write state): the steady state.
		steady := liveHeap()
		t.Logf("after the heartbeats: live heap %.0f B per spark", float64(int64(steady.HeapAlloc)-int64(base.HeapAlloc))/float64(n))
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC() // the profile is as of the last collection: include the heartbeats
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
		t.Logf("heap profile: %s (go tool pprof -sample_index=inuse_space -top %s)", profile, profile)
	}
	_ = warm.Close()
}

// TestIdleSparkMemoryClient is TestIdleSparkMemory's client side, run in a
// child process: it opens the sparks and holds them until stdin closes.
func TestIdleSparkMemoryClient(t *testing.T) {
	addr := os.Getenv("ALLSPARK_SPARKMEM_CLIENT")
	if addr == "" {
		t.Skip("the client side of TestIdleSparkMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("ALLSPARK_SPARKMEM_N"))
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	dial := sparkMemDial
	if os.Getenv("ALLSPARK_SPARKMEM_TRANSPORT") == "polling" {
		dial = sparkMemPoll
	}
	pong := os.Getenv("ALLSPARK_SPARKMEM_PONG") != ""
	for range n {
		c := dial(t, addr)
		conns = append(conns, c)
		if pong {
			go answerPings(c)
		}
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until EOF
}

// sparkMemPoll opens one Engine.IO long-polling spark (the Primus engine.io
// transformer's first transport) the way a browser does: the handshake
// GET, then a poll the server holds until it has something to send (the
// next ping, 25 s later). Each on a connection of its own, as a browser
// holds a held poll.
func sparkMemPoll(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "GET /primus/?EIO=4&transport=polling&t=P1a2b3c HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\n%s\r\n", addr, addr, sparkMemHeaders)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_, open, ok := strings.Cut(string(body), `"sid":"`)
	sid, _, _ := strings.Cut(open, `"`)
	if resp.StatusCode != http.StatusOK || !ok || sid == "" {
		t.Fatalf("polling handshake: %d %q", resp.StatusCode, body)
	}
	fmt.Fprintf(conn, "GET /primus/?EIO=4&transport=polling&t=P1a2b3d&sid=%s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\n%s\r\n", sid, addr, addr, sparkMemHeaders)
	return conn
}

// sparkMemDial opens one Primus WebSocket spark the way a browser does and
// does not read from it again (the server's heartbeat pings go unanswered,
// which is fine within the default 25 s + 10 s).
func sparkMemDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(conn, "GET /primus/?_primuscb=1733230000000-0 HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: http://%s\r\n%s\r\n",
		addr, base64.StdEncoding.EncodeToString(key), addr, sparkMemHeaders)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", resp.StatusCode)
	}
	return conn
}

func waitSparks(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for srv.Len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sparks connected", srv.Len(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// selfRSS is this process's resident set in KB, 0 where /proc is missing.
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

func liveHeap() runtime.MemStats {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms
}

func shutdownQuietly(srv *Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx, ShutdownOptions{Timeout: time.Second})
}

// reportSparkSizes logs unsafe.Sizeof of the Spark and of what it holds
// inline or allocates per connection.
func reportSparkSizes(t *testing.T) {
	var sp Spark
	sizes := []struct {
		name string
		size uintptr
	}{
		{"Spark", unsafe.Sizeof(sp)},
		{"Spark.queue (sendQueue)", unsafe.Sizeof(sp.queue)},
		{"Spark.evq (eventQueue)", unsafe.Sizeof(sp.evq)},
		{"Spark.events (eventHandlers)", unsafe.Sizeof(sp.events)},
		{"sync.Mutex", unsafe.Sizeof(sp.mu)},
		{"http.Request", unsafe.Sizeof(http.Request{})},
		{"sparkSession", unsafe.Sizeof(sparkSession{})},
		{"emitterSession", unsafe.Sizeof(emitterSession{})},
	}
	var b strings.Builder
	for _, s := range sizes {
		fmt.Fprintf(&b, "\n  %-30s %4d B", s.name, s.size)
	}
	t.Logf("unsafe.Sizeof:%s", b.String())
}

// The spark keeps no parsed query: each Query call parses the kept
// request's, and its map is the caller's (changing it changes no other
// caller's), concurrent calls included.
func TestSparkQueryParsedPerCall(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://example.com/primus/?a=1&a=2&b=x%20y", nil)
	r.RemoteAddr = "127.0.0.1:1"
	sp := srv.attach(&fakeConn{}, r)
	got := make(chan url.Values, 4)
	for range cap(got) {
		go func() { got <- sp.Query() }()
	}
	first := <-got
	first.Set("b", "changed")
	for range cap(got) - 1 {
		if q := <-got; q.Get("b") != "x y" {
			t.Fatal("Query maps are shared between callers")
		}
	}
	first.Set("b", "x y")
	if !reflect.DeepEqual(first, url.Values{"a": {"1", "2"}, "b": {"x y"}}) {
		t.Fatalf("Query = %v", first)
	}
	r2, _ := http.NewRequest(http.MethodGet, "http://example.com/primus/", nil)
	sp2 := srv.attach(&fakeConn{}, r2)
	if q := sp2.Query(); q == nil || len(q) != 0 {
		t.Errorf("Query without a query string = %#v, want an empty map", q)
	}
	sp.OnClose(nil)
	sp2.OnClose(nil)
	if err := shutdownWithin(t, srv); err != nil {
		t.Fatal(err)
	}
}

// One Spark per connection: its fields are ordered without padding so it
// stays in the 640-byte size class (it was 664 B, a 704-byte object). An
// object over 512 B that holds pointers carries an 8-byte allocation
// header, so the bound is 632. A new field that pushes it over must win its
// place back elsewhere.
func TestSparkSize(t *testing.T) {
	if size := unsafe.Sizeof(Spark{}); size > 480 {
		t.Fatalf("unsafe.Sizeof(Spark{}) = %d B, over the 480-byte size class", size)
	}
}

// The spark keeps its request's headers packed and unpacks them on the
// first Headers or Request call: every key, every value in order, empty
// ones included; concurrent first calls get the one map.
func TestSparkHeadersPackedUntilAsked(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://example.com/primus/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	want := http.Header{
		"Accept-Language": {"en-US,en;q=0.9"},
		"X-Multi":         {"a", "", "c, d"},
		"X-Empty":         {""},
		"X-Long":          {strings.Repeat("v", 300)},
		"Host":            {"example.com"},
	}
	for k, vs := range want {
		r.Header[k] = append([]string(nil), vs...)
	}
	sp := srv.attach(&fakeConn{}, r)
	defer sp.OnClose(nil)
	if sp.req != nil || sp.head == "" {
		t.Fatal("the spark holds a parsed request while nobody asked for it")
	}
	got := make(chan http.Header, 4)
	for i := range cap(got) {
		go func() {
			if i%2 == 0 {
				got <- sp.Headers()
			} else {
				got <- sp.Request().Header
			}
		}()
	}
	first := <-got
	for range cap(got) - 1 {
		if h := <-got; reflect.ValueOf(h).UnsafePointer() != reflect.ValueOf(first).UnsafePointer() {
			t.Fatal("Headers and Request().Header are different maps")
		}
	}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("Headers = %q, want %q", first, want)
	}
	if h := unpackHeader(packHeader(nil)); h == nil || len(h) != 0 {
		t.Fatalf("no headers unpack to %#v, want an empty map", h)
	}
	if r := unpackRequest("\x03GET\x40/x"); r.method != "GET" || r.header != "" {
		t.Fatalf("malformed packing unpacked to %+v", r)
	}
	if h := unpackHeader("\x05ab"); len(h) > 1 {
		t.Fatalf("malformed packing unpacked to %q", h)
	}
}

// measureHeartbeats runs three heartbeats by hand (the server's own ticks
// are 25 s apart) and reports what each allocated per spark, from the ping
// to its pong's arrival. The caller then reports what the sparks keep.
func measureHeartbeats(t *testing.T, srv *Server, n int) {
	t.Helper()
	for round := range 3 {
		// Real heartbeats are PingInterval apart: let every reader give
		// its connection back first (the poller engine keeps the reader of
		// a connection read twice within a quarter second).
		time.Sleep(500 * time.Millisecond)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		// Slot by slot, as the heartbeat loop pings (heartbeat.go); the
		// loop's slots are PingInterval/64 apart, far longer than a slot's
		// pongs take, so each slot here waits for its pongs before the
		// next is pinged.
		slots := heartbeatSlots(srv.opts.PingInterval)
		deadline := time.Now().Add(30 * time.Second)
		peak := 0
		for slot := range slots {
			srv.pingSlot(time.Now(), slot, slots, nil)
			for !slotAnswered(srv, slot, slots) {
				peak = max(peak, runtime.NumGoroutine())
				if time.Now().After(deadline) {
					t.Fatalf("heartbeat %d: slot %d unanswered", round, slot)
				}
				time.Sleep(time.Millisecond)
			}
		}
		runtime.ReadMemStats(&after)
		t.Logf("heartbeat %d: %.0f B and %.1f allocations per spark (ping out, pong in); at most %d goroutines seen during it, %d after",
			round, float64(after.TotalAlloc-before.TotalAlloc)/float64(n),
			float64(after.Mallocs-before.Mallocs)/float64(n), peak, runtime.NumGoroutine())
	}
}

// slotAnswered reports whether every spark of slot has answered its ping.
func slotAnswered(srv *Server, slot, slots int) bool {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	for _, sp := range srv.sparks {
		if int(sp.hbSlot)%slots == slot && !sp.alive.Load() {
			return false
		}
	}
	return true
}

// answerPings is a measured client's heartbeat: every server frame is a
// Primus ping (the sparks get nothing else), answered with its pong.
func answerPings(c net.Conn) {
	br := bufio.NewReader(c)
	var mask [4]byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		payload := make([]byte, h[1]&0x7f) // pings are short: no extended length
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		pong := strings.Replace(string(payload), "primus::ping::", "primus::pong::", 1)
		frame := append([]byte{0x81, 0x80 | byte(len(pong))}, mask[:]...)
		frame = append(frame, pong...) // a zero mask leaves the payload as is
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}
