package sio

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/eio"
	"github.com/allspark/allspark/internal/transport"
)

// fakeSession records what a conn writes to its Engine.IO session.
type fakeSession struct {
	// gate, when set, holds every write until it is closed: a polling
	// session whose client sends no GET.
	gate   chan struct{}
	mu     sync.Mutex
	out    []transport.Message
	closed int
	abort  int
	h      transport.Handler
}

func (f *fakeSession) WriteBatch(msgs []transport.Message) (int, int, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		f.out = append(f.out, transport.Message{Payload: append([]byte(nil), m.Payload...), Binary: m.Binary})
	}
	return len(msgs), 0, nil
}
func (f *fakeSession) Close(uint16, string) error {
	f.mu.Lock()
	f.closed++
	h := f.h
	f.mu.Unlock()
	if h != nil {
		h.OnClose(nil)
	}
	return nil
}
func (f *fakeSession) Abort() error         { f.mu.Lock(); f.abort++; f.mu.Unlock(); return nil }
func (f *fakeSession) RemoteAddr() net.Addr { return &net.TCPAddr{} }

// eventually waits for cond: the connection writes and closes off its
// read path. The bound is generous (a loaded CI machine running -race
// takes seconds for what takes milliseconds here); only a failing test
// waits it out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fakeSession) closes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// textsN waits until at least n packets were written and returns them.
func (f *fakeSession) textsN(t testing.TB, n int) []string {
	t.Helper()
	eventually(t, "packets", func() bool { return len(f.texts()) >= n })
	return f.texts()
}

func (f *fakeSession) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.out {
		if m.Binary {
			out = append(out, "<bin "+string(m.Payload)+">")
		} else {
			out = append(out, string(m.Payload))
		}
	}
	return out
}

// recorder is a spark stand-in: it records values and its end.
type recorder struct {
	mu     sync.Mutex
	values []any
	sizes  []int
	closed []error
}

func (r *recorder) OnMessage(bool, []byte) {}
func (r *recorder) OnValue(v any, size int) {
	r.mu.Lock()
	r.values = append(r.values, v)
	r.sizes = append(r.sizes, size)
	r.mu.Unlock()
}
func (r *recorder) OnPing()      {}
func (r *recorder) OnPeerClose() {}
func (r *recorder) OnClose(err error) {
	r.mu.Lock()
	r.closed = append(r.closed, err)
	r.mu.Unlock()
}

// fakeHost admits "/" and "/admin" (with auth {"token":"ok"}).
type fakeHost struct {
	mu    sync.Mutex
	socks map[string]*recorder
}

func (h *fakeHost) Admit(_ *http.Request, nsp string, auth any) error {
	switch nsp {
	case "/":
		return nil
	case "/admin":
		if m, _ := auth.(map[string]any); m["token"] == "ok" {
			return nil
		}
		return refusal{}
	}
	return ErrUnknownNamespace
}

type refusal struct{}

func (refusal) Error() string         { return "unauthorized" }
func (refusal) ConnectErrorData() any { return map[string]any{"why": "token"} }

func (h *fakeHost) Accept(_ *http.Request, open func(transport.Attach) error) error {
	return open(func(sess transport.Session) transport.Handler {
		r := &recorder{}
		h.mu.Lock()
		if h.socks == nil {
			h.socks = make(map[string]*recorder)
		}
		h.socks[sess.(*socket).Namespace()] = r
		h.mu.Unlock()
		return r
	})
}

func (h *fakeHost) sock(nsp string) *recorder {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.socks[nsp]
}

func newTestConn(t *testing.T, cfg Config) (*conn, *fakeSession, *fakeHost) {
	t.Helper()
	host := &fakeHost{}
	n := 0
	cfg.NewID = func() string { n++; return "s" + string(rune('0'+n)) }
	srv, err := NewServer(cfg, eio.Config{}, host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	sess := &fakeSession{}
	r, _ := http.NewRequest(http.MethodGet, "/socket.io/", nil)
	c := newConn(srv, sess, r)
	sess.h = c
	t.Cleanup(func() { c.timer.Stop() })
	return c, sess, host
}

func send(c *conn, packets ...string) {
	for _, p := range packets {
		c.OnMessage(false, []byte(p))
	}
}

func TestConnectAnswersPerNamespace(t *testing.T) {
	c, sess, _ := newTestConn(t, Config{})
	send(c, `0`, `0/admin,{"token":"ok"}`, `0/admin,{"token":"no"}`, `0/nope,`, `0/bad,{"token":"no"}`)
	got := sess.textsN(t, 4)
	want := []string{`0{"sid":"s1"}`, `0/admin,{"sid":"s2"}`, `4/nope,{"message":"Invalid namespace"}`, `4/bad,{"message":"Invalid namespace"}`}
	// The second CONNECT to /admin is ignored: the namespace is joined.
	if len(got) != len(want) {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d = %q, want %q", i, got[i], want[i])
		}
	}
	c2, sess2, _ := newTestConn(t, Config{})
	send(c2, `0/admin,{"token":"no"}`)
	if got := sess2.textsN(t, 1); len(got) != 1 || got[0] != `4/admin,{"message":"unauthorized","data":{"why":"token"}}` {
		t.Errorf("refusal = %q", got)
	}
}

func TestEventsBecomeEnvelopesAndSendBecomesData(t *testing.T) {
	c, _, host := newTestConn(t, Config{})
	send(c, `0`, `2["chat","hi",2]`, `25["ask"]`, `2["message",{"a":1}]`, `2["message",1,2]`, `32["ok"]`)
	r := host.sock("/")
	if len(r.values) != 5 {
		t.Fatalf("values %v", r.values)
	}
	ev := r.values[0].(map[string]any)
	if ev["event"] != "chat" || len(ev["args"].([]any)) != 2 || ev["id"] != nil {
		t.Errorf("event %v", ev)
	}
	if ask := r.values[1].(map[string]any); ask["id"] != float64(6) {
		t.Errorf("client ack id 5 must travel as 6: %v", ask)
	}
	if data := r.values[2].(map[string]any); data["a"] != float64(1) {
		t.Errorf("send → data: %v", r.values[2])
	}
	if m := r.values[3].(map[string]any); m["event"] != "message" {
		t.Errorf("message with two args is an event: %v", m)
	}
	if ack := r.values[4].(map[string]any); ack["ack"] != float64(2) {
		t.Errorf("ack %v", ack)
	}
}

func TestBinaryEventWaitsForItsAttachments(t *testing.T) {
	c, _, host := newTestConn(t, Config{})
	send(c, `0`, `52-["up",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`)
	r := host.sock("/")
	c.OnMessage(true, []byte{1})
	if len(r.values) != 0 {
		t.Fatal("delivered before the last attachment")
	}
	c.OnMessage(true, []byte{2, 2})
	if len(r.values) != 1 {
		t.Fatalf("values %v", r.values)
	}
	args := r.values[0].(map[string]any)["args"].([]any)
	if !bytes.Equal(args[0].([]byte), []byte{2, 2}) || !bytes.Equal(args[1].([]byte), []byte{1}) {
		t.Errorf("args %v", args)
	}
	if r.sizes[0] < 3 {
		t.Errorf("size %d does not count the attachments", r.sizes[0])
	}
}

// TestMalformedInputClosesWithParseError: every malformed packet ends the
// connection (and its sockets) with "parse error", as the reference does.
func TestMalformedInputClosesWithParseError(t *testing.T) {
	cases := []struct {
		name string
		in   func(c *conn)
	}{
		{"bad type", func(c *conn) { send(c, `9`) }},
		{"bad json", func(c *conn) { send(c, `2["a"`) }},
		{"event not an array", func(c *conn) { send(c, `2{"a":1}`) }},
		{"empty event", func(c *conn) { send(c, `2[]`) }},
		{"name not a string", func(c *conn) { send(c, `2[1]`) }},
		{"reserved name", func(c *conn) { send(c, `2["disconnect"]`) }},
		{"reserved name newListener", func(c *conn) { send(c, `2["newListener"]`) }},
		{"huge ack id", func(c *conn) { send(c, `21234567890123456789["a"]`) }},
		{"ack without id", func(c *conn) { send(c, `3[]`) }},
		{"connect error from a client", func(c *conn) { send(c, `4{"message":"x"}`) }},
		{"too many attachments", func(c *conn) { send(c, `5999-["a"]`) }},
		{"placeholder pointing nowhere", func(c *conn) {
			send(c, `51-["a",{"_placeholder":true,"num":3}]`)
			c.OnMessage(true, []byte{1})
		}},
		{"text while attachments awaited", func(c *conn) { send(c, `51-["a",{"_placeholder":true,"num":0}]`, `2["a"]`) }},
		{"binary without a packet", func(c *conn) { c.OnMessage(true, []byte{1}) }},
		{"connect auth not an object", func(c *conn) { send(c, `0/admin,"x"`) }},
	}
	for _, tc := range cases {
		c, sess, host := newTestConn(t, Config{MaxAttachments: 4})
		send(c, `0`)
		tc.in(c)
		eventually(t, tc.name+": close", func() bool { return sess.closes() >= 1 })
		if sess.closes() != 1 {
			t.Errorf("%s: session closed %d times", tc.name, sess.closes())
			continue
		}
		r := host.sock("/")
		eventually(t, tc.name+": socket end", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.closed) == 1 })
		if !errors.Is(r.closed[0], ReasonParseError) {
			t.Errorf("%s: socket ended with %v", tc.name, r.closed)
		}
	}
}

func TestAttachmentsAreBoundedByMaxMessage(t *testing.T) {
	c, sess, _ := newTestConn(t, Config{MaxMessage: 100})
	send(c, `0`, `52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.OnMessage(true, make([]byte, 60))
	c.OnMessage(true, make([]byte, 60))
	eventually(t, "close", func() bool { return sess.closes() == 1 })
	if c.pending != nil || c.pendingAtts != nil {
		t.Error("the attachments are still held")
	}
}

func TestEventsForUnjoinedNamespacesAreDropped(t *testing.T) {
	c, sess, host := newTestConn(t, Config{})
	send(c, `0`, `2/admin,["x"]`, `3/admin,1[]`)
	if sess.closes() != 0 || len(host.sock("/").values) != 0 {
		t.Errorf("closed %d values %v", sess.closed, host.sock("/").values)
	}
}

func TestClientDisconnectEndsOnlyThatNamespace(t *testing.T) {
	c, sess, host := newTestConn(t, Config{})
	send(c, `0`, `0/admin,{"token":"ok"}`, `1/admin,`)
	if r := host.sock("/admin"); len(r.closed) != 1 || !errors.Is(r.closed[0], ReasonClientDisconnect) {
		t.Errorf("/admin ended with %v", r.closed)
	}
	if len(host.sock("/").closed) != 0 || sess.closes() != 0 {
		t.Error("the main namespace or the connection ended too")
	}
	// The namespace may be joined again.
	send(c, `0/admin,{"token":"ok"}`)
	if got := sess.textsN(t, 3); got[len(got)-1] != `0/admin,{"sid":"s3"}` {
		t.Errorf("rejoin answered %q", got)
	}
}

func TestConnectTimeoutClosesAnIdleConnection(t *testing.T) {
	_, sess, _ := newTestConn(t, Config{ConnectTimeout: 20 * time.Millisecond})
	eventually(t, "connectTimeout", func() bool { return sess.closes() == 1 })
	c, sess2, _ := newTestConn(t, Config{ConnectTimeout: 20 * time.Millisecond})
	send(c, `0`)
	time.Sleep(60 * time.Millisecond)
	if sess2.closes() != 0 {
		t.Error("a connection with a namespace was closed by connectTimeout")
	}
}

func TestSocketWritesFrameWithItsNamespace(t *testing.T) {
	c, sess, _ := newTestConn(t, Config{})
	send(c, `0/admin,{"token":"ok"}`)
	s := c.socket("/admin")
	_, _, err := s.WriteBatch([]transport.Message{
		{Payload: []byte(`"hi"`)},
		{Payload: []byte(`"primus::ping::1"`), Control: transport.Ping},
		{Payload: []byte{7}, Binary: true},
		{Payload: []byte(`"primus::server::close"`), Control: transport.ServerClose},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := sess.texts()
	want := []string{`0/admin,{"sid":"s1"}`, `2/admin,["message","hi"]`, `51-/admin,["message",{"_placeholder":true,"num":0}]`, "<bin \x07>", `1/admin,`}
	if len(got) != len(want) {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d = %q, want %q", i, got[i], want[i])
		}
	}
	// After its DISCONNECT, Close ends the namespace only.
	if err := s.Close(1000, ""); err != nil || sess.closes() != 0 {
		t.Errorf("Close: %v, session closed %d", err, sess.closes())
	}
	if c.socket("/admin") != nil {
		t.Error("the socket is still joined")
	}
}

// TestConnectNeverWaitsForTheClient: the read path answers CONNECTs
// without waiting for the write (a polling client that is upgrading sends
// no GET until its POST is answered), and the answers come in order once
// the client reads again.
func TestConnectNeverWaitsForTheClient(t *testing.T) {
	c, sess, _ := newTestConn(t, Config{})
	sess.gate = make(chan struct{})
	done := make(chan struct{})
	go func() {
		send(c, `0`, `0/admin,{"token":"ok"}`, `0/nope,`)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the read path waited for the write")
	}
	close(sess.gate)
	got := sess.textsN(t, 3)
	want := []string{`0{"sid":"s1"}`, `0/admin,{"sid":"s2"}`, `4/nope,{"message":"Invalid namespace"}`}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestControlFloodWaitsForTheWriter: a client that sends CONNECTs without
// reading their answers meets back-pressure at maxPendingControl: the read
// path waits, nothing past the bound is held, and every answer goes out
// once the client reads.
func TestControlFloodWaitsForTheWriter(t *testing.T) {
	c, sess, _ := newTestConn(t, Config{})
	sess.gate = make(chan struct{})
	done := make(chan struct{})
	go func() {
		for range 2 * maxPendingControl {
			send(c, `0/nope,`)
		}
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("the read path never waited")
	case <-time.After(200 * time.Millisecond):
	}
	c.mu.Lock()
	held := len(c.control)
	c.mu.Unlock()
	if held > maxPendingControl {
		t.Fatalf("holding %d answers", held)
	}
	close(sess.gate)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the read path did not resume")
	}
	if got := sess.textsN(t, 2*maxPendingControl); len(got) != 2*maxPendingControl || sess.closes() != 0 {
		t.Fatalf("%d answers, %d closes", len(got), sess.closes())
	}
}
