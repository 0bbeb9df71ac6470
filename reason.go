package allspark

import (
	"errors"

	"github.com/allspark/allspark/internal/eio"
)

// Disconnect reasons (Spark.DisconnectReason), in Socket.IO's names so a
// Socket.IO application reads the same strings; every spark has one,
// whatever its wire.
const (
	// ReasonServerDisconnect: the server ended the spark without
	// reconnect (End(data, false)).
	ReasonServerDisconnect = "server namespace disconnect"
	// ReasonClientDisconnect: the client left the namespace
	// (socket.disconnect() in Socket.IO).
	ReasonClientDisconnect = "client namespace disconnect"
	// ReasonServerShutdown: Shutdown or Close ended it.
	ReasonServerShutdown = "server shutting down"
	// ReasonPingTimeout: the client missed a heartbeat.
	ReasonPingTimeout = "ping timeout"
	// ReasonTransportClose: the connection was closed by the client or
	// lost (a clean close, a vanished peer).
	ReasonTransportClose = "transport close"
	// ReasonTransportError: the connection broke (a write failed or timed
	// out, the client broke a transport rule, a message was too large).
	ReasonTransportError = "transport error"
	// ReasonParseError: a Socket.IO client sent a malformed packet.
	ReasonParseError = "parse error"
	// ReasonForcedClose: the server ended the spark with reconnect
	// (End(data, true), a slow consumer, an inbound overflow).
	ReasonForcedClose = "forced close"
)

// DisconnectReason says why the spark ended; empty while it is open.
func (s *Spark) DisconnectReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// setReason records why the spark ends, unless a cause is recorded
// already (the first one is the real one: End's reason beats the
// transport close it causes).
func (s *Spark) setReason(r string) {
	s.mu.Lock()
	if s.reason == "" {
		s.reason = r
	}
	s.mu.Unlock()
}

// reasonOf names the transport's end error.
func reasonOf(err error) string {
	var named interface{ DisconnectReason() string }
	switch {
	case err == nil:
		return ReasonTransportClose
	case errors.As(err, &named):
		return named.DisconnectReason()
	case errors.Is(err, eio.ErrPingTimeout):
		return ReasonPingTimeout
	}
	return ReasonTransportError
}

// OnDisconnecting registers a handler called once when the spark starts
// ending, before it leaves its rooms (Rooms still lists them), with the
// reason. Registered on an ended spark it is not called.
func (s *Spark) OnDisconnecting(fn func(reason string)) {
	s.mu.Lock()
	m := s.moreLocked()
	m.onDisconnecting = append(m.onDisconnecting, fn)
	s.mu.Unlock()
}

// OnDisconnecting adds a hook called for every spark that starts ending,
// before it leaves its rooms (Socket.IO's "disconnecting"), with the
// reason.
func (s *Server) OnDisconnecting(fn func(sp *Spark, reason string)) { s.discingHooks.add(fn) }

// OnAny adds a handler called for every named event a spark receives
// (Socket.IO's onAny), before the event's own handler. It observes: the
// event still needs a handler of its own to be answered.
func (s *Server) OnAny(fn func(ev *Event)) { s.anyHandlers.add(fn) }

// runDisconnecting calls the disconnecting handlers; the spark's rooms
// are still joined.
func (s *Spark) runDisconnecting(reason string) {
	s.mu.Lock()
	var own []func(string)
	if m := s.handlers.moreHandlers(); m != nil {
		own, m.onDisconnecting = m.onDisconnecting, nil
	}
	s.mu.Unlock()
	for _, fn := range own {
		fn(reason)
	}
	for _, fn := range s.server.discingHooks.load() {
		fn(s, reason)
	}
}
