package sockjs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/sockjs"
	"github.com/allspark/allspark/internal/transport"
)

// TestHeartbeat: a held poll with nothing to send is answered "h" after
// the heartbeat interval; a stream gets one "h" per interval.
func TestHeartbeat(t *testing.T) {
	cfg := fast()
	cfg.Heartbeat = 100 * time.Millisecond
	e := newEnv(t, cfg)
	e.open("hb")
	start := time.Now()
	if f := e.poll("hb"); f != "h" {
		t.Fatalf("idle poll = %q", f)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("heartbeat after %v, want about 100ms", d)
	}
	s := e.openStream("POST", "/s/0/hs/xhr_streaming")
	s.until("o\n")
	for range 3 {
		if got := s.until("\n"); got != "h\n" {
			t.Fatalf("stream frame %q, want h", got)
		}
	}
}

// TestDisconnectDelay: a session nobody receives for within the delay
// ends (ErrTimeout); the same id then opens a new session. A receiver
// arriving in time keeps it.
func TestDisconnectDelay(t *testing.T) {
	cfg := fast()
	cfg.DisconnectDelay = 150 * time.Millisecond
	e := newEnv(t, cfg)
	h := e.open("dd")
	time.Sleep(75 * time.Millisecond)
	go h.write(t, data(`"kept"`))
	if f := e.poll("dd"); f != `a["kept"]` {
		t.Fatalf("poll within the delay = %q", f)
	}
	if err := h.waitClosed(t, 2*time.Second); !errors.Is(err, sockjs.ErrTimeout) {
		t.Fatalf("OnClose(%v), want ErrTimeout", err)
	}
	waitLen(t, e.srv, 0, time.Second)
	if st := e.send("dd", `["late"]`); st != 404 {
		t.Fatalf("send to the reaped session: %d", st)
	}
	e.open("dd") // a new session under the same id
}

// TestInterruptedReceiverEndsSession: a client that drops its stream
// ends the session at once, as in the reference; the next request with
// the id opens a new session.
func TestInterruptedReceiverEndsSession(t *testing.T) {
	e := newEnv(t, fast())
	s := e.openStream("POST", "/s/0/ab/xhr_streaming")
	s.until("o\n")
	h := e.acc.next(t)
	s.stop()
	if err := h.waitClosed(t, 2*time.Second); !errors.Is(err, sockjs.ErrInterrupted) {
		t.Fatalf("OnClose(%v), want ErrInterrupted", err)
	}
	e.open("ab")
}

// TestWriteWaitsForReceiver: WriteBatch between two polls waits for the
// next one, so the messages stay in the spark's queue, not the session;
// a batch becomes one frame.
func TestWriteWaitsForReceiver(t *testing.T) {
	e := newEnv(t, fast())
	h := e.open("ww")
	done := make(chan struct{})
	go func() {
		h.write(t, data(`"a"`), data(`"b"`))
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("WriteBatch returned with no receiver attached")
	case <-time.After(50 * time.Millisecond):
	}
	if f := e.poll("ww"); f != `a["a","b"]` {
		t.Fatalf("poll = %q", f)
	}
	<-done
}

// TestCloseFrame: Close sends c[1000,"Normal closure"] on the held poll,
// the Handler hears the end at once, later polls get the same frame until
// the session is reaped after the disconnect delay.
func TestCloseFrame(t *testing.T) {
	cfg := fast()
	cfg.DisconnectDelay = 200 * time.Millisecond
	e := newEnv(t, cfg)
	h := e.open("cl")
	got := make(chan string, 1)
	go func() { got <- e.poll("cl") }()
	time.Sleep(30 * time.Millisecond) // the poll is held
	_ = h.sess.Close(1000, "")
	if f := <-got; f != `c[1000,"Normal closure"]` {
		t.Fatalf("held poll = %q", f)
	}
	if err := h.waitClosed(t, time.Second); err != nil {
		t.Fatalf("OnClose(%v)", err)
	}
	if f := e.poll("cl"); f != `c[1000,"Normal closure"]` {
		t.Fatalf("later poll = %q", f)
	}
	if _, _, err := h.sess.WriteBatch([]transport.Message{data(`"x"`)}); err == nil {
		t.Fatal("WriteBatch after Close succeeded")
	}
	waitLen(t, e.srv, 0, 2*time.Second)
	if f := e.poll("cl"); f != "o" {
		t.Fatalf("poll after the reaping = %q, want a new session", f)
	}
	e.acc.next(t)
}

// TestAbortWithoutFrame: Abort ends the session without a close frame:
// the held stream just ends.
func TestAbortWithoutFrame(t *testing.T) {
	e := newEnv(t, fast())
	s := e.openStream("POST", "/s/0/ax/xhr_streaming")
	s.until("o\n")
	h := e.acc.next(t)
	_ = h.sess.Abort()
	if !s.ended(time.Second) {
		t.Fatal("stream not ended by Abort")
	}
	if err := h.waitClosed(t, time.Second); err == nil {
		t.Fatal("Abort reported as a clean close")
	}
}

// TestServerCloseReleasesRequests: Server.Close ends every session and
// releases the requests held for them.
func TestServerCloseReleasesRequests(t *testing.T) {
	e := newEnv(t, fast())
	s := e.openStream("POST", "/s/0/sc/xhr_streaming")
	s.until("o\n")
	h := e.acc.next(t)
	e.srv.Close()
	if !s.ended(time.Second) {
		t.Fatal("held stream not released")
	}
	if err := h.waitClosed(t, time.Second); !errors.Is(err, sockjs.ErrShuttingDown) {
		t.Fatalf("OnClose(%v)", err)
	}
	if r := e.do("POST", "/s/0/new/xhr", "", ""); r.status != 503 {
		t.Fatalf("new session after Close: %d", r.status)
	}
}

// TestHandlerBlockingDelaysSendAnswer: xhr_send answers after its
// messages were delivered, so a blocking handler is back-pressure on the
// client; a second send waits for the first.
func TestHandlerBlockingDelaysSendAnswer(t *testing.T) {
	e := newEnv(t, fast())
	h := e.open("bp")
	h.block = make(chan struct{})
	first := make(chan int, 1)
	go func() {
		r, _ := e.try("POST", "/s/0/bp/xhr_send", "text/plain", `["one"]`)
		first <- r.status
	}()
	h.next(t, "value")
	second := make(chan int, 1)
	go func() {
		r, _ := e.try("POST", "/s/0/bp/xhr_send", "text/plain", `["two"]`)
		second <- r.status
	}()
	select {
	case st := <-first:
		t.Fatalf("send answered %d while its handler blocked", st)
	case <-time.After(50 * time.Millisecond):
	}
	h.block <- struct{}{}
	if st := <-first; st != 204 {
		t.Fatalf("first send %d", st)
	}
	if ev := h.next(t, "value"); ev.data != "two" {
		t.Fatalf("second delivered %q", ev.data)
	}
	close(h.block)
	if st := <-second; st != 204 {
		t.Fatalf("second send %d", st)
	}
}

// TestLargeMessage: a message near the limit travels both ways intact.
func TestLargeMessage(t *testing.T) {
	e := newEnv(t, fast())
	h := e.open("lg")
	big := strings.Repeat("0123456789", 100_000)
	if st := e.send("lg", `["`+big+`"]`); st != 204 {
		t.Fatalf("send %d", st)
	}
	if ev := h.next(t, "value"); ev.data != big {
		t.Fatalf("delivered %d bytes", len(ev.data))
	}
	go h.write(t, data(`"`+big+`"`))
	if f := e.poll("lg"); f != `a["`+big+`"]` {
		t.Fatalf("poll of %d bytes", len(f))
	}
}
