package allspark

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/allspark/allspark/internal/eio"
	"github.com/allspark/allspark/internal/sio"
	"github.com/allspark/allspark/internal/sockjs"
	"github.com/allspark/allspark/internal/sse"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/internal/transport/websocket"
)

// Version is reported by <pathname>/spec.
const Version = "0.1.0"

// ConnectionHook runs when a spark connects. Hooks run in registration order
// on one goroutine per spark and may block (ctx is the spark's context, done
// when it ends). Data that arrives meanwhile is queued and delivered, in
// order, after the last hook returns; past 256 messages or 1 MiB queued the
// spark stops reading its socket until then (docs/events.md,
// "Back-pressure"). An error ends the spark without
// reconnect and is reported to its error handlers.
type ConnectionHook func(ctx context.Context, s *Spark) error

// Server is an http.Handler that serves the Primus protocol under its
// pathname. Create it with New; all methods are safe for concurrent use.
//
// Lock order (see LOCKING.md): Server.mu, then Spark.mu, then sendQueue.mu.
// No lock is held while user code (hooks, handlers, transforms, middleware)
// runs.
type Server struct {
	opts    Options
	engine  websocket.Engine
	eio     *eio.Server // nil when Options.EngineIO.Disabled
	sse     *sse.Server // nil when Options.SSE.Disabled
	ssePath string      // <pathname>/<SSE.Path>
	sio     *sio.Server // nil when Options.SocketIO.Disabled
	nsps    namespaces
	trusted trustedProxies

	// sockjsPrimus (under the pathname) and sockjsPlain (at
	// SockJS.PlainPath) are nil when Options.SockJS.Disabled.
	sockjsPrimus, sockjsPlain *sockjs.Server

	mu      sync.RWMutex
	sparks  map[string]*Spark
	closing bool
	// reconnectOnLate is the End mode for connections that finish their
	// handshake after Shutdown began.
	reconnectOnLate bool
	httpServer      *http.Server

	layers       cowList[*layer]
	transforms   [2]cowList[TransformFunc]
	connHooks    cowList[ConnectionHook]
	discHooks    cowList[func(*Spark)]
	discingHooks cowList[func(*Spark, string)]
	anyHandlers  cowList[func(*Event)]
	authorizer   atomic.Pointer[func(*http.Request) error]
	plugins      pluginSet
	library      libraryCache
	active       tracker
	// live lists every connection until its goroutines end (registered
	// or not: a duplicate id, or ended and still flushing), linked through
	// the sparks themselves (Spark.liveNext, livePrev): no per-connection
	// allocation, where a sync.Map cost ~100 B and a map ~36. liveMu is a
	// leaf lock: nothing else is taken while it is held.
	liveMu      sync.Mutex
	live        *Spark
	heartbeat   heartbeat
	stats       counters
	specPayload []byte

	broker     Broker
	nodeID     string
	cluster    cluster
	presence   presence
	fwd        forwarder
	userHooks  cowList[func(*Spark, string)] // Spark.SetUser observers (presence)
	rooms      roomRegistry
	joinHooks  cowList[func(*Spark, string)]
	leaveHooks cowList[func(*Spark, string)]
	events     eventHandlers // server-wide named-event handlers
	// reframing counts live sparks whose protocol re-frames messages
	// (transport.Framer); while it is 0 broadcasts carry no frame cache.
	reframing atomic.Int32
	// ownHeartbeats counts live sparks whose wire keeps them alive itself
	// (Protocol.OwnHeartbeat); while it is 0 the Primus ping goes to all.
	ownHeartbeats atomic.Int32
	// hbNext deals heartbeat slots to new sparks, round robin; hbLast is
	// the slot pinged last (heartbeat.go).
	hbNext, hbLast atomic.Uint32

	// emitterProto frames events for sparks that speak primus-emitter
	// (nil when Options.Emitter.Disabled).
	emitterProto *transport.Protocol

	// sessions: identity across reconnects (session.go); stampProto
	// frames history writes for our clients (recovery_wire.go).
	sessions     sessions
	restoreHooks cowList[ConnectionHook]
	stampOnce    sync.Once
	stampProto   *transport.Protocol
}

// newWebSocketEngine builds the engine opts.WebSocketEngine names.
func newWebSocketEngine(opts Options) websocket.Engine {
	cfg := websocket.Config{
		MaxPayload:   opts.MaxLength,
		Compression:  opts.Compression,
		WriteTimeout: opts.WriteTimeout,
	}
	if opts.WebSocketEngine == EngineGoroutine {
		return websocket.NewGWS(cfg)
	}
	return websocket.NewPoller(cfg)
}

// New returns a Server configured by opts (the zero value works). It fails
// only on invalid options, such as an unparsable trusted proxy.
func New(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	switch opts.WebSocketEngine {
	case "", EnginePoller, EngineGoroutine:
	default:
		return nil, fmt.Errorf("allspark: unknown WebSocketEngine %q (want %q or %q)", opts.WebSocketEngine, EnginePoller, EngineGoroutine)
	}
	trusted, err := parseTrustedProxies(opts.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:    opts,
		trusted: trusted,
		sparks:  make(map[string]*Spark),
		engine:  newWebSocketEngine(opts),
	}
	s.nsps.main = Namespace{srv: s, name: MainNamespace}
	s.hbLast.Store(uint32(heartbeatSlots(opts.PingInterval) - 1)) // as if the cycle just ended
	s.nodeID = opts.NodeID
	if s.nodeID == "" {
		s.nodeID = opts.IDGenerator()
	}
	s.initForward()
	if !opts.EngineIO.Disabled {
		if s.eio, err = newEngineIO(s); err != nil {
			return nil, err
		}
	}
	if !opts.SocketIO.Disabled {
		if s.sio, err = newSocketIO(s); err != nil {
			return nil, err
		}
	}
	if !opts.SockJS.Disabled {
		if s.sockjsPrimus, s.sockjsPlain, err = newSockJS(s); err != nil {
			return nil, err
		}
	}
	if !opts.SSE.Disabled {
		s.sse, s.ssePath = newSSE(s), ssePath(opts.Pathname, opts.SSE.Path)
	}
	if !opts.Emitter.Disabled {
		s.emitterProto = newEmitterProtocol(opts.Parser)
	}
	s.rooms.rooms = make(map[string]map[*Spark]struct{})
	s.rooms.subscribed = make(map[string]struct{})
	s.broker = opts.Broker
	if s.broker == nil {
		mb := NewMemoryBroker()
		if m := opts.Recovery.MaxSessions; m > 0 {
			mb.sessions.max = m
		}
		s.broker = mb
	}
	s.initSessions()
	s.cluster.init(s)
	s.installClusterOps()
	s.installSessionOps()
	if err := s.installPresence(); err != nil {
		return nil, err
	}
	s.installForwardOps()
	if err := s.broker.Register(context.Background(), s.nodeID, s); err != nil {
		return nil, &BrokerError{Op: "register", Err: err}
	}
	s.cluster.start()
	s.presence.start()
	s.startSessionRefresh()
	s.specPayload = s.buildSpec()
	s.installBuiltins()
	if opts.Authorization != nil {
		s.Authorize(opts.Authorization)
	}
	return s, nil
}

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options { return s.opts }

// Pathname is the path prefix the server owns.
func (s *Server) Pathname() string { return s.opts.Pathname }

// OnConnection adds a hook run for every new spark. See ConnectionHook.
func (s *Server) OnConnection(fn ConnectionHook) { s.connHooks.add(fn) }

// OnRestore adds a hook that runs, before the OnConnection hooks, for a
// spark that a reconnecting client got back (Spark.Restored): its id,
// rooms, user and Set values are already restored, and Spark.Recovered
// says whether everything it missed is on its way. Like a ConnectionHook
// it may block, and an error ends the spark.
func (s *Server) OnRestore(fn ConnectionHook) { s.restoreHooks.add(fn) }

// OnDisconnection adds a hook run, after the spark's own OnEnd handlers, when
// a spark ends for any reason.
func (s *Server) OnDisconnection(fn func(*Spark)) { s.discHooks.add(fn) }

// Authorize installs fn, run before every upgrade (and plain request) by the
// "authorization" middleware. A non-nil error refuses the request exactly as
// Primus does: status from *AuthError (default 401), Connection: close,
// Content-Type: application/json, body {"error": message}, and
// WWW-Authenticate only with 401. nil fn removes authorization.
func (s *Server) Authorize(fn func(*http.Request) error) {
	if fn == nil {
		s.authorizer.Store(nil)
		return
	}
	s.authorizer.Store(&fn)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.owns(r.URL.Path) && !s.isSocketIOPath(r.URL.Path) {
		http.NotFound(w, r)
		return
	}
	c := chain{server: s, layers: s.layers.load(), w: w, upgrade: isUpgrade(r)}
	c.next(r)
}

// owns reports whether path is the pathname or below it, or the plain
// SockJS path or below it.
func (s *Server) owns(path string) bool {
	p := s.opts.Pathname
	if p == "/" {
		return true
	}
	return path == p || (strings.HasPrefix(path, p) && path[len(p)] == '/') || s.ownsPlain(path)
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// serveFinal runs after the middleware and hands the request to its wire:
// anything under the Socket.IO path to the Socket.IO server, a plain
// request for <pathname>/sse to the SSE server, the plain SockJS path to
// its SockJS server, a SockJS URL under the pathname (/info,
// /<server>/<session>/<transport>) to the Primus one, an Engine.IO request
// (its EIO query parameter) to the Engine.IO server, a WebSocket upgrade to
// the Primus WebSocket handler, anything else gets 426 (GET <pathname>
// included: the SockJS greeting is only at the plain path).
func (s *Server) serveFinal(w http.ResponseWriter, r *http.Request, upgrade bool) {
	if s.isSocketIOPath(r.URL.Path) {
		s.sio.ServeHTTP(w, r)
		return
	}
	if !upgrade && s.isSSE(r) {
		s.serveSSE(w, r)
		return
	}
	if s.ownsPlain(r.URL.Path) {
		s.sockjsPlain.ServeHTTP(w, r)
		return
	}
	if s.sockjsPrimus != nil && s.sockjsPrimus.IsRequest(r.URL.Path) {
		s.sockjsPrimus.ServeHTTP(w, r)
		return
	}
	if s.eio != nil && eio.IsRequest(r) {
		s.eio.ServeHTTP(w, r)
		return
	}
	if !upgrade {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		// RFC 9110 §15.5.22: a 426 names the protocol to switch to.
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusUpgradeRequired)
		_, _ = w.Write([]byte(http.StatusText(http.StatusUpgradeRequired)))
		return
	}
	s.serveWebSocket(w, r)
}

// opener is the server as the transports see it (transport.Acceptor),
// kept off Server's exported method set.
type opener Server

// Accept implements transport.Acceptor. The opening holds a tracker slot
// from the closing check to the end of started, taken under the same lock
// Shutdown sets closing with: either Shutdown's wait sees this session, or
// the session sees closing. Without it a handshake that passed the check
// just before Shutdown could register its spark after Shutdown had
// returned.
func (o *opener) Accept(r *http.Request, open func(attach transport.Attach) error) error {
	s := (*Server)(o)
	s.mu.RLock()
	closing := s.closing
	if !closing {
		s.active.add()
	}
	s.mu.RUnlock()
	if closing {
		return transport.ErrShuttingDown
	}
	defer s.active.done()
	var sp *Spark
	err := open(func(sess transport.Session) transport.Handler {
		sp = s.attach(sess, r)
		return sp
	})
	if err != nil {
		return err
	}
	if sp != nil {
		s.started(sp)
	}
	return nil
}

// attach creates and registers the spark for a fresh connection. It runs
// before the engine reads the first frame.
func (s *Server) attach(conn transport.Session, r *http.Request) *Spark {
	if r.Header.Get("Host") == "" && r.Host != "" {
		r.Header.Set("Host", r.Host)
	}
	req, head := retainRequest(r)
	sp := &Spark{
		server:    s,
		req:       req,
		head:      head,
		remote:    s.trusted.clientAddr(r),
		ctxValues: contextValues(r.Context()),
		conn:      conn,
	}
	sp.writerFn = sp.runWriter
	sp.ns = &s.nsps.main
	if nc, ok := conn.(namespacedSession); ok {
		if n, ok := s.lookupNamespace(nc.Namespace()); ok {
			sp.ns = n
		}
	}
	if fr, ok := conn.(transport.Framer); ok {
		proto := fr.Protocol()
		if proto != nil && proto.OwnHeartbeat {
			sp.ownHeartbeat = true
			s.ownHeartbeats.Add(1)
		}
		if !proto.Identity() {
			sp.reframes = true
			s.reframing.Add(1)
		}
	}
	sp.initEmitter()
	sp.state.Store(int32(Open))
	sp.alive.Store(true)
	sp.hbSlot = s.heartbeatSlotFor()
	sp.hooksDone = len(sp.connectionHooks()) == 0
	s.active.add()
	s.addLive(sp)

	want := ""
	if ided, ok := conn.(transport.Identified); ok {
		want = ided.ID()
	}
	var resume *resumeRequest
	if resume = s.resumeRequestFor(sp, r); resume != nil {
		if id := s.beginRestore(sp, resume); id != "" {
			want = id
		}
	}
	s.mu.Lock()
	for range 3 {
		if sp.id = want; sp.id == "" {
			sp.id = s.opts.IDGenerator()
		}
		want = ""
		if _, dup := s.sparks[sp.id]; !dup {
			break
		}
	}
	if resume != nil {
		// Before the spark is registered: Server.Spark, the session
		// refresher and Shutdown's End find it from then on, and read
		// sp.sess.
		sp.sess = s.newSession(sp, resume)
	}
	if _, dup := s.sparks[sp.id]; !dup {
		s.sparks[sp.id] = sp
	} else {
		sp.dupID = true
		sp.removed.Store(true) // never registered; remove must not delete the holder
	}
	s.mu.Unlock()
	s.stats.accepted.Add(1)
	s.heartbeat.ensure(s)
	if sp.restore != nil && !sp.dupID {
		// Before the engine reads and before any reply: the wire's answer
		// (Socket.IO's CONNECT with its pid) depends on the outcome.
		s.finishRestore(sp)
	}
	return sp
}

// addLive puts sp on the live list.
func (s *Server) addLive(sp *Spark) {
	s.liveMu.Lock()
	sp.liveNext = s.live
	if s.live != nil {
		s.live.livePrev = sp
	}
	s.live = sp
	s.liveMu.Unlock()
}

// removeLive takes sp off the live list; it is called once per spark.
func (s *Server) removeLive(sp *Spark) {
	s.liveMu.Lock()
	if sp.livePrev != nil {
		sp.livePrev.liveNext = sp.liveNext
	} else if s.live == sp {
		s.live = sp.liveNext
	}
	if sp.liveNext != nil {
		sp.liveNext.livePrev = sp.livePrev
	}
	sp.liveNext, sp.livePrev = nil, nil
	s.liveMu.Unlock()
}

// namespacedSession is a Socket.IO namespace socket: its spark belongs to
// that namespace and keeps the CONNECT auth payload.
type namespacedSession interface {
	Namespace() string
	Auth() any
}

// connectionHooks are the hooks of the spark's namespace.
func (sp *Spark) connectionHooks() []ConnectionHook {
	if sp.ns.isMain() {
		return sp.server.connHooks.load()
	}
	return sp.ns.connHooks.load()
}

// started runs once the engine is reading: late-shutdown check, hooks.
func (s *Server) started(sp *Spark) {
	s.opts.Logger.Debug("connection", "spark", sp.id, "remote", sp.remote.String())
	if sp.restore != nil && (sp.dupID || sp.ReadyState() == Closed) {
		sp.restore = nil
		if sp.queue.resume(nil, nil) {
			sp.startWriter()
		}
	}
	if sp.dupID {
		sp.emitError(ErrDuplicateID)
		sp.End(nil, true)
		return
	}
	if sp.ReadyState() == Closed {
		// The client left before the upgrade handler got here; its end
		// (and the disconnection hooks) already ran: connection hooks
		// would only run after them.
		return
	}
	s.mu.RLock()
	late, reconnect := s.closing, s.reconnectOnLate
	s.mu.RUnlock()
	if late {
		sp.End(nil, reconnect)
		return
	}
	hooks := sp.connectionHooks()
	if sp.Restored() {
		if rh := s.restoreHooks.load(); len(rh) > 0 {
			hooks = append(slices.Clip(rh), hooks...)
		}
	}
	if len(hooks) == 0 {
		return
	}
	s.active.add()
	go func() {
		defer s.active.done()
		for _, h := range hooks {
			if err := h(sp.Context(), sp); err != nil {
				sp.emitError(err)
				sp.End(nil, false)
				return
			}
			if sp.ReadyState() == Closed {
				return
			}
		}
		sp.flushPending()
		s.touchSession(sp) // set up now: a durable store gets its record (saveSession)
	}()
}

// remove unregisters a spark that has ended.
func (s *Server) remove(sp *Spark) {
	if !sp.removed.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	if s.sparks[sp.id] == sp {
		delete(s.sparks, sp.id)
	}
	s.mu.Unlock()
}

// disconnected runs the disconnection hooks for an ended spark.
func (s *Server) disconnected(sp *Spark) {
	s.opts.Logger.Debug("disconnection", "spark", sp.id)
	hooks := s.discHooks.load()
	if !sp.ns.isMain() {
		hooks = sp.ns.discHooks.load()
	}
	for _, h := range hooks {
		h(sp)
	}
}

// Spark returns the connected spark with that id.
func (s *Server) Spark(id string) (*Spark, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp, ok := s.sparks[id]
	return sp, ok
}

// Len is the number of connected sparks.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sparks)
}

// ForEach calls fn for every connected spark, in no particular order, until
// fn returns false. It works on a snapshot, so fn may call any method.
func (s *Server) ForEach(fn func(*Spark) bool) {
	s.mu.RLock()
	list := make([]*Spark, 0, len(s.sparks))
	for _, sp := range s.sparks {
		list = append(list, sp)
	}
	s.mu.RUnlock()
	for _, sp := range list {
		if !fn(sp) {
			return
		}
	}
}

// Broadcast writes data to every spark on every node of the cluster (see
// All) and returns how many it was queued for. Without outgoing transforms
// the message is encoded once and the same bytes are queued for every spark.
func (s *Server) Broadcast(data any) (int, error) {
	return s.All().Write(data)
}

// fanout queues f for every spark (or, with filter, those it accepts) while
// holding only the read lock; slow-consumer consequences are applied after
// the lock is released.
func (s *Server) fanout(f frame, filter func(*Spark) bool) int {
	var fo fanout
	fo.init(s, f)
	s.mu.RLock()
	for _, sp := range s.sparks {
		if sp.ending.Load() || (filter != nil && !filter(sp)) {
			continue
		}
		fo.push(sp)
	}
	s.mu.RUnlock()
	return fo.finish()
}

// encode turns data into a frame with the server's parser and size limit.
func (s *Server) encode(data any) (frame, error) {
	payload, binary, err := s.opts.Parser.Encode(data)
	if err != nil {
		return frame{}, err
	}
	if len(payload) > s.opts.MaxLength {
		return frame{}, ErrTooLarge
	}
	f := frame{Payload: payload, Binary: binary}
	if s.reframing.Load() > 0 && hasRawBytes(data) {
		// A re-framing protocol (Socket.IO) sends []byte values as binary
		// attachments; the canonical encoding may have turned them into
		// text, so the value travels with it.
		f.Value = data
	}
	return f, nil
}

func (s *Server) reportSlow(sp *Spark, ev SlowConsumerEvent) {
	s.opts.Logger.Warn("slow consumer", "spark", sp.id, "policy", ev.Policy, "dropped", ev.Dropped)
	if s.opts.OnSlowConsumer != nil {
		s.opts.OnSlowConsumer(sp, ev)
	}
}

func (s *Server) countOut(msgs, bytes int) {
	s.stats.messagesOut.Add(uint64(msgs))
	s.stats.bytesOut.Add(uint64(bytes))
}
