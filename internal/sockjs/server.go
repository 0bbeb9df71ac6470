package sockjs

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/internal/transport/websocket"
)

// Defaults of the reference server (sockjs-node 0.3).
const (
	DefaultHeartbeat       = 25 * time.Second
	DefaultDisconnectDelay = 5 * time.Second
	DefaultResponseLimit   = 128 << 10
	DefaultMaxMessage      = 10 << 20
	DefaultMaxSessions     = 100_000
	DefaultWriteTimeout    = 10 * time.Second
	// MaxSessionID bounds the session id a client may choose: ids are
	// table keys, kept for the session's life. sockjs-client uses 8
	// characters.
	MaxSessionID = 128
)

// Transport names, as the last element of a session URL.
const (
	TransportWebSocket    = "websocket"
	TransportXHR          = "xhr"
	TransportXHRSend      = "xhr_send"
	TransportXHRStreaming = "xhr_streaming"
	TransportEventSource  = "eventsource"
	TransportHTMLFile     = "htmlfile"
	TransportJSONP        = "jsonp"
	TransportJSONPSend    = "jsonp_send"
)

// Config configures a Server. The zero value serves the Primus framing at
// the root with the reference's defaults and no WebSocket.
type Config struct {
	// Prefix is the base URL's path (no trailing slash): "/primus",
	// "/sockjs". Every route is below it.
	Prefix string
	// Plain selects the plain path: messages are strings exchanged with
	// sparks (transport.ValueHandler, and a re-framing protocol) instead
	// of Primus encodings inside SockJS messages.
	Plain bool
	// Greeting serves "Welcome to SockJS!" at Prefix and Prefix/.
	Greeting bool
	// RawWebSocket serves Prefix/websocket: a WebSocket without SockJS
	// framing (one message per text frame), when WebSocket is set.
	RawWebSocket bool
	// Heartbeat is the interval of "h" frames; 0 = 25 s.
	Heartbeat time.Duration
	// DisconnectDelay is how long a session lives without a receiving
	// request; 0 = 5 s.
	DisconnectDelay time.Duration
	// ResponseLimit ends a streaming response after this many bytes, so the
	// client reconnects and its memory is released; 0 = 128 KiB.
	ResponseLimit int
	// MaxMessage bounds an xhr_send or jsonp_send body (and so every
	// message in it); a larger body gets 413 and the session ends with
	// transport.ErrTooLarge. 0 = 10 MiB.
	MaxMessage int
	// MaxSessions bounds live sessions (WebSocket ones included); a new
	// session past it gets 503. 0 = 100,000.
	MaxSessions int
	// JSessionID sets the JSESSIONID cookie on session requests for load
	// balancers that route by it; /info then says cookie_needed.
	JSessionID bool
	// WebSocket upgrades the websocket transports; nil serves none and
	// /info says websocket: false.
	WebSocket websocket.Engine
	// WriteTimeout bounds writing a frame (renewed every 64 KiB). 0 = 10 s.
	WriteTimeout time.Duration
	// Forward, when set, is offered every session request (a receiver or
	// a send) whose session is not here, before a receiver opens it or a
	// send is answered 404: it serves the request on the node that owns
	// the session and reports true, or reports false to leave it to this
	// server. limit is MaxMessage, the largest body a send reads. A
	// streaming receiver is offered as an xhr poll (see forwardReceiver).
	Forward func(w http.ResponseWriter, r *http.Request, session string, limit int) bool
	Logger  *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Heartbeat, DefaultHeartbeat)
	def(&c.DisconnectDelay, DefaultDisconnectDelay)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	if c.ResponseLimit <= 0 {
		c.ResponseLimit = DefaultResponseLimit
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	c.Prefix = strings.TrimRight(c.Prefix, "/")
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server serves SockJS under one prefix. Every session opens through the
// transport.Acceptor given to NewServer, which makes it a spark. Create it
// with NewServer; all methods are safe for concurrent use.
type Server struct {
	cfg   Config
	acc   transport.Acceptor
	proto *transport.Protocol

	mu       sync.Mutex
	sessions map[string]*session
	count    int // live sessions, WebSocket ones included
	closed   bool
}

// NewServer returns a server for cfg.
func NewServer(cfg Config, acc transport.Acceptor) *Server {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, acc: acc, sessions: make(map[string]*session), proto: primusProtocol}
	if cfg.Plain {
		s.proto = plainProtocol
	}
	return s
}

// Len is the number of live sessions (those closing included, until they
// are reaped).
func (srv *Server) Len() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.count
}

// Close refuses new sessions and ends the live ones without a close frame
// (their sparks are normally ended first, by the server's Shutdown), which
// releases every held request and stops every timer.
func (srv *Server) Close() {
	srv.mu.Lock()
	srv.closed = true
	list := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		list = append(list, s)
	}
	srv.mu.Unlock()
	for _, s := range list {
		s.finish(ErrShuttingDown)
	}
}

// route is a parsed request path below the prefix.
type route struct {
	kind      routeKind
	session   string
	transport string
}

type routeKind uint8

const (
	routeNone routeKind = iota
	routeGreeting
	routeInfo
	routeRawWebSocket
	routeIframe
	routeSession
)

// parse splits path (the full URL path) into a route. Session URLs are
// /<server>/<session>/<transport>, each part non-empty and dot-free (the
// server part is for load balancers and ignored), with an optional
// trailing slash, as in the reference's dispatcher.
func (srv *Server) parse(path string) route {
	rest, ok := strings.CutPrefix(path, srv.cfg.Prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return route{}
	}
	if rest == "" || rest == "/" {
		return route{kind: routeGreeting}
	}
	rest = rest[1:]
	trimmed := strings.TrimSuffix(rest, "/")
	switch {
	case trimmed == "info":
		return route{kind: routeInfo}
	case trimmed == "websocket":
		return route{kind: routeRawWebSocket}
	case strings.HasPrefix(rest, "iframe") && strings.HasSuffix(rest, ".html"):
		return route{kind: routeIframe}
	}
	server, rest, ok1 := strings.Cut(trimmed, "/")
	session, tr, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || !validPart(server) || !validPart(session) || !validPart(tr) {
		return route{}
	}
	return route{kind: routeSession, session: session, transport: tr}
}

func validPart(p string) bool { return p != "" && !strings.ContainsAny(p, "/.") }

// IsRequest reports whether path is a URL this server answers beyond the
// greeting: /info, or a session URL naming a transport it knows. The
// Primus pathname shares its paths with the plain WebSocket wire and its
// 426, so only these go to SockJS there.
func (srv *Server) IsRequest(path string) bool {
	rt := srv.parse(path)
	switch rt.kind {
	case routeInfo:
		return true
	case routeSession:
		return knownTransport(rt.transport)
	}
	return false
}

func knownTransport(t string) bool {
	switch t {
	case TransportWebSocket, TransportXHR, TransportXHRSend, TransportXHRStreaming,
		TransportEventSource, TransportHTMLFile, TransportJSONP, TransportJSONPSend:
		return true
	}
	return false
}

// IsSessionRequest reports whether path opens or uses a session (a
// session URL), as opposed to /info or the greeting. Like a WebSocket
// upgrade it must pass the origin check: a session opened from a foreign
// page carries the user's cookies.
func (srv *Server) IsSessionRequest(path string) bool {
	rt := srv.parse(path)
	return (rt.kind == routeSession && knownTransport(rt.transport)) || rt.kind == routeRawWebSocket
}

// ServeHTTP serves one SockJS request.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := srv.parse(r.URL.Path)
	switch rt.kind {
	case routeGreeting:
		if !srv.cfg.Greeting {
			notFound(w)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			notAllowed(w, "GET")
			return
		}
		answerText(w, http.StatusOK, "Welcome to SockJS!\n")
	case routeInfo:
		srv.serveInfo(w, r)
	case routeRawWebSocket:
		if !srv.cfg.RawWebSocket || srv.cfg.WebSocket == nil {
			cacheable(w.Header())
			notFound(w)
			return
		}
		if r.Method != http.MethodGet {
			notAllowed(w, "GET")
			return
		}
		srv.serveRawWebSocket(w, r)
	case routeSession:
		srv.serveSession(w, r, rt)
	default:
		notFound(w)
	}
}

// serveSession dispatches a session URL by transport and method.
func (srv *Server) serveSession(w http.ResponseWriter, r *http.Request, rt route) {
	method := func(allow string, want ...string) bool {
		for _, m := range want {
			if r.Method == m {
				return true
			}
		}
		notAllowed(w, allow)
		return false
	}
	if len(rt.session) > MaxSessionID {
		notFound(w)
		return
	}
	options := r.Method == http.MethodOptions
	switch rt.transport {
	case TransportWebSocket:
		if srv.cfg.WebSocket == nil {
			cacheable(w.Header())
			notFound(w)
			return
		}
		if method("GET", http.MethodGet) {
			srv.serveWebSocket(w, r)
		}
	case TransportXHR, TransportXHRStreaming, TransportXHRSend:
		if !method("POST, OPTIONS", http.MethodPost, http.MethodOptions) {
			return
		}
		if options {
			srv.answerOptions(w, r, "OPTIONS, POST")
			return
		}
		switch rt.transport {
		case TransportXHR:
			srv.serveReceiver(w, r, rt.session, kindXHR)
		case TransportXHRStreaming:
			srv.serveReceiver(w, r, rt.session, kindXHRStreaming)
		default:
			srv.serveSend(w, r, rt.session, false)
		}
	case TransportEventSource:
		if method("GET", http.MethodGet) {
			srv.serveReceiver(w, r, rt.session, kindEventSource)
		}
	case TransportHTMLFile:
		if method("GET", http.MethodGet) {
			srv.serveReceiver(w, r, rt.session, kindHTMLFile)
		}
	case TransportJSONP:
		if method("GET", http.MethodGet) {
			srv.serveReceiver(w, r, rt.session, kindJSONP)
		}
	case TransportJSONPSend:
		if method("POST", http.MethodPost) {
			srv.serveSend(w, r, rt.session, true)
		}
	default:
		notFound(w)
	}
}

// errTooManySessions refuses a new session past MaxSessions.
var errTooManySessions = errors.New("sockjs: too many sessions")

// reserve counts a new session (and, with an id, puts it in the table)
// unless the server is closed or full. An id already in the table returns
// that session instead.
func (srv *Server) reserve(s *session) (existing *session, err error) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	switch {
	case srv.closed:
		return nil, ErrShuttingDown
	case s.id != "" && srv.sessions[s.id] != nil:
		return srv.sessions[s.id], nil
	case srv.count >= srv.cfg.MaxSessions:
		return nil, errTooManySessions
	}
	srv.count++
	s.counted = true
	if s.id != "" {
		srv.sessions[s.id] = s
	}
	return nil, nil
}

// Has reports whether a session with id lives here (opening or open).
func (srv *Server) Has(id string) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.sessions[id] != nil
}

// lookup returns the session with id once its spark exists, or nil.
func (srv *Server) lookup(id string) *session {
	srv.mu.Lock()
	s := srv.sessions[id]
	srv.mu.Unlock()
	if s == nil {
		return nil
	}
	<-s.ready
	return s
}

// forget unregisters s and gives back its place in the count.
func (srv *Server) forget(s *session) {
	srv.mu.Lock()
	if s.id != "" && srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
	}
	if s.counted {
		s.counted = false
		srv.count--
	}
	srv.mu.Unlock()
}

// open finds the session id or opens it through the Acceptor, making its
// spark; on failure it has answered w (503 when shutting down or full).
// A new session's timer starts with the disconnect delay: a session whose
// first receiver never comes is reaped like any other.
func (srv *Server) open(w http.ResponseWriter, r *http.Request, id string) *session {
	s := newSession(srv, id, r)
	existing, err := srv.reserve(s)
	if existing != nil {
		<-existing.ready
		return existing
	}
	if err != nil {
		srv.refuse(w, err)
		return nil
	}
	s.mu.Lock()
	s.armLocked(srv.cfg.DisconnectDelay)
	s.mu.Unlock()
	err = srv.acc.Accept(r, s.attachHandler)
	close(s.ready)
	if err != nil {
		s.finish(err)
		srv.refuse(w, err)
		return nil
	}
	return s
}

// refuse answers a session that could not open.
func (srv *Server) refuse(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errTooManySessions):
		srv.cfg.Logger.Warn("sockjs session limit reached", "limit", srv.cfg.MaxSessions)
		answerText(w, http.StatusServiceUnavailable, "Too many sessions\n")
	case errors.Is(err, transport.ErrShuttingDown), errors.Is(err, ErrShuttingDown):
		answerText(w, http.StatusServiceUnavailable, "Server is shutting down\n")
	default:
		srv.cfg.Logger.Debug("sockjs session refused", "err", err)
		answerText(w, http.StatusInternalServerError, "500 - Internal Server Error\n")
	}
}
