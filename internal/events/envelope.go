package events

import (
	"errors"
	"math"
	"strings"
)

// Version is the value of the "allspark" key that marks an envelope.
const Version = 1

// Key marks a value as an envelope.
const Key = "allspark"

// MaxNameLen is the longest event name, in bytes.
const MaxNameLen = 256

// maxID is the largest request id: ids must survive a float64 round trip
// (JavaScript numbers).
const maxID = 1<<53 - 1

// Error codes, as documented in docs/events.md.
const (
	CodeBadEnvelope     = "bad_envelope"
	CodeUnknownEvent    = "unknown_event"
	CodeReservedEvent   = "reserved_event"
	CodeInvalidArgument = "invalid_argument"
	CodeHandlerError    = "handler_error"
	CodeTimeout         = "timeout"
	CodeDisconnected    = "disconnected"
)

// Kind tells what an envelope is.
type Kind uint8

// Envelope kinds.
const (
	Event    Kind = iota + 1 // an event, possibly asking for an ack (ID > 0)
	Ack                      // a successful reply to request ID
	AckError                 // a failed reply to request ID
	Report                   // an error report about an event that had no ID
)

// ErrorBody is the "error" member of AckError and Report envelopes.
type ErrorBody struct {
	Code    string `json:"code" msgpack:"code"`
	Message string `json:"message" msgpack:"message"`
	Event   string `json:"event,omitempty" msgpack:"event,omitempty"`
}

// Envelope is a parsed envelope.
type Envelope struct {
	Kind  Kind
	Name  string // Event: the event name
	Args  []any  // Event, Ack: the arguments
	ID    uint64 // Event: request id (0: no ack wanted); Ack, AckError: the request answered
	Error ErrorBody
}

// Malformed describes why a value marked as an envelope could not be read.
// ID is the request id when it could still be recovered, so the receiver can
// answer with an ack error rather than a report.
type Malformed struct {
	Reason string
	ID     uint64
	Name   string
}

func (m *Malformed) Error() string { return "malformed event envelope: " + m.Reason }

// Parse reports whether data is an envelope and reads it. A value without the
// "allspark" key is plain data: (zero, false, nil). A marked value that breaks
// the format returns a *Malformed error.
func Parse(data any) (Envelope, bool, error) {
	m, ok := data.(map[string]any)
	if !ok {
		return Envelope{}, false, nil
	}
	v, marked := m[Key]
	if !marked {
		return Envelope{}, false, nil
	}
	if n, ok := integer(v); !ok || n != Version {
		return Envelope{}, true, &Malformed{Reason: "unsupported version"}
	}
	ev, hasEvent := m["event"]
	ack, hasAck := m["ack"]
	errv, hasErr := m["error"]
	switch {
	case hasEvent && hasAck:
		return Envelope{}, true, &Malformed{Reason: `both "event" and "ack"`}
	case hasEvent:
		return parseEvent(m, ev)
	case hasAck:
		id, ok := requestID(ack)
		if !ok {
			return Envelope{}, true, &Malformed{Reason: `"ack" is not a request id`}
		}
		if hasErr {
			body, err := parseErrorBody(errv)
			if err != nil {
				return Envelope{}, true, &Malformed{Reason: err.Error(), ID: id}
			}
			return Envelope{Kind: AckError, ID: id, Error: body}, true, nil
		}
		args, ok := argList(m)
		if !ok {
			return Envelope{}, true, &Malformed{Reason: `"args" is not an array`, ID: id}
		}
		return Envelope{Kind: Ack, ID: id, Args: args}, true, nil
	case hasErr:
		body, err := parseErrorBody(errv)
		if err != nil {
			return Envelope{}, true, &Malformed{Reason: err.Error()}
		}
		return Envelope{Kind: Report, Error: body}, true, nil
	}
	return Envelope{}, true, &Malformed{Reason: `neither "event", "ack" nor "error"`}
}

func parseEvent(m map[string]any, ev any) (Envelope, bool, error) {
	var id uint64
	if raw, ok := m["id"]; ok {
		n, ok := requestID(raw)
		if !ok {
			return Envelope{}, true, &Malformed{Reason: `"id" is not a positive integer below 2^53`}
		}
		id = n
	}
	name, ok := ev.(string)
	if !ok || name == "" || len(name) > MaxNameLen {
		return Envelope{}, true, &Malformed{Reason: `"event" must be a string of 1 to 256 bytes`, ID: id}
	}
	args, ok := argList(m)
	if !ok {
		return Envelope{}, true, &Malformed{Reason: `"args" is not an array`, ID: id, Name: name}
	}
	return Envelope{Kind: Event, Name: name, Args: args, ID: id}, true, nil
}

func argList(m map[string]any) ([]any, bool) {
	raw, ok := m["args"]
	if !ok || raw == nil {
		return nil, true
	}
	args, ok := raw.([]any)
	return args, ok
}

var errBadError = errors.New(`"error" must be an object with a string "code"`)

func parseErrorBody(v any) (ErrorBody, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return ErrorBody{}, errBadError
	}
	code, ok := m["code"].(string)
	if !ok || code == "" {
		return ErrorBody{}, errBadError
	}
	msg, _ := m["message"].(string)
	ev, _ := m["event"].(string)
	return ErrorBody{Code: code, Message: msg, Event: ev}, nil
}

// RequestID reads a request id from a decoded value: a positive integer
// below 2^53, whatever numeric type the parser produced. Other wires that
// carry ids in their own shape (primus-emitter) use it, so every dialect
// accepts the same ids.
func RequestID(v any) (uint64, bool) { return requestID(v) }

// Integer reads a whole number from a decoded value (JSON's float64 or
// MessagePack's sized integers), within ±(2^53−1).
func Integer(v any) (int64, bool) { return integer(v) }

// requestID reads a positive integer below 2^53.
func requestID(v any) (uint64, bool) {
	n, ok := integer(v)
	if !ok || n <= 0 || n > maxID {
		return 0, false
	}
	return uint64(n), true
}

// integer reads a whole number from what JSON (float64) or MessagePack
// (sized ints) decoders produce.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || n < -maxID || n > maxID {
			return 0, false
		}
		return int64(n), true
	case float32:
		return integer(float64(n))
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n > maxID {
			return 0, false
		}
		return int64(n), true
	}
	return 0, false
}

// reservedNames are the events a Primus client or spark emits itself.
var reservedNames = map[string]struct{}{
	"open": {}, "close": {}, "end": {}, "data": {}, "error": {}, "reconnect": {},
	"reconnect scheduled": {}, "reconnected": {}, "reconnect timeout": {}, "reconnect failed": {},
	"timeout": {}, "online": {}, "offline": {}, "readyStateChange": {}, "heartbeat": {}, "drop": {},
}

// IsReserved reports whether name may not be used for a named event.
func IsReserved(name string) bool {
	if _, ok := reservedNames[name]; ok {
		return true
	}
	for _, p := range [...]string{"outgoing::", "incoming::", "primus::", "allspark::"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// ValidName reports whether name can be emitted: non-empty, at most
// MaxNameLen bytes, not reserved.
func ValidName(name string) bool {
	return name != "" && len(name) <= MaxNameLen && !IsReserved(name)
}
