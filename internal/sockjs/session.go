package sockjs

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// errReceiverGone: the receiver ended before a frame could be written on
// it; the writer waits for the next one.
var errReceiverGone = errors.New("sockjs: receiver gone")

// session is one SockJS session, a transport.Session for its spark. Its
// receiving connections come and go (polls, streams that reach the
// response limit); between them the spark's writer waits in WriteBatch,
// so what the client has not fetched yet stays in the spark's bounded send
// queue, never in the session. One timer per session: the heartbeat while
// a receiver is attached, the disconnect delay while none is.
//
// Lock order: receiver.wmu, then mu; mu is never held while the Handler
// is called or a receiver is written.
type session struct {
	srv    *Server
	id     string // "" for a WebSocket session (not in the server's table)
	remote net.Addr
	h      transport.Handler
	vh     transport.ValueHandler // the plain path's string deliveries; nil on the Primus path
	ready  chan struct{}          // closed once the spark is attached (or the opening failed)

	// sendSlot admits one xhr_send at a time: the Handler hears one
	// message at a time, in order, and a waiting send holds no body (it is
	// read after the slot is taken), so concurrent sends cost no memory.
	sendSlot chan struct{}
	dec      Decoder // used under sendSlot (or by the WebSocket's reader)

	mu       sync.Mutex
	state    sessionState
	opened   bool      // "o" has been sent
	recv     *receiver // the attached receiving connection
	changed  chan struct{}
	closeMsg []byte // the close frame, once closing: every later receiver gets it
	timer    *time.Timer
	timerAt  time.Time // when the armed timer is due; an earlier firing is stale
	readers  int       // Handler message calls running or about to
	notified bool      // Handler.OnClose has been called
	closeErr error
	counted  bool // holds a place in the server's session count
}

type sessionState uint8

const (
	stateOpen    sessionState = iota
	stateClosing              // closed by the server: the close frame is re-served until the session is reaped
	stateClosed
)

func newSession(srv *Server, id string, r *http.Request) *session {
	var remote net.Addr = &net.TCPAddr{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = net.TCPAddrFromAddrPort(ap)
	}
	return &session{
		srv: srv, id: id, remote: remote,
		ready:    make(chan struct{}),
		sendSlot: make(chan struct{}, 1),
		changed:  make(chan struct{}),
	}
}

// Protocol implements transport.Framer.
func (s *session) Protocol() *transport.Protocol { return s.srv.proto }

// RemoteAddr implements transport.Session: the peer that opened it.
func (s *session) RemoteAddr() net.Addr { return s.remote }

func (s *session) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// armLocked (re)starts the session's timer for d.
func (s *session) armLocked(d time.Duration) {
	s.timerAt = time.Now().Add(d)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.onTimer)
		return
	}
	s.timer.Reset(d)
}

// onTimer is the session's timer: a heartbeat to the attached receiver,
// else the end of a session nobody received for within the disconnect
// delay (or, for a closed one, its removal).
func (s *session) onTimer() {
	s.mu.Lock()
	if s.state == stateClosed || time.Now().Before(s.timerAt) {
		s.mu.Unlock() // ended, or re-armed since this firing was scheduled
		return
	}
	if r := s.recv; r != nil {
		s.armLocked(s.srv.cfg.Heartbeat)
		s.mu.Unlock()
		r.wmu.Lock()
		err := r.writeLocked(frameHeartbeat)
		r.wmu.Unlock()
		if err != nil && !errors.Is(err, errReceiverGone) {
			s.finish(fmt.Errorf("%w: %v", ErrWrite, err))
		}
		return
	}
	s.mu.Unlock()
	s.finish(ErrTimeout)
}

// attachHandler creates the spark. A session that ended meanwhile (the
// server closing) tells the spark at once and fails the opening.
func (s *session) attachHandler(attach transport.Attach) error {
	h := attach(s)
	s.mu.Lock()
	s.h = h
	if s.srv.cfg.Plain {
		s.vh, _ = h.(transport.ValueHandler)
	}
	late := s.state == stateClosed && !s.notified
	if late {
		s.notified = true
	}
	err := s.closeErr
	s.mu.Unlock()
	if late {
		h.OnClose(err)
		return transport.ErrShuttingDown
	}
	return nil
}

// register attaches r as the session's receiver: "o" first if the session
// is new, then whatever the writer is waiting to send. A second concurrent
// receiver gets c[2010,"Another connection still open"]; a receiver of a
// session the server closed gets its close frame, as does one arriving
// after the end.
func (s *session) register(r *receiver) {
	s.mu.Lock()
	switch {
	case s.state == stateClosed:
		s.mu.Unlock()
		r.wmu.Lock()
		r.finalLocked(AppendClose(nil, CodeInterrupted, "Connection interrupted"))
		r.wmu.Unlock()
		return
	case s.recv != nil:
		s.mu.Unlock()
		r.wmu.Lock()
		r.finalLocked(AppendClose(nil, CodeAnotherOpen, reasonAnotherOpen))
		r.wmu.Unlock()
		return
	case s.state == stateClosing:
		msg := s.closeMsg
		s.armLocked(s.srv.cfg.DisconnectDelay) // kept for another delay, as the reference does
		s.mu.Unlock()
		r.wmu.Lock()
		r.finalLocked(msg)
		r.wmu.Unlock()
		return
	}
	s.recv = r
	r.wmu.Lock() // r is not visible to anyone yet: this cannot block
	first := !s.opened
	s.opened = true
	s.armLocked(s.srv.cfg.Heartbeat)
	s.signalLocked()
	s.mu.Unlock()
	var err error
	if first {
		err = r.writeLocked(frameOpen)
	}
	r.wmu.Unlock()
	if err != nil && !errors.Is(err, errReceiverGone) {
		s.finish(fmt.Errorf("%w: %v", ErrWrite, err))
	}
}

// detach lets go of r (its response is ending): the disconnect delay runs
// until the next receiver.
func (s *session) detach(r *receiver) {
	s.mu.Lock()
	if s.recv == r {
		s.recv = nil
		if s.state != stateClosed {
			s.armLocked(s.srv.cfg.DisconnectDelay)
		}
		s.signalLocked()
	}
	s.mu.Unlock()
}

// interrupted is a receiver whose client went away: the session ends at
// once (the reference's didAbort), whatever its state.
func (s *session) interrupted(r *receiver) {
	s.mu.Lock()
	mine := s.recv == r
	s.mu.Unlock()
	if mine {
		s.finish(ErrInterrupted)
	}
}

// send writes frame on the attached receiver, waiting for one while none
// is (a polling client between two requests).
func (s *session) send(frame []byte) error {
	for {
		s.mu.Lock()
		if s.state != stateOpen {
			s.mu.Unlock()
			return net.ErrClosed
		}
		r, ch := s.recv, s.changed
		s.mu.Unlock()
		if r == nil {
			<-ch
			continue
		}
		r.wmu.Lock()
		err := r.writeLocked(frame)
		r.wmu.Unlock()
		switch {
		case errors.Is(err, errReceiverGone):
			<-ch // it is being detached; wait for that
			continue
		case err != nil:
			s.finish(fmt.Errorf("%w: %v", ErrWrite, err))
			return err
		}
		return nil
	}
}

// WriteBatch implements transport.Session: msgs become one "a" frame on
// the receiver (waiting for one). Messages SockJS cannot carry (binary
// payloads; on the plain path, Primus controls other than the server
// close) are skipped. On the plain path a server close ends the session
// with c[3000,"Go away!"] after the messages before it.
func (s *session) WriteBatch(msgs []transport.Message) (n, size int, err error) {
	bp := frameBufs.Get().(*[]byte)
	buf := append((*bp)[:0], 'a', '[')
	count, goAway := 0, false
	for i := range msgs {
		m := &msgs[i]
		if s.srv.cfg.Plain {
			f, _ := m.FrameFor(plainProtocol)
			if m.Control == transport.ServerClose {
				goAway = true
				break
			}
			if f == nil {
				continue
			}
			if count > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, f...)
		} else {
			if m.Binary {
				continue
			}
			if count > 0 {
				buf = append(buf, ',')
			}
			buf = AppendQuote(buf, m.Payload)
		}
		count++
		size += len(m.Payload)
	}
	buf = append(buf, ']')
	if count > 0 {
		err = s.send(buf)
	}
	if cap(buf) <= maxScratch {
		*bp = buf
		frameBufs.Put(bp)
	}
	if err != nil {
		return 0, 0, err
	}
	if goAway {
		s.close(CodeGoAway, reasonGoAway, nil)
	}
	return len(msgs), size, nil
}

// frameBufs holds "a" frames being built; buffers past maxScratch are not
// kept.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Close implements transport.Session: the close frame c[code,"reason"]
// (c[1000,"Normal closure"] for the spark's ordinary end) on the receiver,
// or for the next one to come. The session is kept, re-serving it, until
// nobody received for the disconnect delay.
func (s *session) Close(code uint16, reason string) error {
	if code == 0 {
		code = CodeNormal
	}
	if reason == "" && code == CodeNormal {
		reason = reasonNormal
	}
	s.close(int(code), reason, nil)
	return nil
}

// close moves an open session to closing: the close frame goes to the
// attached receiver (which then ends) or waits for the next, and the
// Handler hears the end with err. A WebSocket session ends with its
// socket.
func (s *session) close(code int, reason string, err error) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.state = stateClosing
	s.closeMsg = AppendClose(nil, code, reason)
	s.closeErr = err
	msg := s.closeMsg
	r := s.recv
	s.signalLocked()
	notify := s.readers == 0 && !s.notified && s.h != nil
	if notify {
		s.notified = true
	}
	h := s.h
	s.mu.Unlock()
	switch {
	case r == nil:
	case r.kind == kindWebSocket:
		// The socket ends with the session: the close frame, then a
		// WebSocket close the client answers (finish cuts it if it
		// does not).
		r.wmu.Lock()
		r.finalLocked(msg)
		r.wmu.Unlock()
		_ = r.ws.Close(CodeNormal, reasonNormal)
		s.finish(err)
	default:
		s.detach(r)
		r.wmu.Lock()
		r.finalLocked(msg)
		r.wmu.Unlock()
	}
	if notify {
		h.OnClose(err)
	}
}

// Abort implements transport.Session: the session ends without a close
// frame; a client that comes back for it finds it gone.
func (s *session) Abort() error {
	s.finish(ErrInterrupted)
	return nil
}

// finish ends the session once: it leaves the server's table, stops its
// timer, ends the attached receiver without a frame (a WebSocket is cut)
// and tells the Handler, unless close did, after the last message call.
func (s *session) finish(err error) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	closing := s.state == stateClosing
	if closing {
		err = s.closeErr // the Handler already heard (or will hear) the close
	}
	s.state = stateClosed
	s.closeErr = err
	if s.timer != nil {
		s.timer.Stop()
	}
	r := s.recv
	s.recv = nil
	s.signalLocked()
	h := s.h
	notify := s.readers == 0 && !s.notified && h != nil
	if notify {
		s.notified = true
	}
	s.mu.Unlock()
	s.srv.forget(s)
	s.srv.cfg.Logger.Debug("sockjs session ended", "session", s.id, "reason", err)
	if r != nil {
		r.wmu.Lock()
		r.closeLocked()
		r.wmu.Unlock()
		switch {
		case r.kind != kindWebSocket:
		case closing:
			// Closed cleanly: give the client time to answer the close.
			ws := r.ws
			time.AfterFunc(s.srv.cfg.WriteTimeout, func() { _ = ws.Abort() })
		default:
			_ = r.ws.Abort()
		}
	}
	if notify {
		h.OnClose(err)
	}
}

// enterRead counts a Handler message call about to run; false when the
// session no longer takes messages (the reference drops them once it is
// not open).
func (s *session) enterRead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen || s.h == nil {
		return false
	}
	s.readers++
	return true
}

// exitRead ends a message call; the last one after the end tells the
// Handler.
func (s *session) exitRead() {
	s.mu.Lock()
	s.readers--
	notify := s.state != stateOpen && s.readers == 0 && !s.notified
	if notify {
		s.notified = true
	}
	err := s.closeErr
	s.mu.Unlock()
	if notify {
		s.h.OnClose(err)
	}
}

// deliver hands one decoded message to the spark: a string on the plain
// path through OnValue, anything else (every Primus message, a non-string
// value on the plain path) as bytes for the server's parser.
func (s *session) deliver(msg []byte, str bool) error {
	if !s.enterRead() {
		return nil
	}
	defer s.exitRead()
	switch {
	case !s.srv.cfg.Plain:
		s.h.OnMessage(false, msg)
	case !str:
		s.h.OnMessage(false, msg)
	case s.vh != nil:
		s.vh.OnValue(string(msg), len(msg))
	default:
		s.h.OnMessage(false, AppendQuote(nil, msg))
	}
	return nil
}

var (
	_ transport.Session = (*session)(nil)
	_ transport.Framer  = (*session)(nil)
)
