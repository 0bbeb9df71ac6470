package websocket

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// ErrInvalidUTF8 is reported to Handler.OnClose when the peer sent a text
// message, or a Close reason, that is not UTF-8 (closed with 1007).
var ErrInvalidUTF8 = errors.New("websocket: invalid UTF-8 in a text message")

// frameSink receives what a frameReader decodes.
type frameSink interface {
	// message delivers one complete data message, UTF-8 checked and
	// inflated; payload is valid only during the call.
	message(binary bool, payload []byte)
	// control delivers a complete ping (0x9), pong (0xA) or Close (0x8)
	// frame's payload, valid only during the call. It returns false when
	// reading must stop (after a Close frame).
	control(op byte, payload []byte) bool
	// inflate decompresses a permessage-deflate message into a buffer of
	// at most limit bytes (ErrTooLarge past it); only called when the
	// reader was told deflate was negotiated.
	inflate(compressed []byte, limit int) ([]byte, error)
}

// failure is a reason to fail the connection: the close code sent to the
// peer, its reason, and the error Handler.OnClose receives.
type failure struct {
	code   uint16
	reason string
	err    error
}

func (f *failure) Error() string { return f.err.Error() + ": " + f.reason }
func (f *failure) Unwrap() error { return f.err }

func protocolFailure(reason string) *failure {
	return &failure{code: 1002, reason: reason, err: ErrProtocol}
}

// frameReader decodes one connection's client→server byte stream
// incrementally (RFC 6455 §5): bytes come in whatever pieces readiness
// events give — a header split anywhere, a payload over many reads,
// control frames between the fragments of a message — and between two
// reads the reader keeps only what the unfinished frame needs.
//
// Memory follows the bytes that arrived, never a declared length: a frame
// that is whole in one read is unmasked and delivered in place, in the
// caller's (pooled) read buffer; only a message that spans reads or
// fragments is copied, into msg, which grows as its bytes arrive and is
// dropped once delivered. A length over maxPayload is refused from the
// header alone (1009).
type frameReader struct {
	maxPayload uint64
	deflate    bool // permessage-deflate was negotiated: RSV1 marks a compressed message

	hdr [14]byte // a header that spans reads, collected here
	hn  uint8    // bytes in hdr

	// The current frame, once its header is complete.
	inFrame bool
	b0      byte    // FIN, RSV, opcode
	mask    [4]byte // masking key
	mpos    uint8   // payload bytes of this frame seen so far, mod 4
	remain  uint64  // payload bytes of this frame still to come
	whole   bool    // the frame arrived with its header in one read: no copy

	// The data message in progress: opcode 0x1/0x2 of its first frame (0:
	// none), whether it is compressed, its bytes so far and their count.
	msgOp   byte
	msgComp bool
	closed  bool // a Close frame was read: nothing after it is looked at
	msgLen  uint64
	msg     []byte
	ctl     []byte // a control frame's payload that spans reads
}

// feed decodes b, which the reader may modify (payloads are unmasked in
// place). It returns a *failure when the peer broke the protocol or a
// limit; feeding after a Close frame or a failure does nothing.
func (r *frameReader) feed(b []byte, s frameSink) *failure {
	for len(b) > 0 && !r.closed {
		if !r.inFrame {
			n, f := r.header(b)
			if f != nil {
				r.closed = true
				return f
			}
			b = b[n:]
			if !r.inFrame {
				return nil // the header continues in the next read
			}
			r.whole = r.remain <= uint64(len(b))
			if r.remain == 0 {
				if f := r.frameDone(nil, s); f != nil {
					return f
				}
				continue
			}
		}
		k := len(b)
		if uint64(k) > r.remain {
			k = int(r.remain)
		}
		p := b[:k]
		b = b[k:]
		unmask(p, r.mask, r.mpos)
		r.mpos = uint8((uint64(r.mpos) + uint64(k)) & 3)
		r.remain -= uint64(k)
		if f := r.payload(p, s); f != nil {
			return f
		}
	}
	return nil
}

// header consumes the header at the start of b (or the rest of one begun in
// an earlier read) and reports how many bytes of b it used. r.inFrame is set
// once the header is complete and valid.
func (r *frameReader) header(b []byte) (int, *failure) {
	var h []byte
	used := 0
	if r.hn == 0 && len(b) >= 2 && len(b) >= headerLen(b[1]) {
		h = b[:headerLen(b[1])] // the common case: the whole header is here
		used = len(h)
	} else {
		for used < len(b) {
			r.hdr[r.hn] = b[used]
			r.hn++
			used++
			if r.hn >= 2 && int(r.hn) == headerLen(r.hdr[1]) {
				break
			}
		}
		if r.hn < 2 || int(r.hn) < headerLen(r.hdr[1]) {
			return used, nil
		}
		h = r.hdr[:r.hn]
		r.hn = 0
	}
	return used, r.start(h)
}

// headerLen is the length of a client frame header whose second byte is b1.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// start checks a complete header and makes its frame the current one.
func (r *frameReader) start(h []byte) *failure {
	b0, b1 := h[0], h[1]
	op := b0 & 0x0f
	length := uint64(b1 & 0x7f)
	rest := h[2:]
	switch length {
	case 126:
		length, rest = uint64(binary.BigEndian.Uint16(rest)), rest[2:]
	case 127:
		length, rest = binary.BigEndian.Uint64(rest), rest[8:]
		if length > maxLength {
			return protocolFailure("invalid length")
		}
	}
	if b1&0x80 == 0 {
		return protocolFailure("client frames must be masked")
	}
	if b0&0x30 != 0 {
		return protocolFailure("reserved bits set")
	}
	compressed := b0&0x40 != 0
	switch op {
	case 0x0:
		if r.msgOp == 0 {
			return protocolFailure("continuation frame without a message")
		}
		if compressed {
			return protocolFailure("RSV1 on a continuation frame")
		}
	case 0x1, 0x2:
		if r.msgOp != 0 {
			return protocolFailure("new message before the last one ended")
		}
		if compressed && !r.deflate {
			return protocolFailure("RSV1 without permessage-deflate")
		}
		r.msgOp, r.msgComp, r.msgLen = op, compressed, 0
	case 0x8, 0x9, 0xA:
		if b0&0x80 == 0 || length > 125 || compressed {
			return protocolFailure("invalid control frame")
		}
		if op == 0x8 && length == 1 {
			return protocolFailure("invalid close payload")
		}
	default:
		return protocolFailure("unknown opcode")
	}
	if op < 0x8 {
		if length > r.maxPayload-r.msgLen {
			return &failure{code: 1009, reason: "message too large", err: ErrTooLarge}
		}
		r.msgLen += length
	}
	copy(r.mask[:], rest)
	r.b0, r.mpos, r.remain, r.inFrame = b0, 0, length, true
	return nil
}

// payload takes the next unmasked piece p of the current frame's payload.
func (r *frameReader) payload(p []byte, s frameSink) *failure {
	op := r.b0 & 0x0f
	if op >= 0x8 {
		if r.remain == 0 && r.whole {
			return r.frameDone(p, s)
		}
		r.ctl = append(r.ctl, p...)
		if r.remain == 0 {
			c := r.ctl
			r.ctl = nil
			return r.frameDone(c, s)
		}
		return nil
	}
	if r.whole && r.msg == nil && r.b0&0x80 != 0 && op != 0 {
		return r.frameDone(p, s) // a whole message in one frame in one read: no copy
	}
	if r.msg == nil {
		r.msg = make([]byte, 0, min(max(2*len(p), 512), int(r.maxPayload)))
	}
	r.msg = append(r.msg, p...)
	if r.remain == 0 {
		return r.frameDone(nil, s)
	}
	return nil
}

// frameDone ends the current frame; p is its payload when it was whole in
// one read (else data went to msg).
func (r *frameReader) frameDone(p []byte, s frameSink) *failure {
	r.inFrame = false
	op := r.b0 & 0x0f
	if op >= 0x8 {
		if !s.control(op, p) {
			r.closed = true
		}
		return nil
	}
	if r.b0&0x80 == 0 {
		return nil // more fragments follow; this one's bytes are in msg
	}
	if r.msg != nil {
		p = r.msg
	}
	binaryMsg := r.msgOp == 0x2
	comp := r.msgComp
	r.msgOp, r.msgComp, r.msgLen = 0, false, 0
	defer func() { r.msg = nil }() // an idle connection holds no message buffer
	if comp {
		out, err := s.inflate(p, int(r.maxPayload))
		if err != nil {
			r.closed = true
			if errors.Is(err, ErrTooLarge) {
				return &failure{code: 1009, reason: "message too large", err: ErrTooLarge}
			}
			return &failure{code: 1007, reason: "invalid compressed data", err: err}
		}
		p = out
	}
	if !binaryMsg && !utf8.Valid(p) {
		r.closed = true
		return &failure{code: 1007, reason: "invalid UTF-8", err: ErrInvalidUTF8}
	}
	s.message(binaryMsg, p)
	return nil
}

// unmask XORs p with the masking key, starting at key byte pos.
func unmask(p []byte, key [4]byte, pos uint8) {
	var k [8]byte
	for i := range k {
		k[i] = key[(int(pos)+i)&3]
	}
	kw := binary.LittleEndian.Uint64(k[:])
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^kw)
	}
	for ; i < len(p); i++ {
		p[i] ^= k[i&7]
	}
}

// validCloseCode reports whether a peer may send code in a Close frame
// (RFC 6455 §7.4).
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
