package sse

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// Reasons a stream ends, as Handler.OnClose receives them (nil: the server
// closed it).
var (
	// ErrClientGone: the client closed the connection (the request's
	// context ended).
	ErrClientGone = errors.New("sse: client went away")
	// ErrAborted: the stream was cut (Session.Abort), without the end of
	// the response, so the client sees a broken connection.
	ErrAborted = errors.New("sse: stream aborted")
)

// renewEvery is how many bytes a batch writes between renewals of the
// write deadline: a client that reads slowly but steadily is not cut in
// the middle of a long batch, one that takes nothing is cut after
// WriteTimeout.
const renewEvery = 64 << 10

var heartbeat = []byte(":\n")

// session is one event stream: the transport.Session of a spark that
// cannot write. The request's handler goroutine owns the response (it
// runs the heartbeat and ends the response when the session ends); the
// spark's writer writes events into it under mu.
//
// Lock order: mu (writes to the response) is taken alone; life is taken
// alone too, so Abort can cut a write that holds mu. Neither is held while
// the Handler runs.
type session struct {
	srv    *Server
	id     string
	remote net.Addr
	w      http.ResponseWriter
	rc     *http.ResponseController
	h      transport.Handler

	done    chan struct{} // closed once, by Close or Abort: the stream ends
	once    sync.Once
	aborted atomic.Bool

	mu      sync.Mutex // serializes writes to w; guards the fields below
	state   sessionState
	openErr error  // the prelude could not be written
	seq     uint64 // events written
	idLine  []byte // "id: <stream>:", the start of every id field
	scratch [24]byte

	life   sync.Mutex
	served bool // the handler has returned: w and rc are no longer ours
}

type sessionState uint8

const (
	stateOpen    sessionState = iota
	stateClosing              // Close or Abort: no more writes
	stateClosed
)

func newSession(srv *Server, w http.ResponseWriter, r *http.Request) *session {
	var remote net.Addr = &net.TCPAddr{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = net.TCPAddrFromAddrPort(ap)
	}
	id := srv.cfg.NewID()
	if id == "" || !ValidID(id) || len(id) > MaxIDLen-len(":18446744073709551615") {
		id = newStreamID()
	}
	ss := &session{srv: srv, id: id, remote: remote, w: w, rc: http.NewResponseController(w), done: make(chan struct{})}
	ss.idLine = append(AppendID(nil, id)[:len(fieldID)+len(id)], ':')
	return ss
}

// ID implements transport.Identified: the spark takes the stream's id, so
// event ids name their spark.
func (s *session) ID() string { return s.id }

// RemoteAddr implements transport.Session.
func (s *session) RemoteAddr() net.Addr { return s.remote }

// Protocol implements transport.Framer.
func (s *session) Protocol() *transport.Protocol { return &s.srv.proto }

// open attaches the spark and starts the response. The spark exists, and
// subscribed has run, before the client sees the stream open; a writer
// that comes meanwhile waits on mu for the prelude to go first.
func (s *session) open(r *http.Request, attach transport.Attach, subscribed func(transport.Handler)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = attach(s)
	if subscribed != nil {
		subscribed(s.h)
	}
	streamHeaders(s.w.Header(), r)
	s.w.WriteHeader(http.StatusOK)
	s.deadline()
	_, err := s.w.Write(s.srv.prelude)
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		s.openErr = err
		s.state = stateClosing
	}
}

// run holds the response open until the session ends: it writes the
// heartbeats, notices the client leaving, and ends the response.
func (s *session) run(r *http.Request) {
	var tick <-chan time.Time
	if hb := s.srv.cfg.Heartbeat; hb > 0 {
		t := time.NewTicker(hb)
		defer t.Stop()
		tick = t.C
	}
	s.mu.Lock()
	err := s.openErr
	s.mu.Unlock()
	for err == nil {
		select {
		case <-s.done:
			s.end(nil)
			return
		case <-r.Context().Done():
			err = ErrClientGone
		case <-tick:
			err = s.beat()
		}
	}
	s.end(err)
}

// beat writes a heartbeat comment, unless an event is being written (the
// stream is not idle then).
func (s *session) beat() error {
	if !s.mu.TryLock() {
		return nil
	}
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return nil
	}
	s.deadline()
	_, err := s.w.Write(heartbeat)
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		s.state = stateClosing
	}
	return err
}

// end finishes the response and tells the Handler. A clean end (the
// server closed the stream) lets net/http end the response, within
// WriteTimeout, so the client reconnects at once; any other end leaves the
// write deadline in the past, so the connection breaks.
func (s *session) end(err error) {
	if err == nil && s.aborted.Load() {
		err = ErrAborted
	}
	if err != nil {
		s.cut() // a write stuck on a client that reads nothing fails now
	}
	s.mu.Lock() // no write is under way after this, and none will start
	s.state = stateClosed
	s.mu.Unlock()
	s.life.Lock()
	if err == nil {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
	}
	s.served = true
	s.life.Unlock()
	s.srv.cfg.Logger.Debug("sse: stream ended", "stream", s.id, "events", s.seq, "reason", err)
	s.h.OnClose(err)
}

// cut makes every write to the response fail at once, while the handler
// still owns it.
func (s *session) cut() {
	s.life.Lock()
	if !s.served {
		_ = s.rc.SetWriteDeadline(time.Now())
	}
	s.life.Unlock()
}

// deadline renews the write deadline. Called with mu held.
func (s *session) deadline() {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
}

// signal ends the stream: the handler goroutine wakes and ends it.
func (s *session) signal() { s.once.Do(func() { close(s.done) }) }

// WriteBatch implements transport.Session: each message is one event with
// its id ("id: <stream>:<n>"), written into the response and flushed once
// for the batch. Messages with no event (Primus pings, id answers) are
// skipped; a server close writes the end marker, so the client's
// reconnect is answered 204. A client that takes no bytes for
// WriteTimeout fails the write; the stream holds nothing but what the
// response buffers.
func (s *session) WriteBatch(msgs []transport.Message) (n, bytes int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return 0, 0, net.ErrClosed
	}
	s.deadline()
	since := 0
	for i := range msgs {
		m := &msgs[i]
		if m.Control == transport.ServerClose {
			marker := append(append(s.idLine[:len(s.idLine):len(s.idLine)], endSeq...), '\n', '\n')
			if _, err = s.w.Write(marker); err != nil {
				break
			}
			n++
			continue
		}
		frame, _ := m.FrameFor(&s.srv.proto)
		if frame == nil {
			n++
			continue
		}
		s.seq++
		if _, err = s.w.Write(s.idLine); err != nil {
			break
		}
		num := append(strconv.AppendUint(s.scratch[:0], s.seq, 10), '\n')
		if _, err = s.w.Write(num); err != nil {
			break
		}
		if _, err = s.w.Write(frame); err != nil {
			break
		}
		n++
		bytes += len(m.Payload)
		if since += len(frame); since >= renewEvery {
			s.deadline()
			since = 0
		}
	}
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		s.state = stateClosing
	}
	return n, bytes, err
}

// Close implements transport.Session: the response ends (what the
// batches wrote is already flushed), so the client reconnects after its
// retry, or, after a server close's end marker, is told 204.
func (s *session) Close(uint16, string) error {
	s.mu.Lock()
	if s.state == stateOpen {
		s.state = stateClosing
	}
	s.mu.Unlock()
	s.signal()
	return nil
}

// Abort implements transport.Session: the connection is broken off, the
// response left unfinished; the client reconnects.
func (s *session) Abort() error {
	s.aborted.Store(true)
	s.cut()
	s.signal()
	return nil
}

var (
	_ transport.Session    = (*session)(nil)
	_ transport.Framer     = (*session)(nil)
	_ transport.Identified = (*session)(nil)
)
