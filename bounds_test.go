package allspark_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/parser"
	"github.com/lxzan/gws"
)

// within receives from ch, failing the test after 2 × waitLong.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(2 * waitLong):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// flooder sends count numbered binary messages (size bytes each; binary so
// that the race detector's cost of JSON decoding does not dominate) from a
// goroutine, counting what the socket accepted, until done or the socket
// closes.
type flooder struct {
	sent atomic.Int64 // messages written
	done chan struct{}
}

func flood(c *wsClient, count, size int) *flooder {
	f := &flooder{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for i := range count {
			msg := make([]byte, size)
			copy(msg, fmt.Sprintf("%06d", i))
			if err := c.conn.WriteMessage(gws.OpcodeBinary, msg); err != nil {
				return
			}
			f.sent.Add(1)
		}
	}()
	return f
}

// stall waits until the flooder has sent everything or made no progress for
// 300 ms, and returns how many messages it sent.
func (f *flooder) stall(t *testing.T) int64 {
	t.Helper()
	last, still := int64(-1), 0
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		select {
		case <-f.done:
			return f.sent.Load()
		case <-time.After(100 * time.Millisecond):
		}
		if n := f.sent.Load(); n == last {
			if still++; still == 3 {
				return n
			}
		} else {
			last, still = n, 0
		}
	}
	t.Fatal("flood neither finished nor stalled")
	return 0
}

// seqChecker records the numbered messages a data handler sees and reports
// when count arrived, in order.
type seqChecker struct {
	mu    sync.Mutex
	next  int
	bad   string
	count int
	all   chan struct{}
}

func newSeqChecker(count int) *seqChecker {
	return &seqChecker{count: count, all: make(chan struct{})}
}

func (s *seqChecker) onData(d any) {
	b, _ := d.(parser.Binary)
	str := string(b[:min(len(b), 6)])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(str) < 6 || str[:6] != fmt.Sprintf("%06d", s.next) {
		if s.bad == "" {
			s.bad = fmt.Sprintf("message %d: got %.6q", s.next, str)
		}
		return
	}
	s.next++
	if s.next == s.count {
		close(s.all)
	}
}

func (s *seqChecker) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.all:
	case <-time.After(4 * waitLong):
		s.mu.Lock()
		defer s.mu.Unlock()
		t.Fatalf("%d of %d messages arrived (%s)", s.next, s.count, s.bad)
	}
}

const (
	floodCount = 512
	floodSize  = 32 << 10 // 16 MiB in all
	// heapBound is far below what the flood sends (and, decoded plus its
	// raw copy, twice that was held before the bound): about 1 MiB queued,
	// the socket buffers and the runtime's slack.
	heapBound = 8 << 20
)

// Item 2: a client flooding while an OnConnection hook blocks is stopped
// (the reader stops reading) after a small bound; once the hook returns,
// everything arrives in order.
func TestDataDuringHooksIsBounded(t *testing.T) {
	release := make(chan struct{})
	seq := newSeqChecker(floodCount)
	_, url := startServer(t, allspark.Options{PingInterval: allspark.NoPing}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			sp.OnData(seq.onData)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	floodWhileBlocked(t, c, release, seq, "while a hook blocked")
}

// floodWhileBlocked floods c while a handler of the server blocks until
// release: the heap must grow by far less than the flood (the reader stops
// reading), and once released every message arrives, in order.
func floodWhileBlocked(t *testing.T, c *wsClient, release chan struct{}, seq *seqChecker, what string) {
	t.Helper()
	_, base := settle()
	f := flood(c, floodCount, floodSize)
	sent := f.stall(t)
	_, heap := settle()
	grew := int64(heap) - int64(base)
	t.Logf("client sent %d of %d messages (%d MiB); heap grew %d KiB", sent, floodCount, sent*floodSize>>20, grew>>10)
	if grew > heapBound {
		close(release)
		t.Fatalf("heap grew %d MiB %s (bound %d MiB)", grew>>20, what, heapBound>>20)
	}
	close(release)
	seq.wait(t)
	within(t, f.done, "the flood to finish")
}

// Item 3: data behind a blocked event handler waits within the same bound as
// events, and then arrives in order.
func TestDataBehindBlockedEventHandlerIsBounded(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	seq := newSeqChecker(floodCount)
	_, url := startServer(t, allspark.Options{PingInterval: allspark.NoPing}, func(s *allspark.Server) {
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			sp.OnData(seq.onData)
			return nil
		})
		_ = s.On("block", func(ctx context.Context, _ *allspark.Event) (any, error) {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, nil
		})
	})
	c := dial(t, url, "/primus", nil)
	c.sendText(`{"allspark":1,"event":"block"}`)
	within(t, started, "the blocking handler")
	floodWhileBlocked(t, c, release, seq, "behind a blocked handler")
}

// askServer registers "start", whose handler asks the same client "q" and
// waits for the reply, and "n", which records its argument.
func askServer(result chan<- error, got *[]int, mu *sync.Mutex) func(*allspark.Server) {
	return func(s *allspark.Server) {
		_ = s.On("start", func(ctx context.Context, ev *allspark.Event) (any, error) {
			ctx, cancel := context.WithTimeout(ctx, 2*waitLong)
			defer cancel()
			_, err := ev.Spark.EmitWithAck(ctx, "q")
			result <- err
			return nil, nil
		})
		_ = s.On("n", allspark.Handle(func(_ context.Context, _ *allspark.Spark, n int) (struct{}, error) {
			mu.Lock()
			*got = append(*got, n)
			mu.Unlock()
			return struct{}{}, nil
		}))
	}
}

// ackID waits for the server's "q" request and returns its id.
func ackID(t *testing.T, c *wsClient) int {
	t.Helper()
	for {
		m := c.next()
		var env struct {
			Event string `json:"event"`
			ID    int    `json:"id"`
		}
		if json.Unmarshal([]byte(m.text), &env) == nil && env.Event == "q" {
			return env.ID
		}
	}
}

// Item 8: a handler awaiting EmitWithAck to its own client while the client
// sends more events than the queue holds completes: the reader keeps
// reading the ack past the soft bound.
func TestEmitWithAckToSameClientUnderEventFlood(t *testing.T) {
	const n = 400
	result := make(chan error, 1)
	var mu sync.Mutex
	var got []int
	_, url := startServer(t, allspark.Options{}, askServer(result, &got, &mu))
	c := dial(t, url, "/primus", nil)
	c.sendText(`{"allspark":1,"event":"start"}`)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range n {
			if c.conn.WriteString(fmt.Sprintf(`{"allspark":1,"event":"n","args":[%d]}`, i)) != nil {
				return
			}
		}
	}()
	id := ackID(t, c)
	<-sent // every event is out before the reply, so the queue is past its bound
	c.sendText(fmt.Sprintf(`{"allspark":1,"ack":%d,"args":["ok"]}`, id))
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("EmitWithAck: %v", err)
		}
	case <-time.After(2 * waitLong):
		t.Fatal("EmitWithAck to the same client never completed: the reader is stuck behind the event queue")
	}
	waitFor(t, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	})
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		if v != i {
			t.Fatalf("events out of order at %d: %d", i, v)
		}
	}
}

// Past the hard bound (a handler awaits a reply that does not come while the
// client floods) the spark ends with reconnect and reports ErrEventQueueFull.
func TestEventFloodPastHardBoundEndsSpark(t *testing.T) {
	result := make(chan error, 1)
	errs := make(chan error, 16)
	var mu sync.Mutex
	var got []int
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		askServer(result, &got, &mu)(s)
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnError(func(err error) { errs <- err })
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	c.sendText(`{"allspark":1,"event":"start"}`)
	ackID(t, c) // never answered
	go func() {
		for i := range 2000 {
			if c.conn.WriteString(fmt.Sprintf(`{"allspark":1,"event":"n","args":[%d]}`, i)) != nil {
				return
			}
		}
	}()
	select {
	case err := <-errs:
		if !errors.Is(err, allspark.ErrEventQueueFull) {
			t.Fatalf("OnError got %v, want ErrEventQueueFull", err)
		}
	case <-time.After(2 * waitLong):
		t.Fatal("no ErrEventQueueFull")
	}
	msgs, _ := c.waitClose()
	for _, m := range msgs {
		if m == `"primus::server::close"` {
			t.Fatal("overflow must end the spark with reconnect")
		}
	}
	if err := within(t, result, "EmitWithAck to fail"); err == nil {
		t.Fatal("EmitWithAck succeeded on an ended spark")
	}
}

// Item 10: Shutdown returns by its deadline even when user code ignores its
// context, and reports what it abandoned; the abandoned code may finish
// afterwards.
func TestShutdownReturnsByDeadlineDespiteStuckUserCode(t *testing.T) {
	cases := map[string]func(s *allspark.Server, stuck func()){
		"hook": func(s *allspark.Server, stuck func()) {
			s.OnConnection(func(context.Context, *allspark.Spark) error { stuck(); return nil })
		},
		"data": func(s *allspark.Server, stuck func()) {
			s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
				sp.OnData(func(any) { stuck() })
				return nil
			})
		},
		"event": func(s *allspark.Server, stuck func()) {
			_ = s.On("x", func(context.Context, *allspark.Event) (any, error) { stuck(); return nil, nil })
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			entered := make(chan struct{}, 1)
			stuck := func() {
				entered <- struct{}{}
				<-release // ignores every context
			}
			srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) { setup(s, stuck) })
			defer func() {
				select {
				case <-release:
				default:
					close(release)
				}
			}()
			c := dial(t, url, "/primus", nil)
			c.sendText(`"data"`)
			c.sendText(`{"allspark":1,"event":"x"}`)
			within(t, entered, "the stuck user code")

			const budget = 400 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- srv.Shutdown(ctx, allspark.ShutdownOptions{}) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(3 * time.Second):
				close(release)
				<-done
				t.Fatal("Shutdown did not return by its deadline")
			}
			took := time.Since(start)
			if took > budget+time.Second {
				t.Errorf("Shutdown took %v with a %v deadline", took, budget)
			}
			var se *allspark.ShutdownError
			if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) || se.Abandoned < 1 {
				t.Fatalf("Shutdown = %v, want a *ShutdownError matching DeadlineExceeded", err)
			}
			t.Logf("Shutdown returned after %v: %v", took.Round(time.Millisecond), err)
		})
	}
}

// Item 14: a spark ended from a user's goroutine is tracked until its end
// (OnEnd handlers, disconnection hooks) has run, so Shutdown does not return
// while they still run, even when the read loop finished first.
func TestShutdownWaitsForEndRunByUserGoroutine(t *testing.T) {
	inEnd := make(chan struct{})
	release := make(chan struct{})
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnEnd(func() {
				close(inEnd)
				<-release
			})
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	waitFor(t, "connection", func() bool { return srv.Len() == 1 })
	var sp *allspark.Spark
	srv.ForEach(func(s *allspark.Spark) bool { sp = s; return false })
	go sp.End(nil, true) // a user goroutine ends the spark
	within(t, inEnd, "the OnEnd handler")
	_, _ = c.waitClose() // the socket is closed; the read loop has ended
	time.Sleep(50 * time.Millisecond)

	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background(), allspark.ShutdownOptions{}) }()
	select {
	case err := <-done:
		close(release)
		t.Fatalf("Shutdown returned (%v) while an OnEnd handler still ran", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("Shutdown did not return after the OnEnd handler")
	}
}

// Item 7: what a spark retains is its share of the engine plus the headers
// the API exposes, not more (measured: ~5.0 KB per idle spark without extra
// headers, ~13.3 KB with an 8 KiB cookie).
func TestRetainedBytesPerSpark(t *testing.T) {
	const n, cookie = 200, 8 << 10
	srv, url := startServer(t, allspark.Options{PingInterval: allspark.NoPing}, nil)
	extra := "Cookie: " + strings.Repeat("c", cookie) + "\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
	rawUpgradeWith(t, url, "/primus", extra) // warm up pools and the heartbeat
	waitFor(t, "first", func() bool { return srv.Len() == 1 })
	_, base := settle()
	for range n {
		rawUpgradeWith(t, url, "/primus", extra)
	}
	waitFor(t, "connections", func() bool { return srv.Len() == n+1 })
	_, heap := settle()
	per := (int64(heap) - int64(base)) / n
	t.Logf("retained per spark with %d KiB of headers: %d bytes", cookie>>10, per)
	if per > cookie+12<<10 {
		t.Fatalf("each spark retains %d bytes for %d of headers", per, cookie)
	}
}

// Item 7: Serve's http.Server refuses headers past DefaultMaxHeaderBytes
// (a spark would keep them for its lifetime) instead of net/http's 1 MiB.
func TestServeLimitsHeaderBytes(t *testing.T) {
	srv, err := allspark.New(allspark.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Shutdown(context.Background(), allspark.ShutdownOptions{})
		<-served
	}()
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/primus", nil)
	req.Header.Set("X-Big", strings.Repeat("b", 2*allspark.DefaultMaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d for %d KiB of headers, want 431", resp.StatusCode, 2*allspark.DefaultMaxHeaderBytes>>10)
	}
	http.DefaultClient.CloseIdleConnections()
	// net/http lingers 500 ms after a 431 (closeWriteAndWait) on a
	// goroutine Shutdown does not wait for; run alone, this test would
	// otherwise end inside goleak's window.
	waitFor(t, "net/http's linger after the 431", func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "closeWriteAndWait")
	})
}

// countingHandler is a slog.Handler counting records whose message or
// attributes mention substr.
type countingHandler struct {
	substr string
	n      *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	hit := strings.Contains(r.Message, h.substr)
	r.Attrs(func(a slog.Attr) bool {
		hit = hit || strings.Contains(a.Value.String(), h.substr)
		return !hit
	})
	if hit {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// Item 12: with unique ids (a counting generator), clients that close right
// after the handshake are never reported as duplicate ids.
func TestImmediateClosesAreNotDuplicateIDs(t *testing.T) {
	var dups atomic.Int64
	var next atomic.Int64
	srv, url := startServer(t, allspark.Options{
		PingInterval: allspark.NoPing,
		IDGenerator:  func() string { return fmt.Sprint("id-", next.Add(1)) },
		Logger:       slog.New(countingHandler{substr: allspark.ErrDuplicateID.Error(), n: &dups}),
	}, echo)
	const n = 300
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 4 {
		wg.Go(func() {
			for range n / 4 {
				if err := upgradeAndClose(url); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d handshakes failed", f)
	}
	waitFor(t, "every spark gone", func() bool { return srv.Len() == 0 && srv.Stats().Accepted == n })
	if d := dups.Load(); d > 0 {
		t.Fatalf("%d of %d immediate closes reported as duplicate ids", d, n)
	}
}

// upgradeAndClose completes a handshake and closes the socket at once.
func upgradeAndClose(base string) error {
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /primus HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
