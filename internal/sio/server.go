package sio

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/allspark/allspark/internal/eio"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

// ErrUnknownNamespace is Host.Admit's answer for a namespace the server
// does not serve; the client gets CONNECT_ERROR "Invalid namespace".
var ErrUnknownNamespace = errors.New("sio: invalid namespace")

// Host is the server a Socket.IO connection opens its namespace sockets
// on: Admit decides a CONNECT (authorization, namespace middleware),
// Accept opens the socket's spark as every transport does.
type Host interface {
	transport.Acceptor
	// Admit runs before a namespace socket opens. It returns
	// ErrUnknownNamespace, or a refusal whose Error() becomes the
	// CONNECT_ERROR message and whose ConnectErrorData() (when it has
	// that method) becomes its data.
	Admit(r *http.Request, nsp string, auth any) error
}

// Config configures a Server; the zero value works with the defaults
// noted.
type Config struct {
	// ConnectTimeout closes a connection that joined no namespace in that
	// time; 0 = 45 s (the reference's connectTimeout).
	ConnectTimeout time.Duration
	// MaxAttachments bounds the binary attachments one packet may
	// announce; 0 = 10.
	MaxAttachments int
	// MaxMessage bounds a packet's data with its attachments, in bytes;
	// 0 = 1 MiB. It is the Engine.IO MaxMessage too.
	MaxMessage int
	// NewID names sockets; nil = a random id.
	NewID func() string
	// Framing is the server's encoding (see NewProtocol).
	Framing Framing
	Logger  *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 45 * time.Second
	}
	if c.MaxAttachments <= 0 {
		c.MaxAttachments = 10
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = 1 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Framing.Decode == nil {
		c.Framing = Framing{JSON: true, Decode: parser.JSON{}.Decode}
	}
	return c
}

// Server serves Socket.IO on an Engine.IO server of its own: each
// Engine.IO session it opens is a connection (conn) whose namespace
// sockets are sparks of the host.
type Server struct {
	cfg   Config
	host  Host
	proto *transport.Protocol
	eio   *eio.Server

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

// NewServer returns a Server for host. ecfg configures its Engine.IO
// layer (ping, payload limits, transports, WebSocket engine); its
// MaxMessage is set from cfg.
func NewServer(cfg Config, ecfg eio.Config, host Host) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, host: host, proto: NewProtocol(cfg.Framing), conns: make(map[*conn]struct{})}
	if ecfg.MaxMessage <= 0 || ecfg.MaxMessage > cfg.MaxMessage {
		ecfg.MaxMessage = cfg.MaxMessage
	}
	if s.cfg.NewID == nil {
		s.cfg.NewID = ecfg.NewID
	}
	e, err := eio.NewServer(ecfg, s)
	if err != nil {
		return nil, err
	}
	s.eio = e
	if s.cfg.NewID == nil {
		s.cfg.NewID = randomID
	}
	return s, nil
}

// Protocol is the framing of every socket of this server.
func (s *Server) Protocol() *transport.Protocol { return s.proto }

// ServeHTTP serves the Engine.IO requests of the Socket.IO path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eio.ServeHTTP(w, r) }

// Accept implements transport.Acceptor for the Engine.IO layer: a new
// session becomes a connection, which opens sparks only on CONNECT.
func (s *Server) Accept(r *http.Request, open func(attach transport.Attach) error) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return transport.ErrShuttingDown
	}
	return open(func(sess transport.Session) transport.Handler {
		c := newConn(s, sess, r)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		return c
	})
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Len is the number of Engine.IO connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close refuses new connections and ends every Engine.IO session (their
// sockets end with ReasonServerShutdown); it does not wait for the
// clients.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.setReason(ReasonServerShutdown)
	}
	s.eio.Close()
}
