package sockjs

import (
	"net/http"
	"strconv"
	"time"
)

// cacheFor is how long OPTIONS answers may be cached (a year, as the
// reference's cache_for).
const cacheFor = 365 * 24 * time.Hour

// The content types of the reference's answers.
const (
	typeJS    = "application/javascript; charset=UTF-8"
	typePlain = "text/plain; charset=UTF-8"
	typeJSON  = "application/json; charset=UTF-8"
	typeHTML  = "text/html; charset=UTF-8"
	typeES    = "text/event-stream"
)

// noCache marks an answer uncacheable with exactly the reference's header
// (sockjs-protocol checks the value). Pragma and Expires, which the
// server's own no-cache middleware sets, are removed: the protocol wants no
// Expires on these answers.
func noCache(h http.Header) {
	h.Set("Cache-Control", "no-store, no-cache, no-transform, must-revalidate, max-age=0")
	h.Del("Pragma")
	h.Del("Expires")
}

// cacheable marks an answer cacheable for a year, with Expires.
func cacheable(h http.Header) {
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(cacheFor/time.Second)))
	h.Set("Expires", time.Now().Add(cacheFor).UTC().Format(http.TimeFormat))
	h.Del("Pragma")
}

// cors sets the reference's CORS answer: the request's Origin echoed with
// credentials allowed (sockjs-client sends its XHRs withCredentials), or
// "*" without credentials when there is no Origin. nullStar also answers
// "*" for the Origin "null" (the eventsource transport does). The
// requested headers are allowed. Whether this origin may use the server
// at all was decided before (the server's cors middleware refuses
// foreign origins for session requests).
func cors(h http.Header, r *http.Request, nullStar bool) {
	origin := r.Header.Get("Origin")
	if origin == "" || (nullStar && origin == "null") {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Del("Access-Control-Allow-Credentials")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Vary", "Origin")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
}

// jsessionID sets the JSESSIONID cookie for load balancers that route by
// it, when enabled: the client's own value echoed, or "dummy".
func (srv *Server) jsessionID(h http.Header, r *http.Request) {
	if !srv.cfg.JSessionID {
		return
	}
	v := "dummy"
	if c, err := r.Cookie("JSESSIONID"); err == nil && c.Value != "" {
		v = c.Value
	}
	h.Set("Set-Cookie", "JSESSIONID="+v+"; path=/")
}

// answerOptions answers a CORS preflight (OPTIONS) for a resource allowing
// methods: 204, cacheable for a year.
func (srv *Server) answerOptions(w http.ResponseWriter, r *http.Request, methods string) {
	h := w.Header()
	srv.jsessionID(h, r)
	cors(h, r, false)
	cacheable(h)
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Max-Age", strconv.Itoa(int(cacheFor/time.Second)))
	h.Del("Content-Length")
	w.WriteHeader(http.StatusNoContent)
}

// answerText answers status with a text/plain body.
func answerText(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", typePlain)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// notFound is the reference's 404.
func notFound(w http.ResponseWriter) {
	answerText(w, http.StatusNotFound, "404 Error: Page not found\n")
}

// notAllowed is the reference's 405, naming the methods the path takes.
func notAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusMethodNotAllowed)
}
