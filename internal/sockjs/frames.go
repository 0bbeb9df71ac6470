package sockjs

import (
	"strconv"
	"unicode/utf8"
)

// The frames a server sends (sockjs-protocol 0.3): the first byte is the
// frame type.
var (
	// frameOpen is "o", the first frame of every session.
	frameOpen = []byte("o")
	// frameHeartbeat is "h", sent every Heartbeat while a receiver is
	// attached and nothing else was.
	frameHeartbeat = []byte("h")
)

// Close codes and reasons the server uses in "c" frames. The protocol's
// own (2010, 1002) come from sockjs-protocol; 3000 "Go away!" is the
// server-initiated close of its test suite, which this server sends when
// a spark ends without reconnect on the plain path.
const (
	CodeNormal         = 1000
	CodeGoAway         = 3000
	CodeInterrupted    = 1002
	CodeAnotherOpen    = 2010
	CodeTooBig         = 1009
	CodeBrokenFraming  = 3000
	reasonNormal       = "Normal closure"
	reasonGoAway       = "Go away!"
	reasonAnotherOpen  = "Another connection still open"
	reasonTooBig       = "Message too big"
	reasonBrokenFrames = "Broken framing."
)

// AppendClose appends the close frame c[code,"reason"].
func AppendClose(dst []byte, code int, reason string) []byte {
	dst = append(dst, 'c', '[')
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ',')
	dst = AppendQuote(dst, []byte(reason))
	return append(dst, ']')
}

// AppendQuote appends s as a JSON string the way sockjs-node quotes a
// message (utils.quote): JSON.stringify's escapes (\" \\ \b \f \n \r \t,
// \u00xx for other control characters), then \uxxxx for the characters
// some browsers or proxies mangle: U+200C–U+200F, U+2028–U+202F,
// U+2060–U+206F, U+FFF0–U+FFFF, and every character outside the Basic
// Multilingual Plane as its UTF-16 surrogate pair. Hex digits are lower
// case, as in the reference. Invalid UTF-8 becomes \ufffd. Other characters are
// written as they are, in UTF-8.
func AppendQuote(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
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
				dst = appendU(dst, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = appendU(dst, utf8.RuneError)
			i++
			start = i
			continue
		}
		if !escapable(r) {
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		if r >= 0x10000 {
			r -= 0x10000
			dst = appendU(dst, 0xd800+(r>>10))
			dst = appendU(dst, 0xdc00+(r&0x3ff))
		} else {
			dst = appendU(dst, r)
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// QuotedLen is the length AppendQuote would produce for s, for sizing
// buffers before framing.
func QuotedLen(s []byte) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\':
				n++
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			default:
				n += 6
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6
		case !escapable(r):
			n += size
		case r >= 0x10000:
			n += 12
		default:
			n += 6
		}
		i += size
	}
	return n
}

// escapable reports whether a non-ASCII rune is written as \u escapes.
func escapable(r rune) bool {
	switch {
	case r >= 0x10000:
		return true
	case r >= 0x200c && r <= 0x200f, r >= 0x2028 && r <= 0x202f, r >= 0x2060 && r <= 0x206f, r >= 0xfff0:
		return true
	}
	return false
}

const hexDigits = "0123456789abcdef"

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
