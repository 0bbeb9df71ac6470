package websocket

import (
	"net/http"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// ErrTooLarge is reported to Handler.OnClose when the peer sent a message over
// the payload limit (transport.ErrTooLarge).
var ErrTooLarge = transport.ErrTooLarge

// Config configures an engine. The zero value is usable.
type Config struct {
	MaxPayload     int  // largest message accepted, bytes; 0 = 10 MiB
	Compression    bool // negotiate permessage-deflate
	ReadBufferSize int  // per-connection read buffer; 0 = engine default
	// WriteTimeout cuts a peer that accepts no bytes for this long; any
	// progress restarts the clock. 0 = 10 s.
	WriteTimeout time.Duration
}

// Message is one data message to write (transport.Message): its encoded
// payload, and whether it travels in a binary frame.
type Message = transport.Message

// Conn is one upgraded connection: a transport.Session whose Close sends a
// close frame with code and reason and whose Abort closes the socket
// without one (the peer sees 1006). Writes may be called from any
// goroutine, but the caller serializes data writes.
type Conn interface {
	transport.Session
	// WriteMessage writes one data frame.
	WriteMessage(binary bool, payload []byte) error
	// WriteBatchPrefixed is WriteBatch with prefix put before the payload
	// of every text message, inside its frame (binary messages are written
	// as they are): Engine.IO's "4" packet type in front of a Primus
	// frame. Uncompressed, the prefix rides in the frame header's buffer
	// and the payload is still not copied. A zero prefix is none.
	WriteBatchPrefixed(prefix byte, msgs []Message) (n, bytes int, err error)
}

// Handler receives a connection's events (transport.Handler), from the
// connection's read goroutine. OnPeerClose runs when the peer's Close frame
// has arrived, after every data frame before it was delivered and before
// the engine answers it; OnPing on a client ping frame.
type Handler = transport.Handler

// Engine upgrades HTTP requests to WebSocket connections.
type Engine interface {
	// Upgrade completes the handshake on w/r. attach is called with the new
	// Conn before any frame is read and returns its Handler; reading then
	// starts on a goroutine of the engine's. On failure the engine has already
	// answered the request.
	Upgrade(w http.ResponseWriter, r *http.Request, attach func(Conn) Handler) error
}
