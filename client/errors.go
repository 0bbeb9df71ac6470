package client

import (
	"errors"
	"net/http"
	"strconv"
)

// Sentinel errors. Test with errors.Is; several arrive wrapped with a cause.
var (
	// ErrClosed: the client was ended (End, or an end it reached on its own);
	// Write and ID refuse until Open is called again.
	ErrClosed = errors.New("client: closed")
	// ErrDestroyed: Destroy was called; the client cannot be used again.
	ErrDestroyed = errors.New("client: destroyed")
	// ErrServerClosed: the server ended the connection with
	// "primus::server::close"; the client does not reconnect.
	ErrServerClosed = errors.New("client: closed by the server")
	// ErrReconnectFailed: every reconnection attempt failed (Primus's
	// "Unable to recover"). It wraps the last attempt's error.
	ErrReconnectFailed = errors.New("client: unable to recover")
	// ErrReconnectTimeout: one reconnection attempt did not open within
	// ReconnectOptions.Timeout.
	ErrReconnectTimeout = errors.New("client: failed to reconnect in a timely manner")
	// ErrConnectTimeout: the first connection did not open within
	// Options.Timeout.
	ErrConnectTimeout = errors.New("client: connection timed out")
	// ErrPingTimeout: no ping arrived within the watchdog's PingTimeout; the
	// connection was cut.
	ErrPingTimeout = errors.New("client: no ping from the server within PingTimeout")
	// ErrQueueFull: a write held while not open was dropped to make room
	// (reported by EventDrop).
	ErrQueueFull = errors.New("client: offline queue full, oldest message dropped")
	// ErrEventOverflow: the client closed the connection because the
	// messages waiting for handlers reached OverflowFactor times
	// Options.MaxQueuedEvents (or MaxQueuedBytes) while a request awaited
	// its reply (EventClose carries it).
	ErrEventOverflow = errors.New("client: handlers too slow: received messages overflowed the queue while a request awaited its reply")
	// ErrTooManyRequests: Options.MaxPendingAcks EmitWithAck requests
	// already await replies; nothing was sent.
	ErrTooManyRequests = errors.New("client: too many requests awaiting a reply")
	// ErrReserved: the data is a Primus control string (it starts with
	// "primus::"), or an event name is reserved (such as open or
	// primus::…), empty or too long; nothing was written.
	ErrReserved = errors.New("client: reserved: a Primus control string as data, or an event name that is reserved, empty or too long")
	// ErrResync: a room's stream skipped offsets or changed epoch, so the
	// client dropped the connection to reconnect at once and have the
	// server replay what is missing (EventClose carries it, wrapped with
	// the room and offsets). See RecoveryInfo.
	ErrResync = errors.New("client: messages missed: reconnecting to recover them")
	// ErrParserMismatch: the server's <pathname>/spec names another parser
	// than Options.Parser.
	ErrParserMismatch = errors.New("client: server uses a different parser")
)

// AuthError is returned (and emitted) when the server refuses the upgrade with
// 401 Unauthorized or 403 Forbidden. The client does not reconnect after it.
type AuthError struct {
	Status       int    // 401 or 403
	Message      string // the server's {"error": ...}, else the body or status text
	Authenticate string // the WWW-Authenticate header, if any
}

func (e *AuthError) Error() string {
	return "client: authorization failed: " + strconv.Itoa(e.Status) + " " + e.Message
}

// StatusError is a refused upgrade with any status other than 101, 401 and
// 403 (for example 503 while the server shuts down). Such failures are
// retried like network errors.
type StatusError struct {
	Status  int
	Message string // the server's {"error": ...}, else the body or status text
}

func (e *StatusError) Error() string {
	return "client: upgrade refused: " + strconv.Itoa(e.Status) + " " + e.Message
}

// CloseError is the reason carried by EventClose when the server closed the
// WebSocket with a close frame.
type CloseError struct {
	Code   uint16
	Reason string
}

func (e *CloseError) Error() string {
	s := "client: connection closed with status " + strconv.Itoa(int(e.Code))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func isAuthStatus(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}
