package allspark

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

var defaultCORSMethods = []string{"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"}

const defaultCORSMaxAge = 30 * 24 * time.Hour

// allowAllOrigins reports whether the configuration accepts any origin.
func (c *CORSOptions) allowAllOrigins() bool {
	return len(c.Origins) == 0 || slices.Contains(c.Origins, "*")
}

func (c *CORSOptions) originAllowed(origin string) bool {
	if c.allowAllOrigins() {
		return true
	}
	return slices.ContainsFunc(c.Origins, func(o string) bool { return strings.EqualFold(o, origin) })
}

// cors answers preflights, sets the Access-Control headers on plain requests
// and refuses requests (upgrades included) from origins not in the list.
func (s *Server) cors(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
	c := &s.opts.CORS
	origin := r.Header.Get("Origin")
	if origin == "" {
		next(r)
		return
	}
	if !c.originAllowed(origin) {
		WriteError(w, &AuthError{Status: http.StatusForbidden, Message: "origin not allowed"})
		return
	}
	if isUpgrade(r) {
		next(r)
		return
	}
	h := w.Header()
	if c.allowAllOrigins() && !c.Credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if c.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.Exposed) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.Exposed, ", "))
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		next(r)
		return
	}
	methods := c.Methods
	if len(methods) == 0 {
		methods = defaultCORSMethods
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	if len(c.Headers) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.Headers, ", "))
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	maxAge := c.MaxAge
	if maxAge == 0 {
		maxAge = defaultCORSMaxAge
	}
	if maxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.FormatInt(int64(maxAge/time.Second), 10))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
