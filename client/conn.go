package client

import (
	"context"
	"errors"
	"net"
	"net/url"
	"time"

	"github.com/lxzan/gws"

	"github.com/allspark/allspark/internal/primus"
)

// connect is one connection attempt, and then the connection's reader: the
// only goroutine a client needs while it is open and idle.
func (c *Client) connect(ctx context.Context, cancel context.CancelFunc, gen uint64, query url.Values) {
	defer func() {
		cancel()
		c.mu.Lock()
		c.goroutineDoneLocked()
		c.mu.Unlock()
	}()

	pingTimeout, specErr := c.resolvePingTimeout(ctx)
	ws, raw, err := c.dial(ctx, &link{c: c, gen: gen}, query)

	c.mu.Lock()
	if gen != c.gen || c.destroyed {
		c.mu.Unlock()
		if raw != nil {
			_ = raw.Close()
		}
		return
	}
	if specErr != nil {
		c.emit(Event{Kind: EventError, Err: specErr})
	}
	if err != nil {
		c.connectFailedLocked(err)
		c.unlock()
		return
	}
	c.cancelAttempt = nil
	askID := c.openedLocked(ws, raw, pingTimeout)
	c.wmu.Lock()
	c.unlock()
	c.flush(ws, askID)
	ws.ReadLoop()
}

// openedLocked is Primus's incoming::open. It reports whether ID is waiting
// for an answer that must be asked on this connection.
func (c *Client) openedLocked(ws *gws.Conn, raw net.Conn, pingTimeout time.Duration) bool {
	if c.rec.active {
		a := c.rec.attempt(c.opts.Reconnect.Retries)
		c.rec.reset()
		c.emit(Event{Kind: EventReconnected, Attempt: a})
	}
	c.connecting = false
	c.connectTimer.stop()
	c.ws, c.raw = ws, raw
	c.state = Open
	c.pingTimeout = pingTimeout
	c.heartbeatLocked()
	c.idAsked = len(c.idWaiters) > 0
	c.notifyLocked()
	c.emit(Event{Kind: EventOpen})
	return c.idAsked
}

// connectFailedLocked is Primus's incoming::error during an attempt.
func (c *Client) connectFailedLocked(err error) {
	c.cancelAttempt = nil
	var auth *AuthError
	switch {
	case errors.As(err, &auth):
		// Refused credentials will be refused again: no reconnect loop.
		c.emit(Event{Kind: EventError, Err: err})
		c.endLocked(err)
	case c.rec.active:
		c.attemptFailedLocked(err)
	default:
		c.emit(Event{Kind: EventError, Err: err})
		if !c.opts.Strategy.has(StrategyTimeout) {
			c.endLocked(err)
			return
		}
		c.connecting = false
		c.connectTimer.stop()
		c.state = Closed
		c.reconnectLocked(err)
	}
}

// droppedLocked is Primus's incoming::end for an open connection: the
// connection is gone (reason says why). With "primus::server::close" the
// client ends; otherwise it reconnects if the strategy says so.
func (c *Client) droppedLocked(reason error) {
	if c.serverClose {
		c.endLocked(ErrServerClosed)
		c.rs.forget() // the server ended the spark, and its session with it
		return
	}
	c.lostLocked(reason, -1)
}

// lostLocked cuts the open connection and reconnects per StrategyDisconnect
// after delay (negative: the back-off's), or ends the client.
func (c *Client) lostLocked(reason error, delay time.Duration) {
	c.detachLocked(false)
	c.state = Closed
	c.notifyLocked()
	c.emit(Event{Kind: EventClose, Err: reason})
	if c.opts.Strategy.has(StrategyDisconnect) {
		c.scheduleLocked(reason, delay)
		return
	}
	c.finishLocked(reason)
	c.emit(Event{Kind: EventEnd, Err: reason})
}

// link receives one connection's events from gws, on its reader goroutine.
type link struct {
	c   *Client
	gen uint64
}

func (l *link) OnOpen(*gws.Conn) {}

func (l *link) OnClose(_ *gws.Conn, err error) {
	c := l.c
	c.mu.Lock()
	if l.gen != c.gen || c.destroyed {
		c.mu.Unlock()
		return
	}
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		err = &CloseError{Code: ce.Code, Reason: string(ce.Reason)}
	}
	c.droppedLocked(err)
	c.unlock()
}

func (l *link) OnPing(ws *gws.Conn, payload []byte) { _ = ws.WritePong(payload) }

func (l *link) OnPong(*gws.Conn, []byte) {}

// OnMessage decodes a frame and handles the protocol messages Primus's client
// knows (ping, id, server::close) and acks at once; data and named events
// are queued for their handlers, waiting for room first (backpressure.go).
func (l *link) OnMessage(ws *gws.Conn, m *gws.Message) {
	c := l.c
	size := max(len(m.Bytes()), 1)
	v, err := c.opts.Parser.Decode(m.Bytes(), m.Opcode == gws.OpcodeBinary)
	_ = m.Close()

	c.mu.Lock()
	if l.gen != c.gen || c.destroyed {
		c.mu.Unlock()
		return
	}
	if err != nil {
		c.queueEventLocked(l.gen, size, Event{Kind: EventError, Err: err})
		c.unlock()
		return
	}
	kind, value := primus.Parse(v)
	switch kind {
	case primus.Ping:
		c.heartbeatLocked()
		c.unlock()
		_ = c.writeControl(ws, primus.PongMessage(value))
		return
	case primus.ID:
		c.id = value
		for _, w := range c.idWaiters {
			w <- idResult{id: value}
		}
		c.idWaiters = nil
	case primus.Server:
		if value == "close" {
			c.serverClose = true
		}
	default: // data, including primus:: messages Primus does not know
		if m, ok := parseRecover(v); ok {
			c.recoverLocked(l.gen, size, m)
		} else {
			c.deliverLocked(l.gen, size, v)
		}
	}
	c.unlock()
}

// queueEventLocked queues ev, made of a message of connection gen, for
// OnEvent once there is room.
func (c *Client) queueEventLocked(gen uint64, size int, ev Event) {
	ok, over := c.admitLocked(gen)
	if !ok {
		return
	}
	c.emitSized(ev, size)
	if over {
		c.overflowLocked()
	}
}
