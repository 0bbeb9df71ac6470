package proto

import (
	"bytes"
	"strconv"
)

// Marker starts every payload; padding and protocol framing never contain it.
const Marker = '#'

// AppendPayload appends a payload of at least size bytes carrying seq and the
// send time in Unix nanoseconds: "#<seq>:<nanos>:" padded with 'x'. It needs
// no escaping inside a JSON string.
func AppendPayload(dst []byte, seq uint64, nanos int64, size int) []byte {
	start := len(dst)
	dst = append(dst, Marker)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, nanos, 10)
	dst = append(dst, ':')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// Scan calls fn for every payload marker in msg with the sequence number and
// send time it carries, and returns how many it found. Markers whose numbers
// do not parse are skipped (and not counted).
func Scan(msg []byte, fn func(seq uint64, nanos int64)) int {
	n := 0
	for {
		i := bytes.IndexByte(msg, Marker)
		if i < 0 {
			return n
		}
		msg = msg[i+1:]
		seq, rest, ok := number(msg)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			continue
		}
		nanos, rest, ok := number(rest[1:])
		if !ok || len(rest) == 0 || rest[0] != ':' {
			continue
		}
		n++
		if fn != nil {
			fn(seq, int64(nanos))
		}
		msg = rest
	}
}

// number parses leading decimal digits (at most 19, so no overflow).
func number(b []byte) (uint64, []byte, bool) {
	var v uint64
	i := 0
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + uint64(b[i]-'0')
	}
	return v, b[i:], i > 0
}
