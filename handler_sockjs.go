package allspark

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/allspark/allspark/internal/sockjs"
)

// newSockJS builds the two SockJS servers for s: under the pathname with
// Primus framing (the stock Primus client's sockjs transformer), and at
// SockJS.PlainPath for plain sockjs-client users. Sessions open through
// the same opener as every other wire, WebSockets come from the same
// engine, so limits and compression are shared; a SockJS body or frame is
// bounded by MaxLength like a WebSocket message. serveFinal routes to
// them.
func newSockJS(s *Server) (primus, plain *sockjs.Server, err error) {
	o := s.opts.SockJS
	// The plain path may lie inside the pathname ("/" owns everything):
	// serveFinal routes it first, and Primus's sockjs client never puts a
	// path's name where its server id goes. The pathname inside the plain
	// path would be unreachable.
	if below(s.opts.Pathname, o.PlainPath) {
		return nil, nil, fmt.Errorf("allspark: SockJS.PlainPath %q is or contains Pathname %q", o.PlainPath, s.opts.Pathname)
	}
	if sio := cleanPathname(s.opts.SocketIO.Path); !s.opts.SocketIO.Disabled && overlaps(o.PlainPath, sio) {
		return nil, nil, fmt.Errorf("allspark: SockJS.PlainPath %q overlaps SocketIO.Path %q", o.PlainPath, s.opts.SocketIO.Path)
	}
	cfg := sockjs.Config{
		Heartbeat:       o.Heartbeat,
		DisconnectDelay: o.DisconnectDelay,
		ResponseLimit:   o.ResponseLimit,
		MaxMessage:      s.opts.MaxLength,
		MaxSessions:     o.MaxSessions,
		JSessionID:      o.JSessionID,
		WriteTimeout:    s.opts.WriteTimeout,
		Logger:          s.opts.Logger,
	}
	if !o.NoWebSocket {
		cfg.WebSocket = s.engine
	}
	pc := cfg
	pc.Prefix = s.opts.Pathname
	pc.Forward = s.forwardSockJS('p')
	cfg.Forward = s.forwardSockJS('s')
	primus = sockjs.NewServer(pc, (*opener)(s))
	cfg.Prefix, cfg.Plain, cfg.Greeting, cfg.RawWebSocket = o.PlainPath, true, true, true
	plain = sockjs.NewServer(cfg, (*opener)(s))
	return primus, plain, nil
}

// below reports whether the cleaned path p is base or lies below it.
func below(p, base string) bool {
	return base == "/" || p == base || strings.HasPrefix(p, base+"/")
}

// overlaps reports whether one of two cleaned paths is the other or lies
// below it.
func overlaps(a, b string) bool { return below(a, b) || below(b, a) }

// ownsPlain reports whether path is the plain SockJS path or below it.
func (s *Server) ownsPlain(path string) bool {
	if s.sockjsPlain == nil {
		return false
	}
	p := s.opts.SockJS.PlainPath
	return path == p || strings.HasPrefix(path, p+"/")
}

// sockJSRequest reports whether r is for one of the SockJS servers, and
// whether it opens or uses a session (which, like an upgrade, must pass
// the origin check: it carries the page's cookies).
func (s *Server) sockJSRequest(r *http.Request) (isSockJS, session bool) {
	switch {
	case s.ownsPlain(r.URL.Path):
		return true, s.sockjsPlain.IsSessionRequest(r.URL.Path)
	case s.sockjsPrimus != nil && s.sockjsPrimus.IsRequest(r.URL.Path):
		return true, s.sockjsPrimus.IsSessionRequest(r.URL.Path)
	}
	return false, false
}
