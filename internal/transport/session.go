package transport

import "net"

// Message is one encoded message on its way to a client: the server's
// parser output (the canonical encoding), whether it is binary, and, for a
// message queued for many receivers, the cache its per-protocol frames are
// kept in. Broadcasts push the same Message value to every receiver's
// queue; nobody mutates Payload after encoding.
type Message struct {
	Payload []byte
	Binary  bool
	// Control says whether the message is one of the Primus control
	// strings the server writes itself (ping, id answer, server close),
	// so a protocol that does not speak Primus can translate or skip it
	// without comparing bytes.
	Control Control
	// Shared is nil for a message with one receiver; a protocol that
	// re-frames then does it for that receiver alone.
	Shared *Shared
	// Value is the value before encoding, kept only when it holds parts a
	// re-framing protocol sends differently from the canonical encoding
	// (raw []byte values, which Socket.IO sends as binary attachments
	// while JSON turns them into base64 strings). nil otherwise, and
	// always nil for a message that came from another node.
	Value any
	// Stamp is the message's place in its room's history, for a write to
	// a room that keeps history; nil otherwise. Shared by every receiver
	// of the write. Sessions of clients that track positions frame it
	// (our clients' envelope, Socket.IO's offset, SSE's id); others send
	// the payload as if it were not there.
	Stamp *Stamp
	// Offset is the recovery offset this receiver's frame carries
	// (Socket.IO connection state recovery appends it to every event),
	// set per receiver by the spark's session writer; "" otherwise.
	Offset string
}

// Stamp is a history position: the room's registry key, the message's
// offset in the room's stream and the stream's epoch.
type Stamp struct {
	Room   string
	Offset uint64
	Epoch  string
}

// Control tells a Primus control message from data.
type Control uint8

// Control messages a spark writes.
const (
	Data        Control = iota // application data or an event envelope
	Ping                       // "primus::ping::<ms>"
	IDAnswer                   // "primus::id::<id>"
	ServerClose                // "primus::server::close": the server ends the session, no reconnect
	// Position is a position announcement (Stamp set, no Payload): the
	// receiver's position in Stamp.Room moves to Stamp.Offset without a
	// message. Only sparks that track positions are sent one, and their
	// wires never put it on the socket as data.
	Position
)

// Session is one client session on some transport, as a spark sees it.
//
// Writes may be called from any goroutine, but the caller serializes data
// writes (the spark's send queue does): WriteBatch is never called
// concurrently with itself. Close and Abort may race with a write.
type Session interface {
	// WriteBatch writes msgs in order, with as few system calls as the
	// transport can, and reports how many messages and payload bytes were
	// written before an error. A transport that must wait for the client
	// (a polling session between two GETs) waits here; it fails once the
	// session is gone or the peer has taken no bytes for the write
	// timeout. After an error the session takes no more writes.
	WriteBatch(msgs []Message) (n, bytes int, err error)
	// Close ends the session cleanly with code and reason (a WebSocket
	// close frame, an Engine.IO close packet), bounded by the write
	// timeout, then releases the connection.
	Close(code uint16, reason string) error
	// Abort drops the session at once, without a closing handshake: the
	// client sees a broken connection and reconnects.
	Abort() error
	// RemoteAddr is the peer address of the underlying connection (for a
	// polling session, the one that opened it).
	RemoteAddr() net.Addr
}

// Identified is implemented by a Session whose id the client already
// knows (Engine.IO's sid): its spark takes that id, so the stock Primus
// client's id() (which reads the transport's id) names the spark.
type Identified interface {
	ID() string
}

// ValueHandler is implemented by the Handler (the spark) for protocols
// that decode client messages themselves (Socket.IO's packets and binary
// attachments, SockJS's plain strings): OnValue delivers one decoded value
// as if the server's parser had produced it, with the size of the bytes it
// came from for the inbound bounds. Like OnMessage it is called from one
// goroutine at a time per session.
type ValueHandler interface {
	OnValue(v any, size int)
}

// Handler receives one session's events. Transports call it from one
// goroutine at a time per session, in order; a blocking call delays that
// session's reads (back-pressure), nobody else's.
type Handler interface {
	// OnMessage delivers one data message; payload is valid only during
	// the call.
	OnMessage(binary bool, payload []byte)
	// OnPing reports a transport-level sign of life from the client (a
	// WebSocket ping frame, an Engine.IO pong), which counts as a pong.
	OnPing()
	// OnPeerClose reports that the client is closing cleanly, after every
	// message before its close was delivered and before the transport
	// answers it. It may block (bounded by the write timeout) to flush
	// what is queued.
	OnPeerClose()
	// OnClose is called exactly once, after the last OnMessage, when the
	// session is gone; err says why (nil for a clean close).
	OnClose(err error)
}
