package eio_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/eio"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/internal/transport/websocket"
)

// event is one Handler call, recorded in order.
type event struct {
	kind   string // "msg", "ping", "peerclose", "close"
	binary bool
	data   string
	err    error
}

// handler records a session's Handler calls. It checks the contract:
// calls never overlap and nothing follows OnClose.
type handler struct {
	sess   transport.Session
	events chan event
	closed chan error // OnClose's error, once

	mu      sync.Mutex
	inCall  bool
	ended   bool
	misuses []string
	// block, when set, is waited on inside OnMessage (back-pressure).
	block chan struct{}
}

func newHandler(sess transport.Session, buf int) *handler {
	return &handler{sess: sess, events: make(chan event, buf), closed: make(chan error, 1)}
}

func (h *handler) enter(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inCall {
		h.misuses = append(h.misuses, "overlapping call: "+what)
	}
	if h.ended {
		h.misuses = append(h.misuses, what+" after OnClose")
	}
	h.inCall = true
}

func (h *handler) leave() {
	h.mu.Lock()
	h.inCall = false
	h.mu.Unlock()
}

func (h *handler) OnMessage(binary bool, payload []byte) {
	h.enter("OnMessage")
	defer h.leave()
	h.events <- event{kind: "msg", binary: binary, data: string(payload)}
	if h.block != nil {
		<-h.block
	}
}

func (h *handler) OnPing() {
	h.enter("OnPing")
	defer h.leave()
	h.events <- event{kind: "ping"}
}

func (h *handler) OnPeerClose() {
	h.enter("OnPeerClose")
	defer h.leave()
	h.events <- event{kind: "peerclose"}
}

func (h *handler) OnClose(err error) {
	h.enter("OnClose")
	h.mu.Lock()
	h.ended = true
	h.mu.Unlock()
	h.leave()
	h.events <- event{kind: "close", err: err}
	select {
	case h.closed <- err:
	default:
		h.mu.Lock()
		h.misuses = append(h.misuses, "OnClose twice")
		h.mu.Unlock()
	}
}

// waitClosed waits for OnClose and returns its error.
func (h *handler) waitClosed(t testing.TB, within time.Duration) error {
	t.Helper()
	select {
	case err := <-h.closed:
		h.closed <- err // keep it for later calls
		return err
	case <-time.After(within):
		t.Fatalf("OnClose not called within %v", within)
		return nil
	}
}

func (h *handler) isClosed() bool {
	select {
	case err := <-h.closed:
		h.closed <- err
		return true
	default:
		return false
	}
}

// next returns the next event of kind (others are skipped).
func (h *handler) next(t testing.TB, kind string) event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-h.events:
			if e.kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within 5s", kind)
		}
	}
}

func (h *handler) check(t testing.TB) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.misuses {
		t.Error("handler contract: " + m)
	}
}

// acceptor is a fake transport.Acceptor: every session gets a handler,
// announced on handlers.
type acceptor struct {
	handlers chan *handler
	err      error // returned by Accept before open when set
	// beforeOpen, when set, runs in Accept before open (a race made
	// deterministic).
	beforeOpen func()
	// eventBuf is each handler's event buffer (1024 when 0); the memory
	// tests make it small so the heap measures the server, not the fake.
	eventBuf int
	mu       sync.Mutex
	all      []*handler
}

func newAcceptor() *acceptor { return &acceptor{handlers: make(chan *handler, 10000)} }

func (a *acceptor) Accept(r *http.Request, open func(transport.Attach) error) error {
	if a.err != nil {
		return a.err
	}
	if a.beforeOpen != nil {
		a.beforeOpen()
	}
	return open(func(s transport.Session) transport.Handler {
		buf := a.eventBuf
		if buf == 0 {
			buf = 1024
		}
		h := newHandler(s, buf)
		a.mu.Lock()
		a.all = append(a.all, h)
		a.mu.Unlock()
		a.handlers <- h
		return h
	})
}

func (a *acceptor) next(t testing.TB) *handler {
	t.Helper()
	select {
	case h := <-a.handlers:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("no session accepted within 5s")
		return nil
	}
}

func (a *acceptor) checkAll(t testing.TB) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, h := range a.all {
		h.check(t)
	}
}

// env is a server under test.
type env struct {
	t   testing.TB
	srv *eio.Server
	acc *acceptor
	ts  *httptest.Server
	cl  *http.Client
	// gets gets a token when a polling GET of a session reaches the
	// server.
	gets chan struct{}
}

// fast is a config with short timers for tests.
func fast() eio.Config {
	return eio.Config{
		PingInterval:   time.Minute,
		PingTimeout:    time.Minute,
		UpgradeTimeout: 5 * time.Second,
		WriteTimeout:   2 * time.Second,
		WebSocket:      websocket.NewGWS(websocket.Config{}),
	}
}

func newEnv(t testing.TB, cfg eio.Config) *env {
	t.Helper()
	acc := newAcceptor()
	srv, err := eio.NewServer(cfg, acc)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, acc: acc, gets: make(chan struct{}, 10000)}
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Get("sid") != "" && r.Header.Get("Upgrade") == "" {
			select {
			case e.gets <- struct{}{}:
			default:
			}
		}
		srv.ServeHTTP(w, r)
	}))
	ts := e.ts
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	e.cl = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		srv.Close()
		ts.CloseClientConnections()
		ts.Close()
		tr.CloseIdleConnections()
		acc.checkAll(t)
	})
	return e
}

func (e *env) url(q string) string { return e.ts.URL + "/engine.io/?" + q }

// do sends a request and returns status and body.
func (e *env) do(method, q, ctype, body string) (int, string, http.Header) {
	e.t.Helper()
	st, b, h, err := e.try(method, q, ctype, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, q, err)
	}
	return st, b, h
}

// try is do for goroutines other than the test's: it reports errors.
func (e *env) try(method, q, ctype, body string) (int, string, http.Header, error) {
	req, err := http.NewRequest(method, e.url(q), strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := e.cl.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header, err
}

// goGet polls in a goroutine; the result arrives on the channel as
// "status body" or "error: …".
func (p *poller) goGet() <-chan string {
	ch := make(chan string, 1)
	go func() {
		st, b, _, err := p.e.try("GET", p.q(), "", "")
		if err != nil {
			ch <- "error: " + err.Error()
			return
		}
		ch <- fmt.Sprint(st, " ", b)
	}()
	return ch
}

// openMsg is the open packet's JSON.
type openMsg struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseOpen(t testing.TB, body string) openMsg {
	t.Helper()
	if !strings.HasPrefix(body, "0") {
		t.Fatalf("open packet = %q", body)
	}
	var o openMsg
	if err := json.Unmarshal([]byte(body[1:]), &o); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	return o
}

// poller is a raw polling client of one session.
type poller struct {
	e   *env
	sid string
	h   *handler
}

// handshake opens a polling session and returns it with its handler.
func (e *env) handshake() (*poller, openMsg) {
	e.t.Helper()
	st, body, _ := e.do("GET", "EIO=4&transport=polling", "", "")
	if st != 200 {
		e.t.Fatalf("handshake: %d %s", st, body)
	}
	o := parseOpen(e.t, body)
	return &poller{e: e, sid: o.SID, h: e.acc.next(e.t)}, o
}

func (p *poller) q() string { return "EIO=4&transport=polling&sid=" + url.QueryEscape(p.sid) }

// get polls once.
func (p *poller) get() (int, string) {
	st, body, _ := p.e.do("GET", p.q(), "", "")
	return st, body
}

// post sends a payload.
func (p *poller) post(body string) (int, string) {
	st, b, _ := p.e.do("POST", p.q(), "text/plain;charset=UTF-8", body)
	return st, b
}

// packets splits a payload.
func packets(body string) []string {
	if body == "" {
		return nil
	}
	return strings.Split(body, "\x1e")
}

// errorCode parses the reference's JSON error body.
func errorCode(t testing.TB, body string) int {
	t.Helper()
	var v struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return v.Code
}

// wsClient is a minimal WebSocket client: masked frames out, unfragmented
// frames in (the server under test does not fragment small messages).
type wsClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex
}

var errUpgradeRefused = errors.New("upgrade refused")

// dialWS opens a WebSocket to the server with query q. It returns the
// HTTP status when the server refuses.
func (e *env) dialWS(q string) (*wsClient, int, error) {
	u, _ := url.Parse(e.ts.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, 0, err
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := "GET /engine.io/?" + q + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
		base64.StdEncoding.EncodeToString(key[:]) + "\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, 0, err
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		_, _ = io.Copy(io.Discard, res.Body)
		c.Close()
		return nil, res.StatusCode, errUpgradeRefused
	}
	ws := &wsClient{t: e.t, conn: c, br: br}
	e.t.Cleanup(func() { c.Close() })
	return ws, res.StatusCode, nil
}

func (e *env) mustWS(q string) *wsClient {
	e.t.Helper()
	ws, st, err := e.dialWS(q)
	if err != nil {
		e.t.Fatalf("ws %s: %d %v", q, st, err)
	}
	return ws
}

// writeFrame writes one masked frame.
func (c *wsClient) writeFrame(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	buf := make([]byte, len(payload))
	for i, b := range payload {
		buf[i] = b ^ mask[i%4]
	}
	_, err := c.conn.Write(append(hdr, buf...))
	return err
}

func (c *wsClient) send(text string) {
	c.t.Helper()
	if err := c.writeFrame(1, []byte(text)); err != nil {
		c.t.Fatalf("ws send %q: %v", text, err)
	}
}

// read returns the next data frame (op 1 text, 2 binary), or op 8 for a
// close frame; it answers nothing.
func (c *wsClient) read(within time.Duration) (op byte, payload []byte, err error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(within))
	for {
		var h [2]byte
		if _, err = io.ReadFull(c.br, h[:]); err != nil {
			return 0, nil, err
		}
		op = h[0] & 0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err = io.ReadFull(c.br, b[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err = io.ReadFull(c.br, b[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 64<<20 {
			return 0, nil, fmt.Errorf("frame of %d bytes", n)
		}
		payload = make([]byte, n)
		if _, err = io.ReadFull(c.br, payload); err != nil {
			return 0, nil, err
		}
		if op == 9 || op == 10 { // ping/pong frames: skip
			continue
		}
		return op, payload, nil
	}
}

// recv returns the next text frame's payload; it fails the test on
// anything else.
func (c *wsClient) recv() string {
	c.t.Helper()
	op, p, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("ws read: %v", err)
	}
	if op != 1 {
		c.t.Fatalf("ws read: opcode %d %q, want text", op, p)
	}
	return string(p)
}

// waitGone waits until the server closes or aborts the socket, skipping
// data frames.
func (c *wsClient) waitGone(within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		op, _, err := c.read(time.Until(deadline))
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
		if op == 8 {
			return true
		}
	}
	return false
}

// waitLen waits until the server has n sessions.
func waitLen(t testing.TB, srv *eio.Server, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for srv.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Len = %d, want %d after %v", srv.Len(), n, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// msgs builds transport messages from strings.
func msgs(ss ...string) []transport.Message {
	out := make([]transport.Message, len(ss))
	for i, s := range ss {
		out[i] = transport.Message{Payload: []byte(s)}
	}
	return out
}
