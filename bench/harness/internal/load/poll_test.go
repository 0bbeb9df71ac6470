package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/proto"
)

// fakeEIO is a minimal Engine.IO v4 polling server at /primus/ with the
// benchmark's room contract, for testing the client side.
type fakeEIO struct {
	maxPayload int
	first      string                     // packets sent with the first poll response
	onPost     func(sid string, b []byte) // sees every POST body (before it is handled)
	holdPost   chan struct{}              // when set, POSTs wait for it to close

	mu       sync.Mutex
	next     int
	sessions map[string]*fakeSession
	rooms    map[string][]*fakeSession
}

type fakeSession struct {
	mu    sync.Mutex
	out   [][]byte
	first bool
	wake  chan struct{}
}

func (s *fakeSession) push(pkt []byte) {
	s.mu.Lock()
	s.out = append(s.out, pkt)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (f *fakeEIO) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path != "/primus/" || q.Get("EIO") != "4" || q.Get("transport") != "polling" {
		http.Error(w, "nope", http.StatusBadRequest)
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		f.mu.Lock()
		f.next++
		sid = fmt.Sprint("s", f.next)
		s := &fakeSession{wake: make(chan struct{}, 1), first: true}
		f.sessions[sid] = s
		if rs := q.Get("rooms"); rs != "" {
			for _, room := range strings.Split(rs, ",") {
				f.rooms[room] = append(f.rooms[room], s)
			}
		}
		f.mu.Unlock()
		fmt.Fprintf(w, `0{"sid":%q,"upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":%d}`, sid, f.maxPayload)
		return
	}
	f.mu.Lock()
	s := f.sessions[sid]
	f.mu.Unlock()
	if s == nil {
		http.Error(w, `{"code":1,"message":"Session ID unknown"}`, http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		if f.onPost != nil {
			f.onPost(sid, body)
		}
		if f.holdPost != nil {
			select {
			case <-f.holdPost:
			case <-r.Context().Done():
				return
			}
		}
		_ = proto.EachEIOPacket(body, func(typ byte, data []byte) error {
			var m struct {
				Publish string `json:"publish"`
				Data    any    `json:"data"`
			}
			if typ == proto.EIOMessage && json.Unmarshal(data, &m) == nil && m.Publish != "" {
				enc, _ := json.Marshal(m.Data)
				f.mu.Lock()
				members := f.rooms[m.Publish]
				f.mu.Unlock()
				for _, mem := range members {
					mem.push(append([]byte{proto.EIOMessage}, enc...))
				}
			}
			return nil
		})
		_, _ = io.WriteString(w, "ok")
		return
	}
	s.mu.Lock()
	if s.first && f.first != "" {
		s.out = append(s.out, []byte(f.first))
	}
	s.first = false
	s.mu.Unlock()
	for {
		s.mu.Lock()
		out := s.out
		s.out = nil
		s.mu.Unlock()
		if len(out) > 0 {
			var payload []byte
			for _, p := range out {
				if len(payload) > 0 {
					payload = append(payload, proto.EIOSeparator)
				}
				payload = append(payload, p...)
			}
			_, _ = w.Write(payload)
			return
		}
		select {
		case <-s.wake:
		case <-r.Context().Done():
			return
		}
	}
}

// startFake serves h on a loopback port for the test.
func startFake(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}

func newFake() *fakeEIO {
	return &fakeEIO{maxPayload: 1000000, sessions: map[string]*fakeSession{}, rooms: map[string][]*fakeSession{}}
}

func TestPollFanoutDeliversToEveryMember(t *testing.T) {
	addr := startFake(t, newFake())
	c, d := drive(t, Config{Server: "primus", Addr: addr, Scenario: PollFanout, N: 40, Rooms: 4, Publishers: 2, Rate: 20,
		Sources: []string{"127.0.0.2", "127.0.0.3"}, Warmup: 200 * time.Millisecond, Duration: time.Second})
	if c.OK != 42 || c.Ready != 42 {
		t.Fatalf("connected %+v", c)
	}
	// 2 publishers × 20/s × 1 s, each message to one room of 40/4 = 10.
	if d.Sent < 30 || d.Errors != 0 || d.Alive != 42 || d.Polls == 0 {
		t.Fatalf("done %+v", d)
	}
	ratio := float64(d.Deliveries) / float64(d.Sent)
	if ratio < 8 || ratio > 12 {
		t.Fatalf("%d deliveries for %d messages: %.1f per message, want ≈ 10", d.Deliveries, d.Sent, ratio)
	}
}

// openTestPoll opens one session against addr and runs its GET loop.
func openTestPoll(t *testing.T, addr string, fn onMessage) *pollClient {
	t.Helper()
	tr := newPollTransport([]*net.TCPAddr{{IP: net.IPv4(127, 0, 0, 2)}}, 1)
	hc := &http.Client{Transport: tr}
	c, first, err := openPoll(context.Background(), context.Background(), hc, addr, proto.Primus{}, []string{"r0"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { c.run(first, fn) })
	t.Cleanup(func() { c.close(); wg.Wait(); tr.CloseIdleConnections() })
	return c
}

func TestPollAnswersBothHeartbeats(t *testing.T) {
	f := newFake()
	f.first = "2\x1e" + `4"primus::ping::7"`
	posts := make(chan string, 8)
	f.onPost = func(_ string, b []byte) { posts <- string(b) }
	addr := startFake(t, f)
	var got []string
	var mu sync.Mutex
	openTestPoll(t, addr, func(m []byte) { mu.Lock(); got = append(got, string(m)); mu.Unlock() })
	var all string
	for !strings.Contains(all, `4"primus::pong::7"`) || !strings.Contains(all, "3") {
		select {
		case p := <-posts:
			all += p + "|"
		case <-time.After(5 * time.Second):
			t.Fatalf("POSTs so far %q: want an EIO pong 3 and a Primus pong", all)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 0 {
		t.Fatalf("heartbeats reached the message handler: %q", got)
	}
}

func TestPollServerCloseEndsSession(t *testing.T) {
	f := newFake()
	f.first = "1"
	addr := startFake(t, f)
	c := openTestPoll(t, addr, nil)
	deadline := time.Now().Add(5 * time.Second)
	for !c.isClosed() {
		if time.Now().After(deadline) {
			t.Fatal("session still open after a close packet")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.send([]byte(`"x"`)); !errors.Is(err, errPollClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestPollSendQueueIsBounded(t *testing.T) {
	f := newFake()
	f.maxPayload = 64 // smaller than the client's own bound: the server's wins
	f.holdPost = make(chan struct{})
	posted := make(chan struct{}, 16)
	f.onPost = func(string, []byte) { posted <- struct{}{} }
	addr := startFake(t, f)
	c := openTestPoll(t, addr, nil)
	t.Cleanup(func() { close(f.holdPost) })            // runs before the client's cleanup
	msg := []byte(`"` + strings.Repeat("x", 20) + `"`) // 23 bytes, 24 as a packet
	if err := c.send(msg); err != nil {
		t.Fatal(err)
	}
	<-posted // the first POST is now held by the server
	// 64 bytes hold two packets (24 + 25); the third must be refused.
	for i := range 2 {
		if err := c.send(msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := c.send(msg); !errors.Is(err, errPollBacklog) {
		t.Fatalf("third queued send: %v, want errPollBacklog", err)
	}
}

func TestProbePolling(t *testing.T) {
	closed := make(chan string, 1)
	f := newFake()
	f.onPost = func(_ string, b []byte) { closed <- string(b) }
	if err := ProbePolling(context.Background(), startFake(t, f)); err != nil {
		t.Fatalf("probe of a polling server: %v", err)
	}
	if b := <-closed; b != "1" {
		t.Fatalf("probe posted %q, want the close packet", b)
	}
	for _, code := range []int{http.StatusUpgradeRequired, http.StatusNotFound} {
		addr := startFake(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		if err := ProbePolling(context.Background(), addr); !errors.Is(err, ErrNoPolling) {
			t.Fatalf("%d: %v, want ErrNoPolling", code, err)
		}
	}
	addr := startFake(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	if err := ProbePolling(context.Background(), addr); err == nil || errors.Is(err, ErrNoPolling) {
		t.Fatalf("500: %v, want another error", err)
	}
	addr = startFake(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }))
	if err := ProbePolling(context.Background(), addr); !errors.Is(err, proto.ErrEIO) {
		t.Fatalf("200 without an open packet: %v, want ErrEIO", err)
	}
}

func TestReadBodyIsBounded(t *testing.T) {
	got, err := readBody(strings.NewReader("hello"), nil, 5)
	if err != nil || string(got) != "hello" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := readBody(strings.NewReader("hello!"), nil, 5); !errors.Is(err, errPollTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	// A reused buffer keeps its storage.
	buf := make([]byte, 0, 1024)
	got, _ = readBody(strings.NewReader("abc"), buf, 5)
	if &got[:1][0] != &buf[:1][0] {
		t.Fatal("buffer not reused")
	}
	// Growth follows the bytes: a 1 MiB limit does not allocate 1 MiB for 3 bytes.
	got, _ = readBody(strings.NewReader("abc"), nil, 1<<20)
	if cap(got) > 4096 {
		t.Fatalf("cap %d for 3 bytes", cap(got))
	}
}
