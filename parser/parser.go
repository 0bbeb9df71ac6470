package parser

import "errors"

// Parser encodes values into frame payloads and decodes payloads into values.
// Implementations must be safe for concurrent use.
type Parser interface {
	// Name is what <pathname>/spec reports as "parser", e.g. "json".
	Name() string
	// Encode returns the payload for v and whether it must travel in a binary
	// frame. The returned slice is owned by the caller.
	Encode(v any) (payload []byte, binary bool, err error)
	// Decode turns a received payload into a value. binary tells whether it
	// arrived in a binary frame. payload is only valid during the call.
	Decode(payload []byte, binary bool) (any, error)
	// Unmarshal decodes a payload into a typed destination, as json.Unmarshal
	// does; it lets handlers skip the generic any representation.
	Unmarshal(payload []byte, binary bool, dst any) error
}

// Binary is raw bytes that a parser sends as a binary frame without encoding,
// and what the JSON parser hands over for a received binary frame.
type Binary []byte

// ErrBinaryTarget is returned by Unmarshal when a binary frame is decoded into
// something other than *Binary, *[]byte or *any.
var ErrBinaryTarget = errors.New("parser: binary frame can only be unmarshalled into *Binary, *[]byte or *any")

// Error wraps a failure to encode or decode, so callers can tell parser
// failures apart with errors.As.
type Error struct {
	Op     string // "encode" or "decode"
	Parser string // parser name
	Err    error
}

func (e *Error) Error() string { return "parser " + e.Parser + ": " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ByName returns the built-in parser with that name ("json" or "msgpack").
func ByName(name string) (Parser, bool) {
	switch name {
	case "", "json":
		return JSON{}, true
	case "msgpack", "binary":
		return MsgPack{}, true
	}
	return nil, false
}
