package wsframe

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Opcodes of RFC 6455 §5.2.
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// ErrTooLarge is returned by ReadFrame for a frame whose payload exceeds the
// caller's limit; the stream is not usable afterwards.
var ErrTooLarge = errors.New("wsframe: frame larger than the limit")

// ErrProtocol reports a header that RFC 6455 forbids (reserved bits, a
// fragmented or oversized control frame).
var ErrProtocol = errors.New("wsframe: protocol error")

// Header is a decoded frame header.
type Header struct {
	Fin    bool
	Op     byte
	Masked bool
	// RSV1 is the first reserved bit: "this message is compressed" under
	// permessage-deflate (RFC 7692). ReadHeader refuses it; a Reader with
	// Deflate set accepts it on the first frame of a data message.
	RSV1   bool
	Mask   [4]byte
	Length int64
}

// AppendFrame appends one complete frame (FIN set) with the given opcode and
// payload to dst. With a non-nil mask the payload is masked as a client must;
// the caller's payload is not modified.
func AppendFrame(dst []byte, op byte, payload []byte, mask *[4]byte) []byte {
	b0 := 0x80 | op&0x0F
	var mbit byte
	if mask != nil {
		mbit = 0x80
	}
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, b0, mbit|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, mbit|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, mbit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if mask == nil {
		return append(dst, payload...)
	}
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	maskBytes(dst[start:], *mask)
	return dst
}

// maskBytes XORs p with the 4-byte key in place (RFC 6455 §5.3).
func maskBytes(p []byte, key [4]byte) {
	for i := range p {
		p[i] ^= key[i&3]
	}
}

// ReadHeader reads one frame header from r.
func ReadHeader(r *bufio.Reader) (Header, error) { return readHeader(r, false) }

// readHeader is ReadHeader; rsv1 allows the compression bit (only on a
// data frame that starts a message: RFC 7692 §6.1).
func readHeader(r *bufio.Reader, rsv1 bool) (Header, error) {
	var h Header
	var b [8]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return h, err
	}
	h.RSV1 = b[0]&0x40 != 0
	if b[0]&0x30 != 0 || h.RSV1 && (!rsv1 || b[0]&0x0F == OpContinuation || b[0]&0x08 != 0) {
		return h, fmt.Errorf("%w: reserved bits set (extensions are not negotiated)", ErrProtocol)
	}
	h.Fin = b[0]&0x80 != 0
	h.Op = b[0] & 0x0F
	h.Masked = b[1]&0x80 != 0
	l := int64(b[1] & 0x7F)
	switch l {
	case 126:
		if _, err := io.ReadFull(r, b[:2]); err != nil {
			return h, err
		}
		l = int64(binary.BigEndian.Uint16(b[:2]))
	case 127:
		if _, err := io.ReadFull(r, b[:8]); err != nil {
			return h, err
		}
		u := binary.BigEndian.Uint64(b[:8])
		if u > 1<<62 {
			return h, fmt.Errorf("%w: length %d", ErrProtocol, u)
		}
		l = int64(u)
	}
	h.Length = l
	if h.Op >= OpClose && (!h.Fin || l > 125) {
		return h, fmt.Errorf("%w: control frame fragmented or longer than 125 bytes", ErrProtocol)
	}
	if h.Masked {
		if _, err := io.ReadFull(r, h.Mask[:]); err != nil {
			return h, err
		}
	}
	return h, nil
}

// ReadFrame reads one frame and returns its header and unmasked payload,
// stored in buf when it fits (buf is grown otherwise; the returned slice is
// only valid until the next call that reuses buf). Payloads larger than limit
// yield ErrTooLarge.
func ReadFrame(r *bufio.Reader, buf []byte, limit int64) (Header, []byte, error) {
	return readFrame(r, buf, limit, false)
}

func readFrame(r *bufio.Reader, buf []byte, limit int64, rsv1 bool) (Header, []byte, error) {
	h, err := readHeader(r, rsv1)
	if err != nil {
		return h, nil, err
	}
	if h.Length > limit {
		return h, nil, fmt.Errorf("%w: %d > %d", ErrTooLarge, h.Length, limit)
	}
	n := int(h.Length)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	p := buf[:n]
	if _, err := io.ReadFull(r, p); err != nil {
		return h, nil, err
	}
	if h.Masked {
		maskBytes(p, h.Mask)
	}
	return h, p, nil
}

// Reader reads whole messages, joining continuation frames and handing
// control frames to a callback, so callers see data messages only.
type Reader struct {
	R     *bufio.Reader
	Limit int64
	// OnControl is called for ping, pong and close frames (payload valid only
	// during the call). Returning an error stops ReadMessage with it.
	OnControl func(op byte, payload []byte) error
	// Deflate accepts compressed messages (RSV1 on the first frame), as on
	// a connection that negotiated permessage-deflate without context
	// takeover (Dial with DialOptions.Deflate): each is inflated on its own
	// with a decompressor borrowed from a pool for that message only, so an
	// idle connection holds no compression state.
	Deflate bool

	buf []byte
	msg []byte
	inf []byte
}

// ErrClosed is returned by Reader.ReadMessage after a close frame when
// OnControl does not return an error of its own.
var ErrClosed = errors.New("wsframe: close frame received")

// ReadMessage returns the next data message (text or binary) with its opcode.
// The payload is valid until the next call.
func (rd *Reader) ReadMessage() (byte, []byte, error) {
	var op byte
	rd.msg = rd.msg[:0]
	fragmented, compressed := false, false
	for {
		h, p, err := readFrame(rd.R, rd.buf, rd.Limit, rd.Deflate && !fragmented)
		if err != nil {
			return 0, nil, err
		}
		if cap(p) > cap(rd.buf) {
			rd.buf = p[:0]
		}
		switch h.Op {
		case OpPing, OpPong, OpClose:
			if rd.OnControl != nil {
				if err := rd.OnControl(h.Op, p); err != nil {
					return 0, nil, err
				}
			}
			if h.Op == OpClose {
				return 0, nil, ErrClosed
			}
			continue
		case OpText, OpBinary:
			if fragmented {
				return 0, nil, fmt.Errorf("%w: new message inside a fragmented one", ErrProtocol)
			}
			op, compressed = h.Op, h.RSV1
			if h.Fin {
				return rd.finish(op, p, compressed)
			}
			fragmented = true
			rd.msg = append(rd.msg, p...)
		case OpContinuation:
			if !fragmented {
				return 0, nil, fmt.Errorf("%w: continuation without a start", ErrProtocol)
			}
			rd.msg = append(rd.msg, p...)
			if int64(len(rd.msg)) > rd.Limit {
				return 0, nil, ErrTooLarge
			}
			if h.Fin {
				return rd.finish(op, rd.msg, compressed)
			}
		default:
			return 0, nil, fmt.Errorf("%w: opcode %#x", ErrProtocol, h.Op)
		}
	}
}

func (rd *Reader) finish(op byte, p []byte, compressed bool) (byte, []byte, error) {
	if !compressed {
		return op, p, nil
	}
	out, err := Inflate(rd.inf[:0], p, rd.Limit)
	if err != nil {
		return 0, nil, err
	}
	rd.inf = out
	return op, out, nil
}

// ParseFrame decodes the frame at the start of b, for readers that keep
// their own bytes instead of a bufio.Reader (the event-driven raw server).
// It returns n == 0 and no error while b holds less than a whole frame, and
// otherwise the frame's length in b; the payload is unmasked in place and
// aliases b. Errors are those of ReadFrame (no extensions are accepted).
func ParseFrame(b []byte, limit int64) (h Header, payload []byte, n int, err error) {
	if len(b) < 2 {
		return h, nil, 0, nil
	}
	if b[0]&0x70 != 0 {
		return h, nil, 0, fmt.Errorf("%w: reserved bits set (extensions are not negotiated)", ErrProtocol)
	}
	h.Fin = b[0]&0x80 != 0
	h.Op = b[0] & 0x0F
	h.Masked = b[1]&0x80 != 0
	l := int64(b[1] & 0x7F)
	pos := 2
	switch l {
	case 126:
		if len(b) < 4 {
			return h, nil, 0, nil
		}
		l = int64(binary.BigEndian.Uint16(b[2:4]))
		pos = 4
	case 127:
		if len(b) < 10 {
			return h, nil, 0, nil
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u > 1<<62 {
			return h, nil, 0, fmt.Errorf("%w: length %d", ErrProtocol, u)
		}
		l = int64(u)
		pos = 10
	}
	h.Length = l
	if h.Op >= OpClose && (!h.Fin || l > 125) {
		return h, nil, 0, fmt.Errorf("%w: control frame fragmented or longer than 125 bytes", ErrProtocol)
	}
	if l > limit {
		return h, nil, 0, fmt.Errorf("%w: %d > %d", ErrTooLarge, l, limit)
	}
	if h.Masked {
		if len(b) < pos+4 {
			return h, nil, 0, nil
		}
		copy(h.Mask[:], b[pos:pos+4])
		pos += 4
	}
	if int64(len(b)-pos) < l {
		return h, nil, 0, nil
	}
	end := pos + int(l)
	payload = b[pos:end]
	if h.Masked {
		maskBytes(payload, h.Mask)
	}
	return h, payload, end, nil
}
