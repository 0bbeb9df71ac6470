package allspark

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
)

// MiddlewareFunc handles a request under the pathname before Allspark does.
// To pass the request on, call next (possibly with a derived request, e.g.
// one carrying context values, which then reach Spark.Request and
// Spark.Context). To answer it, write to w and do not call next. next must be
// called, if at all, before the function returns; blocking is fine (it delays
// only this request).
type MiddlewareFunc func(w http.ResponseWriter, r *http.Request, next func(*http.Request))

// MiddlewareOptions select which requests a middleware sees.
type MiddlewareOptions struct {
	SkipHTTP    bool // not run for plain HTTP requests
	SkipUpgrade bool // not run for WebSocket upgrade requests
}

// Names of the built-in middleware, in their default order.
const (
	MiddlewareCORS          = "cors"
	MiddlewareNoCache       = "no-cache"
	MiddlewareSpec          = "spec"
	MiddlewareAuthorization = "authorization"
)

type layer struct {
	name    string
	fn      MiddlewareFunc
	opts    MiddlewareOptions
	enabled atomic.Bool
}

// Use appends a named middleware. It returns ErrDuplicateName if the name is
// taken.
func (s *Server) Use(name string, fn MiddlewareFunc, opts *MiddlewareOptions) error {
	return s.UseAt(-1, name, fn, opts)
}

// UseAt inserts a named middleware at index (0 = first; negative or past the
// end = last).
func (s *Server) UseAt(index int, name string, fn MiddlewareFunc, opts *MiddlewareOptions) error {
	l := &layer{name: name, fn: fn}
	if opts != nil {
		l.opts = *opts
	}
	l.enabled.Store(true)
	var err error
	s.layers.update(func(ls []*layer) []*layer {
		if indexOfLayer(ls, name) >= 0 {
			err = ErrDuplicateName
			return ls
		}
		if index < 0 || index > len(ls) {
			index = len(ls)
		}
		return slices.Insert(ls, index, l)
	})
	return err
}

// Remove deletes the named middleware (built-ins too).
func (s *Server) Remove(name string) error {
	err := ErrNotFound
	s.layers.update(func(ls []*layer) []*layer {
		if i := indexOfLayer(ls, name); i >= 0 {
			err = nil
			return slices.Delete(ls, i, i+1)
		}
		return ls
	})
	return err
}

// Enable turns a disabled middleware back on.
func (s *Server) Enable(name string) error { return s.setEnabled(name, true) }

// Disable keeps a middleware in place but skips it.
func (s *Server) Disable(name string) error { return s.setEnabled(name, false) }

func (s *Server) setEnabled(name string, on bool) error {
	ls := s.layers.load()
	i := indexOfLayer(ls, name)
	if i < 0 {
		return ErrNotFound
	}
	ls[i].enabled.Store(on)
	return nil
}

// Middleware lists the middleware names in the order they run.
func (s *Server) Middleware() []string {
	ls := s.layers.load()
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.name
	}
	return names
}

func indexOfLayer(ls []*layer, name string) int {
	return slices.IndexFunc(ls, func(l *layer) bool { return l.name == name })
}

// chain walks the middleware for one request.
type chain struct {
	server  *Server
	layers  []*layer
	w       http.ResponseWriter
	upgrade bool
	i       int
}

func (c *chain) next(r *http.Request) {
	for c.i < len(c.layers) {
		l := c.layers[c.i]
		c.i++
		if !l.enabled.Load() || (c.upgrade && l.opts.SkipUpgrade) || (!c.upgrade && l.opts.SkipHTTP) {
			continue
		}
		l.fn(c.w, r, c.next)
		return
	}
	c.i++ // a second call of the last next must not serve twice
	if c.i == len(c.layers)+1 {
		c.server.serveFinal(c.w, r, c.upgrade)
	}
}

// WriteError answers a request with err as Primus does: a JSON body
// {"error": message} with the status of an HTTPError (500 otherwise) and
// Connection: close. A 401 *AuthError with Authenticate set adds
// WWW-Authenticate.
func WriteError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var he HTTPError
	if errors.As(err, &he) {
		status = he.StatusCode()
	}
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{err.Error()})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	var ae *AuthError
	if status == http.StatusUnauthorized && errors.As(err, &ae) && ae.Authenticate != "" {
		h.Set("WWW-Authenticate", ae.Authenticate)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
