package hostile_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/parser"
)

// MiB is a mebibyte, for heap figures.
const MiB = 1 << 20

// hostileQuery marks the hostile client's connection, so scenario hooks act
// on it and leave the well-behaved client alone.
const hostileQuery = "role=hostile"

// isHostile reports whether sp is the hostile client.
func isHostile(sp *allspark.Spark) bool { return sp.Query().Get("role") == "hostile" }

// server is an Allspark server under test, served by Server.Serve (which
// sets ReadHeaderTimeout) on a loopback listener.
type server struct {
	*allspark.Server
	Addr string // host:port
}

// startServer starts a server; setup registers the scenario's hooks after
// the echo hook every well-behaved spark gets. The server is shut down at the
// end of the test.
func startServer(t testing.TB, opts allspark.Options, setup func(*allspark.Server)) *server {
	t.Helper()
	if opts.PingInterval == 0 {
		opts.PingInterval = allspark.NoPing // heartbeats are not under test
	}
	srv, err := allspark.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if !isHostile(sp) {
			sp.OnData(func(data any) { _ = sp.Write(data) })
		}
		return nil
	})
	if setup != nil {
		setup(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, allspark.ShutdownOptions{Timeout: time.Second})
		select {
		case err := <-served:
			if !errors.Is(err, allspark.ErrServerClosed) {
				t.Errorf("Serve = %v, want ErrServerClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return &server{Server: srv, Addr: ln.Addr().String()}
}

var probeSeq atomic.Int64

// assertServes checks that a well-behaved client connects, at /primus and
// at /primus/, and gets a message echoed.
func assertServes(t testing.TB, s *server) {
	t.Helper()
	for _, path := range []string{"/primus", "/primus/"} {
		if err := probe(s.Addr, path); err != nil {
			t.Errorf("a well-behaved client at %s is not served: %v", path, err)
		}
	}
}

func probe(addr, path string) error {
	p, err := dial(addr, path, dialOpts{})
	if err != nil {
		return err
	}
	defer p.Close()
	want := fmt.Sprintf(`"probe %d"`, probeSeq.Add(1))
	if err := p.WriteText(want); err != nil {
		return err
	}
	got, err := p.ReadMessage(10 * time.Second)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("echo = %s, want %s", got, want)
	}
	return p.WriteClose(1000)
}

// heap returns the live heap after two collections (the second frees what
// the first's finalizers released).
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapGrowth is heap() minus base, in bytes (negative when it shrank).
func heapGrowth(base uint64) int64 { return int64(heap()) - int64(base) }

// assertHeapBelow fails when the heap grew by more than limit since base.
// unbounded, if known, is what the attack costs a server without the
// bound, for the message.
func assertHeapBelow(t testing.TB, base uint64, limit, unbounded int64, what string) int64 {
	t.Helper()
	g := heapGrowth(base)
	note := ""
	if unbounded > 0 {
		note = fmt.Sprintf(" (an unbounded server grows ≈ %.0f MiB)", mib(unbounded))
	}
	t.Logf("%s: heap grew %.1f MiB, limit %.0f MiB%s", what, mib(g), mib(limit), note)
	if g > limit {
		t.Errorf("%s: heap grew %.1f MiB, want < %.0f MiB%s", what, mib(g), mib(limit), note)
	}
	return g
}

func mib(n int64) float64 { return float64(n) / MiB }

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// seqMsg is message i of a flood: "<seq>:aaa…" of size bytes, sent in a
// binary frame (the parser passes binary through undecoded, so the flood
// costs the server no JSON work and the test stays fast under -race).
func seqMsg(i, size int) []byte {
	b := make([]byte, size)
	head := copy(b, fmt.Sprintf("%08d:", i))
	pad := b[head:]
	pad[0] = 'a'
	for n := 1; n < len(pad); n *= 2 {
		copy(pad[n:], pad[:n])
	}
	return b
}

// seqOf parses the sequence number out of a flood message OnData received.
func seqOf(data any) int {
	b, ok := data.(parser.Binary)
	if !ok || len(b) < 9 || b[8] != ':' {
		return -1
	}
	n := 0
	for _, c := range b[:8] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// orderCounter checks that flood messages arrive complete and in order.
type orderCounter struct {
	next    atomic.Int64 // next sequence number expected
	badSeen atomic.Int64 // first out-of-order number + 1, 0 if none
}

func (c *orderCounter) see(data any) {
	n := int64(seqOf(data))
	if n != c.next.Load() {
		c.badSeen.CompareAndSwap(0, n+1)
		return
	}
	c.next.Add(1)
}

func (c *orderCounter) check(t testing.TB, want int) {
	t.Helper()
	if !waitFor(20*time.Second, func() bool { return c.next.Load() >= int64(want) || c.badSeen.Load() != 0 }) {
		t.Errorf("delivered %d of %d messages", c.next.Load(), want)
	}
	if b := c.badSeen.Load(); b != 0 {
		t.Errorf("message %d arrived when %d was expected (lost or reordered)", b-1, c.next.Load())
	}
}

// flooder writes a prepared stream of frames from a goroutine and reports
// how far it got, so a test can tell whether the server stopped reading.
type flooder struct {
	written atomic.Int64
	done    chan error
}

// flood writes frames (made by next, until it returns nil) to p in chunks
// of at most 64 frames or about 256 KiB.
func flood(p *peer, next func() []byte) *flooder {
	f := &flooder{done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 0, 512<<10)
		frames := 0
		for {
			fr := next()
			if fr != nil {
				buf = append(buf, fr...)
			}
			frames++
			if len(buf) >= 256<<10 || frames%64 == 0 || (fr == nil && len(buf) > 0) {
				_ = p.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
				n, err := p.conn.Write(buf)
				f.written.Add(int64(n))
				if err != nil {
					f.done <- err
					return
				}
				buf = buf[:0]
			}
			if fr == nil {
				f.done <- nil
				return
			}
		}
	}()
	return f
}

// settle waits until the flood has finished or made no progress for quiet
// (the server stopped reading and TCP buffers are full), at most max. It
// reports whether the flood finished.
func (f *flooder) settle(quiet, max time.Duration) (finished bool) {
	deadline := time.Now().Add(max)
	last, lastChange := f.written.Load(), time.Now()
	for time.Now().Before(deadline) {
		select {
		case err := <-f.done:
			f.done <- err // keep it for wait
			return true
		case <-time.After(50 * time.Millisecond):
		}
		if n := f.written.Load(); n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) >= quiet {
			return false
		}
	}
	return false
}

// wait waits for the flood's goroutine to end and returns its write error.
func (f *flooder) wait(d time.Duration) error {
	select {
	case err := <-f.done:
		return err
	case <-time.After(d):
		return errors.New("flood writer still blocked")
	}
}

// errorRecorder collects the errors OnError handlers see.
type errorRecorder struct {
	ch chan error
}

func newErrorRecorder() *errorRecorder { return &errorRecorder{ch: make(chan error, 64)} }

func (r *errorRecorder) add(err error) {
	select {
	case r.ch <- err:
	default:
	}
}

func (r *errorRecorder) all() []error {
	var out []error
	for {
		select {
		case err := <-r.ch:
			out = append(out, err)
		default:
			return out
		}
	}
}

func joinErrs(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}
