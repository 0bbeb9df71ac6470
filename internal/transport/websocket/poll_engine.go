package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// NewPoller returns the event-driven engine: an idle connection holds no
// goroutine and no read buffer, only its small decoder state (pollConn).
// Readiness comes from epoll (poller_linux.go); a readable connection gets
// a goroutine and a pooled read buffer for as long as it has bytes, then
// gives both back, or, when it is busy, keeps the goroutine for a while
// without the buffer (poll_reader.go). Frames are decoded by our own
// frameReader, writes go through the same writer as the gws engine.
//
// Where the platform has no epoll, or the hijacked connection is not a
// plain socket (TLS terminated by net/http), a connection is read by a
// goroutine of its own with the same decoder: everything but the memory
// figure is the same.
func NewPoller(cfg Config) Engine {
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = defaultMaxPayload
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	return &pollEngine{
		cfg:     cfg,
		shared:  &gateConfig{maxPayload: uint64(cfg.MaxPayload), writeTimeout: int64(cfg.WriteTimeout)},
		pollers: make([]*poller, max(1, runtime.GOMAXPROCS(0)/4)),
	}
}

type pollEngine struct {
	cfg    Config
	shared *gateConfig

	// mu guards the pollers: each is started on its first connection and
	// stopped after its last, so an engine with no connections leaves no
	// goroutine behind. Lock order: mu, then poller.mu.
	mu      sync.Mutex
	pollers []*poller
	next    int
}

// handshakeGUID is RFC 6455's key suffix for Sec-WebSocket-Accept.
const handshakeGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Upgrade validates the handshake, hijacks the connection, answers 101
// itself and hands the socket to a poller. The HTTP server's buffers are
// let go at once: only bytes the client sent behind its request are kept
// (copied out), until they are decoded.
func (e *pollEngine) Upgrade(w http.ResponseWriter, r *http.Request, attach func(Conn) Handler) error {
	if err := checkHandshake(w, r); err != nil {
		return err
	}
	deflate := e.cfg.Compression && acceptsDeflate(r)
	sock, pre, err := hijack(w)
	if err != nil {
		http.Error(w, "this connection cannot be upgraded", http.StatusInternalServerError)
		return fmt.Errorf("websocket: hijack: %w", err)
	}
	_ = sock.SetDeadline(time.Time{}) // from here on the writer owns deadlines
	c := &pollConn{eng: e, fd: -1}
	c.w = writer{conn: sock, cfg: e.shared}
	c.fr.maxPayload, c.fr.deflate = e.shared.maxPayload, deflate
	if len(pre) > 0 {
		c.pre = &pre
	}
	hb := handshakeBufs.Get().(*[]byte)
	resp := appendHandshakeResponse((*hb)[:0], r.Header.Get("Sec-WebSocket-Key"), deflate)
	_, err = c.w.Write(resp) // written synchronously: the buffer is free after
	*hb = resp[:0]
	handshakeBufs.Put(hb)
	if err != nil {
		sock.Close()
		return fmt.Errorf("websocket: writing the handshake response: %w", err)
	}
	c.w.open()
	// Busy until start arms it: a Close or Abort during attach cannot
	// finish c while it is being registered (start's arm then fails and
	// finishes it).
	c.state.Store(connBusy)
	c.h = attach(c)
	c.start(sock)
	return nil
}

// handshakeBufs pools the 101 answers' buffers: a connect storm leaves no
// garbage of them.
var handshakeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// appendHandshakeResponse appends the 101 answer to a request with key.
func appendHandshakeResponse(b []byte, key string, deflate bool) []byte {
	var in [64]byte // a valid key is 24 bytes: key and GUID fit on the stack
	sum := sha1.Sum(append(append(in[:0], key...), handshakeGUID...))
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = base64.StdEncoding.AppendEncode(b, sum[:])
	if deflate {
		// Both sides without context takeover: a message is compressed and
		// inflated on its own, with pooled (de)compressors, so an idle
		// compressed connection keeps no dictionary.
		b = append(b, "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover"...)
	}
	return append(b, "\r\n\r\n"...)
}

// acceptsDeflate reports whether the client offers permessage-deflate in a
// form we can accept: any offer, unless it limits the server's window
// below the 32 KiB compress/flate always uses.
func acceptsDeflate(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Extensions") {
		for offer := range strings.SplitSeq(v, ",") {
			params := strings.Split(offer, ";")
			if !strings.EqualFold(strings.TrimSpace(params[0]), "permessage-deflate") {
				continue
			}
			ok := true
			for _, p := range params[1:] {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "server_max_window_bits") && strings.Trim(strings.TrimSpace(val), `"`) != "15" {
					ok = false
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// register hands c to a poller; it reports false when there is none (no
// epoll here), and c is then read by a goroutine of its own.
func (e *pollEngine) register(c *pollConn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := e.next % len(e.pollers)
	e.next++
	p := e.pollers[i]
	if p == nil {
		var err error
		if p, err = newPoller(); err != nil {
			return false
		}
		e.pollers[i] = p
	}
	p.n++
	c.p = p
	return true
}

// unregister is c's last act with its poller; the last connection stops it.
func (e *pollEngine) unregister(c *pollConn) {
	p := c.p
	if p == nil {
		return
	}
	p.remove(c.fd, c)
	e.mu.Lock()
	defer e.mu.Unlock()
	p.n--
	if p.n == 0 {
		for i := range e.pollers {
			if e.pollers[i] == p {
				e.pollers[i] = nil
			}
		}
		p.stop()
	}
}

// rawConnOf returns the socket's RawConn, or nil for a connection that is
// not a plain socket.
func rawConnOf(sock any) syscall.RawConn {
	sc, ok := sock.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
