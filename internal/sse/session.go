package sse

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// Reasons a stream ends, as Handler.OnClose receives them (nil: the server
// closed it).
var (
	// ErrClientGone: the client closed the connection.
	ErrClientGone = errors.New("sse: client went away")
	// ErrAborted: the stream was cut (Session.Abort), without the end of
	// the response, so the client sees a broken connection.
	ErrAborted = errors.New("sse: stream aborted")
	// ErrClientData: the client sent more than maxClientBytes after its
	// request; an EventSource sends nothing.
	ErrClientData = errors.New("sse: client sent data on an event stream")
)

const (
	// renewEvery is how many bytes a batch writes between renewals of
	// the write deadline (and, on a hijacked connection, per chunk): a
	// client that reads slowly but steadily is not cut in the middle of a
	// long batch, one that takes nothing is cut after WriteTimeout.
	renewEvery = 64 << 10
	// maxClientBytes is what a hijacked stream reads and discards from its
	// client before it gives up on it.
	maxClientBytes = 4 << 10
)

var (
	heartbeat = []byte(":\n")
	// fieldIDLine starts an id field whose value is a message's own
	// resume point (transport.Message.Offset).
	fieldIDLine = []byte(fieldID)
	// endEvent follows the id line's "<stream>:" in a server close: the
	// end marker's id and an "end" event with empty data. A data-less
	// block would set the client's last event id too (WHATWG), but some
	// clients (npm eventsource 4) drop the id of a block they do not
	// dispatch; "end" is reserved for named events, so it cannot clash.
	endEvent = []byte(endSeq + "\nevent: end\ndata: \n\n")
)

// session is one event stream: the transport.Session of a spark that
// cannot write. Its bytes go to an output (output.go): the hijacked
// connection, whose reader goroutine (readLoop) writes the heartbeats and
// notices the client leaving, or the ResponseWriter, held by the request's
// handler goroutine (run). Whichever goroutine owns the stream ends it
// (end) and calls Handler.OnClose. The spark's writer writes events under
// mu.
//
// Lock order: mu (writes to the output), then life (the end's reason, the
// handler's ownership of the ResponseWriter); life is never held while
// taking mu, so Abort, which takes only life, can cut a write that holds
// mu. Neither is held while the Handler runs.
type session struct {
	srv    *Server
	id     string
	remote net.Addr
	h      transport.Handler

	mu      sync.Mutex // serializes writes to out; guards the fields below
	out     output
	state   sessionState
	openErr error     // the prelude could not be written
	seq     uint64    // events written
	idLine  []byte    // "id: <stream>:", the start of every id field
	renewed time.Time // when the write deadline was last moved

	// opening is closed once the prelude is out (then nil): WriteBatch
	// waits on it while the stream opens.
	opening chan struct{}

	// Set in open under life (and mu), read-only after: the hijacked
	// connection, or the ResponseWriter's controller and the channel its
	// handler goroutine waits on (closed by Close or Abort).
	conn net.Conn
	rc   *http.ResponseController
	done chan struct{}
	once sync.Once

	life    sync.Mutex
	reason  error // why the stream ends, when the server knows first
	decided bool  // reason is set: Close (nil), Abort, a failed write
	served  bool  // the handler has returned: the ResponseWriter is no longer ours
}

type sessionState uint8

const (
	stateOpening sessionState = iota // the spark exists, the response has not started
	stateOpen
	stateClosing // Close, Abort or a failed write: no more writes
	stateClosed
)

// batch is the pieces of one write, pooled: the id lines' numbers are
// appended to digits, and pieces point into it and at the shared frames.
type batch struct {
	pieces net.Buffers
	digits []byte
}

var batches = sync.Pool{New: func() any { return &batch{pieces: make(net.Buffers, 0, 64), digits: make([]byte, 0, 256)} }}

// maxPooledPieces bounds the batch kept in the pool, so one long batch
// does not pin its slices.
const maxPooledPieces = 4096

func newSession(srv *Server, r *http.Request) *session {
	var remote net.Addr = &net.TCPAddr{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = net.TCPAddrFromAddrPort(ap)
	}
	id := srv.cfg.NewID()
	if id == "" || !ValidID(id) || len(id) > MaxIDLen-len(":18446744073709551615") {
		id = newStreamID()
	}
	ss := &session{srv: srv, id: id, remote: remote, opening: make(chan struct{})}
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
// subscribed has run (it joins rooms, and OnJoin hooks run in it, so no
// lock is held), before the client sees the stream open; a writer that
// comes meanwhile waits for the prelude to go first (WriteBatch waits on
// opening). A Close or Abort that comes meanwhile ends the stream as soon
// as it has started.
func (s *session) open(w http.ResponseWriter, r *http.Request, attach transport.Attach, subscribed func(transport.Handler)) {
	h := attach(s)
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
	if subscribed != nil {
		subscribed(h)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	streamHeaders(w.Header(), r)
	prelude := s.srv.prelude
	if c := hijack(w, r); c != nil {
		s.out = &connOutput{c: c, timeout: s.srv.cfg.WriteTimeout}
		s.life.Lock()
		s.conn = c
		s.life.Unlock()
		// The head and the first chunk in one write.
		buf := appendHead(make([]byte, 0, 512+len(prelude)), w.Header())
		buf = strconv.AppendUint(buf, uint64(len(prelude)), 16)
		buf = append(append(append(buf, crlf...), prelude...), crlf...)
		s.setDeadline()
		_, s.openErr = c.Write(buf)
	} else {
		rc := http.NewResponseController(w)
		s.out = &rwOutput{w: w, rc: rc}
		s.life.Lock()
		s.rc, s.done = rc, make(chan struct{})
		s.life.Unlock()
		w.WriteHeader(http.StatusOK)
		s.setDeadline()
		s.openErr = s.out.write(net.Buffers{nil, prelude}, len(prelude))
	}
	s.life.Lock()
	ended := s.decided // Close or Abort came while the stream was opening
	clean := ended && s.reason == nil
	s.life.Unlock()
	switch {
	case s.openErr != nil:
		s.failLocked(s.openErr)
	case ended:
		s.state = stateClosing
		if clean && s.conn != nil {
			_, _ = s.conn.Write(lastChunk)
		}
	default:
		s.state = stateOpen
	}
	close(s.opening)
	s.opening = nil
	if ended {
		s.release()
	}
}

// serve runs the open stream: on a hijacked connection in a goroutine of
// its own (the handler returns), on a ResponseWriter in the handler's
// goroutine until the stream ends.
func (s *session) serve(r *http.Request) {
	if s.conn != nil {
		go s.readLoop()
		return
	}
	s.run(r)
}

// readLoop owns a hijacked stream: it reads the socket, so it learns of the
// client leaving at once (EOF, reset), and its read deadline is the
// heartbeat timer, so an idle stream costs this one goroutine.
func (s *session) readLoop() {
	s.mu.Lock()
	err := s.openErr
	s.mu.Unlock()
	hb := s.srv.cfg.Heartbeat
	var buf [64]byte
	got := 0
	for err == nil {
		if hb > 0 {
			_ = s.conn.SetReadDeadline(time.Now().Add(hb))
		}
		var n int
		n, err = s.conn.Read(buf[:])
		if got += n; got > maxClientBytes {
			err = ErrClientData
			break
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = s.beat()
		}
	}
	def := ErrClientGone
	if errors.Is(err, ErrClientData) {
		def = ErrClientData
	}
	s.end(def, err)
}

// run holds a ResponseWriter's stream open until the session ends: it
// writes the heartbeats, notices the client leaving (the request's context
// ends), and ends the response.
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
		case <-s.done: // Close or Abort, also one that came while opening
			s.end(nil, nil)
			return
		case <-r.Context().Done():
			err = ErrClientGone
		case <-tick:
			err = s.beat()
		}
	}
	s.end(err, err)
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
	s.setDeadline()
	err := s.out.write(net.Buffers{nil, heartbeat}, len(heartbeat))
	if err != nil {
		s.failLocked(err)
	}
	return err
}

// decide records why the stream ends, unless that is known already: the
// first reason wins.
func (s *session) decide(reason error) {
	s.life.Lock()
	if !s.decided {
		s.reason, s.decided = reason, true
	}
	s.life.Unlock()
}

// failLocked stops writes after a failed one. Called with mu held.
func (s *session) failLocked(err error) {
	s.state = stateClosing
	s.decide(err)
}

// end finishes the stream and tells the Handler, once, from the goroutine
// that owns it. The reason is the one the server decided (Close: nil),
// else what the owner saw (def); cause is what broke the owner's loop.
// A clean end (nil) of a ResponseWriter's stream lets net/http end the
// response, within WriteTimeout, so the client reconnects at once; any
// other end leaves its write deadline in the past, so the connection
// breaks.
func (s *session) end(def, cause error) {
	s.life.Lock()
	reason := def
	if s.decided {
		reason = s.reason
	}
	s.reason, s.decided = reason, true
	s.life.Unlock()
	if reason != nil {
		s.cut() // a write stuck on a client that reads nothing fails now
	}
	s.mu.Lock() // no write is under way after this, and none will start
	s.state = stateClosed
	s.mu.Unlock()
	if s.conn != nil {
		_ = s.conn.Close()
	} else {
		s.life.Lock()
		if reason == nil {
			_ = s.rc.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
		}
		s.served = true
		s.life.Unlock()
	}
	s.srv.live.Add(-1)
	s.srv.cfg.Logger.Debug("sse: stream ended", "stream", s.id, "events", s.seq, "reason", reason, "cause", cause)
	s.h.OnClose(reason)
}

// cut makes every write to a ResponseWriter's stream fail at once, while
// the handler still owns it (a hijacked stream is cut by closing it).
func (s *session) cut() {
	s.life.Lock()
	if s.rc != nil && !s.served {
		_ = s.rc.SetWriteDeadline(time.Now())
	}
	s.life.Unlock()
}

// setDeadline renews the write deadline to WriteTimeout from now, unless
// the one set leaves at least 90 % of that: moving a deadline is a timer
// update in the runtime, which a broadcast to many streams paid on every
// write (17 % of the server's CPU in a 5,000-stream fan-out). Every write
// starts with at least 0.9 × WriteTimeout. Called with mu held.
func (s *session) setDeadline() {
	now := time.Now()
	wt := s.srv.cfg.WriteTimeout
	if !s.renewed.IsZero() && now.Sub(s.renewed) < wt/10 {
		return
	}
	s.renewed = now
	_ = s.out.deadline(now.Add(wt))
}

// WriteBatch implements transport.Session: each message is one event with
// its id ("id: <stream>:<n>"), and the batch goes out in as few writes as
// renewEvery allows (one writev each on a hijacked connection, a flush
// each on a ResponseWriter). Messages with no event (Primus pings, id
// answers) are skipped; a server close writes the end marker, so the
// client's reconnect is answered 204. A client that takes no bytes for
// WriteTimeout fails the write; the stream holds nothing but the batch
// being written.
func (s *session) WriteBatch(msgs []transport.Message) (n, bytes int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.state == stateOpening {
		ch := s.opening
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	if s.state != stateOpen {
		return 0, 0, net.ErrClosed
	}
	b := batches.Get().(*batch)
	pieces, digits := append(b.pieces[:0], nil), b.digits[:0]
	size := 0
	flush := func() error {
		s.setDeadline()
		err := s.out.write(pieces, size)
		clear(pieces)
		pieces, digits, size = pieces[:1], digits[:0], 0
		return err
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Control == transport.ServerClose {
			pieces = append(pieces, s.idLine, endEvent)
			size += len(s.idLine) + len(endEvent)
		} else {
			frame, _ := m.FrameFor(&s.srv.proto)
			if frame == nil {
				n++
				continue
			}
			s.seq++
			start := len(digits)
			idLine := s.idLine
			if m.Offset != "" {
				// A spark with a session: the id is its resume point
				// (the server's recovery layer made it).
				idLine = fieldIDLine
				digits = append(append(digits, m.Offset...), '\n')
			} else {
				digits = append(strconv.AppendUint(digits, s.seq, 10), '\n')
			}
			pieces = append(pieces, idLine, digits[start:], frame)
			size += len(idLine) + len(digits) - start + len(frame)
			bytes += len(m.Payload)
		}
		n++
		if size >= renewEvery {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if err == nil && size > 0 {
		err = flush()
	}
	if cap(pieces) <= maxPooledPieces {
		b.pieces, b.digits = pieces[:0], digits[:0]
		batches.Put(b)
	}
	if err != nil {
		s.failLocked(err)
	}
	return n, bytes, err
}

// Close implements transport.Session: the response ends (what the
// batches wrote is already out), so the client reconnects after its
// retry, or, after a server close's end marker, is told 204.
func (s *session) Close(uint16, string) error {
	s.mu.Lock()
	switch s.state {
	case stateOpening: // open sees the decision and ends the stream once started
		s.decide(nil)
		s.mu.Unlock()
		return nil
	case stateOpen:
		s.state = stateClosing
		if s.conn != nil {
			s.setDeadline()
			_, _ = s.conn.Write(lastChunk)
		}
		s.decide(nil)
	default:
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	s.release()
	return nil
}

// Abort implements transport.Session: the connection is broken off, the
// response left unfinished; the client reconnects.
func (s *session) Abort() error {
	s.decide(ErrAborted)
	s.cut()
	s.release()
	return nil
}

// release wakes the stream's owner to end it: the hijacked connection is
// closed (its reader returns), or the handler goroutine is signalled.
// Before the stream has started there is neither: open ends it then.
func (s *session) release() {
	s.life.Lock()
	c, done := s.conn, s.done
	s.life.Unlock()
	switch {
	case c != nil:
		_ = c.Close()
	case done != nil:
		s.once.Do(func() { close(done) })
	}
}

var (
	_ transport.Session    = (*session)(nil)
	_ transport.Framer     = (*session)(nil)
	_ transport.Identified = (*session)(nil)
)
