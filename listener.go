package allspark

import (
	"net"
	"net/http"

	"github.com/allspark/allspark/internal/transport/directupgrade"
)

// Listener wraps ln, the listener of the http.Server that serves this
// Server, so that WebSocket upgrades for the Server's paths (its pathname,
// the Socket.IO path, the plain SockJS path) are read straight off each
// accepted connection instead of through net/http. Serve and
// ListenAndServe use it; use it yourself when you mount the Server on your
// own http.Server:
//
//	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
//	err := hs.Serve(srv.Listener(ln))
//
// Why: net/http leaves ~10 KB of per-connection buffers behind every
// hijacked connection, garbage that makes the heap grow well past its live
// size while connections arrive (docs/benchmarks.md, "Idle memory"). The
// direct path reads the head into a pooled buffer and hands the WebSocket
// engine the raw TCP connection.
//
// What changes for those requests: they reach s.ServeHTTP directly, so a
// handler you put in front of the Server in your mux (an auth wrapper, a
// logger) does not see them — put such logic in Server middleware (Use) or
// Server.Authorize instead; their context is context.Background (no
// http.ServerContextKey nor http.LocalAddrContextKey: setting them would
// copy the request, and a spark keeps its context for its lifetime) and is
// not cancelled by a client that leaves; a
// refusal (401, 400, 426...) is sent with "Connection: close". Every other
// connection — other paths or methods, TLS, a head over 4 KiB or not whole
// within 10 s, anything net/http would parse differently — is served by the
// http.Server exactly as without the wrapper, with the bytes already read
// replayed.
func (s *Server) Listener(ln net.Listener) net.Listener { return Listener(ln, s) }

// Listener is Server.Listener for several Servers mounted on one
// http.Server, each at its own pathname: an upgrade goes to the Server
// that owns its path (the longest pathname, as http.ServeMux picks), and
// everything else to the http.Server.
func Listener(ln net.Listener, servers ...*Server) net.Listener {
	owner := func(r *http.Request) *Server {
		var best *Server
		for _, s := range servers {
			if s.owns(r.URL.Path) || s.isSocketIOPath(r.URL.Path) {
				if best == nil || len(s.opts.Pathname) > len(best.opts.Pathname) {
					best = s
				}
			}
		}
		return best
	}
	var logger func(v any)
	if len(servers) > 0 {
		log := servers[0].opts.Logger
		logger = func(v any) { log.Error("panic serving a WebSocket upgrade", "panic", v) }
	}
	return directupgrade.New(ln, directupgrade.Options{
		Takes: func(r *http.Request) bool { return directupgrade.IsUpgrade(r) && owner(r) != nil },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s := owner(r); s != nil {
				s.ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
		}),
		OnPanic: logger,
	})
}
