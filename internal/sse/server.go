package sse

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// Defaults of a zero Config.
const (
	DefaultHeartbeat      = 25 * time.Second
	DefaultRetry          = 2 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultMaxSubscribers = 100_000
)

// Response headers of a stream, besides the Content-Type.
const (
	// CacheControl keeps every cache and proxy from storing or
	// transforming (compressing, buffering) the stream.
	CacheControl = "no-cache, no-store, no-transform, must-revalidate, max-age=0"
	ContentType  = "text/event-stream"
)

// Config configures a Server. The zero value works: 25 s heartbeats, a
// 2 s retry, 10 s write timeout, at most 100,000 streams, JSON payloads.
type Config struct {
	// Heartbeat is the interval between comment heartbeats on an idle
	// stream; 0 = 25 s, negative = none.
	Heartbeat time.Duration
	// Retry is sent as the stream's "retry:" field: how long the client
	// waits before reconnecting after the stream ends; 0 = 2 s, negative
	// = not sent (the client's default, about 3 s in browsers).
	Retry time.Duration
	// WriteTimeout bounds a write the client takes no bytes of; 0 = 10 s.
	WriteTimeout time.Duration
	// MaxSubscribers bounds live streams; a request past it gets 503.
	// 0 = 100,000.
	MaxSubscribers int
	// Transcode turns a message's canonical encoding into JSON text, for
	// servers whose parser is not JSON (MessagePack). nil: the payload is
	// JSON already, and a binary payload is sent as a base64 string. A
	// message it fails on is not sent.
	Transcode func(payload []byte, binary bool) ([]byte, error)
	// Reconnecting is asked when the Acceptor refuses a stream because
	// the server is shutting down: true (or a nil func) answers a stream
	// that ends at once, so the client comes back after its retry (to
	// this server's successor); false answers 204, so it stops. A 503
	// would stop an EventSource for good.
	Reconnecting func() bool
	// NewID makes stream ids, which become the spark ids; default 20
	// random URL-safe characters. An id that an id field cannot carry (a
	// line break or NUL) is replaced by a default one.
	NewID  func() string
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	switch {
	case c.Heartbeat == 0:
		c.Heartbeat = DefaultHeartbeat
	case c.Heartbeat < 0:
		c.Heartbeat = 0
	}
	switch {
	case c.Retry == 0:
		c.Retry = DefaultRetry
	case c.Retry < 0:
		c.Retry = 0
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxSubscribers <= 0 {
		c.MaxSubscribers = DefaultMaxSubscribers
	}
	if c.NewID == nil {
		c.NewID = newStreamID
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server serves event streams. Every stream opens through the
// transport.Acceptor given to NewServer, which makes it a spark that
// cannot write. Create it with NewServer; its methods are safe for
// concurrent use.
type Server struct {
	cfg   Config
	acc   transport.Acceptor
	proto transport.Protocol
	// prelude is what every stream starts with: the padding comment and
	// the retry field.
	prelude []byte
	live    atomic.Int64 // streams counted against MaxSubscribers
}

// NewServer returns a server for cfg whose streams open through acc.
func NewServer(cfg Config, acc transport.Acceptor) *Server {
	cfg = cfg.withDefaults()
	prelude := AppendPrelude(nil)
	if cfg.Retry > 0 {
		prelude = AppendRetry(prelude, cfg.Retry)
	}
	return &Server{cfg: cfg, acc: acc, proto: newProtocol(cfg.Transcode), prelude: prelude}
}

// Protocol is the protocol of this server's sessions: it frames a
// broadcast once for all its streams.
func (s *Server) Protocol() *transport.Protocol { return &s.proto }

// Len is the number of live streams.
func (s *Server) Len() int { return int(s.live.Load()) }

// ServeHTTP serves one stream request; see Serve.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Serve(w, r, nil) }

// Serve serves one stream request, a GET. On HTTP/1.1 it returns once the
// stream is open, having taken the connection over from net/http (its
// goroutine and buffers are then free; output.go); otherwise it returns
// when the stream ends. A reconnect carrying the end marker of a stream the server ended
// for good (LastEventID) gets 204 and no stream. Otherwise the stream is
// opened through the Acceptor; subscribed, when not nil, is called with
// its spark before the response starts, so whatever it subscribes the
// spark to (rooms) cannot miss a message sent after the client sees the
// stream open. Other methods get 405; past MaxSubscribers, 503.
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, subscribed func(transport.Handler)) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "an event stream is opened with GET")
		return
	}
	if last, ok := LastEventID(r); ok && last.End {
		// The stream was ended for good: "a client can be told to stop
		// reconnecting using the HTTP 204 No Content response code".
		s.cfg.Logger.Debug("sse: reconnect of an ended stream refused", "stream", last.Stream, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if n := s.live.Add(1); n > int64(s.cfg.MaxSubscribers) {
		s.live.Add(-1)
		s.cfg.Logger.Warn("sse: subscriber limit reached", "limit", s.cfg.MaxSubscribers)
		writeError(w, http.StatusServiceUnavailable, "too many subscribers")
		return
	}
	ss := newSession(s, r)
	err := s.acc.Accept(r, func(attach transport.Attach) error {
		ss.open(w, r, attach, subscribed)
		return nil
	})
	if err != nil {
		s.live.Add(-1)
		if errors.Is(err, transport.ErrShuttingDown) {
			s.refuseShuttingDown(w, r)
			return
		}
		s.cfg.Logger.Debug("sse: open failed", "err", err, "remote", r.RemoteAddr)
		return
	}
	ss.serve(r) // the stream's end releases its place in live
}

// refuseShuttingDown answers a stream request while the server shuts
// down: an EventSource takes any status but 200 (and 204) as the end of
// the stream for good, so a client that should come back gets a stream
// that ends at once and reconnects after its retry.
func (s *Server) refuseShuttingDown(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Reconnecting != nil && !s.cfg.Reconnecting() {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	streamHeaders(w.Header(), r)
	w.WriteHeader(http.StatusOK)
	if s.cfg.Retry > 0 {
		_, _ = w.Write(AppendRetry(nil, s.cfg.Retry))
	}
}

// streamHeaders sets a stream's headers. Connection: keep-alive only on
// HTTP/1.1: HTTP/2 forbids connection-specific headers (RFC 9113 §8.2.2),
// and an HTTP/1.0 response without a length ends with its connection.
func streamHeaders(h http.Header, r *http.Request) {
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", CacheControl)
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
	h.Del("Content-Length")
	if r != nil && r.ProtoMajor == 1 && r.ProtoMinor >= 1 {
		h.Set("Connection", "keep-alive")
	}
}

// writeError answers with a JSON {"error": message}, as the server's other
// refusals.
func writeError(w http.ResponseWriter, status int, message string) {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newStreamID returns 20 random URL-safe characters, like the server's
// default spark ids.
func newStreamID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
