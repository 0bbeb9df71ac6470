package allspark

import (
	"net/http"

	"github.com/allspark/allspark/internal/eio"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

var defaultCORSMethods = []string{"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"}

const defaultCORSMaxAge = 30 * 24 * time.Hour

// anyOrigin reports whether "*" is listed: every origin is accepted, for
// upgrades too.
func (c *CORSOptions) anyOrigin() bool { return slices.Contains(c.Origins, "*") }

// allowAllOrigins reports whether plain HTTP requests from any origin are
// answered. An empty list does that, because what the plain endpoints serve
// (the spec, the client library, 426) is public; upgrades are checked by
// originAllowed instead.
func (c *CORSOptions) allowAllOrigins() bool { return len(c.Origins) == 0 || c.anyOrigin() }

// listed reports whether origin matches an entry of Origins.
func (c *CORSOptions) listed(origin string) bool {
	return slices.ContainsFunc(c.Origins, func(p string) bool { return originMatches(p, origin) })
}

// originAllowed decides whether a request carrying origin may proceed. A
// same-origin request always may. A WebSocket upgrade from any other origin
// needs that origin listed (or "*"): browsers attach the user's cookies and
// HTTP credentials to a cross-site WebSocket handshake and, unlike fetch, do
// not ask the server first, so without this check any page the user visits
// could open an authenticated connection in their name (cross-site WebSocket
// hijacking). Plain HTTP keeps the CORS rule: any origin unless Origins is
// explicit.
func (s *Server) originAllowed(r *http.Request, origin string, upgrade bool) bool {
	c := &s.opts.CORS
	if c.anyOrigin() || (!upgrade && c.allowAllOrigins()) {
		return true
	}
	if s.sameOrigin(r, origin) {
		return true
	}
	return c.listed(origin)
}

// sameOrigin reports whether origin names the host the request was sent to:
// its Host header or, from a trusted proxy, the X-Forwarded-Host that proxy
// set (a proxy that rewrites Host would otherwise make every browser
// connection look cross-origin). The scheme is not compared: behind a TLS
// terminating proxy the server cannot tell https from http, and the host and
// port are what a foreign page cannot forge.
func (s *Server) sameOrigin(r *http.Request, origin string) bool {
	scheme, host, ok := splitOrigin(origin)
	if !ok {
		return false
	}
	if sameHostPort(scheme, host, r.Host) {
		return true
	}
	fwd := s.forwardedHost(r)
	return fwd != "" && sameHostPort(scheme, host, fwd)
}

// forwardedHost is the host the nearest proxy was asked for, when that proxy
// is trusted: the right-most X-Forwarded-Host entry, the one it added itself.
func (s *Server) forwardedHost(r *http.Request) string {
	vals := r.Header.Values("X-Forwarded-Host")
	if len(s.trusted) == 0 || len(vals) == 0 {
		return ""
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !s.trusted.trusts(peer.Addr()) {
		return ""
	}
	last := vals[len(vals)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.TrimSpace(last)
}

// splitOrigin splits a serialized origin, scheme "://" host [":" port], and
// refuses anything else (a path, userinfo, "null").
func splitOrigin(origin string) (scheme, hostport string, ok bool) {
	scheme, hostport, ok = strings.Cut(origin, "://")
	if !ok || scheme == "" || hostport == "" || strings.ContainsAny(hostport, "/?#@\\ ") {
		return "", "", false
	}
	return scheme, hostport, true
}

// sameHostPort compares an origin's host[:port] with a Host header value:
// host names case-insensitively, ports after filling in the default port of
// the origin's scheme on either side (browsers omit :443 and :80 from both).
func sameHostPort(scheme, originHost, host string) bool {
	oh, op, ok := splitHostPort(originHost)
	if !ok {
		return false
	}
	hh, hp, ok := splitHostPort(host)
	if !ok || !strings.EqualFold(oh, hh) {
		return false
	}
	def := defaultPort(scheme)
	if op == "" {
		op = def
	}
	if hp == "" {
		hp = def
	}
	return op == hp
}

func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}

// splitHostPort splits host[:port] and [ipv6][:port]; port is "" when
// absent and otherwise decimal without leading zeros.
func splitHostPort(hp string) (host, port string, ok bool) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", "", false
		}
		host, rest := hp[1:end], hp[end+1:]
		if rest == "" {
			return host, "", host != ""
		}
		if rest[0] != ':' {
			return "", "", false
		}
		port, ok = cleanPort(rest[1:])
		return host, port, ok && host != ""
	}
	host, port, _ = strings.Cut(hp, ":")
	if host == "" || strings.Contains(port, ":") {
		return "", "", false
	}
	port, ok = cleanPort(port)
	return host, port, ok
}

func cleanPort(p string) (string, bool) {
	if p == "" {
		return "", true
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", false
	}
	return strconv.FormatUint(n, 10), true
}

// originMatches compares origin with one Origins entry: equal ignoring case
// (a trailing slash on the entry is forgiven), or, for an entry such as
// "https://*.example.com", the same scheme and port with a host of one or
// more labels followed by ".example.com" (the bare "example.com" is not
// matched: list it too).
func originMatches(pattern, origin string) bool {
	pattern = strings.TrimSuffix(pattern, "/")
	if strings.EqualFold(pattern, origin) {
		return true
	}
	pScheme, pHost, ok := strings.Cut(pattern, "://")
	if !ok {
		return false
	}
	suffix, wild := strings.CutPrefix(pHost, "*.")
	if !wild || suffix == "" {
		return false
	}
	oScheme, oHost, ok := splitOrigin(origin)
	if !ok || !strings.EqualFold(pScheme, oScheme) || len(oHost) < len(suffix)+2 {
		return false
	}
	cut := len(oHost) - len(suffix)
	if oHost[cut-1] != '.' || !strings.EqualFold(oHost[cut:], suffix) {
		return false
	}
	return validLabels(oHost[:cut-1])
}

// validLabels reports whether s is dot-separated non-empty DNS labels.
func validLabels(s string) bool {
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// cors answers preflights, sets the Access-Control headers on plain requests
// and refuses, with 403, requests (upgrades included) from origins
// originAllowed rejects. Removing or disabling this middleware removes the
// upgrade origin check too.
func (s *Server) cors(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
	c := &s.opts.CORS
	origin := r.Header.Get("Origin")
	if origin == "" {
		next(r)
		return
	}
	upgrade := isUpgrade(r)
	// An Engine.IO handshake opens a session just as an upgrade does, and
	// carries the page's cookies: it gets the upgrade's origin rule.
	// So does a SockJS session request (a poll, a stream, a send), and an
	// event stream, whose spark runs the connection hooks with the page's
	// cookies (EventSource's withCredentials) and joins rooms.
	sockJS, session := s.sockJSRequest(r)
	opens := upgrade || (s.eio != nil && eio.IsHandshake(r)) || session || s.isSSE(r)
	if !s.originAllowed(r, origin, opens) {
		s.opts.Logger.Debug("origin not allowed", "origin", origin, "host", r.Host, "remote", r.RemoteAddr, "upgrade", upgrade)
		WriteError(w, &AuthError{Status: http.StatusForbidden, Message: "origin not allowed"})
		return
	}
	if upgrade || sockJS {
		// SockJS answers CORS itself, preflights included: the Origin
		// echoed with credentials (sockjs-client's XHRs send cookies).
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
