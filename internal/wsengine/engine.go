package wsengine

import (
	"errors"
	"net"
	"net/http"
	"time"
)

// ErrTooLarge is reported to Handler.OnClose when the peer sent a message over
// the payload limit.
var ErrTooLarge = errors.New("wsengine: message too large")

// Config configures an engine. The zero value is usable.
type Config struct {
	MaxPayload     int  // largest message accepted, bytes; 0 = 10 MiB
	Compression    bool // negotiate permessage-deflate
	ReadBufferSize int  // per-connection read buffer; 0 = engine default
	// WriteTimeout cuts a peer that accepts no bytes for this long; any
	// progress restarts the clock. 0 = 10 s.
	WriteTimeout time.Duration
}

// Message is one data message to write: its encoded payload, and whether it
// travels in a binary frame.
type Message struct {
	Payload []byte
	Binary  bool
}

// Conn is one upgraded connection. Writes may be called from any goroutine,
// but the caller serializes data writes (Allspark's send queue does).
type Conn interface {
	// WriteMessage writes one data frame.
	WriteMessage(binary bool, payload []byte) error
	// WriteBatch writes msgs in order, as few system calls as the engine
	// can, and reports how many messages and payload bytes were written
	// before an error.
	WriteBatch(msgs []Message) (n, bytes int, err error)
	// Close sends a close frame with code and reason, then closes the socket.
	Close(code uint16, reason string) error
	// Abort closes the socket without a close frame (the peer sees 1006).
	Abort() error
	// RemoteAddr is the peer address of the TCP connection.
	RemoteAddr() net.Addr
}

// Handler receives a connection's events. Engines call it from the
// connection's read goroutine.
type Handler interface {
	OnMessage(binary bool, payload []byte)
	OnPing()
	// OnPeerClose is called when the peer's Close frame has arrived, after
	// every data frame before it was delivered and before the engine answers
	// it. It may block (bounded by the write timeout) to flush what is
	// queued, so the peer gets it before the closing handshake completes.
	OnPeerClose()
	OnClose(err error)
}

// Engine upgrades HTTP requests to WebSocket connections.
type Engine interface {
	// Upgrade completes the handshake on w/r. attach is called with the new
	// Conn before any frame is read and returns its Handler; reading then
	// starts on a goroutine of the engine's. On failure the engine has already
	// answered the request.
	Upgrade(w http.ResponseWriter, r *http.Request, attach func(Conn) Handler) error
}
