package client

import (
	"net"
	"time"

	"github.com/lxzan/gws"
)

// Flow control of received messages (Options.MaxQueuedEvents).
//
// The reader goroutine (gws's ReadLoop, calling link.OnMessage) hands every
// message meant for a handler to a queue: EventData and reader-made
// EventError go to Client.events for OnEvent, named events to Client.calls.
// Both are counted in inbound. When the count or the bytes reach the bound,
// OnMessage waits on Client.room before queueing, which stops gws from
// reading and lets TCP push back on the server. Control messages (pings, id
// answers, server::close, acks) never wait: they are not queued.
//
// A paused reader cannot see pings, nor the replies that handlers may be
// waiting for, so:
//   - the watchdog is stopped while paused (a slow handler is not a dead
//     server) and re-armed in full when reading resumes;
//   - WebSocket pings go out while paused, which the server's heartbeat
//     counts as pongs, so the server does not cut the client either;
//   - while any request awaits a reply (EmitWithAck, ID), the reader does
//     not pause: a handler blocked on that reply could otherwise never be
//     unblocked. It reads on up to OverflowFactor times the bounds and then
//     closes the connection with ErrEventOverflow.

// inbound counts what the reader queued for handlers and has not been
// handled yet. Guarded by Client.mu.
type inbound struct {
	n         int    // messages
	bytes     int    // their wire size
	pausedGen uint64 // the connection whose reader waits for room; 0 = none
	keepalive timer  // WebSocket pings while paused
}

// queuedEvent is an event waiting for OnEvent; size > 0 marks one the reader
// counted in inbound (a message's wire size, at least 1).
type queuedEvent struct {
	Event
	size    int
	session *RecoveryInfo // set: for OnSession instead of OnEvent
}

// keepaliveUnknown is the ping period while paused when the server's ping
// interval is unknown (watchdog off): well within Primus's default 30 s.
const keepaliveUnknown = 5 * time.Second

// fullLocked reports whether one more message would exceed the bounds. A
// message always fits in an empty queue.
func (c *Client) fullLocked() bool {
	in := &c.in
	return in.n >= c.opts.MaxQueuedEvents || (in.n > 0 && in.bytes >= c.opts.MaxQueuedBytes)
}

// roomLocked reports whether a paused reader may resume: the handlers have
// worked the queue down to half the bounds, so the reader is not woken for
// every single message handled.
func (c *Client) roomLocked() bool {
	return c.in.n <= c.opts.MaxQueuedEvents/2 && c.in.bytes <= c.opts.MaxQueuedBytes/2
}

// overflowingLocked reports whether the queue has reached the hard limit a
// reader with an outstanding request may fill.
func (c *Client) overflowingLocked() bool {
	return c.in.n >= OverflowFactor*c.opts.MaxQueuedEvents || c.in.bytes >= OverflowFactor*c.opts.MaxQueuedBytes
}

// awaitingLocked reports whether a request awaits a reply on the open
// connection (acks of older connections are failed when they close).
func (c *Client) awaitingLocked() bool { return len(c.acks) > 0 || len(c.idWaiters) > 0 }

// admitLocked makes room for a message of connection gen about to be queued
// for a handler, waiting (mu released) while the queue is full and no
// request awaits a reply. ok is false if the connection was dropped or the
// client destroyed meanwhile: the message is then discarded with its
// connection. over means the caller must queue the message and then call
// overflowLocked.
func (c *Client) admitLocked(gen uint64) (ok, over bool) {
	for c.fullLocked() {
		if c.awaitingLocked() {
			return true, c.overflowingLocked()
		}
		c.pauseLocked(gen)
		for !c.roomLocked() && !c.awaitingLocked() && gen == c.gen && !c.destroyed {
			c.room.Wait()
		}
		c.resumeLocked(gen)
		if gen != c.gen || c.destroyed {
			return false, false
		}
	}
	return true, false
}

// countLocked records a queued message of size wire bytes.
func (c *Client) countLocked(size int) {
	c.in.n++
	c.in.bytes += size
}

// releaseLocked records that a counted message was handled (or discarded)
// and wakes a paused reader once there is room.
func (c *Client) releaseLocked(size int) {
	c.in.n--
	c.in.bytes -= size
	if c.in.pausedGen != 0 && c.roomLocked() {
		c.room.Broadcast()
	}
}

// wakeReaderLocked makes a paused reader re-check its conditions: a request
// now awaits a reply, or its connection is going away.
func (c *Client) wakeReaderLocked() {
	if c.in.pausedGen != 0 {
		c.room.Broadcast()
	}
}

// pauseLocked is entered by the reader of connection gen before it waits
// for room: no watchdog (it could not see pings), and WebSocket pings to
// keep the server's heartbeat content, the first one at once (the last ping
// the server sent may be unread in the socket for a while already).
func (c *Client) pauseLocked(gen uint64) {
	c.in.pausedGen = gen
	c.watchdog.stop()
	var period time.Duration
	switch {
	case c.pingTimeout > 0:
		// 1.5 × the server's interval by default: ping twice per interval.
		period = max(c.pingTimeout/3, 10*time.Millisecond)
	case c.opts.PingTimeout == 0 && c.spec.known:
		return // the spec says the server does not ping: no heartbeat to feed
	default:
		period = keepaliveUnknown
	}
	var ping func()
	ping = func() {
		if gen != c.gen || c.in.pausedGen != gen || c.ws == nil {
			return
		}
		ws := c.ws
		c.post = append(c.post, func() { _ = ws.WritePing(nil) })
		c.arm(&c.in.keepalive, period, ping)
	}
	c.arm(&c.in.keepalive, 0, ping)
}

// resumeLocked ends connection gen's pause: the keepalive stops and, if the
// connection is still the open one, the watchdog gets a full PingTimeout
// from now, as the pings queued in the socket are about to be read.
func (c *Client) resumeLocked(gen uint64) {
	if c.in.pausedGen != gen {
		return // a newer connection's reader paused since
	}
	c.in.pausedGen = 0
	c.in.keepalive.stop()
	if gen == c.gen && c.state == Open {
		c.heartbeatLocked()
	}
}

// overflowCode is the close code sent with ErrEventOverflow: policy
// violation, the server sent more than the client accepts to hold.
const overflowCode = 1008

// overflowLocked closes the open connection because the queue reached the
// hard limit: a close frame with overflowCode, then EventClose with
// ErrEventOverflow, handled as an unexpected drop (reconnect per Strategy).
// Messages already queued are still delivered.
func (c *Client) overflowLocked() {
	ws, raw := c.ws, c.raw
	c.ws, c.raw = nil, nil // closed here, with our code, not by detachLocked
	if ws != nil {
		c.post = append(c.post, func() { closeWith(ws, raw, overflowCode, "handler queue overflow") })
	}
	c.droppedLocked(ErrEventOverflow)
}

// closeWith sends a close frame (bounded by closeTimeout) and closes raw.
func closeWith(ws *gws.Conn, raw net.Conn, code uint16, reason string) {
	_ = raw.SetWriteDeadline(time.Now().Add(closeTimeout))
	_ = ws.WriteClose(code, []byte(reason))
	_ = raw.Close()
}
