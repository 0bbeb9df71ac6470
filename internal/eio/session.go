package eio

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/internal/transport/websocket"
)

// session is one Engine.IO session: a transport.Session for its spark,
// on polling until (and unless) a probed WebSocket takes over.
//
// Lock order: session.mu is taken on its own (never while a spark or send
// queue lock is held by this package, and it is released before the
// Handler is called). readMu serializes the Handler's message calls from
// a POST and from a WebSocket, and is never taken under mu.
type session struct {
	srv    *Server
	id     string
	remote net.Addr
	h      transport.Handler

	readMu sync.Mutex

	mu    sync.Mutex
	state sessionState
	ws    websocket.Conn // the WebSocket once the session is on it
	probe *wsTransport   // a WebSocket being probed for an upgrade
	// poll is the GET waiting for something to send. Whoever answers it
	// takes it (sets poll to nil) before writing, so the client's next GET,
	// sent as soon as it has read the answer, finds the slot free.
	poll    *heldPoll
	posting bool // a POST is being read
	// ctrl holds control packets ("2", "6", "1") for the next poll,
	// payload-encoded. It holds at most a ping, a noop and a close.
	ctrl []byte
	// changed is closed (and replaced) when the poll, the transport or the
	// state changes: WriteBatch waits on it for a poll to write to.
	changed chan struct{}
	// closeSent is closed once a poll took the close packet.
	closeSent chan struct{}
	readers   int   // Handler message calls running or about to
	closeErr  error // why the session ended
	notified  bool  // Handler.OnClose has been called
	// cleanClose: Close ended the session on its WebSocket; whatever the
	// engine reports next, the Handler hears nil.
	cleanClose bool

	heartbeat heartbeat
	upgrade   upgradeState
	scratch   [1]byte // the '4' of a polled message, written from here
}

type sessionState uint8

const (
	stateOpen    sessionState = iota
	stateClosing              // Close queued the close packet; waiting for a poll
	stateClosed
)

// heldPoll is a GET waiting for something to send.
type heldPoll struct {
	w    http.ResponseWriter
	wake chan struct{} // buffered 1: control packets are waiting
	done chan struct{} // a writer answered it
}

func newSession(srv *Server, r *http.Request) *session {
	var remote net.Addr = &net.TCPAddr{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = net.TCPAddrFromAddrPort(ap)
	}
	return &session{srv: srv, id: srv.cfg.NewID(), remote: remote, changed: make(chan struct{})}
}

// signalLocked wakes everyone waiting on changed.
func (s *session) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *session) transportName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ws != nil {
		return TransportWebSocket
	}
	return TransportPolling
}

// ID implements transport.Identified: the spark is named by the sid.
func (s *session) ID() string { return s.id }

// RemoteAddr implements transport.Session: the peer of the handshake.
func (s *session) RemoteAddr() net.Addr { return s.remote }

// WriteBatch implements transport.Session. On a WebSocket it writes at
// once; on polling it waits for the client's next GET and answers it with
// msgs (and any control packets waiting), so a client that polls slowly
// fills its spark's send queue, like a slow WebSocket reader.
func (s *session) WriteBatch(msgs []transport.Message) (n, bytes int, err error) {
	s.mu.Lock()
	for {
		switch {
		case s.state == stateClosed:
			s.mu.Unlock()
			return 0, 0, net.ErrClosed
		case s.ws != nil:
			ws := s.ws
			s.mu.Unlock()
			return ws.WriteBatchPrefixed('0'+byte(Message), msgs)
		case s.poll != nil:
			p := s.poll
			s.poll = nil
			ctrl := s.takeCtrlLocked()
			s.mu.Unlock()
			n, bytes, err = s.answerPoll(p, ctrl, msgs)
			if err != nil {
				s.finish(fmt.Errorf("%w: poll response: %v", ErrTransport, err))
			}
			return n, bytes, err
		}
		ch := s.changed
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
}

// Close implements transport.Session: the close packet, then the end. On
// polling it waits, at most WriteTimeout, for a poll to carry it.
func (s *session) Close(uint16, string) error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return nil
	}
	if ws := s.ws; ws != nil {
		// The engine reports the socket's end (its own close error) as
		// soon as the close frame goes; the session still ended cleanly.
		s.state, s.cleanClose = stateClosing, true
		s.mu.Unlock()
		_ = ws.WriteMessage(false, []byte{'0' + byte(Close)})
		_ = ws.Close(1000, "")
		s.finish(nil)
		return nil
	}
	s.state = stateClosing
	s.closeSent = make(chan struct{})
	sent := s.closeSent
	s.queueCtrlLocked(Close)
	s.mu.Unlock()
	t := time.NewTimer(s.srv.cfg.WriteTimeout)
	select {
	case <-sent:
	case <-t.C:
	}
	t.Stop()
	s.finish(nil)
	return nil
}

// Abort implements transport.Session: the session ends without a close
// packet; the client finds it gone and reconnects.
func (s *session) Abort() error {
	s.finish(errAborted)
	return nil
}

var errAborted = fmt.Errorf("%w: aborted", ErrTransport)

// queueCtrlLocked adds a control packet for the next poll (or the held
// one) and wakes the held poll so it answers with it. A second noop or
// ping is not queued twice.
func (s *session) queueCtrlLocked(t Type) {
	c := '0' + byte(t)
	for _, b := range s.ctrl {
		if b == c && t != Close {
			return
		}
	}
	if len(s.ctrl) > 0 {
		s.ctrl = append(s.ctrl, Separator)
	}
	s.ctrl = append(s.ctrl, c)
	if s.poll != nil {
		select {
		case s.poll.wake <- struct{}{}:
		default:
		}
	}
}

// takeCtrlLocked hands the waiting control packets to the writer of a
// poll response.
func (s *session) takeCtrlLocked() []byte {
	if len(s.ctrl) == 0 {
		return nil
	}
	c := s.ctrl
	s.ctrl = nil
	return c
}

// finish ends the session once: it leaves the server's table, stops its
// timers, lets a held poll go, drops its WebSockets and tells the Handler,
// after the last message call (readers) has returned.
func (s *session) finish(err error) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.state = stateClosed
	if s.cleanClose {
		err = nil
	}
	s.closeErr = err
	if s.closeSent != nil {
		close(s.closeSent) // Close waits no more
		s.closeSent = nil
	}
	s.heartbeat.stop()
	s.upgrade.stop()
	ws, probe := s.ws, s.probe
	s.probe = nil
	held := s.poll
	s.poll = nil
	s.ctrl = nil
	s.signalLocked()
	h := s.h
	notify := s.readers == 0 && !s.notified && h != nil
	if notify {
		s.notified = true
	}
	s.mu.Unlock()
	s.srv.forget(s)
	s.srv.cfg.Logger.Debug("engine.io session ended", "sid", s.id, "reason", err)
	if held != nil {
		// The held GET carries the close packet, as in the reference, so
		// the client learns at once that the session is gone; an Abort
		// sends no closing handshake, only a noop (the next poll gets 400).
		last := '0' + byte(Close)
		if errors.Is(err, errAborted) {
			last = '0' + byte(Noop)
		}
		_, _, _ = s.answerPoll(held, []byte{last}, nil)
	}
	if ws != nil {
		_ = ws.Abort()
	}
	if probe != nil && probe.conn != nil {
		_ = probe.conn.Abort()
	}
	if notify {
		h.OnClose(err)
	}
}

// attachHandler creates the session's spark. A session that ended before
// its spark existed (Server.Close racing the handshake) tells the spark at
// once, so every attached spark gets its OnClose, and the handshake
// fails (ErrShuttingDown: the only way a session ends before it opens).
func (s *session) attachHandler(attach transport.Attach) error {
	h := attach(s)
	s.mu.Lock()
	s.h = h
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

// enterRead counts a Handler message call about to run; false when the
// session has ended (the message is dropped).
func (s *session) enterRead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
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
	notify := s.state == stateClosed && s.readers == 0 && !s.notified
	if notify {
		s.notified = true
	}
	err := s.closeErr
	s.mu.Unlock()
	if notify {
		s.h.OnClose(err)
	}
}

// onPacket handles one packet from the client, from a POST or the
// WebSocket. It reports false when the session must end (a close packet,
// or a packet the client may not send).
func (s *session) onPacket(p Packet, ws bool) (keep bool, err error) {
	s.heartbeat.sawPacket(s, p.Type)
	switch p.Type {
	case Message:
		if max := s.srv.cfg.MaxMessage; max > 0 && len(p.Data) > max {
			return false, transport.ErrTooLarge
		}
		s.readMu.Lock()
		s.h.OnMessage(p.Binary, p.Data)
		s.readMu.Unlock()
	case Pong:
		s.heartbeat.pong(s)
		s.readMu.Lock()
		s.h.OnPing()
		s.readMu.Unlock()
	case Close:
		if ws {
			s.readMu.Lock()
			s.h.OnPeerClose()
			s.readMu.Unlock()
		}
		return false, nil
	case Ping:
		return false, fmt.Errorf("%w: invalid heartbeat direction", ErrTransport)
	case Noop, Upgrade:
		// Harmless: a late "5" after the switch, or a noop.
	default:
		return false, fmt.Errorf("%w: unexpected %s packet", ErrTransport, p.Type)
	}
	return true, nil
}
