package allspark

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/allspark/allspark/internal/sse"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

// SSERoomsParam is the query parameter of a stream request naming the rooms
// its spark joins: comma-separated, and it may repeat
// (?rooms=a,b&rooms=c); a room whose name holds a comma can only be joined
// by the application (OnConnection, OnJoin).
const SSERoomsParam = "rooms"

// newSSE builds the Server-Sent Events server for s: streams open through
// the same opener as every other wire, so a subscriber is a spark.
// serveFinal routes GET <pathname>/<SSE.Path> to it.
func newSSE(s *Server) *sse.Server {
	o := s.opts.SSE
	cfg := sse.Config{
		Heartbeat:      o.Heartbeat,
		Retry:          o.Retry,
		WriteTimeout:   s.opts.WriteTimeout,
		MaxSubscribers: o.MaxSubscribers,
		NewID:          s.opts.IDGenerator,
		Logger:         s.opts.Logger,
		// A stream refused during Shutdown comes back (to the next
		// process) when the sparks were told to reconnect.
		Reconnecting: func() bool {
			s.mu.RLock()
			defer s.mu.RUnlock()
			return s.reconnectOnLate
		},
	}
	switch s.opts.Parser.(type) {
	case parser.JSON, *parser.JSON: // the canonical encoding is the data
	default:
		p := s.opts.Parser
		cfg.Transcode = func(payload []byte, binary bool) ([]byte, error) {
			v, err := p.Decode(payload, binary)
			if err != nil {
				return nil, err
			}
			// encoding/json writes raw bytes as base64 strings (parser.JSON
			// would pass a Binary through as bytes) and escapes U+2028/9.
			return json.Marshal(v)
		}
	}
	return sse.NewServer(cfg, (*opener)(s))
}

// ssePath is the path of the stream endpoint: <pathname>/<SSE.Path>.
func ssePath(pathname, path string) string {
	path = strings.Trim(path, "/")
	if path == "" {
		path = DefaultSSEPath
	}
	if pathname == "/" {
		return "/" + path
	}
	return pathname + "/" + path
}

// isSSE reports whether r asks for an event stream (any method: the SSE
// server answers other methods 405).
func (s *Server) isSSE(r *http.Request) bool {
	return s.sse != nil && r.URL.Path == s.ssePath
}

// serveSSE opens an event stream for r, after the middleware (CORS,
// no-cache, authorization) let it through. The rooms it names are joined
// when its spark exists and before the stream starts, so nothing sent to
// them after the client's EventSource fires open is missed; an invalid
// name, or more rooms than MaxRoomsPerSpark, is a 400 and opens nothing.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request) {
	rooms, err := sseRooms(r.URL.Query(), s.opts.MaxRoomsPerSpark)
	if err != nil {
		WriteError(w, &AuthError{Status: http.StatusBadRequest, Message: err.Error()})
		return
	}
	var join func(transport.Handler)
	if len(rooms) > 0 {
		join = func(h transport.Handler) {
			sp := h.(*Spark)
			// Names and count are checked; what can still fail is the
			// broker (local membership stands) or an ended spark.
			if err := sp.Join(rooms...); err != nil {
				s.opts.Logger.Warn("sse: joining rooms", "spark", sp.id, "err", err)
			}
		}
	}
	s.sse.Serve(w, r, join)
}

// sseRooms reads the rooms of a stream request, without duplicates.
func sseRooms(q url.Values, limit int) ([]string, error) {
	var rooms []string
	seen := map[string]struct{}{}
	for _, v := range q[SSERoomsParam] {
		for name := range strings.SplitSeq(v, ",") {
			if !validRoom(name) {
				return nil, fmt.Errorf("invalid room name %.40q in %q: 1 to %d bytes of UTF-8, comma-separated", name, SSERoomsParam, MaxRoomNameLen)
			}
			if _, dup := seen[name]; dup {
				continue
			}
			seen[name] = struct{}{}
			rooms = append(rooms, name)
			if limit > 0 && len(rooms) > limit {
				return nil, fmt.Errorf("more than %d rooms in %q", limit, SSERoomsParam)
			}
		}
	}
	return rooms, nil
}
