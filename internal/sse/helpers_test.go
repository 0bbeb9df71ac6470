package sse_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/sse"
	"github.com/allspark/allspark/internal/transport"
)

// handler is a fake spark: it records OnClose and checks that nothing but
// OnClose is ever called, once.
type handler struct {
	sess   transport.Session
	closed chan error

	mu      sync.Mutex
	misuses []string
}

func (h *handler) misuse(what string) {
	h.mu.Lock()
	h.misuses = append(h.misuses, what)
	h.mu.Unlock()
}

func (h *handler) OnMessage(bool, []byte) { h.misuse("OnMessage on a stream") }
func (h *handler) OnPing()                { h.misuse("OnPing on a stream") }
func (h *handler) OnPeerClose()           { h.misuse("OnPeerClose on a stream") }
func (h *handler) OnClose(err error) {
	select {
	case h.closed <- err:
	default:
		h.misuse("OnClose twice")
	}
}

// waitClosed returns OnClose's error, failing after d.
func (h *handler) waitClosed(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case err := <-h.closed:
		h.closed <- err
		return err
	case <-time.After(d):
		t.Fatalf("OnClose not called within %v", d)
		return nil
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

// write writes msgs through the session as a spark's writer does.
func (h *handler) write(t testing.TB, msgs ...transport.Message) {
	t.Helper()
	n, _, err := h.sess.WriteBatch(msgs)
	if err != nil || n != len(msgs) {
		t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(msgs))
	}
}

// acceptor is a fake transport.Acceptor: each stream gets a handler,
// announced on handlers.
type acceptor struct {
	handlers chan *handler
	err      error // returned instead of opening, when set
}

func newAcceptor() *acceptor { return &acceptor{handlers: make(chan *handler, 16384)} }

func (a *acceptor) Accept(_ *http.Request, open func(transport.Attach) error) error {
	if a.err != nil {
		return a.err
	}
	return open(func(s transport.Session) transport.Handler {
		h := &handler{sess: s, closed: make(chan error, 1)}
		a.handlers <- h
		return h
	})
}

func (a *acceptor) next(t testing.TB) *handler {
	t.Helper()
	select {
	case h := <-a.handlers:
		t.Cleanup(func() { h.check(t) })
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("no stream accepted within 5s")
		return nil
	}
}

// env is an sse.Server behind an httptest server.
type env struct {
	t   testing.TB
	srv *sse.Server
	acc *acceptor
	hs  *httptest.Server
}

func newEnv(t testing.TB, cfg sse.Config) *env { return newEnvMode(t, cfg, hijacked) }

// mode is how a test's streams are served: on HTTP/1.1 the server takes
// the connection over (hijacked); behind a ResponseWriter that cannot be
// hijacked (as a middleware's wrapper may be, and as on HTTP/2) the
// stream stays on the ResponseWriter.
type mode string

const (
	hijacked       mode = "hijacked"
	responseWriter mode = "responsewriter"
)

// bothModes runs fn once per mode.
func bothModes(t *testing.T, fn func(t *testing.T, m mode)) {
	for _, m := range []mode{hijacked, responseWriter} {
		t.Run(string(m), func(t *testing.T) { fn(t, m) })
	}
}

func newEnvMode(t testing.TB, cfg sse.Config, m mode) *env {
	t.Helper()
	acc := newAcceptor()
	srv := sse.NewServer(cfg, acc)
	var h http.Handler = srv
	if m == responseWriter {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.ServeHTTP(noHijack{w, http.NewResponseController(w)}, r)
		})
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &env{t: t, srv: srv, acc: acc, hs: hs}
}

// noHijack is a ResponseWriter wrapper that flushes and takes write
// deadlines but cannot be hijacked (and has no Unwrap).
type noHijack struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w noHijack) FlushError() error                  { return w.rc.Flush() }
func (w noHijack) SetWriteDeadline(t time.Time) error { return w.rc.SetWriteDeadline(t) }

// stream is a client's open event stream.
type stream struct {
	res *http.Response
	r   *bufio.Reader
}

// open GETs the stream (query, headers optional) and checks it opened.
func (e *env) open(query string, header http.Header) (*stream, *handler) {
	e.t.Helper()
	res := e.get(query, header)
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		e.t.Fatalf("GET: %d %q", res.StatusCode, body)
	}
	s := &stream{res: res, r: bufio.NewReader(res.Body)}
	e.t.Cleanup(func() { res.Body.Close() })
	return s, e.acc.next(e.t)
}

func (e *env) get(query string, header http.Header) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.hs.URL+"/?"+query, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// readPrelude reads the padding comment and what follows it up to the
// first event, and returns the latter.
func (s *stream) readPrelude(t testing.TB) string {
	t.Helper()
	line, err := s.r.ReadString('\n')
	if err != nil {
		t.Fatalf("prelude: %v", err)
	}
	if want := ":" + strings.Repeat(" ", sse.PreludeSize) + "\n"; line != want {
		t.Fatalf("prelude = %q (%d bytes), want %d spaces", line[:min(len(line), 40)], len(line), sse.PreludeSize)
	}
	line, err = s.r.ReadString('\n')
	if err != nil {
		t.Fatalf("after the prelude: %v", err)
	}
	return line
}

// readBlock reads up to and including the next blank line.
func (s *stream) readBlock(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	done := make(chan error, 1)
	go func() {
		for {
			line, err := s.r.ReadString('\n')
			b.WriteString(line)
			if err != nil || line == "\n" {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("reading an event: %v (got %q)", err, b.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return b.String()
}

// rest reads the stream to its end and returns what came and how it ended.
func (s *stream) rest(d time.Duration) (string, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(s.r)
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		return string(r.b), r.err
	case <-time.After(d):
		return "", errTimeout
	}
}

var errTimeout = io.ErrNoProgress

// event is one event as an EventSource dispatches it (WHATWG HTML
// §9.2.6), for the round-trip checks.
type event struct {
	ID, Type, Data string
}

// parseStream interprets an event stream the way an EventSource does:
// lines end at CRLF, CR or LF; a leading colon is a comment; "field:
// value" with one leading space stripped; data lines are joined by LF; an
// id holding NUL is ignored; a blank line dispatches an event when data
// was seen. lastID is the last event id in effect after the stream.
func parseStream(in []byte) (events []event, lastID string) {
	var data strings.Builder
	var typ string
	hasData := false
	for len(in) > 0 {
		i := bytes.IndexAny(in, "\r\n")
		if i < 0 {
			break // an unterminated line is discarded
		}
		line := string(in[:i])
		if in[i] == '\r' && i+1 < len(in) && in[i+1] == '\n' {
			i++
		}
		in = in[i+1:]
		if line == "" {
			if hasData {
				d := data.String()
				events = append(events, event{ID: lastID, Type: typ, Data: strings.TrimSuffix(d, "\n")})
			}
			data.Reset()
			typ, hasData = "", false
			continue
		}
		if line[0] == ':' {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "event":
			typ = value
		case "id":
			if !strings.Contains(value, "\x00") {
				lastID = value
			}
		}
	}
	return events, lastID
}

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
