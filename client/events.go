package client

import (
	"fmt"
	"time"
)

// EventKind names an event. String returns Primus's event name.
type EventKind uint8

const (
	// EventOpen: the connection is open (after EventReconnected when it is
	// a reconnection). Writes queued while not open have been handed to the
	// socket before any later Write.
	EventOpen EventKind = iota + 1
	// EventData: a message from the server; Data holds the decoded value
	// (parser.Binary for a binary frame with the JSON parser).
	EventData
	// EventError: Err is a failed first connection attempt (including an
	// *AuthError), an undecodable message (*parser.Error), or
	// ErrParserMismatch. Failed reconnection attempts are not errors; they
	// show in the next EventReconnectScheduled's Err.
	EventError
	// EventReconnectScheduled: a reconnection attempt will start after
	// Attempt.Delay. Err is what caused it (the drop or the failed attempt).
	EventReconnectScheduled
	// EventReconnect: attempt Attempt.N starts now.
	EventReconnect
	// EventReconnected: the attempt succeeded; EventOpen follows.
	EventReconnected
	// EventReconnectTimeout: the attempt did not open within
	// ReconnectOptions.Timeout (Err is ErrReconnectTimeout); the next one is
	// scheduled.
	EventReconnectTimeout
	// EventReconnectFailed: retries are exhausted; it follows EventEnd. Err
	// wraps ErrReconnectFailed and the last attempt's error.
	EventReconnectFailed
	// EventTimeout: the first connection did not open within
	// Options.Timeout (Err is ErrConnectTimeout).
	EventTimeout
	// EventDrop: a write held while not open was dropped because the queue
	// was full. Data is the dropped value, Err is ErrQueueFull. (Not a Primus
	// event: Primus drops silently.)
	EventDrop
	// EventClose: the connection closed. Err says why: nil after End, a
	// *CloseError or network error for a drop, ErrPingTimeout,
	// ErrEventOverflow (see Options.MaxQueuedEvents), ErrServerClosed, or
	// ErrResync (the client cut it to recover missed messages).
	EventClose
	// EventEnd: the client has ended and will not reconnect by itself. Err
	// says why (nil after End).
	EventEnd
)

var eventNames = [...]string{
	EventOpen:               "open",
	EventData:               "data",
	EventError:              "error",
	EventReconnectScheduled: "reconnect scheduled",
	EventReconnect:          "reconnect",
	EventReconnected:        "reconnected",
	EventReconnectTimeout:   "reconnect timeout",
	EventReconnectFailed:    "reconnect failed",
	EventTimeout:            "timeout",
	EventDrop:               "drop",
	EventClose:              "close",
	EventEnd:                "end",
}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Event is one thing that happened to a client. Which fields are set depends
// on Kind; see the EventKind constants.
type Event struct {
	Kind    EventKind
	Data    any     // EventData, EventDrop
	Err     error   // see the EventKind constants
	Attempt Attempt // the EventReconnect* kinds
}

// String describes the event for logs, e.g. "reconnect scheduled (attempt
// 2/10 in 1.3s): <cause>".
func (e Event) String() string {
	s := e.Kind.String()
	switch e.Kind {
	case EventData, EventDrop:
		s += fmt.Sprintf(" %v", e.Data)
	case EventReconnectScheduled, EventReconnect, EventReconnected, EventReconnectTimeout, EventReconnectFailed:
		s += fmt.Sprintf(" (attempt %d/%d in %v)", e.Attempt.N, e.Attempt.Retries, e.Attempt.Delay)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Attempt describes a reconnection attempt, as Primus's recovery options
// object does.
type Attempt struct {
	N       int           // attempt number, from 1
	Retries int           // attempts allowed; Unlimited for no limit
	Delay   time.Duration // back-off waited before attempt N (delay(N))
	Elapsed time.Duration // since the connection was lost, when the event was emitted
}

// emit queues ev for the OnEvent handler and makes sure a dispatcher runs.
// c.mu must be held, which is what makes the delivery order the order of
// the state changes. After Destroy nothing more is queued.
func (c *Client) emit(ev Event) { c.emitSized(ev, 0) }

// emitSized is emit for an event made of a received message of size wire
// bytes (size > 0), which counts against Options.MaxQueuedEvents until
// OnEvent returns. The caller has admitted it (admitLocked).
func (c *Client) emitSized(ev Event, size int) {
	if c.opts.OnEvent == nil || c.destroyed {
		return
	}
	c.queueLocked(queuedEvent{Event: ev, size: size})
}

// sessionEventLocked queues a session envelope of connection gen (a
// message of size wire bytes) for OnSession once there is room: counted like
// data, so a server cannot pile them up either.
func (c *Client) sessionEventLocked(gen uint64, size int, info RecoveryInfo) {
	if c.opts.OnSession == nil || c.destroyed {
		return
	}
	ok, over := c.admitLocked(gen)
	if !ok {
		return
	}
	c.queueLocked(queuedEvent{size: size, session: &info})
	if over {
		c.overflowLocked()
	}
}

// queueLocked appends qe to the events for the dispatcher.
func (c *Client) queueLocked(qe queuedEvent) {
	if qe.size > 0 {
		c.countLocked(qe.size)
	}
	c.events = append(c.events, qe)
	if !c.dispatching {
		c.dispatching = true
		c.goroutines++
		go c.dispatch()
	}
}

// dispatch delivers queued events one at a time and exits when none are
// left, so an idle or ended client has no dispatcher goroutine.
func (c *Client) dispatch() {
	var batch []queuedEvent
	for {
		c.mu.Lock()
		if len(c.events) == 0 {
			c.dispatching = false
			if cap(c.events) > retainEvents {
				c.events = nil
			}
			c.goroutineDoneLocked()
			c.mu.Unlock()
			return
		}
		batch, c.events = c.events, batch[:0]
		c.mu.Unlock()
		for i := range batch {
			if s := batch[i].session; s != nil {
				c.opts.OnSession(*s)
			} else {
				c.opts.OnEvent(batch[i].Event)
			}
			if size := batch[i].size; size > 0 {
				c.mu.Lock()
				c.releaseLocked(size)
				c.mu.Unlock()
			}
			batch[i] = queuedEvent{}
		}
	}
}

// retainEvents bounds the event slice capacity an idle client keeps.
const retainEvents = 256
