package eio

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// openPolling answers the handshake GET with the open packet and makes the
// session live; the spark is attached before anything is read.
func (s *session) openPolling(w http.ResponseWriter, attach transport.Attach) error {
	cfg := &s.srv.cfg
	if err := s.attachHandler(attach); err != nil {
		return err
	}
	open := AppendOpen(nil, OpenPacket{
		SID:          s.id,
		Upgrades:     s.srv.upgrades(),
		PingInterval: int(cfg.PingInterval / time.Millisecond),
		PingTimeout:  int(cfg.PingTimeout / time.Millisecond),
		MaxPayload:   cfg.MaxPayload,
	})
	if c := cfg.Cookie; c != nil {
		ck := *c
		if ck.Name == "" {
			ck.Name = "io"
		}
		if ck.Path == "" {
			ck.Path = "/"
		}
		ck.Value = s.id
		http.SetCookie(w, &ck)
	}
	pollHeaders(w.Header(), len(open))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(open)
	s.heartbeat.start(s)
	return nil
}

// pollHeaders sets a poll response's headers.
func pollHeaders(h http.Header, length int) {
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(length))
}

// servePoll holds a GET until there is something to send: messages (a
// writer answers it), control packets (it answers itself), or the end.
// A second GET while one is held is a protocol error: 400, and the session
// ends (the held one gets the close packet). A held GET the client gives
// up on ends the session, as in the reference.
func (s *session) servePoll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		writeError(w, NewHTTPError(SessionIDUnknown))
		return
	}
	if s.poll != nil {
		s.mu.Unlock()
		writeError(w, NewHTTPError(BadRequest))
		s.finish(fmt.Errorf("%w: overlapping polls", ErrTransport))
		return
	}
	p := &heldPoll{w: w, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.poll = p
	if len(s.ctrl) > 0 {
		p.wake <- struct{}{}
	}
	s.signalLocked()
	s.mu.Unlock()
	for {
		select {
		case <-p.done:
			return
		case <-p.wake:
			s.mu.Lock()
			if s.poll != p || len(s.ctrl) == 0 {
				s.mu.Unlock()
				continue
			}
			s.poll = nil // taken: the client may poll again once it has the answer
			ctrl := s.takeCtrlLocked()
			s.mu.Unlock()
			if _, _, err := s.answerPoll(p, ctrl, nil); err != nil {
				s.finish(fmt.Errorf("%w: poll response: %v", ErrTransport, err))
			}
			return
		case <-r.Context().Done():
			s.mu.Lock()
			mine := s.poll == p
			if mine {
				s.poll = nil
				s.signalLocked()
			}
			s.mu.Unlock()
			if mine {
				s.finish(fmt.Errorf("%w: poll closed prematurely", ErrTransport))
				return
			}
			<-p.done // a writer is answering it; it fails fast now
			return
		}
	}
}

// answerPoll writes a poll response: ctrl (encoded control packets), then
// msgs, each "4"+payload or "b"+base64, joined by the separator. It
// releases the poll when done. The payloads are written from where they
// lie, into the response's buffer; only binary messages are encoded.
func (s *session) answerPoll(p *heldPoll, ctrl []byte, msgs []transport.Message) (n, bytes int, err error) {
	defer s.releasePoll(p, ctrl)
	length := len(ctrl)
	for i := range msgs {
		if length > 0 {
			length++
		}
		m := &msgs[i]
		if m.Binary {
			length += 1 + base64.StdEncoding.EncodedLen(len(m.Payload))
		} else {
			if bytesHasSeparator(m.Payload) {
				return 0, 0, ErrSeparator
			}
			length += 1 + len(m.Payload)
		}
	}
	if length == 0 {
		ctrl, length = []byte{'0' + byte(Noop)}, 1
	}
	rc := http.NewResponseController(p.w)
	_ = rc.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
	pollHeaders(p.w.Header(), length)
	p.w.WriteHeader(http.StatusOK)
	if len(ctrl) > 0 {
		if _, err = p.w.Write(ctrl); err != nil {
			return 0, 0, err
		}
	}
	first := len(ctrl) == 0
	for i := range msgs {
		m := &msgs[i]
		if !first {
			s.scratch[0] = Separator
			if _, err = p.w.Write(s.scratch[:]); err != nil {
				return n, bytes, err
			}
		}
		first = false
		if m.Binary {
			err = writeBase64(p.w, m.Payload)
		} else {
			s.scratch[0] = '0' + byte(Message)
			if _, err = p.w.Write(s.scratch[:]); err == nil {
				_, err = p.w.Write(m.Payload)
			}
		}
		if err != nil {
			return n, bytes, err
		}
		n++
		bytes += len(m.Payload)
	}
	if err = rc.Flush(); err != nil {
		return n, bytes, err
	}
	if s.srv.afterAnswer != nil {
		s.srv.afterAnswer()
	}
	return n, bytes, nil
}

// releasePoll ends the held GET after its response; a close packet in
// ctrl means the client has been told.
func (s *session) releasePoll(p *heldPoll, ctrl []byte) {
	s.mu.Lock()
	if s.poll == p {
		s.poll = nil
	}
	if s.closeSent != nil && bytes.IndexByte(ctrl, '0'+byte(Close)) >= 0 {
		close(s.closeSent)
		s.closeSent = nil
	}
	s.signalLocked()
	s.mu.Unlock()
	close(p.done)
}

func bytesHasSeparator(b []byte) bool { return bytes.IndexByte(b, Separator) >= 0 }

// base64Chunk is the input size of one base64 write: a multiple of 3, so
// chunks concatenate into one valid encoding.
const base64Chunk = 3 * 512

var base64Bufs = sync.Pool{New: func() any { b := make([]byte, 1+base64.StdEncoding.EncodedLen(base64Chunk)); return &b }}

// writeBase64 writes "b" and the base64 of data in bounded chunks.
func writeBase64(w io.Writer, data []byte) error {
	bp := base64Bufs.Get().(*[]byte)
	defer base64Bufs.Put(bp)
	buf := *bp
	buf[0] = 'b'
	out := buf[:1]
	for {
		chunk := data
		if len(chunk) > base64Chunk {
			chunk = chunk[:base64Chunk]
		}
		out = base64.StdEncoding.AppendEncode(out, chunk)
		if _, err := w.Write(out); err != nil {
			return err
		}
		data = data[len(chunk):]
		if len(data) == 0 {
			return nil
		}
		out = buf[:0]
	}
}

// postBufs holds POST bodies between requests: a body is read into a
// buffer that grows with the bytes that arrived, never to what
// Content-Length announces.
var postBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serveSend reads a POST: a payload of packets from the client, delivered
// in order before the answer (a handler that blocks delays the "ok", which
// is the back-pressure a polling client gets). Overlapping POSTs, a binary
// body, or a malformed payload: 400 and the session ends; a body over
// MaxPayload: 413.
func (s *session) serveSend(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		writeError(w, NewHTTPError(SessionIDUnknown))
		return
	}
	if s.posting {
		s.mu.Unlock()
		writeError(w, NewHTTPError(BadRequest))
		s.finish(fmt.Errorf("%w: overlapping sends", ErrTransport))
		return
	}
	s.posting = true
	s.readers++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.posting = false
		s.mu.Unlock()
		s.exitRead()
	}()
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/octet-stream" {
		writeError(w, NewHTTPError(BadRequest))
		s.finish(fmt.Errorf("%w: binary POST body", ErrTransport))
		return
	}
	buf := postBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			postBufs.Put(buf)
		}
	}()
	max := s.srv.cfg.MaxPayload
	if r.ContentLength > int64(max) {
		writeTooLarge(w)
		return
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, int64(max)+1))
	if err != nil {
		s.finish(fmt.Errorf("%w: reading POST: %v", ErrTransport, err))
		return
	}
	if buf.Len() > max {
		writeTooLarge(w)
		return
	}
	var sc PayloadScanner
	sc.Reset(buf.Bytes(), Limits{MaxPackets: s.srv.cfg.MaxPackets, MaxBytes: max})
	for sc.Next() {
		keep, err := s.onPacket(sc.Packet(), false)
		if err != nil {
			writeError(w, NewHTTPError(BadRequest))
			s.finish(err)
			return
		}
		if !keep {
			answerOK(w)
			s.finish(nil)
			return
		}
	}
	if err := sc.Err(); err != nil {
		writeError(w, NewHTTPError(BadRequest))
		s.finish(fmt.Errorf("%w: %w", ErrTransport, err))
		return
	}
	answerOK(w)
}

func answerOK(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}

func writeTooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
}

var _ transport.Session = (*session)(nil)
