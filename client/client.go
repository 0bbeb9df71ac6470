package client

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// Client is a Primus client connection that reconnects by itself. Create it
// with New or Dial. All methods are safe for concurrent use, including from
// the OnEvent handler.
type Client struct {
	opts     resolved
	target   target
	attempts atomic.Uint64 // dials so far, for the cache buster

	// wmu serializes data writes on the open socket, so writes queued while
	// not open reach the socket before any Write made after EventOpen.
	wmu sync.Mutex
	// qmu guards queue; it is the innermost lock, so a writer holding wmu
	// can put back a frame the socket refused.
	qmu   sync.Mutex
	queue queue

	mu        sync.Mutex
	state     ReadyState
	destroyed bool
	ended     bool          // End (or an end the client reached) since the last Open
	endErr    error         // why the client last ended
	endSeq    uint64        // counts ends, for Open's waiters
	changed   chan struct{} // closed and replaced when state, ended or destroyed change

	gen           uint64             // connection attempt generation; callbacks of older ones are ignored
	cancelAttempt context.CancelFunc // aborts the attempt in flight
	ws            *gws.Conn          // the open connection
	raw           net.Conn           // its socket
	serverClose   bool               // "primus::server::close" arrived on ws
	connecting    bool               // the first connection since Open is in progress
	connectTimer  timer              // Options.Timeout for it

	rec recovery     // reconnection (backoff.go)
	rs  recoverState // session and room positions (recover.go)

	watchdog    timer
	pingTimeout time.Duration // the open connection's watchdog; 0 = none
	spec        specState

	id        string // spark id of the open connection, once asked
	idWaiters []chan idResult
	idAsked   bool // "primus::id::" went out on the open connection

	events      []queuedEvent
	dispatching bool

	in   inbound   // received messages waiting for handlers (backpressure.go)
	room sync.Cond // on mu: signalled when a paused reader may go on

	handlers map[string]NamedHandler // named-event handlers
	acks     map[uint64]pendingAck   // EmitWithAck requests waiting for a reply
	ackSeq   uint64                  // last request id
	calls    []inboundCall           // named events waiting for their handlers
	calling  bool                    // a handler goroutine runs
	ctx      context.Context         // handlers' context, cancelled by Destroy
	cancel   context.CancelFunc

	goroutines int           // dispatcher and connection goroutines running
	done       chan struct{} // closed when destroyed and goroutines == 0
	post       []func()      // run by unlock after mu is released
}

// New returns a client for rawURL (ws, wss, http or https; userinfo becomes
// Basic authorization). Unless opts.Manual is set it starts connecting at
// once, in the background; watch it with Options.OnEvent or wait with Open.
// New fails only on an invalid URL.
func New(rawURL string, opts Options) (*Client, error) {
	o := opts.withDefaults()
	t, err := parseTarget(rawURL, o)
	if err != nil {
		return nil, err
	}
	c := &Client{
		opts:    o,
		target:  t,
		state:   Closed,
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	c.room.L = &c.mu
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if !o.Manual {
		c.mu.Lock()
		c.openLocked()
		c.unlock()
	}
	return c, nil
}

// Dial creates a client and waits until it is open. ctx bounds only that
// wait (which includes the reconnection attempts the strategy allows); on
// failure the client is destroyed and the reason returned: an *AuthError,
// ErrConnectTimeout, an error wrapping ErrReconnectFailed, ctx's error, ...
func Dial(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	opts.Manual = true
	c, err := New(rawURL, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Open(ctx); err != nil {
		c.Destroy()
		return nil, err
	}
	return c, nil
}

// Open starts connecting if the client is idle (new with Manual, or ended)
// and waits until it is open. It returns nil once open, the reason if the
// client ends first, or ctx's error; in the last case the client keeps
// trying in the background.
func (c *Client) Open(ctx context.Context) error {
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		return ErrDestroyed
	}
	if c.state == Open {
		c.mu.Unlock()
		return nil
	}
	if c.state == Closed && !c.rec.active {
		c.ended, c.endErr = false, nil
		c.openLocked()
	}
	seq := c.endSeq
	for {
		ch := c.changed
		c.unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
		switch {
		case c.destroyed:
			c.mu.Unlock()
			return ErrDestroyed
		case c.state == Open:
			c.mu.Unlock()
			return nil
		case c.endSeq != seq:
			err := c.endErr
			c.mu.Unlock()
			if err == nil {
				err = ErrClosed
			}
			return err
		}
	}
}

// End closes the connection and stops reconnecting (Primus's end). data, if
// not nil, is written first. EventClose (when a connection was open or
// opening) and EventEnd follow. The client can be opened again with Open.
func (c *Client) End(data any) {
	if data != nil {
		_ = c.Write(data)
	}
	c.mu.Lock()
	open := c.state == Open && c.rs.token != ""
	c.mu.Unlock()
	if open {
		// A transport close is not an end (a resync closes too): this
		// tells the server to end the session for good.
		_ = c.Write(endEnvelope)
	}
	c.mu.Lock()
	if !c.destroyed {
		c.endLocked(nil)
		c.rs.forget() // the server ends the session for good on a clean end
	}
	c.unlock()
}

// Destroy ends the client for good: the connection is closed, timers stop,
// queued writes are discarded, and the remaining events (EventClose,
// EventEnd) are delivered before the client's goroutines exit. Done is
// closed then. Destroy does not wait, so it may be called from OnEvent.
func (c *Client) Destroy() {
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		return
	}
	c.endLocked(ErrDestroyed)
	c.destroyed = true
	c.cancel()
	c.qmu.Lock()
	c.queue.reset()
	c.qmu.Unlock()
	c.notifyLocked()
	if c.goroutines == 0 {
		close(c.done)
	}
	c.unlock()
}

// Done is closed after Destroy once every goroutine of the client has
// returned and every event has been delivered.
func (c *Client) Done() <-chan struct{} { return c.done }

// ReadyState reports Opening, Open or Closed.
func (c *Client) ReadyState() ReadyState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// openLocked is Primus's open(): start the connect timer for a first
// connection, then an attempt.
func (c *Client) openLocked() {
	if !c.rec.active {
		c.connecting = true
		if c.opts.Timeout > 0 {
			c.arm(&c.connectTimer, c.opts.Timeout, c.connectTimedOut)
		}
	}
	c.startAttemptLocked()
}

// startAttemptLocked drops whatever connection or attempt exists and dials
// anew on a goroutine that then becomes the connection's reader.
func (c *Client) startAttemptLocked() {
	c.detachLocked(true)
	c.state = Opening
	c.gen++
	ctx, cancel := context.WithCancel(context.Background())
	c.cancelAttempt = cancel
	c.goroutines++
	go c.connect(ctx, cancel, c.gen, c.recoverQueryLocked())
}

// connectTimedOut runs when the first connection is not open within
// Options.Timeout (Primus's 'connect' timer).
func (c *Client) connectTimedOut() {
	if c.state == Open || c.rec.active {
		return
	}
	c.emit(Event{Kind: EventTimeout, Err: ErrConnectTimeout})
	if !c.opts.Strategy.has(StrategyTimeout) {
		c.endLocked(ErrConnectTimeout)
		return
	}
	c.connecting = false
	c.detachLocked(false)
	c.state = Closed
	c.reconnectLocked(ErrConnectTimeout)
}

// endLocked is Primus's end(): stop everything, emit close (if a connection
// was open or opening) and end. reason is what EventClose, EventEnd and
// Open's waiters report.
func (c *Client) endLocked(reason error) {
	active := c.state != Closed || c.connecting
	reconnecting := c.rec.active
	c.stopLocked()
	c.detachLocked(true)
	c.state = Closed
	if !active && !reconnecting {
		if !c.ended {
			c.ended, c.endErr = true, reason
			c.failIDWaitersLocked(reason)
			c.notifyLocked()
		}
		return
	}
	c.finishLocked(reason)
	if active {
		c.emit(Event{Kind: EventClose, Err: reason})
	}
	c.emit(Event{Kind: EventEnd, Err: reason})
}

// finishLocked records an end for Open's waiters and fails ID's.
func (c *Client) finishLocked(reason error) {
	c.ended, c.endErr = true, reason
	c.endSeq++
	c.failIDWaitersLocked(reason)
	c.notifyLocked()
}

// failIDWaitersLocked answers every ID call still waiting with reason (or
// ErrClosed).
func (c *Client) failIDWaitersLocked(reason error) {
	if reason == nil {
		reason = ErrClosed
	}
	for _, w := range c.idWaiters {
		w <- idResult{err: reason}
	}
	c.idWaiters = nil
}

// stopLocked stops every timer and the reconnection procedure.
func (c *Client) stopLocked() {
	c.connecting = false
	c.connectTimer.stop()
	c.watchdog.stop()
	c.rec.reset()
}

// detachLocked forgets the current connection or attempt (Primus's
// outgoing::end): the attempt is cancelled; an open socket is closed after mu
// is released, with a close frame when graceful, else cut.
func (c *Client) detachLocked(graceful bool) {
	c.failAcksLocked(c.gen)
	c.gen++ // callbacks of the old connection become stale
	c.wakeReaderLocked()
	if c.cancelAttempt != nil {
		c.cancelAttempt()
		c.cancelAttempt = nil
	}
	c.watchdog.stop()
	c.serverClose = false
	c.id, c.idAsked = "", false
	ws, raw := c.ws, c.raw
	c.ws, c.raw = nil, nil
	if ws == nil {
		return
	}
	if graceful {
		c.post = append(c.post, func() { closeGracefully(ws, raw) })
	} else {
		c.post = append(c.post, func() { _ = raw.Close() })
	}
}

// closeTimeout bounds the close frame of a graceful close.
const closeTimeout = time.Second

func closeGracefully(ws *gws.Conn, raw net.Conn) {
	_ = raw.SetWriteDeadline(time.Now().Add(closeTimeout))
	_ = ws.WriteClose(1000, nil)
	_ = raw.Close()
}

// notifyLocked wakes Open's waiters.
func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// unlock releases mu and then runs the actions queued meanwhile (socket
// closes), which must not run under mu.
func (c *Client) unlock() {
	post := c.post
	c.post = nil
	c.mu.Unlock()
	for _, fn := range post {
		fn()
	}
}

// goroutineDoneLocked accounts for a goroutine about to return.
func (c *Client) goroutineDoneLocked() {
	c.goroutines--
	if c.goroutines == 0 && c.destroyed {
		close(c.done)
	}
}
