package allspark

import (
	"errors"
	"net/http"
)

// installBuiltins registers the built-in middleware in Primus's order. They
// are ordinary layers: Remove, Disable or UseAt around them as with any other.
func (s *Server) installBuiltins() {
	_ = s.Use(MiddlewareCORS, s.cors, nil)
	_ = s.Use(MiddlewareNoCache, noCache, &MiddlewareOptions{SkipUpgrade: true})
	_ = s.Use(MiddlewareSpec, s.serveSpec, &MiddlewareOptions{SkipUpgrade: true})
	_ = s.Use(MiddlewareLibrary, s.serveLibrary, &MiddlewareOptions{SkipUpgrade: true})
	_ = s.Use(MiddlewareAuthorization, s.authorization, nil)
}

// noCache marks every plain HTTP answer under the pathname uncacheable.
func noCache(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
	h := w.Header()
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "0")
	next(r)
}

// authorization runs the function installed with Authorize.
func (s *Server) authorization(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
	fn := s.authorizer.Load()
	if fn == nil || s.isSocketIOPath(r.URL.Path) {
		// Socket.IO authorizes each namespace's CONNECT instead (the
		// auth payload is there), answering CONNECT_ERROR: see admit.
		next(r)
		return
	}
	err := (*fn)(r)
	if err == nil {
		next(r)
		return
	}
	s.stats.authFailures.Add(1)
	var he HTTPError
	if !errors.As(err, &he) {
		err = &AuthError{Err: err}
	}
	s.opts.Logger.Debug("authorization refused", "remote", r.RemoteAddr, "err", err)
	WriteError(w, err)
}
