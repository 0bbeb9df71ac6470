package eio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/eio"
	"github.com/allspark/allspark/internal/transport"
)

func TestPollingRoundTrip(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	// Client to server: text, binary (b+base64), noop, batched.
	if st, body := p.post("4hello\x1ebAQID\x1e6\x1e4world"); st != 200 || body != "ok" {
		t.Fatalf("POST: %d %q", st, body)
	}
	want := []event{{kind: "msg", data: "hello"}, {kind: "msg", binary: true, data: "\x01\x02\x03"}, {kind: "msg", data: "world"}}
	for _, w := range want {
		if got := p.h.next(t, "msg"); got.data != w.data || got.binary != w.binary {
			t.Errorf("got %+v, want %+v", got, w)
		}
	}
	// Server to client: one batch in one poll response.
	done := make(chan error, 1)
	go func() {
		n, b, err := p.h.sess.WriteBatch([]transport.Message{{Payload: []byte("a")}, {Payload: []byte{0xff, 0}, Binary: true}, {Payload: []byte(`"c"`)}})
		if err == nil && (n != 3 || b != 1+2+3) {
			err = fmt.Errorf("n=%d bytes=%d", n, b)
		}
		done <- err
	}()
	st, body := p.get()
	if st != 200 || body != "4a\x1eb/wA=\x1e4\"c\"" {
		t.Errorf("GET: %d %q", st, body)
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// A poll with nothing to send is held until a message comes.
func TestPollHeldUntilWrite(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	got := p.goGet()
	select {
	case b := <-got:
		t.Fatalf("poll answered at once: %q", b)
	case <-time.After(50 * time.Millisecond):
	}
	if _, _, err := p.h.sess.WriteBatch(msgs("x")); err != nil {
		t.Fatal(err)
	}
	if b := <-got; b != "200 4x" {
		t.Errorf("got %q", b)
	}
}

func TestPostTooLarge(t *testing.T) {
	cfg := fast()
	cfg.MaxPayload = 100
	e := newEnv(t, cfg)
	p, _ := e.handshake()
	st, _ := p.post("4" + strings.Repeat("x", 100))
	if st != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", st)
	}
	// Chunked (no Content-Length): read up to the limit, then 413.
	req, _ := http.NewRequest("POST", e.url(p.q()), struct{ *strings.Reader }{strings.NewReader("4" + strings.Repeat("y", 200))})
	req.ContentLength = -1
	res, err := e.cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked status %d, want 413", res.StatusCode)
	}
	// The session survives, as in the reference.
	if st, body := p.post("4ok"); st != 200 {
		t.Errorf("POST after 413: %d %q", st, body)
	}
	if ev := p.h.next(t, "msg"); ev.data != "ok" {
		t.Errorf("got %+v", ev)
	}
}

func TestPostOctetStream(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	st, _, _ := e.do("POST", p.q(), "application/octet-stream", "4x")
	if st != 400 {
		t.Errorf("status %d", st)
	}
	if err := p.h.waitClosed(t, time.Second); !errors.Is(err, eio.ErrTransport) {
		t.Errorf("OnClose(%v), want ErrTransport", err)
	}
}

func TestPostInvalidPacket(t *testing.T) {
	for _, body := range []string{"9x", "4a\x1e\x1e4b", "bnot base64!", "", "x"} {
		e := newEnv(t, fast())
		p, _ := e.handshake()
		if st, b := p.post(body); st != 400 {
			t.Errorf("%q: status %d %q", body, st, b)
		}
		if err := p.h.waitClosed(t, time.Second); !errors.Is(err, eio.ErrTransport) {
			t.Errorf("%q: OnClose(%v)", body, err)
		}
		if st, b := p.get(); st != 400 || errorCode(t, b) != 1 {
			t.Errorf("%q: poll after close: %d %q", body, st, b)
		}
	}
}

func TestPostClientPing(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	if st, _ := p.post("2"); st != 400 {
		t.Errorf("status %d", st)
	}
	if err := p.h.waitClosed(t, time.Second); !errors.Is(err, eio.ErrTransport) {
		t.Errorf("OnClose(%v)", err)
	}
}

func TestPostTooManyPackets(t *testing.T) {
	cfg := fast()
	cfg.MaxPackets = 3
	e := newEnv(t, cfg)
	p, _ := e.handshake()
	if st, _ := p.post("6\x1e6\x1e6\x1e6"); st != 400 {
		t.Errorf("status %d", st)
	}
	p.h.waitClosed(t, time.Second)
}

func TestMaxMessage(t *testing.T) {
	cfg := fast()
	cfg.MaxMessage = 4
	e := newEnv(t, cfg)
	p, _ := e.handshake()
	p.post("41234")
	if st, _ := p.post("412345"); st != 400 {
		t.Errorf("status %d", st)
	}
	if err := p.h.waitClosed(t, time.Second); !errors.Is(err, transport.ErrTooLarge) {
		t.Errorf("OnClose(%v), want ErrTooLarge", err)
	}
}

// A second GET while one is held: 400, the session ends, and the held one
// is answered (noop or close).
func TestOverlappingPoll(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	first := p.goGet()
	waitHeld(t, p)
	if st, _ := p.get(); st != 400 {
		t.Errorf("second GET: %d", st)
	}
	select {
	case r := <-first:
		if r != "200 6" && r != "200 1" {
			t.Errorf("held GET got %q", r)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("held GET not answered")
	}
	if err := p.h.waitClosed(t, time.Second); !errors.Is(err, eio.ErrTransport) {
		t.Errorf("OnClose(%v)", err)
	}
	if e.srv.Len() != 0 {
		t.Errorf("Len = %d", e.srv.Len())
	}
}

// waitHeld waits until a GET of p has reached the server's handler (the
// env's hook). The tests using it hold whichever order the server then
// registers it in: a GET registered a moment later sees the same state.
func waitHeld(t testing.TB, p *poller) {
	t.Helper()
	select {
	case <-p.e.gets:
	case <-time.After(5 * time.Second):
		t.Fatal("GET did not reach the server")
	}
}

func TestOverlappingPost(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	p.h.block = make(chan struct{})
	first := make(chan int, 1)
	go func() { st, _ := p.post("4a"); first <- st }()
	p.h.next(t, "msg") // the first POST is inside OnMessage
	if st, _ := p.post("4b"); st != 400 {
		t.Errorf("second POST: %d", st)
	}
	close(p.h.block)
	<-first
	if err := p.h.waitClosed(t, time.Second); !errors.Is(err, eio.ErrTransport) {
		t.Errorf("OnClose(%v)", err)
	}
}

// A held GET the client gives up on ends the session.
func TestAbortedPoll(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url(p.q()), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := e.cl.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	waitHeld(t, p)
	cancel()
	<-done
	if err := p.h.waitClosed(t, 2*time.Second); !errors.Is(err, eio.ErrTransport) {
		t.Errorf("OnClose(%v)", err)
	}
	// A writer waiting for a poll fails now.
	if _, _, err := p.h.sess.WriteBatch(msgs("late")); err == nil {
		t.Error("WriteBatch succeeded on an ended session")
	}
}

// A message containing the record separator cannot be framed in a
// payload: the write fails instead of splitting it.
func TestPollSeparatorInMessage(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	got := p.goGet()
	_, _, err := p.h.sess.WriteBatch(msgs("a\x1eb"))
	if !errors.Is(err, eio.ErrSeparator) {
		t.Errorf("err = %v", err)
	}
	<-got
}

func TestMessagesValidDuringCallOnly(t *testing.T) {
	// Several POSTs in sequence: each message is delivered intact even
	// though the body buffer is reused.
	e := newEnv(t, fast())
	p, _ := e.handshake()
	for i := range 20 {
		s := strings.Repeat(string(rune('a'+i)), 10+i)
		p.post("4" + s)
		if ev := p.h.next(t, "msg"); ev.data != s {
			t.Fatalf("got %q want %q", ev.data, s)
		}
	}
}

// A GET the client drops while a writer is writing a large response: the
// write fails (within WriteTimeout), reports what it did not write, and
// the session ends; nothing hangs.
func TestPollAbortedMidResponse(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	u, _ := url.Parse(e.ts.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /engine.io/?%s HTTP/1.1\r\nHost: %s\r\n\r\n", p.q(), u.Host)
	waitHeld(t, p)
	type res struct {
		n   int
		err error
	}
	done := make(chan res, 1)
	big := strings.Repeat("x", 32<<20)
	go func() {
		n, _, err := p.h.sess.WriteBatch(msgs("first", big, "last"))
		done <- res{n, err}
	}()
	buf := make([]byte, 1024)
	if _, err := io.ReadAtLeast(c, buf, 100); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case r := <-done:
		if r.err == nil || r.n == 3 {
			t.Errorf("WriteBatch = %d, %v after the GET was dropped", r.n, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WriteBatch hung on a dropped GET")
	}
	if err := p.h.waitClosed(t, 2*time.Second); !errors.Is(err, eio.ErrTransport) {
		t.Errorf("OnClose(%v)", err)
	}
}
