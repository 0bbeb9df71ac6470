package eio

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/internal/transport/websocket"
)

// wsTransport is one WebSocket of a session: one Engine.IO packet per
// frame, a message as the text frame "4"+payload or a raw binary frame. It
// is the engine's Handler for that socket: first as a probe (an upgrade
// not yet confirmed by "5"), then, or from the handshake on, as the
// session's transport.
type wsTransport struct {
	s    *session
	conn websocket.Conn
}

// openWebSocket runs a handshake on transport=websocket: the upgrade, the
// spark, then the open packet as the first frame, before any is read.
func (s *session) openWebSocket(w http.ResponseWriter, r *http.Request, attach transport.Attach) error {
	cfg := &s.srv.cfg
	gone := false
	err := cfg.WebSocket.Upgrade(w, r, func(c websocket.Conn) websocket.Handler {
		t := &wsTransport{s: s, conn: c}
		s.mu.Lock()
		s.ws = c
		s.mu.Unlock()
		if s.attachHandler(attach) != nil {
			gone = true
			_ = c.Abort()
			return t
		}
		open := AppendOpen(nil, OpenPacket{
			SID:          s.id,
			Upgrades:     []string{},
			PingInterval: int(cfg.PingInterval / time.Millisecond),
			PingTimeout:  int(cfg.PingTimeout / time.Millisecond),
			MaxPayload:   cfg.MaxPayload,
		})
		_ = c.WriteMessage(false, open)
		s.heartbeat.start(s)
		return t
	})
	if err == nil && gone {
		// The response is hijacked: nothing more to answer.
		err = errGoneBeforeOpen
	}
	return err
}

// errGoneBeforeOpen fails a WebSocket handshake whose session ended while
// it was being attached; the socket is already dropped.
var errGoneBeforeOpen = fmt.Errorf("%w: session ended during the handshake", transport.ErrShuttingDown)

// active reports whether t is the session's transport (not a probe).
func (t *wsTransport) active() bool {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.s.ws == t.conn
}

// OnMessage implements websocket.Handler.
func (t *wsTransport) OnMessage(binary bool, payload []byte) {
	p, err := DecodeFrame(payload, binary)
	if err != nil {
		t.fail(fmt.Errorf("%w: %w", ErrTransport, err))
		return
	}
	if !t.active() {
		t.s.onProbePacket(t, p)
		return
	}
	s := t.s
	if !s.enterRead() {
		return
	}
	keep, err := s.onPacket(p, true)
	s.exitRead()
	switch {
	case err != nil:
		t.fail(err)
	case !keep:
		_ = t.conn.Close(1000, "")
		s.finish(nil)
	}
}

// fail ends the session if t carries it; a failing probe just goes.
func (t *wsTransport) fail(err error) {
	if t.active() {
		t.s.finish(err)
		return
	}
	t.s.dropProbe(t)
}

// OnPing implements websocket.Handler: WebSocket ping frames are not
// Engine.IO's heartbeat, which is packets; the engine has answered it.
func (t *wsTransport) OnPing() {}

// OnPeerClose implements websocket.Handler: a Close frame without a close
// packet ends the session too, after flushing what is queued.
func (t *wsTransport) OnPeerClose() {
	if t.active() && t.s.enterRead() {
		t.s.readMu.Lock()
		t.s.h.OnPeerClose()
		t.s.readMu.Unlock()
		t.s.exitRead()
	}
}

// OnClose implements websocket.Handler.
func (t *wsTransport) OnClose(err error) {
	if t.active() {
		t.s.finish(err)
		return
	}
	t.s.dropProbe(t)
}

// isProbe reports whether p is the upgrade's "2probe".
func isProbe(p Packet) bool { return p.Type == Ping && bytes.Equal(p.Data, []byte("probe")) }
