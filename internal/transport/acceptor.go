package transport

import (
	"errors"
	"net/http"
)

// ErrShuttingDown is returned by Acceptor.Accept once the server has begun
// shutting down; the transport answers the handshake with 503.
var ErrShuttingDown = errors.New("transport: server is shutting down")

// Attach creates the spark for a session whose handshake passed and returns
// the Handler for its events. The transport calls it exactly once, after it
// can write to sess and before it reads a message from the client.
type Attach func(sess Session) Handler

// Acceptor is the server side of the seam: every transport opens its
// sessions through it, so sparks are created, registered, counted for
// Shutdown and handed to the connection hooks the same way whatever the
// wire.
type Acceptor interface {
	// Accept runs the opening of one session for the handshake request r.
	// It returns ErrShuttingDown without calling open when the server
	// takes no new sessions. Otherwise it calls open, which performs the
	// transport's handshake (answering r itself on failure) and calls
	// attach once the session exists; when open returns nil the session
	// is live and Accept starts the spark (its connection hooks). The
	// request r becomes the spark's Request: pass the handshake request,
	// as middleware left it.
	Accept(r *http.Request, open func(attach Attach) error) error
}
