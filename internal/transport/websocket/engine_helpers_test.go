package websocket

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Handler that records what the engine reports.
type recorder struct {
	mu     sync.Mutex
	conn   Conn
	events []string // "msg:<payload>", "peerclose"
	msgs   chan string
	closed chan error
	// onPeerClose, if set, runs inside OnPeerClose.
	onPeerClose func(c Conn)
}

func newRecorder() *recorder {
	return &recorder{msgs: make(chan string, 1024), closed: make(chan error, 1)}
}

func (h *recorder) log(e string) {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
}

func (h *recorder) OnMessage(_ bool, p []byte) {
	h.log("msg:" + string(p))
	h.msgs <- string(p)
}
func (h *recorder) OnPing() {}
func (h *recorder) OnPeerClose() {
	h.log("peerclose")
	if h.onPeerClose != nil {
		h.onPeerClose(h.conn)
	}
}
func (h *recorder) OnClose(err error) { h.closed <- err }

func (h *recorder) eventLog() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.events...)
}

// waitClosed returns the error OnClose received.
func (h *recorder) waitClosed(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.closed:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose was not called")
		return nil
	}
}

// expectNoMsg fails t if h gets a delivery within d: what was expected came
// once.
func expectNoMsg(t *testing.T, h *recorder, d time.Duration) {
	t.Helper()
	select {
	case extra := <-h.msgs:
		t.Fatalf("a second delivery %q", extra)
	case <-time.After(d):
	}
}

// startEngine serves e on a loopback listener; every upgraded connection
// gets a recorder, sent on the returned channel once attached.
func startEngine(t testing.TB, cfg Config, prepare func(*recorder)) (addr string, conns <-chan *recorder) {
	t.Helper()
	e := engineFor(t, cfg)
	ch := make(chan *recorder, 128)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := newRecorder()
		if prepare != nil {
			prepare(h)
		}
		err := e.Upgrade(w, r, func(c Conn) Handler {
			h.conn = c
			return h
		})
		if err == nil {
			ch <- h
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), ch
}

func nextConn(t testing.TB, conns <-chan *recorder) *recorder {
	t.Helper()
	select {
	case h := <-conns:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no connection was upgraded")
		return nil
	}
}

// rawClient is a hand-written WebSocket client, so tests control every byte.
type rawClient struct {
	net.Conn
	br *bufio.Reader
}

const testKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455's sample key

// dialRaw connects and completes a handshake; extra is appended to the
// request headers, and after is sent in the same write as the request.
func dialRaw(t testing.TB, addr, extra string, after []byte) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + testKey + "\r\n" + extra + "\r\n"
	if _, err := c.Write(append([]byte(req), after...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	return &rawClient{Conn: c, br: br}
}

func (c *rawClient) send(t testing.TB, frame []byte) {
	t.Helper()
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// readFrame reads one server frame.
func (c *rawClient) readFrame() (b0 byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("server frames must not be masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(c.br, payload)
	return h[0], payload, err
}

// readUntilClose reads frames up to and including the server's Close frame,
// returning the data payloads before it and the close code, then checks that
// nothing at all follows the Close frame.
func (c *rawClient) readUntilClose(t *testing.T) (data []string, code uint16, reason string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		b0, p, err := c.readFrame()
		if err != nil {
			t.Fatalf("after %d data frames: %v", len(data), err)
		}
		if b0&0x0f != 0x8 {
			data = append(data, string(p))
			continue
		}
		if len(p) >= 2 {
			code, reason = binary.BigEndian.Uint16(p), string(p[2:])
		}
		if b, err := c.br.ReadByte(); err == nil {
			t.Fatalf("byte %#x after the Close frame", b)
		}
		return data, code, reason
	}
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func expectEngineless(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(strings.ToLower(s), "gws") {
		t.Errorf("%s names the engine: %q", what, s)
	}
}

// engines are the engines every engine test runs against.
var engines = []struct {
	name string
	new  func(Config) Engine
}{
	{"poller", NewPoller},
	{"gws", NewGWS},
}

// eachEngine runs test once per engine, as subtests named after them;
// startEngine picks the engine from the subtest's name.
func eachEngine(t *testing.T, test func(t *testing.T)) {
	for _, e := range engines {
		t.Run(e.name, test)
	}
}

// engineFor returns the engine of the eachEngine subtest t runs in (the
// poller engine outside one).
func engineFor(t testing.TB, cfg Config) Engine {
	for _, e := range engines {
		if strings.HasSuffix(t.Name(), "/"+e.name) || strings.Contains(t.Name(), "/"+e.name+"/") {
			return e.new(cfg)
		}
	}
	return NewPoller(cfg)
}

// socketOf returns the socket under an upgraded Conn.
func socketOf(c Conn) net.Conn {
	switch c := c.(type) {
	case gwsConn:
		return c.g.conn
	case *pollConn:
		return c.w.conn
	}
	panic("unknown Conn")
}
