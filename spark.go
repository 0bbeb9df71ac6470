package allspark

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/allspark/allspark/internal/primus"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

// Spark is one client connection.
//
// Data handlers of one spark run one at a time, in arrival order, on the
// goroutine that reads the connection (or, for data that arrived while
// OnConnection hooks were running, on the hook goroutine right after them;
// or, for data that arrived while named events were queued, on the event
// goroutine right after those events' handlers);
// a blocking handler delays that spark's reads, no one else's. Write, End and
// the accessors are safe from any goroutine.
//
// Field order keeps the struct almost free of padding (bools and 4-byte
// atomics side by side), and what few sparks use (per-spark handlers, data
// that arrives during hooks) sits behind pointers allocated on first use:
// one Spark per connection, kept within the 480-byte size class (objects
// over 512 B also carry an 8-byte allocation header; docs/benchmarks.md,
// "Per-spark memory"; TestSparkSize guards it).
type Spark struct {
	server *Server
	id     string
	// req is the request Request returns: nil until its first call, or a
	// kept copy (retainRequest) whose Header is nil until then.
	req *http.Request
	// head is the upgrade request packed into one string (packRequest):
	// what req is built from, and Query's source.
	head string
	// emitter: the client speaks the primus-emitter dialect now (see
	// emitterOK below).
	emitter atomic.Bool
	remote  netip.AddrPort
	// ctxValues and ctxState are Context (sparkContext): the request
	// context's values, and the cancellation state once asked for.
	ctxValues context.Context
	ctxState  atomic.Pointer[ctxState]
	conn      transport.Session
	queue     sendQueue
	alive     atomic.Bool // a pong arrived since the last ping
	state     atomic.Int32
	ending    atomic.Bool // End has started; later Ends are no-ops
	removed   atomic.Bool // unregistered (or never registered): remove is a no-op
	// dupID: attach found the id in use and did not register the spark.
	// Kept apart from removed, which the read loop also sets when the
	// client leaves before started runs.
	dupID bool
	// reframes: the session's protocol wraps the encoding; counted in
	// Server.reframing from attach to finish.
	reframes bool
	// ownHeartbeat: the session's wire keeps it alive itself
	// (Protocol.OwnHeartbeat); the server's Primus heartbeat skips it.
	ownHeartbeat bool
	// hbSlot: the heartbeat slot the spark is pinged in (heartbeat.go).
	hbSlot uint8
	// emitterOK: the primus-emitter dialect applies to this spark (a
	// Primus-framed session, Options.Emitter not disabled).
	emitterOK bool
	// ackCount mirrors len(acks) for the reader's lock-free check: while a
	// handler awaits a reply, inbound bounds overflow instead of blocking
	// (see inboundLimits).
	ackCount atomic.Int32
	// ns is the spark's namespace (the main one for every Primus spark);
	// ns.key() is its key in targets and room keys ("" for the main one).
	// The wire's protocol name and a Socket.IO CONNECT's auth are asked of
	// conn (Protocol, Auth), not kept: every idle spark would pay for them.
	ns      *Namespace
	nextAck atomic.Uint64 // last request id used by EmitWithAck
	// writerFn is runWriter bound once at connect, so starting a writer for
	// a broadcast does not allocate a closure per receiver.
	writerFn func()
	events   eventHandlers // this spark's own named-event handlers
	evq      eventQueue    // events waiting for their handlers

	// emitSess: while the client speaks the primus-emitter dialect
	// (emitter), the writer writes through it, which frames events and
	// acks as emitter packets (emitter.go).
	emitSess atomic.Pointer[emitterSession]

	// rooms is guarded by the server's room registry lock, not mu.
	rooms map[string]struct{}

	// sess is the spark's session (session.go), nil when its client
	// asked for none; set at attach, never changed. restore carries a
	// reconnect's restore from attach to started. replayMu serializes
	// replays into the send queue (a restore, JoinFrom).
	sess     *sparkSession
	restore  *pendingRestore
	replayMu sync.Mutex

	mu        sync.Mutex // guards the fields below
	hooksDone bool       // OnConnection hooks finished; data is delivered directly
	idWanted  bool       // the client asked for its id while hooks ran; answered after them
	readEnded bool       // the engine's read loop has returned
	// finished: finish has run every end-of-life step (registry, rooms,
	// OnEnd and disconnection hooks). The tracker slot is released only
	// then, so Shutdown cannot return while another goroutine (a user's End,
	// the heartbeat) is still unregistering the spark or running its hooks.
	finished bool
	released bool // the server's tracker slot has been released
	// liveNext and livePrev link the server's live list (Server.live),
	// guarded by Server.liveMu.
	liveNext, livePrev *Spark
	// inbox holds data that arrived while hooks ran: nil until some does.
	inbox *hookInbox
	// handlers are the spark's own OnData, OnEnd, OnError and
	// OnDisconnecting handlers: nil until one is registered, so a spark
	// without any carries one pointer instead of four slices.
	handlers *sparkHandlers
	// reason says why the spark ended (DisconnectReason); the first cause
	// recorded wins.
	reason  string
	values  map[any]any
	acks    map[uint64]chan ackResult // EmitWithAck requests waiting for a reply
	writers int                       // writer goroutines running (one at a time, but a new one may start before the old one has reported)
}

// sparkHandlers are a spark's own handlers (Spark.handlers), guarded by
// Spark.mu. OnData is what most applications register per spark; the rest
// sit behind another pointer, so a spark with only data handlers pays for
// one slice (a 32-byte object) instead of four.
type sparkHandlers struct {
	onData []func(data any)
	more   *moreHandlers
}

type moreHandlers struct {
	onEnd           []func()
	onError         []func(err error)
	onDisconnecting []func(reason string)
}

// handlersLocked returns s.handlers, allocating it; s.mu is held.
func (s *Spark) handlersLocked() *sparkHandlers {
	if s.handlers == nil {
		s.handlers = new(sparkHandlers)
	}
	return s.handlers
}

// moreLocked returns the handlers beyond OnData, allocating them; s.mu is
// held.
func (s *Spark) moreLocked() *moreHandlers {
	h := s.handlersLocked()
	if h.more == nil {
		h.more = new(moreHandlers)
	}
	return h.more
}

// moreHandlers returns the handlers beyond OnData, or nil.
func (h *sparkHandlers) moreHandlers() *moreHandlers {
	if h == nil {
		return nil
	}
	return h.more
}

func (h *sparkHandlers) dataHandlers() []func(any) {
	if h == nil {
		return nil
	}
	return h.onData
}

func (h *sparkHandlers) errorHandlers() []func(error) {
	if m := h.moreHandlers(); m != nil {
		return m.onError
	}
	return nil
}

// hookInbox is the data that arrived while OnConnection hooks ran, with
// its byte total for the bound, and the channel a reader waiting for room
// waits on (closed and cleared when it may look again: hooks took a batch
// or finished, or an EmitWithAck started, so the bound overflows instead
// of blocking). Guarded by Spark.mu.
type hookInbox struct {
	pending []pendingData
	bytes   int
	space   chan struct{}
}

// inboxLocked returns s.inbox, allocating it; s.mu is held.
func (s *Spark) inboxLocked() *hookInbox {
	if s.inbox == nil {
		s.inbox = new(hookInbox)
	}
	return s.inbox
}

// pendingData is a message that arrived while OnConnection hooks ran: the
// decoded value and the size of its frame, for the byte bound. Raw is not
// kept: nothing reads it after the transforms. A message that did not
// decode (or that an incoming transform refused) waits as its error, so
// the OnError handler a hook registers hears of it, in order.
type pendingData struct {
	data any
	err  error
	size int
}

// Server is the server the spark belongs to.
func (s *Spark) Server() *Server { return s.server }

// ID is the spark's unique id.
func (s *Spark) ID() string { return s.id }

// Query is the parsed query string of the connection request, parsed from
// the kept request on each call: an idle spark holds no parsed map (most
// applications read a parameter or two once, at connect; docs/benchmarks.md,
// "Per-spark memory"). Keep the result if you read it often. The map is the
// caller's.
func (s *Spark) Query() url.Values {
	s.mu.Lock()
	raw := ""
	if s.req != nil && s.req.URL != nil {
		raw = s.req.URL.RawQuery
	} else {
		raw = unpackRequest(s.head).rawQuery()
	}
	s.mu.Unlock()
	q, _ := url.ParseQuery(raw)
	if q == nil { // never nil, as url.URL.Query
		q = url.Values{}
	}
	return q
}

// Headers are the request headers of the connection request, including
// "Host" (which net/http moves to Request.Host; Primus keeps it). The map
// is built on the first call (from a packed copy the spark keeps) and
// shared with Request().Header: do not modify it.
func (s *Spark) Headers() http.Header { return s.request().Header }

// Request is the HTTP request that opened the connection, as middleware left
// it, trimmed for a long life: it has the method, URL, protocol, Host,
// RemoteAddr, RequestURI and headers, and Spark.Context as its context (the
// request context's values; cancelled when the spark ends); not the body
// (http.NoBody), GetBody, Form, PostForm, MultipartForm, Trailer or
// Response. TLS state and the path values of a ServeMux pattern with
// wildcards are kept too (such a request is kept as a trimmed copy, with the
// request context); path values set by SetPathValue on a request that
// matched no such pattern are not. Every header stays, the WebSocket
// handshake's included, as Primus's spark.headers has them. It is built on
// the first call and shared: do not modify it.
func (s *Spark) Request() *http.Request { return s.request() }

// request builds or completes the retained request on first use: a parsed
// request with a browser's headers costs ~1.8 KB for as long as the spark
// lives, the packed form ~0.6 KB, and most applications never look
// (docs/benchmarks.md, "Per-spark memory").
func (s *Spark) request() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.req == nil:
		s.req = unpackRequest(s.head).build(s.Context())
		s.head = ""
	case s.req.Header == nil:
		s.req.Header = unpackHeader(unpackRequest(s.head).header)
		s.head = ""
	}
	return s.req
}

// RemoteAddr is the client's address: the TCP peer, or, when the peer is a
// trusted proxy, the address from X-Forwarded-For / X-Real-IP (port 0).
func (s *Spark) RemoteAddr() netip.AddrPort { return s.remote }

// ReadyState reports Open or Closed.
func (s *Spark) ReadyState() ReadyState { return ReadyState(s.state.Load()) }

// Context carries the request context's values and is cancelled when the
// spark ends.
func (s *Spark) Context() context.Context { return (*sparkContext)(s) }

// Set stores a value for the application on this spark.
func (s *Spark) Set(key, value any) {
	s.mu.Lock()
	if s.values == nil {
		s.values = make(map[any]any)
	}
	s.values[key] = value
	s.mu.Unlock()
}

// Get returns a value stored with Set.
func (s *Spark) Get(key any) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	return v, ok
}

// OnData registers a handler for data messages (after incoming transforms).
// Named-event envelopes (docs/events.md) go to event handlers, not here.
func (s *Spark) OnData(fn func(data any)) {
	s.mu.Lock()
	h := s.handlersLocked()
	h.onData = append(h.onData, fn)
	s.mu.Unlock()
}

// OnEnd registers a handler called once when the spark ends, for any reason.
// Registered on an ended spark it is called at once.
func (s *Spark) OnEnd(fn func()) {
	s.mu.Lock()
	if s.ReadyState() == Closed {
		s.mu.Unlock()
		fn()
		return
	}
	m := s.moreLocked()
	m.onEnd = append(m.onEnd, fn)
	s.mu.Unlock()
}

// OnError registers a handler for errors on this spark: undecodable messages
// (*parser.Error), failed transforms (*TransformError), oversize messages
// (ErrTooLarge), a failed OnConnection hook. Without handlers they are logged.
func (s *Spark) OnError(fn func(err error)) {
	s.mu.Lock()
	m := s.moreLocked()
	m.onError = append(m.onError, fn)
	s.mu.Unlock()
}

// Write sends data to the client. It returns ErrClosed, ErrReserved,
// ErrTooLarge, ErrQueueFull, a *parser.Error or a *TransformError; nil means
// queued (or swallowed by an outgoing transform).
func (s *Spark) Write(data any) error {
	if s.ReadyState() == Closed || s.ending.Load() {
		return ErrClosed
	}
	return s.write(data)
}

// write is Write without the ending check, for End's final message.
func (s *Spark) write(data any) error {
	if str, ok := data.(string); ok && primus.IsReserved(str) {
		return ErrReserved
	}
	if len(s.server.transforms[Outgoing].load()) > 0 {
		p := Packet{Data: data}
		keep, err := s.server.runTransforms(Outgoing, s, &p)
		if err != nil {
			s.emitError(err)
			return err
		}
		if !keep {
			return nil
		}
		data = p.Data
	}
	f, err := s.server.encode(data)
	if err != nil {
		return err
	}
	return s.enqueue(f)
}

// enqueue pushes an encoded frame and applies the slow-consumer policy.
func (s *Spark) enqueue(f frame) error {
	srv := s.server
	res, start := s.queue.push(f, srv.opts.QueueSize, srv.opts.SlowConsumer == SlowConsumerDropOldest)
	if start {
		s.startWriter()
	}
	switch res {
	case pushClosed:
		return ErrClosed
	case pushedDrop:
		srv.stats.dropped.Add(1)
		srv.reportSlow(s, SlowConsumerEvent{Policy: SlowConsumerDropOldest, Dropped: 1})
	case pushFull:
		srv.stats.slowClosed.Add(1)
		dropped := s.queue.len()
		s.End(nil, true)
		srv.reportSlow(s, SlowConsumerEvent{Policy: SlowConsumerClose, Dropped: dropped})
		return ErrQueueFull
	}
	return nil
}

// writeControl sends a protocol message, bypassing transforms (as Primus's
// _write does). kind lets a protocol that does not speak Primus translate
// it (Socket.IO's DISCONNECT for ServerClose) or skip it.
func (s *Spark) writeControl(msg string, kind transport.Control) error {
	f, err := s.server.encode(msg)
	if err != nil {
		return err
	}
	f.Control = kind
	return s.enqueue(f)
}

func (s *Spark) startWriter() {
	s.mu.Lock()
	s.writers++
	s.mu.Unlock()
	go s.writerFn()
}

func (s *Spark) runWriter() { s.queue.writeLoop(s) }

// session is what the writer writes the next batch to: the connection, or,
// while the client speaks the primus-emitter dialect, the connection seen
// through that dialect's framing.
func (s *Spark) session() transport.Session {
	if s.sess != nil {
		return s.sess.writer(s)
	}
	if s.emitter.Load() {
		if es := s.emitSess.Load(); es != nil {
			return es
		}
	}
	return s.conn
}

// written counts what the writer put on the socket.
func (s *Spark) written(msgs, bytes int) { s.server.countOut(msgs, bytes) }

func (s *Spark) writerFinished(err error) {
	if err != nil {
		// The socket is broken or too slow: cut it; the read loop then ends.
		_ = s.conn.Abort()
	}
	s.mu.Lock()
	s.writers--
	s.mu.Unlock()
	s.maybeRelease()
}

// End closes the spark. data, if not nil, is written first. With reconnect
// false the client is told "primus::server::close" and will not reconnect;
// with reconnect true it sees a plain close and reconnects. Queued messages
// are flushed before the close frame. End is idempotent.
func (s *Spark) End(data any, reconnect bool) {
	if !s.ending.CompareAndSwap(false, true) {
		return
	}
	if reconnect {
		s.setReason(ReasonForcedClose)
	} else {
		s.setReason(ReasonServerDisconnect)
	}
	if data != nil {
		if err := s.write(data); err != nil && !errors.Is(err, ErrClosed) {
			s.emitError(err)
		}
	}
	if !reconnect {
		_ = s.writeControl(primus.ServerClose, transport.ServerClose)
	}
	if s.queue.closeGracefully(1000) {
		s.startWriter()
	}
	s.finish()
}

// finish runs the end-of-life steps once: state, context, registry, handlers.
// The goroutine that runs them (the reader, a user's End, the heartbeat)
// marks the spark finished at the end, and only then may its tracker slot
// be released.
func (s *Spark) finish() {
	s.ending.Store(true)
	s.mu.Lock()
	if s.ReadyState() == Closed {
		s.mu.Unlock()
		return
	}
	s.state.Store(int32(Closed))
	var handlers []func()
	if m := s.handlers.moreHandlers(); m != nil {
		handlers, m.onEnd = m.onEnd, nil
	}
	s.inbox = nil
	s.failAcksLocked()
	if s.reason == "" {
		s.reason = ReasonTransportClose
	}
	reason := s.reason
	// Read under mu: speak attaches the emitter session only to a spark
	// that is not Closed, so it is counted in reframing exactly when this
	// sees it.
	emitting := s.emitSess.Load() != nil
	s.mu.Unlock()

	s.runDisconnecting(reason)

	(*sparkContext)(s).cancel()
	if s.reframes || emitting {
		s.server.reframing.Add(-1)
	}
	if s.ownHeartbeat {
		s.server.ownHeartbeats.Add(-1)
	}
	if s.sess != nil {
		s.server.endSession(s, reason)
	}
	s.server.remove(s)
	s.LeaveAll()
	for _, fn := range handlers {
		fn()
	}
	s.server.disconnected(s)
	s.mu.Lock()
	s.finished = true
	s.mu.Unlock()
	s.maybeRelease()
}

// emitError hands err to the spark's error handlers, or logs it.
func (s *Spark) emitError(err error) {
	s.mu.Lock()
	handlers := s.handlers.errorHandlers()
	s.mu.Unlock()
	if len(handlers) == 0 {
		s.server.opts.Logger.Warn("spark error", "spark", s.id, "err", err)
		return
	}
	for _, fn := range handlers {
		fn(err)
	}
}

// OnMessage implements transport.Handler: decode, protocol, transforms, deliver.
func (s *Spark) OnMessage(binary bool, payload []byte) {
	if s.ReadyState() == Closed {
		return
	}
	srv := s.server
	srv.stats.messagesIn.Add(1)
	srv.stats.bytesIn.Add(uint64(len(payload)))
	if _, isJSON := srv.opts.Parser.(parser.JSON); isJSON && !binary && primus.IsPongJSON(payload) {
		s.alive.Store(true) // the heartbeat's answer, known without decoding it
		return
	}
	data, err := srv.opts.Parser.Decode(payload, binary)
	if err != nil {
		srv.stats.parseErrors.Add(1)
		s.admit(pendingData{err: err, size: len(payload)})
		return
	}
	switch kind, _ := primus.Parse(data); kind {
	case primus.Pong:
		s.alive.Store(true)
		return
	case primus.ID:
		s.answerID()
		return
	}
	s.receive(Packet{Data: data, Raw: payload, Binary: binary}, len(payload))
}

// OnValue implements transport.ValueHandler: a value decoded by the wire
// (Socket.IO packets, SockJS plain strings) takes the same path as a
// parsed Primus message, from the incoming transforms on. size is the
// length of the bytes it came from.
func (s *Spark) OnValue(v any, size int) {
	if s.ReadyState() == Closed {
		return
	}
	srv := s.server
	srv.stats.messagesIn.Add(1)
	srv.stats.bytesIn.Add(uint64(size))
	s.receive(Packet{Data: v}, size)
}

// receive runs the incoming transforms on a decoded packet and delivers it.
func (s *Spark) receive(p Packet, size int) {
	srv := s.server
	if len(srv.transforms[Incoming].load()) > 0 {
		keep, err := srv.runTransforms(Incoming, s, &p)
		if err != nil {
			s.admit(pendingData{err: err, size: size})
			return
		}
		if !keep {
			return
		}
	}
	s.admit(pendingData{data: p.Data, size: size})
}

// admit hands a received message (or its error) to the handlers, or
// queues it while the OnConnection hooks still run. The queue is bounded
// (inboundLimits): past it the reader waits, which stops reading the
// socket, until the hooks take what is queued or the spark ends. pd.size
// is the frame's payload length.
func (s *Spark) admit(pd pendingData) {
	s.mu.Lock()
	for !s.hooksDone {
		in := s.inboxLocked()
		switch admitInbound(len(in.pending), in.bytes, s.ackCount.Load() > 0) {
		case admitWait:
			if in.space == nil {
				in.space = make(chan struct{})
			}
			wait := in.space
			s.mu.Unlock()
			select {
			case <-wait:
			case <-s.Context().Done():
				return // ended: nothing will read the queue again
			}
			s.mu.Lock()
			continue
		case admitOverflow:
			s.mu.Unlock()
			s.overflow()
			return
		}
		in.pending = append(in.pending, pd)
		in.bytes += pd.size
		s.mu.Unlock()
		return
	}
	handlers := s.handlers.dataHandlers()
	s.mu.Unlock()
	s.handle(pd, handlers)
}

// handle reports a received message's error, or dispatches its value.
func (s *Spark) handle(pd pendingData, handlers []func(any)) {
	if pd.err != nil {
		s.emitError(pd.err)
		return
	}
	s.dispatch(pd.data, pd.size, handlers)
}

// wakePendingLocked lets a reader waiting for room in pending look again.
// Called with s.mu held.
func (s *Spark) wakePendingLocked() {
	if in := s.inbox; in != nil && in.space != nil {
		close(in.space)
		in.space = nil
	}
}

// overflow ends a spark that sent past the hard inbound bound while one of
// its handlers awaited an EmitWithAck reply (the only time the reader keeps
// reading past the soft bound). The client reconnects; the message that did
// not fit is reported, with the cause, as ErrEventQueueFull.
func (s *Spark) overflow() {
	s.server.opts.Logger.Warn("inbound queue overflow", "spark", s.id)
	s.emitError(ErrEventQueueFull)
	s.End(nil, true)
}

// dispatch routes one received value: event envelopes to the event
// machinery, anything else to the data handlers — at once, or, while events
// are still queued for their handlers, behind them, so a spark's data and
// events are always handled in arrival order.
func (s *Spark) dispatch(data any, size int, handlers []func(any)) {
	if s.handleEnvelope(data, size) {
		return
	}
	if len(handlers) > 0 && s.evq.put(s, inboundEvent{data: data, onData: handlers, size: size}, true) {
		return
	}
	for _, fn := range handlers {
		fn(data)
	}
}

// flushPending delivers queued data in order and then switches to direct
// delivery. Holding hooksDone false until the queue is empty keeps order: the
// read goroutine appends while this drains.
func (s *Spark) flushPending() {
	for {
		s.mu.Lock()
		var batch []pendingData
		if in := s.inbox; in != nil {
			batch, in.pending, in.bytes = in.pending, nil, 0
		}
		s.wakePendingLocked()
		if len(batch) == 0 {
			s.hooksDone = true
			answer := s.idWanted
			s.idWanted = false
			s.mu.Unlock()
			if answer {
				_ = s.writeControl(primus.IDMessage(s.id), transport.IDAnswer)
			}
			return
		}
		handlers := s.handlers.dataHandlers()
		s.mu.Unlock()
		for i, p := range batch {
			if s.ReadyState() == Closed {
				return
			}
			s.handle(p, handlers)
			batch[i] = pendingData{} // let the handled value go
		}
	}
}

// answerID answers a client's "primus::id::" request. While OnConnection
// hooks run the answer waits for them, so a client that has its id knows
// the hooks are done: rooms they joined and values they set are visible to
// whoever looks the spark up by that id.
func (s *Spark) answerID() {
	s.mu.Lock()
	if !s.hooksDone {
		s.idWanted = true
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_ = s.writeControl(primus.IDMessage(s.id), transport.IDAnswer)
}

// OnPing implements transport.Handler: a client ping frame counts as a pong.
func (s *Spark) OnPing() { s.alive.Store(true) }

// OnPeerClose implements transport.Handler: the client sent a Close frame.
// The spark stops taking writes (they return ErrClosed) and waits, at most
// WriteTimeout, until the writer has put everything already queued on the
// socket, so a clean client close loses nothing the server had sent; the
// engine then answers the Close.
func (s *Spark) OnPeerClose() {
	s.ending.Store(true)
	s.queue.seal()
	s.queue.waitDrained(s.server.opts.WriteTimeout)
}

// OnClose implements transport.Handler: the connection is gone.
func (s *Spark) OnClose(err error) {
	if errors.Is(err, transport.ErrTooLarge) {
		s.emitError(ErrTooLarge)
	}
	s.setReason(reasonOf(err))
	s.ending.Store(true)
	s.queue.drop()
	s.finish()
	s.mu.Lock()
	s.readEnded = true
	s.mu.Unlock()
	s.maybeRelease()
}

// maybeRelease frees the spark's slot in the server's tracker once neither the
// read loop nor a writer is running and finish has completed, so Shutdown
// can wait for every goroutine and sees the spark unregistered.
func (s *Spark) maybeRelease() {
	s.mu.Lock()
	done := s.readEnded && s.writers == 0 && s.finished && !s.released
	if done {
		s.released = true
	}
	s.mu.Unlock()
	if done {
		s.server.removeLive(s)
		s.server.active.done()
	}
}

// Namespace is the spark's Socket.IO namespace: MainNamespace ("/") for
// every Primus spark and for Socket.IO sockets of the main namespace.
func (s *Spark) Namespace() string { return s.ns.name }

// Protocol names the spark's wire protocol: "primus" (WebSocket, Engine.IO
// and other Primus-framed wires) or "socket.io".
func (s *Spark) Protocol() string {
	if _, ok := s.conn.(namespacedSession); ok {
		return "socket.io"
	}
	if fr, ok := s.conn.(transport.Framer); ok && fr.Protocol() != nil && fr.Protocol().Name != "" {
		return fr.Protocol().Name
	}
	return "primus"
}

// Auth is a Socket.IO socket's CONNECT auth payload (the client's "auth"
// option, decoded JSON); nil for other sparks.
func (s *Spark) Auth() any {
	if nc, ok := s.conn.(namespacedSession); ok {
		return nc.Auth()
	}
	return nil
}
