package eio

import (
	"encoding/base64"
	"unicode/utf8"
)

// Type is a packet type, sent as its decimal digit.
type Type uint8

// The packet types of Engine.IO v4.
const (
	Open    Type = iota // server → client, first packet: the handshake JSON
	Close               // either side: close the session
	Ping                // server → client heartbeat; "2probe" from the client during an upgrade
	Pong                // client → server heartbeat answer; "3probe" from the server
	Message             // application data, text or binary
	Upgrade             // client → server: switch to the probed WebSocket
	Noop                // server → client: flushes a held poll (upgrade, close)
)

// numTypes is one past the last valid Type.
const numTypes = Noop + 1

// Valid reports whether t is one of the seven packet types.
func (t Type) Valid() bool { return t < numTypes }

// String is the reference parser's name for the type ("open", "message"...).
func (t Type) String() string {
	switch t {
	case Open:
		return "open"
	case Close:
		return "close"
	case Ping:
		return "ping"
	case Pong:
		return "pong"
	case Message:
		return "message"
	case Upgrade:
		return "upgrade"
	case Noop:
		return "noop"
	}
	return "invalid"
}

// Packet is one Engine.IO packet. Binary marks binary message data (Type is
// then Message: only messages carry binary data); otherwise Data is the text
// after the type digit, possibly empty. A decoded packet's Data aliases the
// decoder's input.
type Packet struct {
	Type   Type
	Binary bool
	Data   []byte
}

// AppendPacket appends p in its text form, the one a polling payload and a
// text WebSocket frame carry: the type digit and the data, or, for a binary
// message, "b" and the standard padded base64 of the data. It returns
// ErrUnknownType for an invalid Type (binary packets excepted, whose Type is
// not written). It does not check for the record separator (see
// [AppendPayload], which does).
func AppendPacket(dst []byte, p Packet) ([]byte, error) {
	if p.Binary {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, p.Data), nil
	}
	if !p.Type.Valid() {
		return dst, ErrUnknownType
	}
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...), nil
}

// AppendFrame appends p as a WebSocket frame's payload and reports whether
// the frame is binary. A binary message is its raw data in a binary frame
// (callers that own p.Data may send it as is instead of appending a copy);
// every other packet is a text frame holding its type digit and data.
func AppendFrame(dst []byte, p Packet) (frame []byte, binary bool, err error) {
	if p.Binary {
		return append(dst, p.Data...), true, nil
	}
	frame, err = AppendPacket(dst, p)
	return frame, false, err
}

// DecodeFrame decodes one WebSocket frame's payload: a binary frame is a
// binary message whose Data is the whole frame (even an empty one); a text
// frame is decoded by [DecodePacket].
func DecodeFrame(frame []byte, binary bool) (Packet, error) {
	if binary {
		return Packet{Type: Message, Binary: true, Data: frame}, nil
	}
	return DecodePacket(frame)
}

// DecodePacket decodes one packet in text form (a polling payload's packet,
// or a text WebSocket frame): a type digit and its data, or "b" and base64,
// decoded in place in src. Data aliases src. Errors: ErrEmptyPacket,
// ErrUnknownType, ErrBadBase64.
func DecodePacket(src []byte) (Packet, error) {
	if len(src) == 0 {
		return Packet{}, ErrEmptyPacket
	}
	c := src[0]
	if c == 'b' {
		n, ok := decodeBase64InPlace(src[1:])
		if !ok {
			return Packet{}, ErrBadBase64
		}
		return Packet{Type: Message, Binary: true, Data: src[1 : 1+n]}, nil
	}
	t := Type(c - '0') // wraps around for bytes below '0', which Valid rejects
	if !t.Valid() {
		return Packet{}, ErrUnknownType
	}
	return Packet{Type: t, Data: src[1:]}, nil
}

// base64Value is the value of a standard-alphabet base64 character, or 0xff.
// It is a switch rather than a table so the package keeps no mutable state.
func base64Value(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return 0xff
}

// decodeBase64InPlace decodes standard base64, padded or not, over its own
// text and returns the decoded length. In-place decoding is safe because
// each quantum's four characters are read before its three bytes are
// written, and the write position (3/4 of the read position) never passes
// the read position. encoding/base64 does not promise that for overlapping
// buffers, hence this decoder. Like Node's Buffer.from(s, "base64") it
// ignores nonzero trailing bits; unlike it, it rejects characters outside
// the standard alphabet (including whitespace and the URL-safe alphabet),
// which no Engine.IO client sends.
func decodeBase64InPlace(b []byte) (int, bool) {
	n := len(b)
	if n > 0 && b[n-1] == '=' {
		if n%4 != 0 {
			return 0, false
		}
		n--
		if b[n-1] == '=' {
			n--
		}
	}
	if n%4 == 1 {
		return 0, false
	}
	w := 0
	i := 0
	for ; i+4 <= n; i += 4 {
		a, b1, c, d := base64Value(b[i]), base64Value(b[i+1]), base64Value(b[i+2]), base64Value(b[i+3])
		if (a|b1|c|d)&0xc0 != 0 { // 0xff, the invalid marker, has these bits
			return 0, false
		}
		v := uint32(a)<<18 | uint32(b1)<<12 | uint32(c)<<6 | uint32(d)
		b[w], b[w+1], b[w+2] = byte(v>>16), byte(v>>8), byte(v)
		w += 3
	}
	switch n - i {
	case 2:
		a, b1 := base64Value(b[i]), base64Value(b[i+1])
		if (a|b1)&0xc0 != 0 {
			return 0, false
		}
		b[w] = a<<2 | b1>>4
		w++
	case 3:
		a, b1, c := base64Value(b[i]), base64Value(b[i+1]), base64Value(b[i+2])
		if (a|b1|c)&0xc0 != 0 {
			return 0, false
		}
		b[w], b[w+1] = a<<2|b1>>4, b1<<4|c>>2
		w += 2
	}
	return w, true
}

// appendJSONString appends s as a JSON string the way JSON.stringify writes
// it: '"' and '\\' escaped, control characters as \b \f \n \r \t or \u00xx,
// everything else verbatim; invalid UTF-8 becomes U+FFFD so the result is
// always valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\ufffd"...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
		i++
	}
	return append(dst, '"')
}
