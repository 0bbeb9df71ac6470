package sse_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/sse"
	"github.com/allspark/allspark/internal/transport"
)

func data(s string) transport.Message { return transport.Message{Payload: []byte(s)} }

func TestStreamHeaders(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e := newEnvMode(t, sse.Config{}, m)
		s, _ := e.open("", nil)
		h := s.res.Header
		for k, want := range map[string]string{
			"Content-Type":      "text/event-stream",
			"Cache-Control":     "no-cache, no-store, no-transform, must-revalidate, max-age=0",
			"X-Accel-Buffering": "no",
			"Connection":        "keep-alive",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if h.Get("Content-Length") != "" || len(s.res.TransferEncoding) == 0 || s.res.TransferEncoding[0] != "chunked" {
			t.Errorf("want a chunked response without length: %v %q", s.res.TransferEncoding, h.Get("Content-Length"))
		}
	})
}

// rawGet sends one request line by hand and returns the response head.
func rawGet(t *testing.T, addr, proto string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / "+proto+"\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, _ := io.ReadAtLeast(c, buf, 200)
	head, _, _ := strings.Cut(string(buf[:n]), "\r\n\r\n")
	return head
}

func TestConnectionHeaderOnlyOnHTTP11(t *testing.T) {
	e := newEnv(t, sse.Config{})
	addr := e.hs.Listener.Addr().String()
	if head := rawGet(t, addr, "HTTP/1.1"); !strings.Contains(head, "\r\nConnection: keep-alive") {
		t.Errorf("HTTP/1.1 head lacks Connection: keep-alive:\n%s", head)
	}
	e.acc.next(t)
	if head := rawGet(t, addr, "HTTP/1.0"); strings.Contains(strings.ToLower(head), "keep-alive") {
		t.Errorf("HTTP/1.0 head says keep-alive (the stream ends with the connection):\n%s", head)
	}
	e.acc.next(t)
}

func TestHTTP2StreamHasNoConnectionHeader(t *testing.T) {
	acc := newAcceptor()
	hs := httptest.NewUnstartedServer(sse.NewServer(sse.Config{}, acc))
	hs.EnableHTTP2 = true
	hs.StartTLS()
	defer hs.Close()
	res, err := hs.Client().Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Fatalf("proto %s, want HTTP/2", res.Proto)
	}
	if res.Header.Get("Connection") != "" {
		t.Errorf("HTTP/2 response has Connection %q", res.Header.Get("Connection"))
	}
	h := acc.next(t)
	s := &stream{res: res}
	s.r = newReader(res.Body)
	s.readPrelude(t)
	h.write(t, data(`"over h2"`))
	if got := s.readBlock(t); !strings.Contains(got, "data: \"over h2\"\n") {
		t.Errorf("event over HTTP/2 = %q", got)
	}
	_ = h.sess.Close(1000, "")
	h.waitClosed(t, 5*time.Second)
}

func TestStreamBytes(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e := newEnvMode(t, sse.Config{NewID: func() string { return "S1" }, Retry: 1500 * time.Millisecond}, m)
		s, h := e.open("", nil)
		if got := s.readPrelude(t); got != "retry: 1500\n" {
			t.Fatalf("after the prelude: %q, want the retry field", got)
		}
		if id := h.sess.(transport.Identified).ID(); id != "S1" {
			t.Errorf("session id %q, want the generator's", id)
		}
		h.write(t, data(`{"a":1}`), transport.Message{Payload: []byte(`"primus::ping::1"`), Control: transport.Ping},
			data(`{"allspark":1,"event":"chat","args":["hi"]}`))
		h.write(t, data("two\nlines"))
		want := []string{
			"id: S1:1\ndata: {\"a\":1}\n\n",
			"id: S1:2\nevent: chat\ndata: \"hi\"\n\n",
			"id: S1:3\ndata: two\ndata: lines\n\n",
		}
		for _, w := range want {
			if got := s.readBlock(t); got != w {
				t.Errorf("event = %q, want %q", got, w)
			}
		}
	})
}

func TestRetryNotSentWhenNegative(t *testing.T) {
	e := newEnv(t, sse.Config{NewID: func() string { return "S" }, Retry: -1})
	s, h := e.open("", nil)
	h.write(t, data("1"))
	if got := s.readPrelude(t); got != "id: S:1\n" {
		t.Errorf("after the prelude: %q, want the first event", got)
	}
}

func TestHeartbeatComments(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e := newEnvMode(t, sse.Config{Heartbeat: 30 * time.Millisecond, Retry: -1}, m)
		s, _ := e.open("", nil)
		s.readPrelude(t) // the line after the prelude is the first heartbeat
		for range 2 {
			if line, err := s.r.ReadString('\n'); err != nil || line != ":\n" {
				t.Fatalf("heartbeat = %q, %v", line, err)
			}
		}
	})
}

func TestBadIDGeneratorIsReplaced(t *testing.T) {
	e := newEnv(t, sse.Config{NewID: func() string { return "bad\nid" }})
	_, h := e.open("", nil)
	id := h.sess.(transport.Identified).ID()
	if id == "bad\nid" || !sse.ValidID(id) || len(id) != 20 {
		t.Errorf("stream id %q, want a generated one", id)
	}
}

// TestServerCloseThenReconnectGets204: the end marker is the client's last
// event id; its reconnect is refused with 204, and no stream opens.
func TestServerCloseThenReconnectGets204(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e := newEnvMode(t, sse.Config{NewID: func() string { return "S" }, Retry: -1}, m)
		s, h := e.open("", nil)
		h.write(t, data("1"), transport.Message{Payload: []byte(`"primus::server::close"`), Control: transport.ServerClose})
		if err := h.sess.Close(1000, ""); err != nil {
			t.Fatal(err)
		}
		s.readPrelude(t)
		rest, err := s.rest(5 * time.Second)
		if err != nil {
			t.Fatalf("stream did not end cleanly: %v", err)
		}
		evs, last := parseStream([]byte("id: S:1\n" + rest))
		if rest != "data: 1\n\nid: S:end\nevent: end\ndata: \n\n" || last != "S:end" || len(evs) != 2 || evs[1].Type != "end" {
			t.Fatalf("stream ended with %q (events %v, last id %q), want the end marker", rest, evs, last)
		}
		if err := h.waitClosed(t, 5*time.Second); err != nil {
			t.Errorf("OnClose(%v), want nil for a server close", err)
		}
		res := e.get("", http.Header{"Last-Event-ID": {last}})
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("reconnect with %q: %d, want 204", last, res.StatusCode)
		}
		res = e.get("lastEventId=S:end", nil)
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("reconnect with the marker as query parameter: %d, want 204", res.StatusCode)
		}
		if len(e.acc.handlers) != 0 || e.srv.Len() != 0 {
			t.Errorf("a refused reconnect opened a stream")
		}
	})
}

// TestCloseWithReconnectEndsCleanly: a close without the marker ends the
// response; the client's reconnect with its last data id is a new stream.
func TestCloseWithReconnectEndsCleanly(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		n := 0
		e := newEnvMode(t, sse.Config{NewID: func() string { n++; return []string{"A", "B"}[n-1] }, Retry: -1}, m)
		s, h := e.open("", nil)
		h.write(t, data("1"))
		_ = h.sess.Close(1000, "")
		s.readPrelude(t)
		rest, err := s.rest(5 * time.Second)
		if err != nil || rest != "data: 1\n\n" {
			t.Fatalf("end of stream: %q, %v", rest, err)
		}
		s2, h2 := e.open("", http.Header{"Last-Event-ID": {"A:1"}})
		h2.write(t, data("2"))
		if got := s2.readPrelude(t) + s2.readBlock(t); got != "id: B:1\ndata: 2\n\n" {
			t.Errorf("reconnected stream: %q, want a new stream from now", got)
		}
	})
}

func TestAbortBreaksTheConnection(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e := newEnvMode(t, sse.Config{Retry: -1}, m)
		s, h := e.open("", nil)
		h.write(t, data("1"))
		s.readPrelude(t)
		s.readBlock(t)
		_ = h.sess.Abort()
		if _, err := s.rest(5 * time.Second); err == nil || err == errTimeout {
			t.Fatalf("after Abort the stream ended with %v, want a broken response", err)
		}
		if err := h.waitClosed(t, 5*time.Second); !errors.Is(err, sse.ErrAborted) {
			t.Errorf("OnClose(%v), want ErrAborted", err)
		}
		if _, _, err := h.sess.WriteBatch([]transport.Message{data("x")}); err == nil {
			t.Error("WriteBatch after Abort succeeded")
		}
	})
}

func TestClientLeavingEndsTheSession(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e := newEnvMode(t, sse.Config{}, m)
		s, h := e.open("", nil)
		s.res.Body.Close()
		if err := h.waitClosed(t, 5*time.Second); !errors.Is(err, sse.ErrClientGone) {
			t.Errorf("OnClose(%v), want ErrClientGone", err)
		}
		if !waitUntil(time.Second, func() bool { return e.srv.Len() == 0 }) {
			t.Errorf("Len = %d after the client left", e.srv.Len())
		}
	})
}

func TestNotGET(t *testing.T) {
	e := newEnv(t, sse.Config{})
	for _, m := range []string{http.MethodPost, http.MethodHead, http.MethodPut} {
		req, _ := http.NewRequest(m, e.hs.URL+"/", nil)
		res, err := e.hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET" {
			t.Errorf("%s: %d Allow %q, want 405 Allow GET", m, res.StatusCode, res.Header.Get("Allow"))
		}
		if m != http.MethodHead && !strings.HasPrefix(string(body), `{"error":`) {
			t.Errorf("%s: body %q, want a JSON error", m, body)
		}
	}
}

func TestMaxSubscribers(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e := newEnvMode(t, sse.Config{MaxSubscribers: 2}, m)
		_, h1 := e.open("", nil)
		e.open("", nil)
		res := e.get("", nil)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "too many subscribers") {
			t.Fatalf("third stream: %d %q, want 503", res.StatusCode, body)
		}
		_ = h1.sess.Close(1000, "")
		h1.waitClosed(t, 5*time.Second)
		if !waitUntil(time.Second, func() bool { return e.srv.Len() == 1 }) {
			t.Fatalf("Len = %d after a close", e.srv.Len())
		}
		e.open("", nil) // room again
	})
}

func TestShuttingDown(t *testing.T) {
	for _, c := range []struct {
		reconnecting func() bool
		status       int
		body         string
	}{
		{nil, http.StatusOK, "retry: 2000\n"},
		{func() bool { return true }, http.StatusOK, "retry: 2000\n"},
		{func() bool { return false }, http.StatusNoContent, ""},
	} {
		e := newEnv(t, sse.Config{Reconnecting: c.reconnecting})
		e.acc.err = transport.ErrShuttingDown
		res := e.get("", nil)
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != c.status || string(body) != c.body {
			t.Errorf("shutting down: %d %q %v, want %d %q", res.StatusCode, body, err, c.status, c.body)
		}
		if c.status == http.StatusOK && res.Header.Get("Content-Type") != "text/event-stream" {
			t.Errorf("refusal that lets the client retry is not an event stream: %q", res.Header.Get("Content-Type"))
		}
		if e.srv.Len() != 0 {
			t.Errorf("Len = %d", e.srv.Len())
		}
	}
}

// TestWriteToClientThatNeverReads: a batch the client takes no bytes of
// fails within about WriteTimeout, and holds no more than the response
// and socket buffers meanwhile.
func TestWriteToClientThatNeverReads(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		e := newEnvMode(t, sse.Config{WriteTimeout: 300 * time.Millisecond, Retry: -1}, m)
		c, err := net.Dial("tcp", e.hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.(*net.TCPConn).SetReadBuffer(4096); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		h := e.acc.next(t)
		big := transport.Message{Payload: []byte(`"` + strings.Repeat("x", 64<<10) + `"`)}
		start := time.Now()
		var werr error
		for i := 0; i < 1000 && werr == nil; i++ {
			_, _, werr = h.sess.WriteBatch([]transport.Message{big})
		}
		took := time.Since(start)
		if werr == nil {
			t.Fatal("64 MiB written to a client that reads nothing")
		}
		if took > 5*time.Second {
			t.Errorf("the write failed after %v, want about WriteTimeout (300ms)", took)
		}
		_ = h.sess.Abort()
		h.waitClosed(t, 5*time.Second)
	})
}

func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// TestHijackedStreamFreesTheHandler: on HTTP/1.1 Serve returns as soon as
// the stream is open (net/http's goroutine and buffers are released) and
// events still flow; behind a ResponseWriter it holds on until the end.
func TestHijackedStreamFreesTheHandler(t *testing.T) {
	for _, m := range []mode{hijacked, responseWriter} {
		acc := newAcceptor()
		srv := sse.NewServer(sse.Config{Retry: -1, NewID: func() string { return "S" }}, acc)
		returned := make(chan struct{}, 1)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if m == responseWriter {
				w = noHijack{w, http.NewResponseController(w)}
			}
			srv.ServeHTTP(w, r)
			returned <- struct{}{}
		}))
		res, err := hs.Client().Get(hs.URL)
		if err != nil {
			t.Fatal(err)
		}
		h := acc.next(t)
		s := &stream{res: res, r: newReader(res.Body)}
		select {
		case <-returned:
			if m != hijacked {
				t.Errorf("%s: Serve returned while the stream is open", m)
			}
		case <-time.After(200 * time.Millisecond):
			if m == hijacked {
				t.Errorf("%s: Serve still runs with the stream open", m)
			}
		}
		h.write(t, data("1"))
		if got := s.readPrelude(t) + s.readBlock(t); got != "id: S:1\ndata: 1\n\n" {
			t.Errorf("%s: %q", m, got)
		}
		res.Body.Close()
		h.waitClosed(t, 5*time.Second)
		hs.Close()
	}
}

// TestClientDataEndsHijackedStream: what a client sends after its request
// is read and dropped, up to 4 KiB; past that the stream ends.
func TestClientDataEndsHijackedStream(t *testing.T) {
	e := newEnv(t, sse.Config{})
	c, err := net.Dial("tcp", e.hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	h := e.acc.next(t)
	if _, err := c.Write(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-h.closed:
		t.Fatalf("1 KiB from the client ended the stream: %v", err)
	default:
	}
	if _, err := c.Write(make([]byte, 8<<10)); err != nil {
		t.Fatal(err)
	}
	if err := h.waitClosed(t, 5*time.Second); !errors.Is(err, sse.ErrClientData) {
		t.Errorf("OnClose(%v), want ErrClientData", err)
	}
}

// serveWith is an env whose streams are opened with subscribed (as the
// root's room join is).
func serveWith(t *testing.T, m mode, subscribed func(*handler)) *env {
	t.Helper()
	acc := newAcceptor()
	srv := sse.NewServer(sse.Config{Retry: -1, NewID: func() string { return "S" }}, acc)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m == responseWriter {
			w = noHijack{w, http.NewResponseController(w)}
		}
		srv.Serve(w, r, func(h transport.Handler) { subscribed(h.(*handler)) })
	}))
	t.Cleanup(hs.Close)
	return &env{t: t, srv: srv, acc: acc, hs: hs}
}

// TestOpening: what happens while the stream opens (the rooms' OnJoin
// hooks run then, with no lock held): a write waits for the prelude and
// comes right after it; a Close or an Abort ends the stream as soon as it
// has started, cleanly or not.
func TestOpening(t *testing.T) {
	bothModes(t, func(t *testing.T, m mode) {
		t.Run("write", func(t *testing.T) {
			done := make(chan error, 1)
			e := serveWith(t, m, func(h *handler) {
				go func() { _, _, err := h.sess.WriteBatch([]transport.Message{data(`"early"`)}); done <- err }()
				time.Sleep(50 * time.Millisecond) // the write is waiting
			})
			s, _ := e.open("", nil)
			if got := s.readPrelude(t) + s.readBlock(t); got != "id: S:1\ndata: \"early\"\n\n" {
				t.Errorf("stream: %q", got)
			}
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		t.Run("close", func(t *testing.T) {
			e := serveWith(t, m, func(h *handler) { _ = h.sess.Close(1000, "") })
			s, h := e.open("", nil)
			if rest, err := s.rest(5 * time.Second); err != nil || rest != ":"+strings.Repeat(" ", sse.PreludeSize)+"\n" {
				t.Errorf("stream: %.20q (%d bytes), %v; want the prelude and a clean end", rest, len(rest), err)
			}
			if err := h.waitClosed(t, 5*time.Second); err != nil {
				t.Errorf("OnClose(%v)", err)
			}
		})
		t.Run("abort", func(t *testing.T) {
			e := serveWith(t, m, func(h *handler) { _ = h.sess.Abort() })
			s, h := e.open("", nil)
			if _, err := s.rest(5 * time.Second); err == nil || err == errTimeout {
				t.Errorf("stream ended with %v, want a broken response", err)
			}
			if err := h.waitClosed(t, 5*time.Second); !errors.Is(err, sse.ErrAborted) {
				t.Errorf("OnClose(%v), want ErrAborted", err)
			}
		})
	})
}
