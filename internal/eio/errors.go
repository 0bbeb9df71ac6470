package eio

import (
	"errors"
	"net/http"
	"strconv"
)

// Malformed-input errors of the decoders, for errors.Is. Payload decoders
// wrap them in a [*DecodeError] saying which packet was bad.
var (
	// ErrEmptyPacket is an empty packet: an empty frame or body, or two
	// adjacent separators (or a leading or trailing one) in a payload. The
	// reference parser rejects it too (it has no type).
	ErrEmptyPacket = errors.New("eio: empty packet")
	// ErrUnknownType is a first byte that is neither a type digit 0-6 nor
	// the "b" of a base64 binary message; encoders return it for a Type
	// outside 0-6.
	ErrUnknownType = errors.New("eio: unknown packet type")
	// ErrBadBase64 is a "b" packet whose text is not standard base64
	// (padded or unpadded).
	ErrBadBase64 = errors.New("eio: invalid base64 in binary packet")
	// ErrTooManyPackets is a payload with more packets than Limits.MaxPackets.
	ErrTooManyPackets = errors.New("eio: too many packets in payload")
	// ErrPayloadTooLarge is a payload longer than Limits.MaxBytes.
	ErrPayloadTooLarge = errors.New("eio: payload too large")
	// ErrSeparator is returned by the polling encoders for a text packet
	// whose data contains the record separator 0x1e: written into a payload
	// it would split into packets the sender never wrote, so it is refused
	// rather than framed.
	ErrSeparator = errors.New("eio: record separator 0x1e in text packet data")
)

// DecodeError is a malformed packet inside a payload: Index is its position
// (0-based) and Err one of the sentinel errors above.
type DecodeError struct {
	Index int
	Err   error
}

func (e *DecodeError) Error() string {
	return "eio: packet " + strconv.Itoa(e.Index) + ": " + e.Err.Error()
}

// Unwrap returns the sentinel error, for errors.Is.
func (e *DecodeError) Unwrap() error { return e.Err }

// ErrorCode is one of the error codes the reference server puts in its JSON
// error answers (server.ts, Server.errors). An ErrorCode is itself an error
// so that errors.Is(err, eio.SessionIDUnknown) matches an [*HTTPError] with
// that code.
type ErrorCode int

// The reference server's error codes, with their messages (errorMessages).
const (
	TransportUnknown           ErrorCode = 0 // "Transport unknown"
	SessionIDUnknown           ErrorCode = 1 // "Session ID unknown"
	BadHandshakeMethod         ErrorCode = 2 // "Bad handshake method"
	BadRequest                 ErrorCode = 3 // "Bad request"
	Forbidden                  ErrorCode = 4 // "Forbidden"
	UnsupportedProtocolVersion ErrorCode = 5 // "Unsupported protocol version"
)

// Message is the reference server's message for the code, exactly, or ""
// for a code it does not define.
func (c ErrorCode) Message() string {
	switch c {
	case TransportUnknown:
		return "Transport unknown"
	case SessionIDUnknown:
		return "Session ID unknown"
	case BadHandshakeMethod:
		return "Bad handshake method"
	case BadRequest:
		return "Bad request"
	case Forbidden:
		return "Forbidden"
	case UnsupportedProtocolVersion:
		return "Unsupported protocol version"
	}
	return ""
}

// Status is the HTTP status the reference answers with: 403 for Forbidden,
// 400 for every other code (abortRequest in server.ts).
func (c ErrorCode) Status() int {
	if c == Forbidden {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

func (c ErrorCode) Error() string {
	if m := c.Message(); m != "" {
		return "eio: " + m
	}
	return "eio: error code " + strconv.Itoa(int(c))
}

// HTTPError is an Engine.IO error answer: the body is the JSON
// {"code":Code,"message":Message} with the status Code.Status(). Message is
// normally Code.Message(); the reference lets a server substitute its own
// (an allowRequest hook's message, for instance), so it is a field.
type HTTPError struct {
	Code    ErrorCode
	Message string
}

// NewHTTPError is the error answer for code with the reference's message.
func NewHTTPError(code ErrorCode) *HTTPError {
	return &HTTPError{Code: code, Message: code.Message()}
}

func (e *HTTPError) Error() string {
	return "eio: " + strconv.Itoa(int(e.Code)) + " " + e.Message
}

// Unwrap returns the code, so errors.Is(err, eio.Forbidden) works.
func (e *HTTPError) Unwrap() error { return e.Code }

// Status is the HTTP status of the answer.
func (e *HTTPError) Status() int { return e.Code.Status() }

// AppendJSON appends the answer's body, {"code":N,"message":"..."}, as
// JSON.stringify writes it in the reference (no spaces).
func (e *HTTPError) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, e.Message)
	return append(dst, '}')
}
