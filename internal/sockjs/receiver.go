package sockjs

import (
	"bytes"
	"net/http"
	"sync"
	"time"

	"github.com/allspark/allspark/internal/transport/websocket"
)

// kind is a receiving transport: how frames are wrapped on its connection
// and when its response ends.
type kind uint8

const (
	kindXHR          kind = iota // xhr polling: one frame per response
	kindXHRStreaming             // frames + "\n" until the response limit
	kindEventSource              // "data: <frame>\r\n\r\n" until the response limit
	kindHTMLFile                 // <script>p("<frame>")</script> until the response limit
	kindJSONP                    // /**/cb("<frame>"); one frame per response
	kindWebSocket                // one text message per frame, for the session's life
)

func (k kind) String() string {
	return [...]string{"xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp", "websocket"}[k]
}

// polling reports whether a response carries one frame only.
func (k kind) polling() bool { return k == kindXHR || k == kindJSONP }

// writeChunk is the largest piece written under one write deadline, so a
// large frame to a slow but steady reader is not cut by the write timeout
// (the deadline is renewed for every piece that goes).
const writeChunk = 64 << 10

// receiver is the connection a session sends on: a held HTTP response (a
// poll, a stream) or the session's WebSocket. At most one is attached to a
// session at a time (session.recv).
//
// Lock order: wmu, then session.mu. Whoever writes takes the receiver from
// the session under session.mu, lets it go, then takes wmu; a receiver is
// never locked while session.mu is held, except a new one by register
// before anybody else can see it.
type receiver struct {
	s        *session
	kind     kind
	w        http.ResponseWriter
	rc       *http.ResponseController
	ws       websocket.Conn
	callback string // jsonp, htmlfile
	limit    int    // bytes after which the response ends; 0 = never

	wmu    sync.Mutex
	sent   int           // frame bytes written so far (guarded by wmu)
	closed bool          // no more writes: the response is done (guarded by wmu)
	done   chan struct{} // closed with closed: the request's handler may return
	buf    []byte        // envelope scratch for htmlfile/jsonp (guarded by wmu)
}

func newReceiver(s *session, k kind, w http.ResponseWriter, limit int) *receiver {
	r := &receiver{s: s, kind: k, w: w, limit: limit, done: make(chan struct{})}
	if w != nil {
		r.rc = http.NewResponseController(w)
	}
	if k.polling() {
		r.limit = 1
	}
	return r
}

// writeLocked writes one frame, wmu held. A frame that reaches the
// response limit (every frame of a poll) first detaches the receiver from
// its session, so that the client's next request, sent as soon as this
// response ends, finds the session's slot free; the response then ends.
func (r *receiver) writeLocked(frame []byte) error {
	if r.closed {
		return errReceiverGone
	}
	n := r.envelopeLen(frame)
	final := r.limit > 0 && r.sent+n >= r.limit
	if final {
		r.s.detach(r)
	}
	err := r.out(frame)
	r.sent += n
	if final || err != nil {
		r.closeLocked()
	}
	return err
}

// closeLocked ends the receiver: no more writes, and the request's
// handler returns (ending the response).
func (r *receiver) closeLocked() {
	if !r.closed {
		r.closed = true
		close(r.done)
	}
}

// finalLocked writes a last frame (a close frame, or c[2010,…] to a second
// receiver) and ends the receiver; it does not detach it (the caller has,
// or it never was attached).
func (r *receiver) finalLocked(frame []byte) {
	if r.closed {
		return
	}
	_ = r.out(frame)
	r.closeLocked()
}

// envelopeLen is the size of frame as written on this receiver, counted
// against the response limit as the reference counts it.
func (r *receiver) envelopeLen(frame []byte) int {
	switch r.kind {
	case kindXHR, kindXHRStreaming:
		return len(frame) + 1
	case kindEventSource:
		return len("data: ") + len(frame) + 2*bytes.Count(frame, []byte("%")) + len("\r\n\r\n")
	case kindHTMLFile:
		return len("<script>\np(") + QuotedLen(frame) + len(");\n</script>\r\n")
	case kindJSONP:
		return len("/**/") + len(r.callback) + 1 + QuotedLen(frame) + len(");\r\n")
	}
	return len(frame)
}

// out writes frame in the receiver's envelope and flushes it.
func (r *receiver) out(frame []byte) error {
	if r.kind == kindWebSocket {
		return r.ws.WriteMessage(false, frame)
	}
	var err error
	switch r.kind {
	case kindXHR, kindXHRStreaming:
		err = r.writeAll(frame, []byte("\n"))
	case kindEventSource:
		err = r.writeEventSource(frame)
	case kindHTMLFile:
		r.buf = append(AppendQuote(append(r.buf[:0], "<script>\np("...), frame), ");\n</script>\r\n"...)
		err = r.writeAll(r.buf)
	case kindJSONP:
		r.buf = append(append(append(r.buf[:0], "/**/"...), r.callback...), '(')
		r.buf = append(AppendQuote(r.buf, frame), ");\r\n"...)
		err = r.writeAll(r.buf)
	}
	if cap(r.buf) > maxScratch {
		r.buf = nil
	}
	if err != nil {
		return err
	}
	return r.rc.Flush()
}

// writeEventSource writes "data: <frame>\r\n\r\n" with the characters
// EventSource would mangle percent-escaped, as the reference does ('%',
// CR, LF, NUL; only '%' can occur in a frame, whose JSON escapes the
// others). sockjs-client decodes it with decodeURI.
func (r *receiver) writeEventSource(frame []byte) error {
	if err := r.writeAll([]byte("data: ")); err != nil {
		return err
	}
	for len(frame) > 0 {
		i := bytes.IndexAny(frame, "%\r\n\x00")
		if i < 0 {
			break
		}
		if err := r.writeAll(frame[:i], percentEscape(frame[i])); err != nil {
			return err
		}
		frame = frame[i+1:]
	}
	return r.writeAll(frame, []byte("\r\n\r\n"))
}

// percentEscape is JavaScript's escape() of one of '%', CR, LF, NUL.
func percentEscape(c byte) []byte {
	return []byte{'%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&0xf]}
}

// writeAll writes the pieces in chunks, each under a fresh write deadline.
func (r *receiver) writeAll(pieces ...[]byte) error {
	for _, p := range pieces {
		for len(p) > 0 {
			c := p
			if len(c) > writeChunk {
				c = c[:writeChunk]
			}
			_ = r.rc.SetWriteDeadline(time.Now().Add(r.s.srv.cfg.WriteTimeout))
			if _, err := r.w.Write(c); err != nil {
				return err
			}
			p = p[len(c):]
		}
	}
	return nil
}

// hold keeps the receiving request open until the receiver is done (its
// last frame went, or the session ended) or the client goes away, which
// ends the session at once, as in the reference (a dropped stream or poll
// is the client closing). It returns with the write deadline cleared, so
// a keep-alive connection's next request is not cut by it.
func (r *receiver) hold(req *http.Request) {
	select {
	case <-r.done:
	case <-req.Context().Done():
		r.wmu.Lock()
		gone := !r.closed
		r.closeLocked()
		r.wmu.Unlock()
		if gone {
			r.s.interrupted(r)
		}
	}
	_ = r.rc.SetWriteDeadline(time.Time{})
}

// serveReceiver serves a receiving request (xhr, xhr_streaming,
// eventsource, htmlfile, jsonp): the session is found or opened, the
// answer's headers and prelude go out, the request becomes the session's
// receiver (frames are written to it by the spark's writer, the
// heartbeat and the close) and is held until it is done.
func (srv *Server) serveReceiver(w http.ResponseWriter, r *http.Request, id string, k kind) {
	h := w.Header()
	srv.jsessionID(h, r)
	noCache(h)
	var callback string
	if k == kindJSONP || k == kindHTMLFile {
		var ok bool
		if callback, ok = callbackParam(w, r, k == kindJSONP); !ok {
			return
		}
	}
	if srv.cfg.Forward != nil && !srv.Has(id) && srv.forwardReceiver(w, r, id, k, callback) {
		return
	}
	s := srv.open(w, r, id)
	if s == nil {
		return
	}
	recv := newReceiver(s, k, w, srv.cfg.ResponseLimit)
	recv.callback = callback
	srv.preamble(w, r, recv)
	if err := recv.rc.Flush(); err != nil {
		return
	}
	s.register(recv)
	recv.hold(r)
}

// preamble writes the status, the headers and the prelude of a receiving
// response.
func (srv *Server) preamble(w http.ResponseWriter, r *http.Request, recv *receiver) {
	h := w.Header()
	h.Del("Content-Length")
	switch recv.kind {
	case kindXHR:
		cors(h, r, false)
		h.Set("Content-Type", typeJS)
		w.WriteHeader(http.StatusOK)
	case kindXHRStreaming:
		cors(h, r, false)
		h.Set("Content-Type", typeJS)
		w.WriteHeader(http.StatusOK)
		writePrelude(w)
	case kindEventSource:
		cors(h, r, true)
		h.Set("Content-Type", typeES)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("\r\n"))
	case kindHTMLFile:
		h.Set("Content-Type", typeHTML)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(htmlfileHead(recv.callback))
	case kindJSONP:
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Type", typeJS)
		w.WriteHeader(http.StatusOK)
	}
}
