package eio

import (
	"net/http"
	"time"

	"github.com/allspark/allspark/internal/transport/websocket"
)

// noopEvery is how often a held poll gets a noop while an upgrade waits
// for "5", so the client's paused polling cycle completes (the reference's
// checkIntervalTimer).
const noopEvery = 100 * time.Millisecond

// upgradeState is a session's upgrade in progress: its timeout and its
// noop ticker. Guarded by session.mu.
type upgradeState struct {
	timeout *time.Timer
	noop    *time.Timer
}

func (u *upgradeState) stop() {
	if u.timeout != nil {
		u.timeout.Stop()
		u.timeout = nil
	}
	if u.noop != nil {
		u.noop.Stop()
		u.noop = nil
	}
}

// serveUpgrade opens a probe WebSocket for a polling session. Only one at
// a time, and only while the session is open on polling; anything else
// gets 400 before the upgrade.
func (s *session) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ok := s.state == stateOpen && s.ws == nil && s.probe == nil && s.srv.ws
	if ok {
		s.probe = &wsTransport{s: s} // reserved; conn set below
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, NewHTTPError(BadRequest))
		return
	}
	reserved := s.probe
	err := s.srv.cfg.WebSocket.Upgrade(w, r, func(c websocket.Conn) websocket.Handler {
		s.mu.Lock()
		t := &wsTransport{s: s, conn: c}
		if s.probe != reserved || s.state != stateOpen {
			s.mu.Unlock()
			_ = c.Abort()
			return t
		}
		s.probe = t
		s.upgrade.timeout = time.AfterFunc(s.srv.cfg.UpgradeTimeout, func() { s.dropProbe(t) })
		s.mu.Unlock()
		return t
	})
	if err != nil {
		s.mu.Lock()
		if s.probe == reserved {
			s.probe = nil
		}
		s.mu.Unlock()
	}
}

// onProbePacket handles a packet on a probe: "2probe" is answered
// "3probe" and starts the noop ticker; "5" switches the session to the
// WebSocket; anything else ends the probe.
func (s *session) onProbePacket(t *wsTransport, p Packet) {
	switch {
	case isProbe(p):
		s.mu.Lock()
		if s.probe != t {
			s.mu.Unlock()
			return
		}
		if s.upgrade.noop == nil {
			s.upgrade.noop = time.AfterFunc(noopEvery, func() { s.tickNoop(t) })
		}
		s.mu.Unlock()
		_ = t.conn.WriteMessage(false, []byte("3probe"))
	case p.Type == Upgrade:
		s.switchTo(t)
	default:
		s.dropProbe(t)
	}
}

// tickNoop sends a noop to a held poll while the upgrade waits.
func (s *session) tickNoop(t *wsTransport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.probe != t || s.state == stateClosed {
		return
	}
	if s.poll != nil {
		s.queueCtrlLocked(Noop)
	}
	s.upgrade.noop.Reset(noopEvery)
}

// switchTo makes the probed WebSocket the session's transport. From here
// WriteBatch writes on it; what polling had not yet sent is still in the
// spark's queue (a writer takes a poll only to answer it at once), so
// nothing is lost or reordered. A poll still held gets a noop; later
// polls get 400 (the session is no longer on polling). A session that is
// closing (Close queued its close packet while the client, upgrading, had
// paused polling) switches too and gets the close packet on the socket:
// the client defers its own close until the upgrade ends, so refusing it
// would leave both sides waiting.
func (s *session) switchTo(t *wsTransport) {
	s.mu.Lock()
	if s.probe != t || s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	closing, sent := s.state == stateClosing, s.closeSent
	s.closeSent = nil
	s.upgrade.stop()
	s.probe = nil
	s.ws = t.conn
	held := s.poll
	s.poll = nil
	ctrl := s.takeCtrlLocked() // a ping waiting for a poll goes on the socket
	s.signalLocked()
	s.mu.Unlock()
	if held != nil {
		_, _, _ = s.answerPoll(held, []byte{'0' + byte(Noop)}, nil)
	}
	for _, c := range ctrl {
		if c != Separator && c != '0'+byte(Noop) {
			_ = t.conn.WriteMessage(false, []byte{c})
		}
	}
	if closing {
		_ = t.conn.Close(1000, "")
		if sent != nil {
			close(sent)
		}
	}
}

// dropProbe closes a probe that failed or timed out; the session stays on
// polling.
func (s *session) dropProbe(t *wsTransport) {
	s.mu.Lock()
	mine := s.probe == t
	if mine {
		s.probe = nil
		s.upgrade.stop()
	}
	s.mu.Unlock()
	if mine && t.conn != nil {
		_ = t.conn.Abort()
	}
}
