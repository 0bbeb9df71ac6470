package transport

import "errors"

// ErrTooLarge is reported to Handler.OnClose when the peer sent a message
// (or, on a polling transport, a request body) over the payload limit.
var ErrTooLarge = errors.New("transport: message too large")
