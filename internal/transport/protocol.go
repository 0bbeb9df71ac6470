package transport

import "sync"

// MaxProtocols bounds the protocols one process frames for; Shared keeps a
// slot per protocol, so it stays a fixed, small allocation per broadcast.
const MaxProtocols = 5

// Protocol turns the canonical encoding of a message into the frame one
// kind of client reads. A Protocol value is created once per wire package
// and shared; its zero value is the identity (Primus framing: the frame is
// the parser's output).
type Protocol struct {
	// Name is for logs and metrics ("primus", "socket.io").
	Name string
	// Slot is this protocol's index in Shared, in [0, MaxProtocols); each
	// re-framing protocol in the process has its own.
	Slot int
	// Frame turns m into this protocol's frame. nil means identity. It
	// must not keep or modify m.Payload, and is called at most once per
	// shared message. A nil frame means the protocol sends nothing for m
	// (a Primus control message it has no use for); the session skips it.
	Frame func(m *Message) (frame []byte, frameBinary bool)
	// OwnHeartbeat: the wire keeps its sessions alive itself (Engine.IO's
	// ping for Socket.IO, SockJS's "h", SSE comments) or its clients cannot
	// answer a Primus ping, so the server sends these sessions no
	// "primus::ping" and never ends them for a missed pong.
	OwnHeartbeat bool
}

// Framer is implemented by a Session whose protocol re-frames messages
// (Protocol.Frame is set). The server then gives every broadcast a Shared
// cache, so the frame is made once for all that protocol's receivers; a
// Session without it is taken to send the canonical encoding as is.
type Framer interface {
	Protocol() *Protocol
}

// Identity reports whether the protocol sends the canonical encoding as is.
func (p *Protocol) Identity() bool { return p == nil || p.Frame == nil }

// Shared is the per-protocol frame cache of one message queued for many
// receivers: the first receiver's writer on a protocol frames it, every
// other receiver on that protocol writes the same bytes. One Shared is
// allocated per broadcast message (not per receiver), and only when some
// receiver's protocol re-frames.
type Shared struct {
	slots [MaxProtocols]sharedSlot
}

type sharedSlot struct {
	once   sync.Once
	frame  []byte
	binary bool
}

// FrameFor returns m framed for p: the payload itself for an identity
// protocol, the cached frame for a shared message, or a frame made for this
// receiver alone.
func (m *Message) FrameFor(p *Protocol) (frame []byte, binary bool) {
	if p.Identity() {
		return m.Payload, m.Binary
	}
	if m.Shared == nil {
		return p.Frame(m)
	}
	s := &m.Shared.slots[p.Slot]
	s.once.Do(func() { s.frame, s.binary = p.Frame(m) })
	return s.frame, s.binary
}
