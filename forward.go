package allspark

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark/internal/eio"
	"github.com/allspark/allspark/internal/sockjs"
)

// HTTP fallbacks without sticky sessions. A polling request (an Engine.IO
// GET or POST, a SockJS xhr, xhr_send, jsonp or jsonp_send, a SockJS
// stream as a poll) that reaches a node which does not hold its session is
// forwarded, as a node request, to the node that does; that node runs it
// through its real handler into a bounded in-memory response, and the
// answer (status, headers, body) comes back the same way and is written to
// the client. Middleware (CORS, authorization, user layers) runs on the
// node the client reached, once, as for any request; the owner runs only
// the wire's handler.
//
// Who owns a session:
//   - Engine.IO sids are the server's to make, so they name their node: a
//     sid is the spark id, ".", and an 8-character tag of the node id
//     (sidTag). The receiving node finds the live peer with that tag
//     without asking anybody; a tag no live node has is an unknown
//     session (400 "Session ID unknown", as without a cluster).
//   - SockJS session ids are the client's, so the receiving node asks
//     ("sockjs-owner": every live peer says whether it holds the id) and
//     remembers the answer in a bounded cache, dropped when the owner
//     answers 404 or leaves. A session nobody holds opens here, as
//     without a cluster.
//
// A WebSocket upgrade of an Engine.IO session held elsewhere is not
// forwarded (a socket cannot cross the broker): it is answered "Session ID
// unknown", which engine.io-client takes as a failed probe, and the client
// stays on polling. Sticky sessions, where a balancer has them, still give
// a client its WebSocket.

const (
	opForward       = "forward"
	opForwardCancel = "forward-cancel"
	opSockJSOwner   = "sockjs-owner"
)

// sockJSOwnersCap bounds the SockJS owner cache (entries of a session id
// and a node id); past it an arbitrary entry makes room.
const sockJSOwnersCap = 10_000

// ownerSurveyTimeout bounds the survey for a SockJS session's owner (it
// runs before a new session opens here, so a peer that is down but not
// yet past NodeTTL must not hold every new session up for long).
const ownerSurveyTimeout = time.Second

// forwardedKey marks the context of a request another node forwarded: it
// is served here or answered as unknown, never forwarded again.
type forwardedKey struct{}

func isForwarded(r *http.Request) bool { return r.Context().Value(forwardedKey{}) != nil }

// forwarder is a server's part in forwarding: the tokens of requests it
// serves for other nodes (so they can be cancelled) and the SockJS owner
// cache.
type forwarder struct {
	tag      string // this node's sid tag
	tokens   atomic.Uint64
	hold     time.Duration // the owner's bound on one forwarded request
	maxReply int           // the largest answer a forwarded request gets

	mu       sync.Mutex
	inflight map[forwardKey]context.CancelFunc // served here for other nodes
	waiting  map[*forwardWait]struct{}         // sent from here, not yet answered
	owners   map[string]string                 // 'p'|'s' + SockJS session id → node
}

// forwardWait is a forwarded request this node waits for: when its node
// leaves the cluster (goodbye, or NodeTTL) the wait ends at once instead of
// at the long-poll bound.
type forwardWait struct {
	node   string
	cancel context.CancelFunc
}

type forwardKey struct {
	node  string
	token uint64
}

// sidTag is the tag Engine.IO sids made on node end with: 48 bits of its
// SHA-256 in URL-safe base64.
func sidTag(node string) string {
	sum := sha256.Sum256([]byte(node))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// initForward sets up forwarding; it runs in New before the wires are
// built (their sids need the tag).
func (s *Server) initForward() {
	f := &s.fwd
	f.tag = sidTag(s.nodeID)
	f.inflight = make(map[forwardKey]context.CancelFunc)
	f.waiting = make(map[*forwardWait]struct{})
	f.owners = make(map[string]string)
	// A forwarded poll is held until the wire answers it: at the latest
	// the next Engine.IO ping or SockJS heartbeat, then written.
	ping := s.opts.EngineIO.PingInterval
	if ping <= 0 {
		ping = eio.DefaultPingInterval
	}
	beat := s.opts.SockJS.Heartbeat
	if beat <= 0 {
		beat = sockjs.DefaultHeartbeat
	}
	f.hold = max(ping, beat) + s.opts.WriteTimeout + s.opts.Cluster.RequestTimeout
	// One message of MaxLength, base64 for binary, and what else fits in
	// as much again: a larger poll answer fails like a write to a client
	// that reads nothing.
	f.maxReply = 2*s.opts.MaxLength + 64<<10
}

// newSID makes an Engine.IO sid that names this node.
func (s *Server) newSID() string { return s.opts.IDGenerator() + "." + s.fwd.tag }

// installForwardOps registers the forwarding requests.
func (s *Server) installForwardOps() {
	c := &s.cluster
	c.onPeerDown(s.fwd.peerDown)
	c.handleLimited(opForward, s.serveForward, s.fwd.hold, s.opts.Cluster.MaxForwardedRequests)
	c.handle(opForwardCancel, func(_ context.Context, from string, body []byte) ([]byte, error) {
		token, n := binary.Uvarint(body)
		if n <= 0 {
			return nil, errBadForward
		}
		s.fwd.mu.Lock()
		cancel := s.fwd.inflight[forwardKey{from, token}]
		s.fwd.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		return nil, nil
	})
	c.handle(opSockJSOwner, func(_ context.Context, _ string, body []byte) ([]byte, error) {
		if srv := s.sockJSServer(body); srv != nil && srv.Has(string(body[1:])) {
			return []byte{'1'}, nil
		}
		return []byte{'0'}, nil
	})
}

// sockJSServer is the SockJS server a key ('p' or 's' + id) names.
func (s *Server) sockJSServer(key []byte) *sockjs.Server {
	if len(key) < 2 {
		return nil
	}
	switch key[0] {
	case 'p':
		return s.sockjsPrimus
	case 's':
		return s.sockjsPlain
	}
	return nil
}

// forwardEIO is eio.Config.Forward: a sid tagged with a live peer's tag
// goes to that peer.
func (s *Server) forwardEIO(w http.ResponseWriter, r *http.Request, sid string, limit int) bool {
	if isForwarded(r) {
		return false
	}
	i := strings.LastIndexByte(sid, '.')
	if i < 0 || sid[i+1:] == s.fwd.tag {
		return false
	}
	tag := sid[i+1:]
	for _, node := range s.cluster.livePeers() {
		if sidTag(node) == tag {
			return s.forward(w, r, node, limit, nil)
		}
	}
	return false
}

// forwardSockJS is sockjs.Config.Forward for the server that which names
// ('p': under the pathname, 's': the plain path).
func (s *Server) forwardSockJS(which byte) func(http.ResponseWriter, *http.Request, string, int) bool {
	return func(w http.ResponseWriter, r *http.Request, id string, limit int) bool {
		if isForwarded(r) {
			return false
		}
		key := string(which) + id
		node := s.sockJSOwner(r.Context(), key)
		if node == "" {
			return false
		}
		return s.forward(w, r, node, limit, func(status int) {
			if status == http.StatusNotFound {
				s.fwd.forgetOwner(key, node)
			}
		})
	}
}

// sockJSOwner returns the live peer that holds the SockJS session key, or
// "": from the cache, else by asking every live peer.
func (s *Server) sockJSOwner(ctx context.Context, key string) string {
	peers := s.cluster.livePeers()
	if len(peers) == 0 {
		return ""
	}
	f := &s.fwd
	f.mu.Lock()
	node, ok := f.owners[key]
	f.mu.Unlock()
	if ok {
		for _, p := range peers {
			if p == node {
				return node
			}
		}
		f.forgetOwner(key, node)
	}
	node = ""
	_, _ = s.cluster.surveyFor(ctx, min(ownerSurveyTimeout, s.opts.Cluster.RequestTimeout), opSockJSOwner, []byte(key), peers,
		func(n string, body []byte) bool {
			if string(body) == "1" {
				node = n
				return true
			}
			return false
		})
	if node == "" {
		// Nobody holds it (or the peers that might did not answer in
		// time): the session opens here, as without a cluster.
		return ""
	}
	f.remember(key, node)
	return node
}

// remember caches node as the owner of the SockJS session key; at
// sockJSOwnersCap an arbitrary entry makes room (a wrong guess costs one
// survey later, never a wrong answer: a cached owner without the session
// answers 404, which forgets it).
func (f *forwarder) remember(key, node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.owners[key]; !ok && len(f.owners) >= sockJSOwnersCap {
		for k := range f.owners {
			delete(f.owners, k)
			break
		}
	}
	f.owners[key] = node
}

// peerDown ends the waits for node's answers and forgets the SockJS
// sessions it held.
func (f *forwarder) peerDown(node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for w := range f.waiting {
		if w.node == node {
			w.cancel()
		}
	}
	for k, n := range f.owners {
		if n == node {
			delete(f.owners, k)
		}
	}
}

func (f *forwarder) forgetOwner(key, node string) {
	f.mu.Lock()
	if f.owners[key] == node {
		delete(f.owners, key)
	}
	f.mu.Unlock()
}

// forwardedHeaders are the request fields the wires' handlers read (and
// those the owner's log or trusted-proxy logic may want); the others stay
// on the node the client reached.
var forwardedHeaders = []string{
	"Content-Type", "Origin", "Cookie", "Referer", "User-Agent", "Accept",
	"Access-Control-Request-Method", "Access-Control-Request-Headers",
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "Forwarded",
}

// forward runs r on node and writes its answer to w. The body is read up
// to limit+1 bytes: the owner's handler then answers 413 exactly as it
// would the client directly (a body announced larger than limit is not
// read at all). seen, when set, is told the answer's status. It reports
// false, having written nothing, when node does not serve forwarded
// requests (an older version): the wire then answers as without a cluster.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, node string, limit int, seen func(status int)) bool {
	q := forwardRequest{
		token: s.fwd.tokens.Add(1), method: r.Method, url: r.URL.RequestURI(), host: r.Host,
		remote: r.RemoteAddr, contentLength: r.ContentLength, header: make(http.Header, 4),
	}
	for _, k := range forwardedHeaders {
		if vs := r.Header.Values(k); len(vs) > 0 {
			q.header[k] = vs
		}
	}
	if r.Body != nil && r.ContentLength <= int64(limit) {
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
		if err != nil {
			return true // the client went away mid-body
		}
		q.body, q.contentLength = body, int64(len(body))
	}
	// The wait ends with the client, with this node's cluster layer
	// (Shutdown), or when node leaves the cluster, whichever comes first.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.cluster.ctx, cancel)
	defer stop()
	wait := &forwardWait{node: node, cancel: cancel}
	s.fwd.mu.Lock()
	s.fwd.waiting[wait] = struct{}{}
	s.fwd.mu.Unlock()
	defer func() {
		s.fwd.mu.Lock()
		delete(s.fwd.waiting, wait)
		s.fwd.mu.Unlock()
	}()
	s.stats.forwarded.Add(1)
	out, err := s.cluster.requestFor(ctx, s.fwd.hold+s.opts.Cluster.RequestTimeout, node, opForward, q.marshal())
	if err != nil {
		if r.Context().Err() != nil {
			// The client went away: the owner lets go of the request
			// (a held poll ends as it would on a dropped connection).
			s.cluster.send(node, &nodeMessage{kind: msgRequest, op: opForwardCancel, body: binary.AppendUvarint(nil, q.token)})
			return true
		}
		if errors.Is(err, ErrUnknownOp) {
			return false
		}
		s.opts.Logger.Debug("forwarded request failed", "node", node, "err", err)
		status := http.StatusServiceUnavailable
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		answerPlain(w, status)
		return true
	}
	a, err := unmarshalForwardAnswer(out)
	if err != nil {
		answerPlain(w, http.StatusBadGateway)
		return true
	}
	if seen != nil {
		seen(a.status)
	}
	h := w.Header()
	for k, vs := range a.header {
		h[k] = vs
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
	return true
}

func answerPlain(w http.ResponseWriter, status int) {
	body := http.StatusText(status) + "\n"
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// serveForward is the owner's side: the request runs through the wire's
// handler (not the middleware: the receiving node ran it) into a bounded
// in-memory response, which is the answer.
func (s *Server) serveForward(ctx context.Context, from string, body []byte) ([]byte, error) {
	q, err := unmarshalForwardRequest(body)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithValue(ctx, forwardedKey{}, from))
	defer cancel()
	key := forwardKey{from, q.token}
	s.fwd.mu.Lock()
	s.fwd.inflight[key] = cancel
	s.fwd.mu.Unlock()
	defer func() {
		s.fwd.mu.Lock()
		delete(s.fwd.inflight, key)
		s.fwd.mu.Unlock()
	}()
	r, err := http.NewRequestWithContext(ctx, q.method, q.url, bytes.NewReader(q.body))
	if err != nil {
		return nil, errBadForward
	}
	r.RequestURI, r.Host, r.RemoteAddr, r.ContentLength = q.url, q.host, q.remote, q.contentLength
	r.Header = q.header
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	s.stats.forwardServed.Add(1)
	rw := &replyWriter{header: make(http.Header), limit: s.fwd.maxReply}
	s.serveFinal(rw, r, false) // no upgrade header is forwarded
	return rw.answer().marshal(), nil
}
