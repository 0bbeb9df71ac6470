package allspark

import (
	"context"
	"net/http"
	"strings"

	"github.com/allspark/allspark/internal/sio"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

// newSocketIO builds the Socket.IO server for s: an Engine.IO server of
// its own (same settings as the pathname's) whose connections open one
// spark per namespace through the same opener as every other wire.
func newSocketIO(s *Server) (*sio.Server, error) {
	o := s.opts.SocketIO
	framing := sio.Framing{Decode: s.opts.Parser.Decode}
	if _, ok := s.opts.Parser.(parser.JSON); ok {
		framing.JSON = true
	}
	cfg := sio.Config{
		ConnectTimeout: o.ConnectTimeout,
		MaxAttachments: o.MaxAttachments,
		MaxMessage:     s.opts.MaxLength,
		NewID:          s.opts.IDGenerator,
		Framing:        framing,
		Logger:         s.opts.Logger,
	}
	return sio.NewServer(cfg, s.engineIOConfig(), (*sioHost)(s))
}

// sioHost is the server as the Socket.IO wire sees it (sio.Host).
type sioHost Server

// Accept implements transport.Acceptor: namespace sockets open like any
// other session.
func (h *sioHost) Accept(r *http.Request, open func(attach transport.Attach) error) error {
	return (*opener)(h).Accept(r, open)
}

// Admit implements sio.Host.
func (h *sioHost) Admit(r *http.Request, nsp string, auth any) error {
	return (*Server)(h).admit(r, nsp, auth)
}

// isSocketIOPath reports whether path is under the Socket.IO path.
func (s *Server) isSocketIOPath(path string) bool {
	if s.sio == nil {
		return false
	}
	p := strings.TrimSuffix(s.opts.SocketIO.Path, "/")
	return path == p || strings.HasPrefix(path, p+"/")
}

type handshakeAuthKey struct{}

func withHandshakeAuth(ctx context.Context, auth any) context.Context {
	return context.WithValue(ctx, handshakeAuthKey{}, handshakeAuth{auth})
}

type handshakeAuth struct{ v any }

// HandshakeAuth returns the Socket.IO CONNECT auth payload (the client's
// "auth" option, decoded JSON) when the server's Authorize function runs
// for a Socket.IO socket, and nil for Primus and other requests; ok tells
// a Socket.IO CONNECT (even one without auth) from the rest.
func HandshakeAuth(r *http.Request) (auth any, ok bool) {
	a, ok := r.Context().Value(handshakeAuthKey{}).(handshakeAuth)
	return a.v, ok
}
