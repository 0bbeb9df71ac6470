package sockjs

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"

	"github.com/allspark/allspark/internal/transport"
)

// The polling receivers (xhr, jsonp) answer one frame per request: "o" for
// a new session, an "a" frame with whatever waited, "h" after a heartbeat
// interval with nothing to send, or the close frame. They go through
// serveReceiver like the streaming ones; the response limit of one frame
// is what makes them polls (receiver.limit).

// sendBufs holds xhr_send bodies between requests: a body is read into a
// buffer that grows with the bytes that arrived, never to what
// Content-Length announces, and one over 64 KiB is not kept.
var sendBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serveSend reads an xhr_send (or jsonp_send) body and delivers its
// messages in order before answering 204 (jsonp_send: 200 "ok"); a
// Handler that blocks delays the answer, which is the back-pressure a
// polling client gets. The session is looked up first, so a flood of sends
// to unknown sessions is answered 404 without reading a body (the
// reference parses first). One send per session at a time: the next waits
// for the slot before its body is read. A body over MaxMessage gets 413
// and ends the session (c[1009,"Message too big"], transport.ErrTooLarge),
// as a WebSocket frame over the limit closes the connection with 1009.
func (srv *Server) serveSend(w http.ResponseWriter, r *http.Request, id string, jsonp bool) {
	h := w.Header()
	srv.jsessionID(h, r)
	noCache(h)
	if !jsonp {
		cors(h, r, false)
	}
	s := srv.lookup(id)
	if s == nil {
		if srv.cfg.Forward != nil && srv.cfg.Forward(w, r, id, srv.cfg.MaxMessage) {
			return
		}
		notFound(w)
		return
	}
	select {
	case s.sendSlot <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	defer func() { <-s.sendSlot }()

	max := srv.cfg.MaxMessage
	if r.ContentLength > int64(max) {
		srv.tooLarge(w, s)
		return
	}
	buf := sendBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxScratch {
			buf.Reset()
			sendBufs.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, int64(max)+1)); err != nil {
		return // the client went away mid-body
	}
	if buf.Len() > max {
		srv.tooLarge(w, s)
		return
	}
	body, err := sendBody(r, buf.Bytes(), jsonp)
	if err == nil {
		err = s.dec.DecodeArray(body, s.deliver)
	}
	switch {
	case errors.Is(err, ErrBrokenJSON):
		answerText(w, http.StatusInternalServerError, "Broken JSON encoding.")
	case err != nil:
		answerText(w, http.StatusInternalServerError, "Payload expected.")
	case jsonp:
		answerText(w, http.StatusOK, "ok")
	default:
		h.Set("Content-Type", typePlain)
		w.WriteHeader(http.StatusNoContent)
	}
}

// sendBody is the JSON of a send body. xhr_send takes the body as it is,
// with the reference's content types (text/plain, application/json, XML,
// "T" from old Internet Explorers, or none); jsonp_send a form field d, or
// the body itself as text/plain.
func sendBody(r *http.Request, body []byte, jsonp bool) ([]byte, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Header.Get("Content-Type") == "" {
		ct = ""
	}
	if !jsonp {
		switch ct {
		case "text/plain", "t", "application/json", "application/xml", "", "text/xml":
			return body, nil
		}
		return nil, ErrPayloadExpected
	}
	switch ct {
	case "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(body))
		if err != nil || q.Get("d") == "" {
			return nil, ErrPayloadExpected
		}
		return []byte(q.Get("d")), nil
	case "text/plain", "":
		return body, nil
	}
	return nil, ErrPayloadExpected
}

// tooLarge answers 413 and ends the session as a message over the limit.
func (srv *Server) tooLarge(w http.ResponseWriter, s *session) {
	w.Header().Set("Connection", "close")
	answerText(w, http.StatusRequestEntityTooLarge, "Payload too large.")
	s.close(CodeTooBig, reasonTooBig, transport.ErrTooLarge)
}
