package websocket

import (
	"bytes"
	"compress/flate"
	"io"
	"slices"
	"sync"
)

// permessage-deflate (RFC 7692) for the poller engine, negotiated without
// context takeover in either direction: every message is compressed and
// inflated on its own, so (de)compressors are pooled across connections and
// an idle compressed connection costs what an uncompressed one does.

// deflateMin is the smallest payload worth compressing; smaller messages go
// out uncompressed (RSV1 clear), which the extension allows per message.
const deflateMin = 128

// deflateTail ends a message's deflate stream for the reader: the empty
// stored block the sender stripped (RFC 7692 §7.2.2), then a final empty
// block so the reader reports io.EOF.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflater is a pooled decompressor with its source.
type inflater struct {
	src  bytes.Reader
	tail bytes.Reader
	both io.Reader
	fr   io.ReadCloser
}

var inflaters = sync.Pool{New: func() any {
	in := &inflater{}
	in.fr = flate.NewReader(&in.src) // Reset gives it each message's source
	return in
}}

// inflateMessage decompresses one message into a new buffer of at most
// limit bytes: ErrTooLarge past it, the decompressor's error for data that
// is not deflate. Memory follows the inflated bytes, not a ratio.
func inflateMessage(p []byte, limit int) ([]byte, error) {
	in := inflaters.Get().(*inflater)
	defer inflaters.Put(in)
	in.src.Reset(p)
	in.tail.Reset(deflateTail)
	in.both = io.MultiReader(&in.src, &in.tail)
	if err := in.fr.(flate.Resetter).Reset(in.both, nil); err != nil {
		return nil, err
	}
	out := make([]byte, 0, min(max(4*len(p), 512), limit+1))
	for {
		if len(out) == cap(out) { // here len(out) <= limit
			out = slices.Grow(out, min(cap(out), limit+1-len(out)))
		}
		n, err := in.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if len(out) > limit {
			return nil, ErrTooLarge
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// deflater is a pooled compressor and the buffer its frames are built in.
type deflater struct {
	fw  *flate.Writer
	buf bytes.Buffer
}

var deflaters = sync.Pool{New: func() any {
	d := &deflater{}
	d.fw, _ = flate.NewWriter(&d.buf, flate.BestSpeed) // a valid level: no error
	return d
}}

// writeDeflated writes msgs as frames, compressing those of deflateMin bytes
// or more, with one write for the batch.
func writeDeflated(w *writer, msgs []Message, prefix byte) (n, total int, err error) {
	d := deflaters.Get().(*deflater)
	defer func() {
		if d.buf.Cap() > 256<<10 {
			d.buf = bytes.Buffer{} // do not pin a huge batch's buffer in the pool
		}
		d.buf.Reset()
		deflaters.Put(d)
	}()
	var hdr [maxHeader + 1]byte
	for i := range msgs {
		m := &msgs[i]
		pre := prefix != 0 && !m.Binary
		size := len(m.Payload)
		if pre {
			size++
		}
		if size < deflateMin {
			h := appendHeader(hdr[:0], m.Binary, size)
			d.buf.Write(h)
			if pre {
				d.buf.WriteByte(prefix)
			}
			d.buf.Write(m.Payload)
			total += len(m.Payload)
			continue
		}
		// The header goes in front once the compressed length is known:
		// reserve the largest, then move it up against the payload.
		start := d.buf.Len()
		d.buf.Write(hdr[:maxHeader])
		d.fw.Reset(&d.buf)
		if pre {
			_, _ = d.fw.Write([]byte{prefix})
		}
		_, _ = d.fw.Write(m.Payload)
		_ = d.fw.Flush() // writes to a bytes.Buffer cannot fail
		b := d.buf.Bytes()
		body := b[start+maxHeader : len(b)-4] // without the 00 00 ff ff tail
		h := appendHeader(hdr[:0], m.Binary, len(body))
		h[0] |= 0x40 // RSV1: compressed
		off := start + maxHeader - len(h)
		copy(b[off:], h)
		// Close the gap the reservation left before this frame.
		copy(b[start:], b[off:start+maxHeader+len(body)])
		d.buf.Truncate(start + len(h) + len(body))
		total += len(m.Payload)
	}
	if _, err := w.Write(d.buf.Bytes()); err != nil {
		return 0, 0, err
	}
	return len(msgs), total, nil
}
