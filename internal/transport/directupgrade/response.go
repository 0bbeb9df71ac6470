package directupgrade

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ErrHijacked is returned by Write and WriteHeader after Hijack, as
// net/http's http.ErrHijacked.
var ErrHijacked = http.ErrHijacked

// response is the http.ResponseWriter of a request served directly. A
// response the handler writes goes out with "Connection: close"; its body
// is written through a small buffer straight to the connection, which the
// Listener closes after the handler. Hijack hands over the connection with
// the bytes that came behind the head.
type response struct {
	conn        net.Conn
	after       []byte // bytes the client sent behind the head
	header      http.Header
	out         *bufio.Writer
	wroteHeader bool
	hijacked    bool
	err         error // the first write error; later writes return it
}

// writeTimeout bounds each write of a response served directly: the
// handler's answer to a refused upgrade, never a spark's traffic.
const writeTimeout = 10 * time.Second

func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *response) WriteHeader(status int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	w.wroteHeader = true
	_ = w.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	w.out = bufio.NewWriterSize(w.conn, 1024)
	h := w.Header()
	h.Del("Transfer-Encoding") // without a Content-Length, the close ends the body
	h.Set("Connection", "close")
	if h.Get("Date") == "" {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	_, _ = w.out.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	_ = h.Write(w.out)
	_, w.err = w.out.WriteString("\r\n")
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, ErrHijacked
	}
	if !w.wroteHeader {
		if w.Header().Get("Content-Type") == "" && len(p) > 0 {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.out.Write(p)
	w.err = err
	return n, err
}

// Flush sends what is buffered (http.Flusher).
func (w *response) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err == nil && w.out != nil {
		w.err = w.out.Flush()
	}
}

// Hijack implements http.Hijacker. The reader of the returned ReadWriter
// holds the bytes the client sent behind its head (Buffered reports them),
// then reads the connection.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, ErrHijacked
	}
	if w.wroteHeader {
		return nil, nil, errors.New("directupgrade: Hijack after the response was started")
	}
	w.hijacked = true
	size := max(16, len(w.after)) // bufio's smallest
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(w.after), w.conn), size)
	if len(w.after) > 0 {
		_, _ = r.Peek(len(w.after)) // only the bytes reader is read
	}
	w.after = nil
	return w.conn, bufio.NewReadWriter(r, bufio.NewWriterSize(w.conn, 16)), nil
}

// HijackRaw is Hijack without the bufio wrappers: the connection and the
// bytes the client sent behind its head (owned by the caller).
func (w *response) HijackRaw() (net.Conn, []byte, error) {
	if w.hijacked {
		return nil, nil, ErrHijacked
	}
	if w.wroteHeader {
		return nil, nil, errors.New("directupgrade: Hijack after the response was started")
	}
	w.hijacked = true
	after := w.after
	w.after = nil
	return w.conn, after, nil
}

// finish ends a response the handler did not hijack: it is flushed (an
// empty 200 when the handler wrote nothing, as net/http) and the
// connection closed. It reports whether the connection is still the
// handler's (hijacked).
func (w *response) finish() bool {
	if w.hijacked {
		return true
	}
	if !w.wroteHeader {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	}
	if w.err == nil {
		w.err = w.out.Flush()
	}
	_ = w.conn.Close()
	return false
}
