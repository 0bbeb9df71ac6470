package allspark

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Spec is the JSON document served at <pathname>/spec. Clients read it to
// learn the ping interval (their watchdog) and the parser.
type Spec struct {
	PingInterval any    `json:"pingInterval"` // milliseconds, or false when off
	Pathname     string `json:"pathname"`
	Version      string `json:"version"`
	Parser       string `json:"parser"`
	Transformer  string `json:"transformer"`
}

// Spec returns what <pathname>/spec serves.
func (s *Server) Spec() Spec {
	var ping any = false
	if s.opts.PingInterval > 0 {
		ping = s.opts.PingInterval.Milliseconds()
	}
	return Spec{
		PingInterval: ping,
		Pathname:     s.opts.Pathname,
		Version:      Version,
		Parser:       s.opts.Parser.Name(),
		Transformer:  "websockets",
	}
}

// below is the path of name under the pathname: "/primus/spec", or "/spec"
// when the server owns every path ("/").
func (s *Server) below(name string) string {
	if s.opts.Pathname == "/" {
		return "/" + name
	}
	return s.opts.Pathname + "/" + name
}

func (s *Server) buildSpec() []byte {
	b, _ := json.Marshal(s.Spec())
	return b
}

func (s *Server) serveSpec(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
	if r.URL.Path != s.below("spec") || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		next(r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.specPayload)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(s.specPayload)
	}
}
