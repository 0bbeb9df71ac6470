package sockjs

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// Decoder turns what a client sends (an xhr_send or jsonp_send body, a
// WebSocket frame) into its messages. SockJS has no client framing beyond
// JSON: a body is an array of strings, ["m1","m2"], and a WebSocket frame
// is that array or a single JSON value. sockjs-client only ever sends
// strings; a hand-written client may send other JSON values, which the
// reference passes on as they are.
//
// The whole input is checked before the first message is delivered, so a
// broken body delivers nothing (as JSON.parse in the reference). Strings
// without escapes are delivered from where they lie in the input; the
// others are unescaped into the Decoder's scratch buffer, which is reused
// between calls. A Decoder is not safe for concurrent use; its zero value
// is ready.
type Decoder struct {
	scratch []byte
}

// Each is called for every message in order. msg is valid only during the
// call. str reports a JSON string (msg is its unescaped text); otherwise
// msg is the raw JSON text of another value (a number, an object, null).
type Each func(msg []byte, str bool) error

// DecodeArray decodes a body that must be a JSON array (xhr_send): an
// error matching ErrBrokenJSON when it is not JSON, ErrPayloadExpected
// when it is JSON but not an array (an empty body included), or the first
// error fn returns.
func (d *Decoder) DecodeArray(data []byte, fn Each) error {
	i := skipSpace(data, 0)
	if i == len(data) {
		return ErrPayloadExpected
	}
	if data[i] != '[' {
		if !json.Valid(data) {
			return ErrBrokenJSON
		}
		return ErrPayloadExpected
	}
	return d.decode(data, fn)
}

// DecodeFrame decodes a WebSocket frame: an array of messages, or a single
// value that is itself one message. An empty frame holds none. Malformed
// JSON is ErrBrokenJSON.
func (d *Decoder) DecodeFrame(data []byte, fn Each) error {
	if len(data) == 0 {
		return nil
	}
	i := skipSpace(data, 0)
	if i < len(data) && data[i] == '[' {
		return d.decode(data, fn)
	}
	// One value.
	if i < len(data) && data[i] == '"' {
		end, esc, ok := scanString(data, i)
		if ok && skipSpace(data, end) == len(data) {
			return fn(d.unquote(data[i:end], esc), true)
		}
		return ErrBrokenJSON
	}
	if !json.Valid(data) {
		return ErrBrokenJSON
	}
	v := trimSpace(data)
	return fn(v, false)
}

// decode delivers the elements of the array at the start of data. The fast
// path (every element a string, the only thing sockjs-client sends) checks
// the array in one pass and delivers in a second; anything else goes
// through encoding/json.
func (d *Decoder) decode(data []byte, fn Each) error {
	if !scanStringArray(data) {
		return d.decodeSlow(data, fn)
	}
	i := skipSpace(data, 0) + 1
	for {
		i = skipSpace(data, i)
		switch data[i] {
		case ']':
			return nil
		case ',':
			i++
			continue
		}
		end, esc, _ := scanString(data, i)
		if err := fn(d.unquote(data[i:end], esc), true); err != nil {
			return err
		}
		i = end
	}
}

// decodeSlow handles arrays with elements other than strings.
func (d *Decoder) decodeSlow(data []byte, fn Each) error {
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil {
		if json.Valid(data) {
			return ErrPayloadExpected // valid JSON, not an array (cannot happen after '[')
		}
		return ErrBrokenJSON
	}
	for _, e := range elems {
		if len(e) > 0 && e[0] == '"' {
			end, esc, _ := scanString(e, 0)
			if err := fn(d.unquote(e[:end], esc), true); err != nil {
				return err
			}
			continue
		}
		if err := fn(e, false); err != nil {
			return err
		}
	}
	return nil
}

// scanStringArray reports whether data is exactly a JSON array of strings
// (with optional whitespace).
func scanStringArray(data []byte) bool {
	i := skipSpace(data, 0)
	if i == len(data) || data[i] != '[' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		if i == len(data) || data[i] != '"' {
			return false
		}
		end, _, ok := scanString(data, i)
		if !ok {
			return false
		}
		i = skipSpace(data, end)
		if i == len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

// scanString checks the JSON string starting at data[start] (a '"') and
// returns the index after its closing quote, whether it needs unescaping
// (escapes, or invalid UTF-8 to replace), and whether it is well formed.
func scanString(data []byte, start int) (end int, esc, ok bool) {
	i := start + 1
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			if i+1 == len(data) {
				return 0, false, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) || !isHex4(data[i+2:i+6]) {
					return 0, false, false
				}
				i += 6
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				esc = true
			}
			i += size
		}
	}
	return 0, false, false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if hexValue(c) < 0 {
			return false
		}
	}
	return true
}

func hexValue(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func hex4(b []byte) rune {
	return hexValue(b[0])<<12 | hexValue(b[1])<<8 | hexValue(b[2])<<4 | hexValue(b[3])
}

// unquote returns the text of the well-formed JSON string q (quotes
// included): q's inside when it has nothing to unescape, else the
// unescaped text in d's scratch buffer. Like encoding/json, a lone
// surrogate or an invalid UTF-8 byte becomes U+FFFD.
func (d *Decoder) unquote(q []byte, esc bool) []byte {
	s := q[1 : len(q)-1]
	if !esc {
		return s
	}
	out := d.scratch[:0]
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(s[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(s[i+2:i+6])); dec != utf8.RuneError {
							r2 = dec
							i += 6
						}
					}
					r = r2
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // " \ /
				out = append(out, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, s[i:i+size]...)
			}
			i += size
		}
	}
	if cap(out) <= maxScratch {
		d.scratch = out
	} else {
		d.scratch = nil // do not pin a huge message's buffer
	}
	return out
}

// maxScratch is the largest scratch buffer a Decoder keeps between calls.
const maxScratch = 64 << 10

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

func trimSpace(data []byte) []byte {
	i, j := 0, len(data)
	for i < j && isSpace(data[i]) {
		i++
	}
	for j > i && isSpace(data[j-1]) {
		j--
	}
	return data[i:j]
}
