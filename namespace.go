package allspark

import (
	"net/http"
	"strings"
	"sync"

	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/sio"
)

// MainNamespace is the namespace of every Primus spark and of Socket.IO
// sockets connected to "/": the server itself.
const MainNamespace = "/"

// Namespace is a Socket.IO namespace (io.of(name)): its sockets are
// sparks with their own connection hooks, event handlers and rooms,
// isolated from those of other namespaces. The main namespace "/" is the
// server itself: its methods are the server's, and its rooms hold Primus
// sparks and Socket.IO sockets alike.
//
// A Socket.IO client may only join namespaces the server created with
// Server.Namespace; others get CONNECT_ERROR "Invalid namespace".
type Namespace struct {
	srv  *Server
	name string

	connHooks  cowList[ConnectionHook]
	discHooks  cowList[func(*Spark)]
	middleware cowList[func(*Handshake) error]
	events     eventHandlers
}

// Handshake is what a namespace's middleware sees of a Socket.IO CONNECT.
type Handshake struct {
	// Request is the Engine.IO handshake request of the connection, as
	// the server's middleware left it.
	Request *http.Request
	// Namespace being joined.
	Namespace string
	// Auth is the CONNECT packet's auth payload (the client's "auth"
	// option), decoded from JSON; nil when it sent none.
	Auth any
}

// namespaces is the server's namespace table; main is never in it.
type namespaces struct {
	mu     sync.RWMutex
	byName map[string]*Namespace
	main   Namespace
}

// Namespace returns the namespace name (a leading "/" is added), creating
// it on first use. "/" returns the main namespace, the server itself.
func (s *Server) Namespace(name string) *Namespace {
	name = cleanNamespace(name)
	if name == MainNamespace {
		return &s.nsps.main
	}
	s.nsps.mu.Lock()
	defer s.nsps.mu.Unlock()
	if n, ok := s.nsps.byName[name]; ok {
		return n
	}
	if s.nsps.byName == nil {
		s.nsps.byName = make(map[string]*Namespace)
	}
	n := &Namespace{srv: s, name: name}
	s.nsps.byName[name] = n
	return n
}

// lookupNamespace returns an existing namespace.
func (s *Server) lookupNamespace(name string) (*Namespace, bool) {
	if name == MainNamespace {
		return &s.nsps.main, true
	}
	s.nsps.mu.RLock()
	defer s.nsps.mu.RUnlock()
	n, ok := s.nsps.byName[name]
	return n, ok
}

func cleanNamespace(name string) string {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return name
}

func (n *Namespace) isMain() bool { return n.name == MainNamespace }

// Name is the namespace's name, with its leading "/".
func (n *Namespace) Name() string { return n.name }

// OnConnection adds a hook run for every socket that joins the namespace
// (for "/", Server.OnConnection: every spark of the main namespace).
func (n *Namespace) OnConnection(fn ConnectionHook) {
	if n.isMain() {
		n.srv.OnConnection(fn)
		return
	}
	n.connHooks.add(fn)
}

// OnDisconnection adds a hook run when a socket of the namespace ends.
func (n *Namespace) OnDisconnection(fn func(*Spark)) {
	if n.isMain() {
		n.srv.OnDisconnection(fn)
		return
	}
	n.discHooks.add(fn)
}

// Use adds a middleware run, in order, for every CONNECT to the namespace
// after the server's Authorize function (Socket.IO's nsp.use). An error
// refuses the socket: the client gets connect_error with the error's text
// as message, and an *AuthError's Data as data.
func (n *Namespace) Use(fn func(h *Handshake) error) { n.middleware.add(fn) }

// On registers a handler for an event sent by the namespace's sockets
// (for "/", Server.On).
func (n *Namespace) On(event string, h EventHandler) error {
	if n.isMain() {
		return n.srv.On(event, h)
	}
	if !events.ValidName(event) {
		return ErrReserved
	}
	n.events.set(event, h)
	return nil
}

// Room selects members of the namespace's rooms.
func (n *Namespace) Room(names ...string) Target {
	return Target{srv: n.srv, ns: n.key(), rooms: compact(n.roomKeys(names))}
}

// To selects sparks by id (in any namespace: ids are unique).
func (n *Namespace) To(ids ...string) Target {
	return Target{srv: n.srv, ns: n.key(), ids: compact(ids)}
}

// All selects every socket of the namespace on every node.
func (n *Namespace) All() Target { return Target{srv: n.srv, ns: n.key(), all: true} }

// Len is the number of the namespace's sockets on this node.
func (n *Namespace) Len() int { return n.All().Len() }

// key is how the namespace is written in targets and room keys: "" for
// the main one.
func (n *Namespace) key() string {
	if n.isMain() {
		return ""
	}
	return n.name
}

func (n *Namespace) roomKeys(names []string) []string {
	if n.isMain() {
		return names
	}
	out := make([]string, len(names))
	for i, r := range names {
		out[i] = roomKey(n.name, r)
	}
	return out
}

// roomKey is the registry (and broker) name of room in namespace nsp:
// rooms of other namespaces are kept apart from the main namespace's by a
// prefix no room name can have (room names may not contain NUL).
func roomKey(nsp, room string) string {
	if nsp == "" || nsp == MainNamespace {
		return room
	}
	return "\x00" + nsp + "\x00" + room
}

// roomName is the inverse of roomKey: the name the application gave.
func roomName(key string) string {
	if !strings.HasPrefix(key, "\x00") {
		return key
	}
	if i := strings.IndexByte(key[1:], 0); i >= 0 {
		return key[i+2:]
	}
	return key
}

// admit runs the server's Authorize function and the namespace's
// middleware for a Socket.IO CONNECT (sio.Host).
func (s *Server) admit(r *http.Request, nsp string, auth any) error {
	n, ok := s.lookupNamespace(nsp)
	if !ok {
		return sio.ErrUnknownNamespace
	}
	r = r.WithContext(withHandshakeAuth(r.Context(), auth))
	if fn := s.authorizer.Load(); fn != nil {
		if err := (*fn)(r); err != nil {
			s.stats.authFailures.Add(1)
			return err
		}
	}
	h := &Handshake{Request: r, Namespace: nsp, Auth: auth}
	for _, mw := range n.middleware.load() {
		if err := mw(h); err != nil {
			return err
		}
	}
	return nil
}
