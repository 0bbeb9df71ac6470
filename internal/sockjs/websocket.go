package sockjs

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/internal/transport/websocket"
)

// isWebSocket reports whether r asks for a WebSocket upgrade (Upgrade:
// websocket and a Connection header naming upgrade).
func isWebSocket(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "upgrade") {
				return true
			}
		}
	}
	return false
}

// errGoneBeforeOpen fails a WebSocket opening whose session ended while
// its spark was being attached; the socket is already dropped.
var errGoneBeforeOpen = fmt.Errorf("%w: session ended during the handshake", transport.ErrShuttingDown)

// serveWebSocket serves /<server>/<session>/websocket: a session whose
// only receiver is this WebSocket, "o" as its first frame, the same
// frames as the HTTP transports, one per text message, and client frames
// holding an array of messages (or one). It is not in the session table:
// as in the reference the session id is not looked at (and may be
// reused), and the session ends with its socket. A plain GET or a bad
// Connection header gets 400 "Not a valid websocket request".
func (srv *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !isWebSocket(r) {
		answerText(w, http.StatusBadRequest, "Not a valid websocket request")
		return
	}
	s := newSession(srv, "", r)
	if _, err := srv.reserve(s); err != nil {
		srv.refuse(w, err)
		return
	}
	called, gone := false, false
	err := srv.acc.Accept(r, func(attach transport.Attach) error {
		called = true
		return srv.cfg.WebSocket.Upgrade(w, r, func(c websocket.Conn) websocket.Handler {
			recv := newReceiver(s, kindWebSocket, nil, 0)
			recv.ws = c
			t := &wsReader{s: s}
			if s.attachHandler(attach) != nil {
				gone = true
				_ = c.Abort()
				return t
			}
			s.register(recv)
			return t
		})
	})
	close(s.ready)
	if err == nil && gone {
		err = errGoneBeforeOpen
	}
	if err != nil {
		s.finish(err)
		if !called {
			srv.refuse(w, err)
		}
	}
}

// wsReader is the engine's Handler for a session's WebSocket.
type wsReader struct{ s *session }

// OnMessage implements websocket.Handler: an empty frame is ignored, a
// frame that is not JSON closes the socket with 3000 "Broken framing."
// and ends the session, as in the reference.
func (t *wsReader) OnMessage(_ bool, payload []byte) {
	if len(payload) == 0 {
		return
	}
	s := t.s
	if err := s.dec.DecodeFrame(payload, s.deliver); err != nil {
		s.mu.Lock()
		r := s.recv
		s.mu.Unlock()
		if r != nil {
			_ = r.ws.Close(CodeBrokenFraming, reasonBrokenFrames)
		}
		s.finish(err)
	}
}

// OnPing implements websocket.Handler: a ping frame is a sign of life.
func (t *wsReader) OnPing() {
	if t.s.enterRead() {
		t.s.h.OnPing()
		t.s.exitRead()
	}
}

// OnPeerClose implements websocket.Handler: the client closes; what the
// spark has queued is flushed first.
func (t *wsReader) OnPeerClose() {
	if t.s.enterRead() {
		t.s.h.OnPeerClose()
		t.s.exitRead()
	}
}

// OnClose implements websocket.Handler: the socket is gone, and with it
// the session.
func (t *wsReader) OnClose(err error) {
	if err != nil && !errors.Is(err, transport.ErrTooLarge) {
		err = fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	t.s.finish(err)
}

// serveRawWebSocket serves Prefix/websocket on the plain path: a
// WebSocket without SockJS framing, no "o", no heartbeats; each text
// frame is one message (a string), each message one text frame. Under the
// Primus pathname the same URL is the plain Primus WebSocket wire, which
// is what the reference serves there too.
func (srv *Server) serveRawWebSocket(w http.ResponseWriter, r *http.Request) {
	if !isWebSocket(r) {
		answerText(w, http.StatusBadRequest, "Not a valid websocket request")
		return
	}
	if err := srv.reserveRaw(); err != nil {
		srv.refuse(w, err)
		return
	}
	called := false
	opened := false
	err := srv.acc.Accept(r, func(attach transport.Attach) error {
		called = true
		return srv.cfg.WebSocket.Upgrade(w, r, func(c websocket.Conn) websocket.Handler {
			opened = true
			rs := &rawSession{srv: srv, conn: c}
			rs.h = attach(rs)
			rs.vh, _ = rs.h.(transport.ValueHandler)
			return rs
		})
	})
	if !opened {
		srv.releaseRaw()
	}
	if err != nil && !called {
		srv.refuse(w, err)
	}
}

// reserveRaw counts a raw WebSocket as a session.
func (srv *Server) reserveRaw() error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	switch {
	case srv.closed:
		return ErrShuttingDown
	case srv.count >= srv.cfg.MaxSessions:
		return errTooManySessions
	}
	srv.count++
	return nil
}

func (srv *Server) releaseRaw() {
	srv.mu.Lock()
	srv.count--
	srv.mu.Unlock()
}

// rawSession is a raw WebSocket's transport.Session and the engine's
// Handler for it: plain messages, one per frame.
type rawSession struct {
	srv     *Server
	conn    websocket.Conn
	h       transport.Handler
	vh      transport.ValueHandler
	scratch []transport.Message // WriteBatch's frames; WriteBatch is never concurrent
}

// Protocol implements transport.Framer.
func (rs *rawSession) Protocol() *transport.Protocol { return plainProtocol }

// WriteBatch implements transport.Session: each string message as its
// text, anything else as its JSON text, in one batch of text frames; a
// server close closes the socket with 3000 "Go away!".
func (rs *rawSession) WriteBatch(msgs []transport.Message) (n, size int, err error) {
	out := rs.scratch[:0]
	goAway := false
	for i := range msgs {
		m := &msgs[i]
		if m.Control == transport.ServerClose {
			goAway = true
			break
		}
		if m.Control != transport.Data || m.Binary {
			continue
		}
		out = append(out, transport.Message{Payload: plainText(m.Payload)})
		size += len(m.Payload)
	}
	if len(out) > 0 {
		_, _, err = rs.conn.WriteBatch(out)
	}
	clear(out)
	if cap(out) <= 1024 {
		rs.scratch = out[:0]
	} else {
		rs.scratch = nil
	}
	if err != nil {
		return 0, 0, err
	}
	if goAway {
		_ = rs.conn.Close(CodeGoAway, reasonGoAway)
	}
	return len(msgs), size, nil
}

// Close implements transport.Session.
func (rs *rawSession) Close(code uint16, reason string) error {
	if reason == "" && (code == 0 || code == CodeNormal) {
		code, reason = CodeNormal, reasonNormal
	}
	return rs.conn.Close(code, reason)
}

// Abort implements transport.Session.
func (rs *rawSession) Abort() error { return rs.conn.Abort() }

// RemoteAddr implements transport.Session.
func (rs *rawSession) RemoteAddr() net.Addr { return rs.conn.RemoteAddr() }

// OnMessage implements websocket.Handler: the frame's text is the message.
func (rs *rawSession) OnMessage(_ bool, payload []byte) {
	if rs.vh != nil {
		rs.vh.OnValue(string(payload), len(payload))
		return
	}
	rs.h.OnMessage(false, AppendQuote(nil, payload))
}

// OnPing implements websocket.Handler.
func (rs *rawSession) OnPing() { rs.h.OnPing() }

// OnPeerClose implements websocket.Handler.
func (rs *rawSession) OnPeerClose() { rs.h.OnPeerClose() }

// OnClose implements websocket.Handler.
func (rs *rawSession) OnClose(err error) {
	rs.srv.releaseRaw()
	rs.h.OnClose(err)
}

var (
	_ transport.Session = (*rawSession)(nil)
	_ transport.Framer  = (*rawSession)(nil)
)
