package eio

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/internal/transport/websocket"
)

// Transport names, as in the transport query parameter.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// Defaults of the reference server (npm engine.io 6).
const (
	DefaultPingInterval   = 25 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultUpgradeTimeout = 10 * time.Second
	DefaultMaxPayload     = 1_000_000
	DefaultWriteTimeout   = 10 * time.Second
	DefaultMaxSessions    = 100_000
	// DefaultMaxPackets bounds the packets of one POST: a small body of
	// "6\x1e6\x1e…" would otherwise be half a million packets per MB.
	DefaultMaxPackets = 10_000
)

// ErrPingTimeout is the reason a session ends when its client answered no
// ping within PingTimeout (Handler.OnClose receives it).
var ErrPingTimeout = errors.New("eio: ping timeout")

// ErrTransport is the reason a session ends on a broken rule of the
// protocol: overlapping polls, an aborted poll, a malformed packet, a ping
// from the client. Handler.OnClose receives an error wrapping it.
var ErrTransport = errors.New("eio: transport error")

// Config configures a Server. The zero value serves polling and, when
// WebSocket is set, WebSocket, with the reference's defaults.
type Config struct {
	PingInterval   time.Duration // between server pings; 0 = 25 s
	PingTimeout    time.Duration // for the pong; 0 = 20 s
	UpgradeTimeout time.Duration // for a probed WebSocket to send "5"; 0 = 10 s
	// MaxPayload is the open packet's maxPayload and the largest POST body
	// read (bytes); a larger body gets 413. 0 = 1,000,000.
	MaxPayload int
	// MaxMessage bounds one message's data; a larger one ends the session
	// with transport.ErrTooLarge. 0 = no bound beyond MaxPayload.
	MaxMessage int
	// MaxPackets bounds the packets in one POST body; past it, 400 and
	// the session closes. 0 = 10,000.
	MaxPackets int
	// WriteTimeout bounds writing one poll response, and how long Close
	// waits for a poll to take the close packet. 0 = 10 s.
	WriteTimeout time.Duration
	// Transports allowed; nil = polling and websocket.
	Transports []string
	// MaxSessions bounds live sessions; a handshake past it gets 503.
	// 0 = 100,000.
	MaxSessions int
	// Cookie, when set, is sent on every polling handshake with the
	// session id as its value (Name "io" and Path "/" when empty).
	Cookie *http.Cookie
	// WebSocket upgrades connections for the websocket transport; nil
	// serves polling only.
	WebSocket websocket.Engine
	// NewID makes session ids (the sid, which is also the spark id);
	// default 20 random URL-safe characters.
	NewID func() string
	// Forward, when set, is offered every polling request (GET or POST)
	// whose sid names no session here, before it is answered "Session ID
	// unknown": it serves the request on the node that owns the session
	// and reports true, or reports false to leave the answer to this
	// server. limit is MaxPayload, the largest body a session reads. A
	// WebSocket upgrade is never offered: it cannot travel between nodes,
	// and "Session ID unknown" keeps the client on polling.
	Forward func(w http.ResponseWriter, r *http.Request, sid string, limit int) bool
	Logger  *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PingInterval, DefaultPingInterval)
	def(&c.PingTimeout, DefaultPingTimeout)
	def(&c.UpgradeTimeout, DefaultUpgradeTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.MaxPackets <= 0 {
		c.MaxPackets = DefaultMaxPackets
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.Transports == nil {
		c.Transports = []string{TransportPolling, TransportWebSocket}
	}
	if c.WebSocket == nil {
		c.Transports = slices.DeleteFunc(slices.Clone(c.Transports), func(t string) bool { return t == TransportWebSocket })
	}
	if c.NewID == nil {
		c.NewID = newSID
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server serves Engine.IO v4 sessions. Every session opens through the
// transport.Acceptor given to NewServer, which makes it a spark. Create it
// with NewServer; all methods are safe for concurrent use.
type Server struct {
	cfg     Config
	acc     transport.Acceptor
	polling bool
	ws      bool

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool

	// afterAnswer, when set (by this package's tests), runs after a poll
	// response is flushed and before the session lets go of it.
	afterAnswer func()
}

// NewServer returns a server for cfg. It fails on an unknown transport
// name.
func NewServer(cfg Config, acc transport.Acceptor) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, acc: acc, sessions: make(map[string]*session)}
	for _, t := range cfg.Transports {
		switch t {
		case TransportPolling:
			s.polling = true
		case TransportWebSocket:
			s.ws = true
		default:
			return nil, fmt.Errorf("eio: unknown transport %q", t)
		}
	}
	return s, nil
}

// Len is the number of live sessions.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close refuses new sessions and drops those still open (without a close
// packet: their sparks are normally ended first, by the server's
// Shutdown). It stops every session timer.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	for _, ss := range list {
		ss.finish(transport.ErrShuttingDown)
	}
}

// IsRequest reports whether r is an Engine.IO request: its query has an
// EIO, transport or sid parameter. (A request with none of them belongs
// to the plain WebSocket wire that shares the pathname.)
func IsRequest(r *http.Request) bool {
	q := r.URL.RawQuery
	return q != "" && (hasParam(q, "EIO") || hasParam(q, "transport") || hasParam(q, "sid"))
}

// hasParam reports whether the raw query has a parameter named name,
// without parsing the whole query.
func hasParam(rawQuery, name string) bool {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, _, _ := strings.Cut(kv, "=")
		if k == name {
			return true
		}
	}
	return false
}

// IsHandshake reports whether r would open a new session (an Engine.IO
// request without sid). Like a WebSocket upgrade, it must pass the origin
// check: a session opened from a foreign page carries the user's cookies.
func IsHandshake(r *http.Request) bool {
	return IsRequest(r) && r.URL.Query().Get("sid") == ""
}

// ServeHTTP serves one Engine.IO request: a handshake, a poll (GET), a
// send (POST) or a WebSocket (direct, or an upgrade of a polling session).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("transport")
	if (name != TransportPolling || !s.polling) && (name != TransportWebSocket || !s.ws) {
		writeError(w, NewHTTPError(TransportUnknown))
		return
	}
	upgrade := isWebSocketUpgrade(r)
	sid := q.Get("sid")
	if sid == "" {
		s.handshake(w, r, q.Get("EIO"), name, upgrade)
		return
	}
	if q.Get("EIO") != "4" {
		writeError(w, NewHTTPError(BadRequest))
		return
	}
	s.mu.Lock()
	ss := s.sessions[sid]
	s.mu.Unlock()
	if ss == nil {
		if s.cfg.Forward != nil && !upgrade && s.cfg.Forward(w, r, sid, s.cfg.MaxPayload) {
			return
		}
		writeError(w, NewHTTPError(SessionIDUnknown))
		return
	}
	if upgrade {
		if name != TransportWebSocket {
			writeError(w, NewHTTPError(BadRequest))
			return
		}
		ss.serveUpgrade(w, r)
		return
	}
	if name != ss.transportName() {
		writeError(w, NewHTTPError(BadRequest)) // the reference's TRANSPORT_MISMATCH
		return
	}
	switch r.Method {
	case http.MethodGet:
		ss.servePoll(w, r)
	case http.MethodPost:
		ss.serveSend(w, r)
	default:
		writeError(w, NewHTTPError(BadRequest))
	}
}

// handshake opens a session on transport name.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, version, name string, upgrade bool) {
	// The reference's order: the request is verified (method, WebSocket
	// without upgrade) before the handshake checks the version.
	if r.Method != http.MethodGet {
		writeError(w, NewHTTPError(BadHandshakeMethod))
		return
	}
	if name == TransportWebSocket && !upgrade {
		writeError(w, NewHTTPError(BadRequest)) // TRANSPORT_HANDSHAKE_ERROR
		return
	}
	if version != "4" {
		writeError(w, NewHTTPError(UnsupportedProtocolVersion))
		return
	}
	ss := newSession(s, r)
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		writeStatusError(w, http.StatusServiceUnavailable, BadRequest, "Server is shutting down")
		return
	case len(s.sessions) >= s.cfg.MaxSessions:
		s.mu.Unlock()
		s.cfg.Logger.Warn("engine.io session limit reached", "limit", s.cfg.MaxSessions)
		writeStatusError(w, http.StatusServiceUnavailable, BadRequest, "Too many sessions")
		return
	}
	for i := 0; s.sessions[ss.id] != nil; i++ {
		if i == 3 { // an id generator that repeats itself
			s.mu.Unlock()
			writeStatusError(w, http.StatusServiceUnavailable, BadRequest, "Session ID in use")
			return
		}
		ss.id = s.cfg.NewID()
	}
	s.sessions[ss.id] = ss
	s.mu.Unlock()
	var err error
	if name == TransportPolling {
		err = s.acc.Accept(r, func(attach transport.Attach) error { return ss.openPolling(w, attach) })
	} else {
		err = s.acc.Accept(r, func(attach transport.Attach) error { return ss.openWebSocket(w, r, attach) })
	}
	if err != nil {
		s.forget(ss)
		if errors.Is(err, transport.ErrShuttingDown) && !errors.Is(err, errGoneBeforeOpen) {
			writeStatusError(w, http.StatusServiceUnavailable, BadRequest, "Server is shutting down")
			return
		}
		s.cfg.Logger.Debug("engine.io handshake failed", "err", err, "remote", r.RemoteAddr)
	}
}

// forget unregisters ss.
func (s *Server) forget(ss *session) {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
}

// upgrades is the open packet's upgrades list for a polling session.
func (s *Server) upgrades() []string {
	if s.ws {
		return []string{TransportWebSocket}
	}
	return []string{}
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// newSID returns 20 random URL-safe characters, as the reference's base64id.
func newSID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// writeError answers with the reference's JSON error.
func writeError(w http.ResponseWriter, e *HTTPError) {
	writeStatusError(w, e.Status(), e.Code, e.Message)
}

func writeStatusError(w http.ResponseWriter, status int, code ErrorCode, message string) {
	body := (&HTTPError{Code: code, Message: message}).AppendJSON(nil)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
