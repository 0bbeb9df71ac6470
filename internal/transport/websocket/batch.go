package websocket

import (
	"encoding/binary"
	"net"
	"sync"
)

// maxHeader is the largest header of an unmasked server frame.
const maxHeader = 10

// appendHeader appends the header of an unmasked, final, uncompressed data
// frame (RFC 6455 §5.2) carrying n payload bytes.
func appendHeader(dst []byte, isBinary bool, n int) []byte {
	op := byte(0x1)
	if isBinary {
		op = 0x2
	}
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126)
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// vector is the scratch space of one batched write: the iovecs and the
// headers they point into. Pooled, so a batch costs no allocation once warm.
type vector struct {
	bufs net.Buffers
	out  net.Buffers // what WriteTo consumes; a field so it needs no allocation
	hdrs []byte
	flat []byte // a small batch copied whole (flatten)
}

var vectors = sync.Pool{New: func() any { return &vector{flat: make([]byte, 0, flatMax)} }}

// writeFramed writes msgs through g as uncompressed frames with one writev:
// each payload is sent from where it lies (a broadcast's single encoding),
// behind a header built here, instead of being copied into a frame buffer
// per receiver and written with a system call each.
//
// It is safe beside the engine's own writes (pongs, close frames) because
// both go through the gate's write mutex, so frames never interleave and
// none follows a Close frame.
func writeFramed(g *writer, msgs []Message, prefix byte) (n, bytes int, err error) {
	v := vectors.Get().(*vector)
	bytes = v.build(msgs, prefix)
	if flat, ok := v.flatten(); ok {
		_, err = g.Write(flat) // as writeDeflated writes its batch
	} else {
		err = g.writeBuffers(&v.out)
	}
	v.reset()
	vectors.Put(v)
	if err != nil {
		return 0, 0, err
	}
	return len(msgs), bytes, nil
}

// build frames msgs into v.out (headers built here, payloads where they lie)
// and returns their payload bytes. It is its own function so its large
// frame is gone from the stack before the write: a writer goroutine starts
// on a 2 KiB stack, and a deeper write path made every start grow and copy
// it (9 % of server CPU in the storm benchmark).
//
//go:noinline
func (v *vector) build(msgs []Message, prefix byte) (bytes int) {
	if need := (maxHeader + 1) * len(msgs); cap(v.hdrs) < need {
		v.hdrs = make([]byte, 0, need)
	}
	hdrs := v.hdrs[:0]
	for i := range msgs {
		start := len(hdrs)
		if prefix != 0 && !msgs[i].Binary {
			// The prefix is part of the frame's payload; it rides in the
			// header's buffer so the payload itself is still not copied.
			hdrs = appendHeader(hdrs, false, len(msgs[i].Payload)+1)
			hdrs = append(hdrs, prefix)
		} else {
			hdrs = appendHeader(hdrs, msgs[i].Binary, len(msgs[i].Payload))
		}
		v.bufs = append(v.bufs, hdrs[start:len(hdrs):len(hdrs)])
		if len(msgs[i].Payload) > 0 {
			v.bufs = append(v.bufs, msgs[i].Payload)
		}
		bytes += len(msgs[i].Payload)
	}
	v.out = v.bufs // WriteTo consumes its receiver; keep v.bufs for reuse
	return bytes
}

// flatMax is the largest batch written with one plain write, copied into
// one buffer, instead of a writev. The runtime keeps the iovec array of a
// socket's largest writev for the socket's life (internal/poll's
// FD.iovecs); a connection that only ever gets heartbeats and small
// messages then keeps none, and copying a kilobyte costs less than the
// system call either way.
const flatMax = 1 << 10

// flatten copies v's frames into one buffer when they are small enough
// (see flatMax).
func (v *vector) flatten() ([]byte, bool) {
	total := 0
	for _, b := range v.out {
		if total += len(b); total > flatMax {
			return nil, false
		}
	}
	if len(v.out) == 1 {
		return v.out[0], true
	}
	flat := v.flat[:0]
	for _, b := range v.out {
		flat = append(flat, b...)
	}
	v.flat = flat
	return flat, true
}

// reset empties v for the pool, dropping buffers a huge batch grew so they
// do not pin memory there.
func (v *vector) reset() {
	v.out = nil
	v.flat = v.flat[:0]
	clear(v.bufs)
	v.bufs = v.bufs[:0]
	if cap(v.bufs) > 4096 || cap(v.hdrs) > 4096*(maxHeader+1) {
		v.bufs, v.hdrs = nil, nil
	}
}
