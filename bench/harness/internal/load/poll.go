package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/proto"
)

// Bounds of one polling session.
const (
	// pollMaxBody bounds a poll response the client reads; a longer one
	// ends the session (errPollTooLarge). Engine.IO's default maxPayload is
	// 1e6, and a benchmark batch is far smaller.
	pollMaxBody = 1 << 20
	// pollMaxPost bounds the packets queued for one POST, also when the
	// server announces a larger maxPayload.
	pollMaxPost = 1 << 20
)

var (
	// ErrNoPolling reports a server that answers the Engine.IO polling
	// handshake with 404 or 426: it has no long-polling at /primus/.
	ErrNoPolling = errors.New("load: no Engine.IO long-polling at /primus/")

	errPollStatus   = errors.New("load: unexpected HTTP status")
	errPollTooLarge = errors.New("load: poll response over the client's bound")
	errPollBacklog  = errors.New("load: polling send queue full (a POST is still in flight)")
	errPollClosed   = errors.New("load: polling session closed")
)

// newPollTransport is the one http.Transport a worker's polling sessions
// share: HTTP/1.1 keep-alive with room for every session's held GET and its
// POST, each new connection bound to the next of the worker's loopback
// source addresses (so ephemeral ports never run out), no compression (the
// servers under test do not compress either), no proxy.
func newPollTransport(srcs []*net.TCPAddr, sessions int) *http.Transport {
	var next atomic.Uint64
	conns := 2*sessions + 16
	return &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: srcs[next.Add(1)%uint64(len(srcs))], Timeout: 10 * time.Second}
			return d.DialContext(ctx, "tcp4", addr)
		},
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		ReadBufferSize:      4 << 10,
		WriteBufferSize:     4 << 10,
	}
}

// pollClient is one Engine.IO v4 long-polling session at the Primus
// pathname. One goroutine (run) holds a GET at a time and sends the next as
// soon as a response is read; packets to send are queued and POSTed with at
// most one POST in flight (the protocol allows one of each per session), so
// what is queued meanwhile leaves together in the next POST, as
// engine.io-client does. Queued bytes are bounded by the session's
// maxPayload (at most pollMaxPost); beyond that send fails with
// errPollBacklog and the message is not sent.
type pollClient struct {
	hc      *http.Client
	p       proto.Protocol
	url     string // with sid
	ctx     context.Context
	cancel  context.CancelFunc
	ready   chan struct{}
	closed  atomic.Bool
	maxPost int
	rbuf    []byte        // GET response buffer, reused
	polls   *atomic.Int64 // counts answered GETs when set (before run)

	mu      sync.Mutex
	pending []byte // payload of queued packets
	posting bool   // a flush goroutine is running
	done    bool   // no more POSTs
	flushes sync.WaitGroup
}

// openPoll performs the handshake (within dialCtx) and returns the session,
// which lives until life ends or close is called, and the packets that came
// with the open packet (to pass to run).
func openPoll(dialCtx, life context.Context, hc *http.Client, addr string, p proto.Protocol, rooms []string) (*pollClient, []byte, error) {
	base := "http://" + addr + proto.PollPath(rooms)
	req, err := http.NewRequestWithContext(dialCtx, http.MethodGet, base, nil)
	if err != nil {
		return nil, nil, err
	}
	body, err := roundTrip(hc, req, nil)
	if err != nil {
		return nil, nil, err
	}
	open, rest, err := proto.ParseEIOOpen(body)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(life)
	c := &pollClient{hc: hc, p: p, url: base + "&sid=" + open.SID, ctx: ctx, cancel: cancel, ready: make(chan struct{}), maxPost: pollMaxPost}
	if open.MaxPayload > 0 && open.MaxPayload < c.maxPost {
		c.maxPost = open.MaxPayload
	}
	close(c.ready) // Primus needs no hello: open once the session exists
	return c, append([]byte(nil), rest...), nil
}

// roundTrip does one request and returns the body of a 200 response (read
// into buf's storage, at most pollMaxBody bytes). A 404 or 426 is
// ErrNoPolling, any other status errPollStatus.
func roundTrip(hc *http.Client, req *http.Request, buf []byte) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusUpgradeRequired {
			return nil, fmt.Errorf("%w (%s %s answered %s)", ErrNoPolling, req.Method, req.URL.Path, resp.Status)
		}
		return nil, fmt.Errorf("%w: %s %s answered %s", errPollStatus, req.Method, req.URL.Path, resp.Status)
	}
	return readBody(resp.Body, buf[:0], pollMaxBody)
}

// readBody appends all of r to buf, failing with errPollTooLarge past limit
// bytes; the buffer grows with the bytes that arrived, never ahead of them.
func readBody(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, errPollTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
			if cap(buf) < 512 {
				buf = make([]byte, len(buf), 512)
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return nil, errPollTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// run is the session's GET loop; it hands every data message (Primus
// heartbeats answered here) to fn and returns when the session ends.
func (c *pollClient) run(first []byte, fn onMessage) {
	defer c.finish()
	if c.handle(first, fn) != nil {
		return
	}
	for c.ctx.Err() == nil {
		req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.url, nil)
		if err != nil {
			return
		}
		body, err := roundTrip(c.hc, req, c.rbuf)
		if err != nil {
			return
		}
		c.rbuf = body
		if c.polls != nil {
			c.polls.Add(1)
		}
		if c.handle(body, fn) != nil {
			return
		}
	}
}

// handle processes one poll response: EIO ping → pong, Primus ping → pong,
// close → end, messages → fn; noops and anything else are ignored.
func (c *pollClient) handle(payload []byte, fn onMessage) error {
	return proto.EachEIOPacket(payload, func(typ byte, data []byte) error {
		switch typ {
		case proto.EIOPing:
			return c.queue(proto.EIOPong, nil)
		case proto.EIOClose:
			return errPollClosed
		case proto.EIOMessage:
			if hb := c.p.Heartbeat(data); hb != nil {
				return c.queue(proto.EIOMessage, hb)
			}
			if fn != nil {
				fn(data)
			}
		}
		return nil
	})
}

// send queues one Primus message for the next POST.
func (c *pollClient) send(msg []byte) error { return c.queue(proto.EIOMessage, msg) }

func (c *pollClient) queue(typ byte, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return errPollClosed
	}
	if len(c.pending)+proto.EIOPacketLen(len(c.pending) > 0, data) > c.maxPost {
		return errPollBacklog
	}
	c.pending = proto.AppendEIOPacket(c.pending, typ, data)
	if !c.posting {
		c.posting = true
		c.flushes.Add(1)
		go c.flush()
	}
	return nil
}

// flush POSTs queued packets until none are left; a failed POST ends the
// session.
func (c *pollClient) flush() {
	defer c.flushes.Done()
	for {
		c.mu.Lock()
		if len(c.pending) == 0 || c.done {
			c.posting = false
			c.mu.Unlock()
			return
		}
		// A fresh buffer each time: the transport may still hold the old
		// body's reader when Do returns.
		body := c.pending
		c.pending = nil
		c.mu.Unlock()
		req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, c.url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
			// A POST found on a connection the server just closed as idle
			// may be retried: nothing of it reached the server.
			req.Header["X-Idempotency-Key"] = nil
			_, err = roundTrip(c.hc, req, nil)
		}
		if err != nil {
			c.mu.Lock()
			c.posting, c.done = false, true
			c.mu.Unlock()
			c.cancel()
			return
		}
	}
}

// finish ends the session once the GET loop has stopped.
func (c *pollClient) finish() {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
	c.cancel()
	c.flushes.Wait()
	c.closed.Store(true)
}

func (c *pollClient) close()                     { c.cancel() }
func (c *pollClient) isClosed() bool             { return c.closed.Load() }
func (c *pollClient) readyChan() <-chan struct{} { return c.ready }

// ProbePolling tries one polling handshake at addr and ends the session it
// opened (a close packet, best effort). It returns nil when the server speaks Engine.IO v4
// polling at /primus/, ErrNoPolling when it answers 404 or 426, or another
// error.
func ProbePolling(ctx context.Context, addr string) error {
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	c, _, err := openPoll(ctx, ctx, hc, addr, proto.Primus{}, nil)
	if err != nil {
		return err
	}
	defer c.cancel()
	// Best effort: a server that keeps the session anyway expires it after
	// its ping timeout.
	if req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader([]byte{proto.EIOClose})); err == nil {
		_, _ = roundTrip(hc, req, nil)
	}
	return nil
}
