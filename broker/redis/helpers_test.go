package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// sharedAddr is the machine's Redis; tests isolate themselves with a random
// Prefix.
const sharedAddr = "127.0.0.1:6379"

var startShared sync.Once

// sharedRedis returns the shared Redis address, starting redis-server on
// 6379 when nothing answers there (it is left running for the next
// package, as the environment expects).
func sharedRedis(t testing.TB) string {
	t.Helper()
	startShared.Do(func() {
		if reachable(sharedAddr) {
			return
		}
		path, err := exec.LookPath("redis-server")
		if err != nil {
			return
		}
		cmd := exec.Command(path, "--port", "6379", "--save", "", "--appendonly", "no", "--daemonize", "yes")
		_ = cmd.Run()
		waitReachable(sharedAddr, 5*time.Second)
	})
	if !reachable(sharedAddr) {
		t.Skip("no Redis at", sharedAddr, "and redis-server could not be started")
	}
	return sharedAddr
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func waitReachable(addr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if reachable(addr) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func randomPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "allspark-test-" + hex.EncodeToString(b)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestBroker connects to the shared Redis under a fresh prefix (or
// o.Prefix) and closes the broker at cleanup.
func newTestBroker(t testing.TB, o Options) *Broker {
	t.Helper()
	if len(o.Addrs) == 0 {
		o.Addrs = []string{sharedRedis(t)}
	}
	if o.Prefix == "" {
		o.Prefix = randomPrefix()
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// ownRedis is a redis-server of the test's own, on a free port, that the
// test may kill and restart.
type ownRedis struct {
	t     testing.TB
	port  int
	extra []string
	dir   string
	cmd   *exec.Cmd
	done  chan struct{}
}

// startOwnRedis starts redis-server with extra arguments on a free port
// whose cluster bus port (+10000) is free too.
func startOwnRedis(t testing.TB, extra ...string) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	r := &ownRedis{t: t, port: freePort(t), extra: extra, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 > 65535 {
			continue
		}
		if bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
			bus.Close()
			return port
		}
	}
	t.Fatal("no free port pair")
	return 0
}

func (r *ownRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *ownRedis) start() {
	r.t.Helper()
	args := append([]string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log")}, r.extra...)
	r.cmd = exec.Command("redis-server", args...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	if !waitReachable(r.addr(), 5*time.Second) {
		r.t.Fatal("own redis-server did not start")
	}
}

// stop kills the server (SIGKILL: an outage, not a shutdown).
func (r *ownRedis) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// proxy is a TCP proxy in front of a Redis that can be switched to
// "blackhole": connections stay open and client bytes still flow, but
// nothing from the server reaches the client, which is what a stale
// PUB/SUB connection looks like.
type proxy struct {
	l        net.Listener
	target   string
	mu       sync.Mutex
	holes    bool
	resume   chan struct{} // closed when forwarding resumes
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	accepted atomic.Int64
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(s, c, false)
		go p.pipe(c, s, true)
	}
}

// pipe copies src to dst; in the server→client direction it holds bytes
// while the proxy is a blackhole.
func (p *proxy) pipe(dst, src net.Conn, fromServer bool) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && fromServer {
			p.mu.Lock()
			for p.holes {
				ch := p.resume
				p.mu.Unlock()
				<-ch
				p.mu.Lock()
			}
			p.mu.Unlock()
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on == p.holes {
		return
	}
	p.holes = on
	if on {
		p.resume = make(chan struct{})
	} else {
		close(p.resume)
	}
}

func (p *proxy) close() {
	p.blackhole(false)
	p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// recorder is a BrokerHandler that keeps what it receives.
type recorder struct {
	mu    sync.Mutex
	pubs  []*allspark.Publication
	msgs  []message
	block chan struct{} // when set, every call waits for it to close
	calls atomic.Int64
}

type message struct {
	from string
	msg  string
}

func (r *recorder) HandlePublication(p *allspark.Publication) int {
	r.calls.Add(1)
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	r.pubs = append(r.pubs, p)
	r.mu.Unlock()
	return 1
}

func (r *recorder) HandleMessage(from string, msg []byte) {
	r.calls.Add(1)
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, message{from, string(msg)})
	r.mu.Unlock()
}

func (r *recorder) payloads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.pubs {
		out = append(out, string(p.Payload))
	}
	return out
}

func (r *recorder) messages() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message(nil), r.msgs...)
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
