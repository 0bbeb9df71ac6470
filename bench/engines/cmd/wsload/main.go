// Command wsload is the load client for the engine comparison. It is the same
// client for every engine (github.com/gobwas/ws low-level frames) and talks to
// 127.0.0.1 only, binding its sockets to several 127.0.0.x source addresses so
// ephemeral ports never run out. Sockets are closed with SO_LINGER=0 (RST) so
// back-to-back runs leave no TIME_WAIT behind.
//
// Modes:
//
//	idle: open -n connections, wait -settle, read the server's VmRSS and /stats,
//	      print KB per connection and the connect rate.
//	echo: -c connections each send a -size byte text message and wait for the
//	      echo, for -dur (after -warm); print msgs/s, p50/p99 round trip and the
//	      server's CPU time (utime+stime) per message.
//
// Output is one line of key=value pairs on stdout.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

var (
	mode     = flag.String("mode", "idle", "idle|echo|check")
	target   = flag.String("addr", "127.0.0.1:9000", "server address (must be 127.0.0.1)")
	pid      = flag.Int("pid", 0, "server process id (for /proc figures)")
	label    = flag.String("label", "", "engine label printed in the result line")
	n        = flag.Int("n", 10000, "idle: number of connections")
	par      = flag.Int("par", 50, "idle: concurrent dialers")
	settle   = flag.Duration("settle", 5*time.Second, "idle: wait after all are open")
	c        = flag.Int("c", 100, "echo: connections")
	size     = flag.Int("size", 100, "echo: message size in bytes")
	dur      = flag.Duration("dur", 10*time.Second, "echo: measured duration")
	warm     = flag.Duration("warm", 1*time.Second, "echo: warm-up before measuring")
	srcs     = flag.String("src", "127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5", "source addresses")
	deflate  = flag.Bool("deflate", false, "offer permessage-deflate in the handshake (idle only)")
	deadline = flag.Duration("deadline", 90*time.Second, "hard stop for the whole run")
)

var srcAddrs []*net.TCPAddr
var srcNext atomic.Uint64

func main() {
	flag.Parse()
	host, _, err := net.SplitHostPort(*target)
	if err != nil || host != "127.0.0.1" {
		log.Fatalf("addr must be 127.0.0.1:port, got %q", *target)
	}
	for _, s := range strings.Split(*srcs, ",") {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil || !ip.IsLoopback() {
			log.Fatalf("source %q is not a loopback address", s)
		}
		srcAddrs = append(srcAddrs, &net.TCPAddr{IP: ip})
	}
	// Everything stops by itself.
	time.AfterFunc(*deadline, func() {
		fmt.Fprintln(os.Stderr, "wsload: deadline reached, exiting")
		os.Exit(3)
	})
	switch *mode {
	case "idle":
		idle()
	case "echo":
		echo()
	case "check":
		check()
	default:
		log.Fatalf("unknown mode %q", *mode)
	}
}

func dialer() ws.Dialer {
	d := ws.Dialer{
		Timeout: 10 * time.Second,
		NetDial: func(ctx context.Context, network, a string) (net.Conn, error) {
			i := srcNext.Add(1)
			nd := net.Dialer{LocalAddr: srcAddrs[int(i)%len(srcAddrs)], Timeout: 10 * time.Second}
			conn, err := nd.DialContext(ctx, "tcp4", a)
			if err != nil {
				return nil, err
			}
			_ = conn.(*net.TCPConn).SetLinger(0)
			return conn, nil
		},
	}
	if *deflate {
		d.Extensions = []httphead.Option{httphead.NewOption("permessage-deflate", map[string]string{"client_max_window_bits": ""})}
	}
	return d
}

func url() string { return "ws://" + *target + "/primus" }

// ---------------------------------------------------------------- /proc and /stats

func procStatus(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", *pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line[len(field)+1:])
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return -1
}

// cpuTicks returns utime+stime of the server in clock ticks (USER_HZ=100).
func cpuTicks() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", *pid))
	if err != nil {
		return -1
	}
	s := string(b)
	// fields after the ")" of comm; utime is field 14, stime 15 (1-based).
	s = s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(s)
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

type stats struct {
	Goroutines int64 `json:"goroutines"`
	HeapAlloc  int64 `json:"heap_alloc"`
	HeapInuse  int64 `json:"heap_inuse"`
	StackInuse int64 `json:"stack_inuse"`
	Sys        int64 `json:"sys"`
}

func getStats(gc bool) stats {
	var s stats
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	u := "http://" + *target + "/stats"
	if gc {
		u += "?gc=1"
	}
	resp, err := cl.Get(u)
	if err != nil {
		log.Printf("stats: %v", err)
		return s
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&s)
	return s
}

// ---------------------------------------------------------------- idle

func idle() {
	before := getStats(true) // GC + return free pages to the OS
	rss0GC := procStatus("VmRSS")
	time.Sleep(500 * time.Millisecond)
	rss0 := procStatus("VmRSS")

	conns := make([]net.Conn, *n)
	var fails, negotiated atomic.Int64
	var firstErr atomic.Value
	var idx atomic.Int64
	d := dialer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(idx.Add(1)) - 1
				if i >= *n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				conn, br, hs, err := d.Dial(ctx, url())
				cancel()
				if err != nil {
					fails.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				if br != nil {
					ws.PutReader(br)
				}
				conns[i] = conn
				if len(hs.Extensions) > 0 {
					negotiated.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	connectDur := time.Since(start)
	ok := int64(*n) - fails.Load()

	time.Sleep(*settle)
	rss1 := procStatus("VmRSS")
	after := getStats(true)
	rssGC := procStatus("VmRSS")

	// Check the connections are still open: none of them should be readable
	// (the servers never send anything unprompted), nor closed.
	var aliveN atomic.Int64
	idx.Store(0)
	for w := 0; w < *par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [1]byte
			for {
				i := int(idx.Add(1)) - 1
				if i >= *n {
					return
				}
				cn := conns[i]
				if cn == nil {
					continue
				}
				_ = cn.SetReadDeadline(time.Now().Add(2 * time.Millisecond))
				_, err := cn.Read(b[:])
				if ne, okT := err.(net.Error); okT && ne.Timeout() {
					aliveN.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	alive := aliveN.Load()

	okf := float64(max(ok, 1))
	fmt.Printf("engine=%s mode=idle n=%d ok=%d alive=%d connect_s=%.2f connect_per_s=%.0f rss_before_kb=%d rss_after_kb=%d rss_kb_per_conn=%.2f heap_kb_per_conn=%.2f stack_kb_per_conn=%.2f goroutines=%d goroutines_per_conn=%.2f rss_gc_kb_per_conn=%.2f deflate_negotiated=%d",
		*label, *n, ok, alive, connectDur.Seconds(), float64(ok)/connectDur.Seconds(),
		rss0, rss1, float64(rss1-rss0)/okf,
		float64(after.HeapAlloc-before.HeapAlloc)/1024/okf,
		float64(after.StackInuse-before.StackInuse)/1024/okf,
		after.Goroutines, float64(after.Goroutines-before.Goroutines)/okf, float64(rssGC-rss0GC)/okf, negotiated.Load())
	if fails.Load() > 0 {
		fmt.Printf(" first_err=%q", firstErr.Load())
	}
	fmt.Println()
	for _, cn := range conns {
		if cn != nil {
			_ = cn.Close()
		}
	}
}

// ---------------------------------------------------------------- echo

func echo() {
	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	// One pre-masked client frame, reused for every send.
	fr := ws.NewTextFrame(payload)
	fr = ws.MaskFrameInPlace(fr)
	frame, err := ws.CompileFrame(fr)
	if err != nil {
		log.Fatal(err)
	}

	d := dialer()
	type conn struct {
		nc net.Conn
		br *bufio.Reader
	}
	cs := make([]conn, *c)
	for i := range cs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		nc, br, _, err := d.Dial(ctx, url())
		cancel()
		if err != nil {
			log.Fatalf("dial: %v", err)
		}
		if br == nil {
			br = bufio.NewReaderSize(nc, 4096)
		}
		cs[i] = conn{nc, br}
	}

	t0 := time.Now()
	mStart := t0.Add(*warm)
	mEnd := mStart.Add(*dur)
	var cpu0, rss0 atomic.Int64
	cpuTimer := time.AfterFunc(*warm, func() { cpu0.Store(cpuTicks()); rss0.Store(procStatus("VmRSS")) })

	lat := make([][]time.Duration, *c)
	counts := make([]int64, *c)
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range cs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cn := cs[i]
			buf := make([]byte, *size+64)
			samples := make([]time.Duration, 0, 1<<16)
			var cnt int64
			fail := func(err error) {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
			_ = cn.nc.SetDeadline(mEnd.Add(5 * time.Second))
			for {
				s := time.Now()
				if s.After(mEnd) {
					break
				}
				if _, err := cn.nc.Write(frame); err != nil {
					fail(err)
					break
				}
				h, err := ws.ReadHeader(cn.br)
				if err != nil {
					fail(err)
					break
				}
				if h.OpCode != ws.OpText || h.Length != int64(*size) || h.Masked {
					fail(fmt.Errorf("unexpected frame %+v", h))
					break
				}
				if _, err := io.ReadFull(cn.br, buf[:h.Length]); err != nil {
					fail(err)
					break
				}
				e := time.Now()
				if s.After(mStart) && !e.After(mEnd) {
					samples = append(samples, e.Sub(s))
					cnt++
				}
			}
			lat[i] = samples
			counts[i] = cnt
		}(i)
	}
	wg.Wait()
	cpuTimer.Stop()
	cpu1 := cpuTicks()
	rss1 := procStatus("VmRSS")
	hwm := procStatus("VmHWM")

	var total int64
	all := make([]time.Duration, 0)
	for i := range cs {
		total += counts[i]
		all = append(all, lat[i]...)
		_ = cs[i].nc.Close()
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		k := int(p * float64(len(all)-1))
		return float64(all[k].Microseconds())
	}
	cpuMs := float64(cpu1-cpu0.Load()) * 10
	fmt.Printf("engine=%s mode=echo c=%d size=%d dur_s=%.0f msgs=%d msgs_per_s=%.0f p50_us=%.0f p99_us=%.0f server_cpu_ms=%.0f server_cpu_us_per_msg=%.2f server_cpu_cores=%.2f rss_kb=%d rss_start_kb=%d vmhwm_kb=%d errors=%d",
		*label, *c, *size, dur.Seconds(), total, float64(total)/dur.Seconds(), pct(0.50), pct(0.99),
		cpuMs, cpuMs*1000/float64(max(total, 1)), cpuMs/1000/dur.Seconds(), rss1, rss0.Load(), hwm, errs.Load())
	if errs.Load() > 0 {
		fmt.Printf(" first_err=%q", firstErr.Load())
	}
	fmt.Println()
}

// ---------------------------------------------------------------- check

// check probes behaviour rather than speed: text echo, pong for a client
// ping, and what the server does with a text frame that is not UTF-8.
func check() {
	d := dialer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, br, _, err := d.Dial(ctx, url())
	if err != nil {
		log.Fatalf("dial: %v", err)
	}
	defer nc.Close()
	if br == nil {
		br = bufio.NewReader(nc)
	}
	send := func(f ws.Frame) {
		f = ws.MaskFrameInPlace(f)
		if err := ws.WriteFrame(nc, f); err != nil {
			log.Printf("write: %v", err)
		}
	}
	next := func() (ws.Header, []byte, error) {
		_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		h, err := ws.ReadHeader(br)
		if err != nil {
			return h, nil, err
		}
		b := make([]byte, h.Length)
		_, err = io.ReadFull(br, b)
		return h, b, err
	}
	result := func(h ws.Header, b []byte, err error) string {
		switch {
		case err != nil:
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return "timeout"
			}
			return "conn_closed"
		case h.OpCode == ws.OpClose:
			code, _ := ws.ParseCloseFrameData(b)
			return fmt.Sprintf("close%d", code)
		case h.OpCode == ws.OpPong:
			return "pong:" + string(b)
		case h.OpCode == ws.OpText:
			return "text:" + strconv.Quote(string(b))
		}
		return fmt.Sprintf("op%d", h.OpCode)
	}
	send(ws.NewTextFrame([]byte("hello")))
	echoRes := result(next())
	send(ws.NewPingFrame([]byte("p1")))
	pongRes := result(next())
	send(ws.NewTextFrame([]byte{'a', 0xff, 0xfe, 'b'}))
	badRes := result(next())
	fmt.Printf("engine=%s mode=check echo=%s ping=%s invalid_utf8=%s\n", *label, echoRes, pongRes, badRes)
}
