package sockjs_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
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

	"github.com/allspark/allspark/internal/sockjs"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/internal/transport/websocket"
)

// event is one Handler call, recorded in order.
type event struct {
	kind string // "msg", "value", "ping", "peerclose", "close"
	data string
	err  error
}

// handler records a session's Handler calls (a spark stand-in that also
// takes plain strings, as transport.ValueHandler) and checks the
// contract: calls never overlap and nothing follows OnClose.
type handler struct {
	sess   transport.Session
	events chan event
	closed chan error

	mu      sync.Mutex
	inCall  bool
	ended   bool
	misuses []string
	block   chan struct{} // when set, OnMessage/OnValue wait on it
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

func (h *handler) record(e event) {
	select {
	case h.events <- e:
	default: // a test that floods does not read them
	}
}

func (h *handler) OnMessage(_ bool, payload []byte) {
	h.enter("OnMessage")
	defer h.leave()
	h.record(event{kind: "msg", data: string(payload)})
	if h.block != nil {
		<-h.block
	}
}

func (h *handler) OnValue(v any, _ int) {
	h.enter("OnValue")
	defer h.leave()
	h.record(event{kind: "value", data: v.(string)})
	if h.block != nil {
		<-h.block
	}
}

func (h *handler) OnPing() {
	h.enter("OnPing")
	defer h.leave()
	h.record(event{kind: "ping"})
}

func (h *handler) OnPeerClose() {
	h.enter("OnPeerClose")
	defer h.leave()
	h.record(event{kind: "peerclose"})
}

func (h *handler) OnClose(err error) {
	h.enter("OnClose")
	h.mu.Lock()
	h.ended = true
	h.mu.Unlock()
	h.leave()
	h.record(event{kind: "close", err: err})
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
		h.closed <- err
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

// next returns the next event of one of kinds (others are skipped).
func (h *handler) next(t testing.TB, kinds ...string) event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-h.events:
			for _, k := range kinds {
				if e.kind == k {
					return e
				}
			}
		case <-deadline:
			t.Fatalf("no %v event within 5s", kinds)
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

// write writes messages (canonical encodings) on the session, as a
// spark's writer would (often from a goroutine: it waits for a receiver).
func (h *handler) write(t testing.TB, ms ...transport.Message) {
	if _, _, err := h.sess.WriteBatch(ms); err != nil {
		t.Errorf("WriteBatch: %v", err)
	}
}

// data is a data message with payload p.
func data(p string) transport.Message { return transport.Message{Payload: []byte(p)} }

// acceptor is a fake transport.Acceptor: every session gets a handler,
// announced on handlers.
type acceptor struct {
	handlers chan *handler
	err      error // returned by Accept before open when set
	eventBuf int   // events buffered per handler (1024 when 0)
	mu       sync.Mutex
	all      []*handler
}

func newAcceptor() *acceptor { return &acceptor{handlers: make(chan *handler, 10000)} }

func (a *acceptor) Accept(r *http.Request, open func(transport.Attach) error) error {
	if a.err != nil {
		return a.err
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
		select {
		case a.handlers <- h:
		default:
		}
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

// env is a server under test at /s.
type env struct {
	t   testing.TB
	srv *sockjs.Server
	acc *acceptor
	ts  *httptest.Server
	cl  *http.Client
	tr  *http.Transport
}

// fast is a plain-path config with short timers for tests.
func fast() sockjs.Config {
	return sockjs.Config{
		Prefix:          "/s",
		Plain:           true,
		Greeting:        true,
		RawWebSocket:    true,
		Heartbeat:       time.Minute,
		DisconnectDelay: time.Minute,
		WriteTimeout:    2 * time.Second,
		WebSocket:       websocket.NewGWS(websocket.Config{MaxPayload: 1 << 20}),
	}
}

func newEnv(t testing.TB, cfg sockjs.Config) *env {
	t.Helper()
	acc := newAcceptor()
	srv := sockjs.NewServer(cfg, acc)
	e := &env{t: t, srv: srv, acc: acc}
	e.ts = httptest.NewServer(srv)
	e.tr = &http.Transport{MaxIdleConnsPerHost: 200}
	e.cl = &http.Client{Transport: e.tr, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		srv.Close()
		e.ts.CloseClientConnections()
		e.ts.Close()
		e.tr.CloseIdleConnections()
		acc.checkAll(t)
	})
	return e
}

// reply is a finished HTTP answer.
type reply struct {
	status int
	body   string
	h      http.Header
}

// do sends a request to path (below the server's origin) and reads the
// whole answer.
func (e *env) do(method, path, ctype, body string, hdr ...string) reply {
	e.t.Helper()
	r, err := e.try(method, path, ctype, body, hdr...)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// try is do for goroutines other than the test's.
func (e *env) try(method, path, ctype, body string, hdr ...string) (reply, error) {
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.cl.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{res.StatusCode, string(b), res.Header}, err
}

// poll is one xhr poll of session id; it returns the frame (without "\n").
func (e *env) poll(id string) string {
	e.t.Helper()
	r := e.do("POST", "/s/000/"+id+"/xhr", "", "")
	if r.status != 200 || !strings.HasSuffix(r.body, "\n") {
		e.t.Fatalf("poll %s: %d %q", id, r.status, r.body)
	}
	return strings.TrimSuffix(r.body, "\n")
}

// send is one xhr_send of body to session id; it returns the status.
func (e *env) send(id, body string) int {
	e.t.Helper()
	return e.do("POST", "/s/000/"+id+"/xhr_send", "text/plain;charset=UTF-8", body).status
}

// open starts an xhr session id and returns its handler.
func (e *env) open(id string) *handler {
	e.t.Helper()
	if f := e.poll(id); f != "o" {
		e.t.Fatalf("first poll of %s = %q, want o", id, f)
	}
	return e.acc.next(e.t)
}

// stream is a held streaming response read line by line.
type stream struct {
	t    testing.TB
	res  *http.Response
	br   *bufio.Reader
	stop func()
}

// openStream starts a streaming request and reads its headers.
func (e *env) openStream(method, path string) *stream {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.ts.URL+path, nil)
	res, err := e.cl.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	s := &stream{t: e.t, res: res, br: bufio.NewReader(res.Body), stop: func() { res.Body.Close() }}
	e.t.Cleanup(s.stop)
	return s
}

// line reads up to and including sep.
func (s *stream) until(sep string) string {
	s.t.Helper()
	var b strings.Builder
	done := make(chan error, 1)
	go func() {
		for !strings.HasSuffix(b.String(), sep) {
			c, err := s.br.ReadByte()
			if err != nil {
				done <- err
				return
			}
			b.WriteByte(c)
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			s.t.Fatalf("stream read after %q: %v", b.String(), err)
		}
	case <-time.After(5 * time.Second):
		s.t.Fatalf("stream: no %q within 5s", sep)
	}
	return b.String()
}

// ended reports whether the response ends (EOF) within d with nothing
// more in it.
func (s *stream) ended(d time.Duration) bool {
	done := make(chan error, 1)
	var rest []byte
	go func() {
		var err error
		rest, err = io.ReadAll(s.br)
		done <- err
	}()
	select {
	case err := <-done:
		if len(rest) > 0 {
			s.t.Errorf("stream ended with %d more bytes: %.40q", len(rest), rest)
		}
		return err == nil
	case <-time.After(d):
		return false
	}
}

// wsClient is a minimal WebSocket client: masked frames out, unfragmented
// frames in.
type wsClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

var errRefused = errors.New("upgrade refused")

// dialWS opens a WebSocket to path. It returns the HTTP status when the
// server refuses.
func (e *env) dialWS(path string) (*wsClient, int, error) {
	u, _ := url.Parse(e.ts.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, 0, err
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host +
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
		return nil, res.StatusCode, errRefused
	}
	ws := &wsClient{t: e.t, conn: c, br: br}
	e.t.Cleanup(func() { c.Close() })
	return ws, res.StatusCode, nil
}

func (e *env) mustWS(path string) *wsClient {
	e.t.Helper()
	ws, st, err := e.dialWS(path)
	if err != nil {
		e.t.Fatalf("ws %s: %d %v", path, st, err)
	}
	return ws
}

// writeFrame writes one masked frame.
func (c *wsClient) writeFrame(op byte, payload []byte) error {
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

// read returns the next frame that is not a ping or pong.
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
		if op == 9 || op == 10 {
			continue
		}
		return op, payload, nil
	}
}

// recv returns the next text frame.
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

// closeFrame reads until a close frame and returns its code and reason.
func (c *wsClient) closeFrame() (int, string) {
	c.t.Helper()
	for {
		op, p, err := c.read(5 * time.Second)
		if err != nil {
			c.t.Fatalf("ws read, waiting for a close frame: %v", err)
		}
		if op == 8 {
			if len(p) < 2 {
				return 1005, ""
			}
			return int(binary.BigEndian.Uint16(p)), string(p[2:])
		}
	}
}

// waitLen waits until the server has n sessions.
func waitLen(t testing.TB, srv *sockjs.Server, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for srv.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Len = %d, want %d after %v", srv.Len(), n, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
