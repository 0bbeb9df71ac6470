package allspark

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/allspark/allspark/clientlib"
)

// MiddlewareLibrary is the built-in that serves <pathname>/primus.js.
const MiddlewareLibrary = "primus.js"

// libraryCache holds the rendered client library; Plugin and Plugout clear it
// because the library includes plugins' client parts.
type libraryCache struct {
	p atomic.Pointer[clientlib.Library]
}

func (c *libraryCache) reset() { c.p.Store(nil) }

// Library returns the client library as served at <pathname>/primus.js: the
// typed browser client with this server's pathname and ping timeout (1.5 ×
// PingInterval, as Primus's client assumes) baked in, followed by the client
// parts of plugins.
func (s *Server) Library() clientlib.Library {
	if lib := s.library.p.Load(); lib != nil {
		return *lib
	}
	settings := clientlib.Settings{Pathname: s.opts.Pathname, Parser: s.opts.Parser.Name()}
	if s.opts.PingInterval > 0 {
		settings.PingTimeoutMS = s.opts.PingInterval.Milliseconds() * 3 / 2
	}
	for _, p := range s.ClientPlugins() {
		settings.Plugins = append(settings.Plugins, clientlib.Plugin{Name: p.Name(), Source: p.Client()})
	}
	lib := clientlib.Render(settings)
	s.library.p.Store(&lib)
	return lib
}

// serveLibrary answers GET/HEAD <pathname>/primus.js with an ETag; clients
// revalidate (Cache-Control: no-cache) and get 304 while it is unchanged.
func (s *Server) serveLibrary(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
	if r.URL.Path != s.below("primus.js") || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		next(r)
		return
	}
	lib := s.Library()
	h := w.Header()
	h.Del("Pragma")
	h.Del("Expires")
	h.Set("Cache-Control", "public, no-cache")
	h.Set("ETag", lib.ETag)
	if etagMatches(r.Header.Get("If-None-Match"), lib.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(lib.Body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(lib.Body)
	}
}

func etagMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		p := strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if p == etag || p == "*" {
			return true
		}
	}
	return false
}
