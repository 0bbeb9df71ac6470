package sio

import (
	"encoding/json"
	"net"
	"sync"

	"github.com/allspark/allspark/internal/transport"
)

// socket is one namespace of a connection, the transport.Session of its
// spark. Its writes become packets on the connection's Engine.IO session,
// framed by the server's protocol (once per broadcast for every Socket.IO
// receiver) with the namespace put in for a namespace other than "/".
type socket struct {
	c    *conn
	nsp  string
	auth any
	id   string
	h    transport.Handler

	// pid is the private session id of connection state recovery, set
	// (SetPID) before the CONNECT reply is written; "" when recovery is
	// off.
	pid string

	// Guarded by c.writeMu:
	replied bool                // the CONNECT reply is written
	out     []transport.Message // reused batch for the Engine.IO session

	mu sync.Mutex
	// disconnectSent: a DISCONNECT went out (the server ended the socket
	// without reconnect), so Close leaves the connection open.
	disconnectSent bool
	ended          bool // gone has run: OnClose was called
}

func newSocket(c *conn, nsp string, auth any, id string) *socket {
	return &socket{c: c, nsp: nsp, auth: auth, id: id}
}

// ID implements transport.Identified: the spark's id is the socket id the
// client reads as socket.id.
func (s *socket) ID() string { return s.id }

// Namespace is the socket's namespace.
func (s *socket) Namespace() string { return s.nsp }

// Auth is the CONNECT packet's auth payload (nil when it had none).
func (s *socket) Auth() any { return s.auth }

// Protocol implements transport.Framer.
func (s *socket) Protocol() *transport.Protocol { return s.c.srv.proto }

// RemoteAddr implements transport.Session.
func (s *socket) RemoteAddr() net.Addr { return s.c.sess.RemoteAddr() }

// WriteBatch implements transport.Session.
func (s *socket) WriteBatch(msgs []transport.Message) (n, bytes int, err error) {
	if err := s.writeFrames(msgs); err != nil {
		return 0, 0, err
	}
	for i := range msgs {
		bytes += len(msgs[i].Payload)
	}
	return len(msgs), bytes, nil
}

// writeFrames writes msgs as packets, after the CONNECT reply if it has
// not gone out yet.
func (s *socket) writeFrames(msgs []transport.Message) error {
	c := s.c
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if ended {
		return net.ErrClosed
	}
	out := s.out[:0]
	if !s.replied {
		out = append(out, transport.Message{Payload: s.connectReply()})
	}
	proto := c.srv.proto
	for i := range msgs {
		m := &msgs[i]
		frame, multi := m.FrameFor(proto)
		if frame == nil {
			continue
		}
		if m.Control == transport.ServerClose {
			s.mu.Lock()
			s.disconnectSent = true
			s.mu.Unlock()
		}
		if !multi {
			if m.Offset != "" {
				frame = withOffset(frame, m.Offset)
			}
			out = append(out, transport.Message{Payload: withNamespace(frame, s.nsp)})
			continue
		}
		unpackMulti(frame, func(part []byte, binary bool) {
			if !binary {
				part = withNamespace(part, s.nsp)
			}
			out = append(out, transport.Message{Payload: part, Binary: binary})
		})
	}
	var err error
	if len(out) > 0 {
		_, _, err = c.sess.WriteBatch(out)
	}
	clear(out)
	s.out = out[:0]
	if err == nil && !s.replied {
		s.replied = true
	}
	return err
}

// connectReply is the CONNECT packet that accepts the socket, with the
// private id of connection state recovery when it is on: the client
// sends it back with its last offset when it reconnects, and reads a
// reply carrying the same pid as "recovered".
func (s *socket) connectReply() []byte {
	body, _ := json.Marshal(struct {
		SID string `json:"sid"`
		PID string `json:"pid,omitempty"`
	}{s.id, s.pid})
	return append(AppendHeader(nil, Connect, 0, s.nsp, 0, false), body...)
}

// SetID sets the socket id the CONNECT reply carries, when the spark took
// another id than the one the socket was made with (a session restored an
// earlier spark: its client must read the same socket.id back). It is
// called while the spark attaches, before the reply can be written.
func (s *socket) SetID(id string) { s.id = id }

// SetPID sets the private id the CONNECT reply carries. It is called
// while the spark attaches, before the reply can be written.
func (s *socket) SetPID(pid string) { s.pid = pid }

// withOffset appends a recovery offset as the last argument of an EVENT
// packet that asks for no ack (the stock client takes a trailing string
// argument of such an event as its offset); other packets are returned
// as they are. frame is shared between receivers, so the result is a
// copy.
func withOffset(frame []byte, offset string) []byte {
	if len(frame) < 3 || frame[0] != '0'+byte(Event) || frame[1] != '[' || frame[len(frame)-1] != ']' {
		return frame
	}
	out := make([]byte, 0, len(frame)+len(offset)+3)
	out = append(out, frame[:len(frame)-1]...)
	out = append(out, ',', '"')
	out = append(out, offset...)
	return append(out, '"', ']')
}

// Close implements transport.Session. After a DISCONNECT (the server ended
// the socket without reconnect) only this namespace ends; otherwise the
// spark wants its client to reconnect, which for Socket.IO means closing
// the whole connection (every namespace on it reconnects).
func (s *socket) Close(code uint16, reason string) error {
	s.mu.Lock()
	detach := s.disconnectSent
	s.mu.Unlock()
	if detach {
		s.c.remove(s)
		s.gone(ReasonServerDisconnect)
		return nil
	}
	s.c.setReason(ReasonForcedClose)
	return s.c.sess.Close(code, reason)
}

// Abort implements transport.Session: the connection drops at once.
func (s *socket) Abort() error {
	s.c.setReason(ReasonTransportError)
	return s.c.sess.Abort()
}

// gone tells the spark, once, that its socket ended and why.
func (s *socket) gone(r Reason) {
	s.mu.Lock()
	if s.ended || s.h == nil {
		s.ended = true
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.mu.Unlock()
	s.h.OnClose(r)
}
