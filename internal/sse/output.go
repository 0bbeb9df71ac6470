package sse

import (
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// output is where a stream's bytes go. A stream on HTTP/1.1 takes its
// connection over from net/http once the spark exists (connOutput): the
// handler's goroutine, net/http's background reader and its buffers are
// released, and one small goroutine per stream reads the socket (to notice
// the client leaving) and writes the heartbeats. Otherwise (HTTP/2,
// HTTP/1.0, a ResponseWriter wrapped by middleware without Hijack) the
// stream stays on the ResponseWriter (rwOutput), and the handler's
// goroutine holds it open.
//
// pieces[0] is kept free for a framing header; the outputs that need none
// skip it. Callers serialize the calls (session.mu).
type output interface {
	// write sends pieces[1:], size bytes in all, as one unit: one chunk of
	// the response body in one writev, or Writes and a flush.
	write(pieces net.Buffers, size int) error
	// deadline sets the write deadline.
	deadline(t time.Time) error
}

// rwOutput is a stream on its ResponseWriter.
type rwOutput struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (o *rwOutput) write(pieces net.Buffers, _ int) error {
	for _, p := range pieces[1:] {
		if _, err := o.w.Write(p); err != nil {
			return err
		}
	}
	return o.rc.Flush()
}

func (o *rwOutput) deadline(t time.Time) error { return o.rc.SetWriteDeadline(t) }

// A timed-out write cannot go on through net/http (the connection is then
// marked broken), so on a ResponseWriter the deadline is renewed only
// between writes: every renewEvery bytes of a batch.

// connOutput is a stream on a hijacked HTTP/1.1 connection. The body is
// chunked (so the client tells the end of the stream from a broken
// connection), one chunk per write. A write that times out while the client
// is still taking bytes goes on with a new deadline, as on a WebSocket.
type connOutput struct {
	c       net.Conn
	timeout time.Duration // WriteTimeout, for renewals on progress
	hdr     [18]byte      // the chunk header: size in hex, CRLF
	vec     net.Buffers   // the pieces of a writev while it runs (WriteTo consumes it)
}

var crlf = []byte("\r\n")

// lastChunk ends a chunked body.
var lastChunk = []byte("0\r\n\r\n")

func (o *connOutput) write(pieces net.Buffers, size int) error {
	if size == 0 {
		return nil // a chunk of size 0 would end the body
	}
	hdr := append(strconv.AppendUint(o.hdr[:0], uint64(size), 16), '\r', '\n')
	if size <= coalesceMax {
		// Small chunks (the common broadcast) are copied into one buffer:
		// a write of contiguous bytes costs less than a writev of many
		// small pieces.
		bp := coalesceBufs.Get().(*[]byte)
		buf := append((*bp)[:0], hdr...)
		for _, p := range pieces[1:] {
			buf = append(buf, p...)
		}
		buf = append(buf, crlf...)
		err := o.writeAll(buf)
		*bp = buf[:0]
		coalesceBufs.Put(bp)
		return err
	}
	pieces[0] = hdr
	o.vec = append(pieces, crlf)
	var err error
	for {
		var n int64
		n, err = o.vec.WriteTo(o.c) // one writev on a TCP connection; consumes what it wrote
		if err == nil || !o.progressed(n, err) || len(o.vec) == 0 {
			break
		}
	}
	clear(o.vec)
	o.vec = nil
	return err
}

// writeAll writes b, renewing the deadline while the client takes bytes.
func (o *connOutput) writeAll(b []byte) error {
	for {
		n, err := o.c.Write(b)
		if err == nil || !o.progressed(int64(n), err) {
			return err
		}
		b = b[n:]
	}
}

// progressed reports whether a write that failed with err after n bytes
// only ran out of time while the client was still taking bytes, and if so
// gives it a new deadline: a client that reads slowly but steadily is
// never cut, one that takes nothing is cut after WriteTimeout.
func (o *connOutput) progressed(n int64, err error) bool {
	if n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	_ = o.c.SetWriteDeadline(time.Now().Add(o.timeout))
	return true
}

// coalesceMax is the largest chunk copied into one buffer before it is
// written; larger ones (big messages, long batches) go out with writev,
// without copying the frames.
const coalesceMax = 16 << 10

var coalesceBufs = sync.Pool{New: func() any { b := make([]byte, 0, coalesceMax+64); return &b }}

func (o *connOutput) deadline(t time.Time) error { return o.c.SetWriteDeadline(t) }

// hijack takes r's connection over from net/http, when r is HTTP/1.1 and
// w lets it (middleware may wrap w without Hijack); nil otherwise. Bytes
// the client sent after its request (none, from an EventSource) are
// dropped with net/http's buffers; the stream's reader discards what
// comes later.
func hijack(w http.ResponseWriter, r *http.Request) net.Conn {
	if r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		return nil
	}
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil
	}
	return c
}

// appendHead appends the head of a chunked 200 response with h (the
// middleware's headers and the stream's), as net/http would write it.
func appendHead(dst []byte, h http.Header) []byte {
	dst = append(dst, "HTTP/1.1 200 OK\r\n"...)
	_ = h.Write(appender{&dst}) // sorted; values with line breaks are made safe
	dst = append(dst, "Date: "...)
	dst = time.Now().UTC().AppendFormat(dst, http.TimeFormat)
	return append(dst, "\r\nTransfer-Encoding: chunked\r\n\r\n"...)
}

// appender is an io.Writer appending to a byte slice.
type appender struct{ b *[]byte }

func (a appender) Write(p []byte) (int, error) {
	*a.b = append(*a.b, p...)
	return len(p), nil
}
