package sockjs

import "errors"

// Malformed client input, as the reference names it in its 500 answers.
var (
	// ErrBrokenJSON is a body or WebSocket frame that is not JSON; an
	// xhr_send gets 500 "Broken JSON encoding.", a WebSocket is closed
	// with 3000 "Broken framing.".
	ErrBrokenJSON = errors.New("sockjs: broken JSON encoding")
	// ErrPayloadExpected is an empty xhr_send body, or JSON that is not an
	// array; answered 500 "Payload expected.".
	ErrPayloadExpected = errors.New("sockjs: payload expected")
)

// Reasons a session ends, as Handler.OnClose receives them.
var (
	// ErrInterrupted: the client dropped the request (or WebSocket) that
	// received for the session; as in the reference, the session ends at
	// once and a later request with its id opens a new one.
	ErrInterrupted = errors.New("sockjs: receiving connection interrupted")
	// ErrTimeout: no request received for the session within the
	// disconnect delay.
	ErrTimeout = errors.New("sockjs: session timed out without a receiving connection")
	// ErrWrite: writing to the receiving connection failed (the peer is
	// gone or took no bytes for the write timeout).
	ErrWrite = errors.New("sockjs: write to the receiving connection failed")
	// ErrShuttingDown: the server was closed.
	ErrShuttingDown = errors.New("sockjs: server closed")
)
