package allspark

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors returned by Spark and Server methods. Test with errors.Is.
var (
	// ErrClosed: the spark (or server) is closed; nothing was written.
	ErrClosed = errors.New("allspark: spark closed")
	// ErrQueueFull: the spark's send queue is full (its reader is too slow).
	// Under the default SlowConsumerClose policy the spark is ended with
	// reconnect; under SlowConsumerDropOldest Write never returns it.
	ErrQueueFull = errors.New("allspark: send queue full")
	// ErrTooLarge: an encoded message exceeds Options.MaxLength, or the peer
	// sent one (then the connection is closed with status 1009).
	ErrTooLarge = errors.New("allspark: message exceeds MaxLength")
	// ErrReserved: the data is a string a Primus client would read as a
	// control message ("primus::ping::…", "primus::pong::…",
	// "primus::id::…", "primus::server::…"), or an event name is one the
	// clients use themselves ("open", "end", "data", …), has a reserved
	// prefix ("primus::", "allspark::", "incoming::", "outgoing::"), is
	// empty or is too long (docs/events.md).
	ErrReserved = errors.New("allspark: reserved: a Primus control string as data, or an event name that is reserved (such as open or primus::…), empty or too long")
	// ErrServerClosed: Shutdown has started; new connections are refused.
	ErrServerClosed = errors.New("allspark: server closed")
	// ErrDuplicateName: a middleware or plugin of that name exists already.
	ErrDuplicateName = errors.New("allspark: name already registered")
	// ErrNotFound: no middleware or plugin of that name.
	ErrNotFound = errors.New("allspark: name not registered")
	// ErrDuplicateID: the IDGenerator returned an id that is in use.
	ErrDuplicateID = errors.New("allspark: spark id already in use")
	// ErrTooManyRooms: Join would put the spark in more than
	// Options.MaxRoomsPerSpark rooms; none of the batch was joined.
	ErrTooManyRooms = errors.New("allspark: too many rooms for one spark")
	// ErrTooManyAcks: Options.MaxPendingAcks EmitWithAck requests of the
	// spark already wait for their replies; nothing was sent.
	ErrTooManyAcks = errors.New("allspark: too many pending acknowledgements")
	// ErrEventQueueFull: the client sent past the hard bound of messages
	// held for its handlers while one of them awaited an EmitWithAck reply
	// (docs/events.md, "Back-pressure"). It is reported to the spark's error
	// handlers and the spark is ended with reconnect.
	ErrEventQueueFull = errors.New("allspark: inbound event queue full")
)

// ShutdownError is what Shutdown returns when its deadline came while user
// code (a connection hook, a data or event handler ignoring its context) or a
// connection's goroutines were still running: the sockets were cut, and
// Shutdown returned without waiting for them. Abandoned counts those units
// of work (connections and handler goroutines). It unwraps to the reason the
// wait stopped: context.DeadlineExceeded or ctx's own error.
type ShutdownError struct {
	Abandoned int
	Err       error
}

func (e *ShutdownError) Error() string {
	return fmt.Sprintf("allspark: shutdown: %v; %d connections or handlers still running", e.Err, e.Abandoned)
}

// Unwrap returns the reason Shutdown stopped waiting.
func (e *ShutdownError) Unwrap() error { return e.Err }

// AuthError is what an authorization function returns to control the
// response: the status (default 401), the message sent as {"error": ...} and,
// with 401 only, a WWW-Authenticate challenge.
type AuthError struct {
	Status       int    // HTTP status; 0 means 401
	Message      string // sent to the client; empty means Err's text or the status text
	Authenticate string // WWW-Authenticate value, sent only when the status is 401
	Err          error  // optional cause, kept server-side
	// Data is sent to a refused Socket.IO client as its connect_error's
	// data (CONNECT_ERROR {"message", "data"}); Primus clients get only
	// the message.
	Data any
}

// ConnectErrorData is the Socket.IO CONNECT_ERROR data of the refusal.
func (e *AuthError) ConnectErrorData() any { return e.Data }

func (e *AuthError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return http.StatusText(e.StatusCode())
}

// StatusCode returns the HTTP status, 401 when unset.
func (e *AuthError) StatusCode() int {
	if e.Status == 0 {
		return http.StatusUnauthorized
	}
	return e.Status
}

// Unwrap returns the cause.
func (e *AuthError) Unwrap() error { return e.Err }

// HTTPError is an error that knows its HTTP status. WriteError uses it; the
// authorization middleware and AuthError satisfy it.
type HTTPError interface {
	error
	StatusCode() int
}

// TransformError reports that a message transform failed. The message was
// dropped; the connection stays open.
type TransformError struct {
	Direction Direction
	Err       error
}

func (e *TransformError) Error() string {
	return "allspark: " + e.Direction.String() + " transform: " + e.Err.Error()
}

// Unwrap returns the transform's error.
func (e *TransformError) Unwrap() error { return e.Err }
