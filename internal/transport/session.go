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
	// Shared is nil for a message with one receiver; a protocol that
	// re-frames then does it for that receiver alone.
	Shared *Shared
}

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
