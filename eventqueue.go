package allspark

import (
	"sync"
	"sync/atomic"
)

// Inbound bounds: what a spark holds for its handlers, either behind running
// OnConnection hooks (Spark.pending) or behind a running event handler (the
// event queue). Each is bounded separately by count and by payload bytes,
// whichever is reached first; an empty queue always takes one message, so a
// message up to MaxLength always gets through.
//
// Reaching the soft bound makes the connection's reader wait, which stops
// reading from the socket: back-pressure through TCP on a client that sends
// faster than its handlers run, instead of unbounded memory or dropped
// messages. While one of the spark's handlers awaits an EmitWithAck reply the
// reader must keep reading (the reply, and the pongs that keep the heartbeat
// happy, are behind the events), so it queues up to the hard bound instead;
// past that the spark is ended with reconnect and ErrEventQueueFull reported.
const (
	maxQueuedEvents = 256     // soft bound, messages
	maxQueuedBytes  = 1 << 20 // soft bound, payload bytes
	overflowFactor  = 4       // hard bound = overflowFactor × soft bound
)

// admission is what an inbound queue does with one more message.
type admission uint8

const (
	admitQueue    admission = iota // room: queue it
	admitWait                      // full: the reader waits for room
	admitOverflow                  // past the hard bound: end the spark
)

// admitInbound applies the inbound bounds to a queue holding n messages of
// size payload bytes. awaitingAck: a handler of the spark awaits a reply.
func admitInbound(n, size int, awaitingAck bool) admission {
	if n == 0 || (n < maxQueuedEvents && size < maxQueuedBytes) {
		return admitQueue
	}
	if !awaitingAck {
		return admitWait
	}
	if n < overflowFactor*maxQueuedEvents && size < overflowFactor*maxQueuedBytes {
		return admitQueue
	}
	return admitOverflow
}

// inboundEvent is a named event for its handler or, when data (non-nil
// handlers in onData) arrived while events were still queued, a data message
// kept in line behind them. size is the payload length of its frame.
type inboundEvent struct {
	h      EventHandler
	ev     Event
	data   any
	onData []func(any)
	size   int
}

// eventQueue runs a spark's event handlers one at a time, in order, on a
// goroutine started when events arrive and ended when none are left, so an
// idle spark costs no goroutine.
type eventQueue struct {
	mu      sync.Mutex
	items   []inboundEvent
	bytes   int // payload bytes of items
	running bool
	// busy mirrors running for put's lock-free check: only the reader adds
	// items, so when it reads busy false no event is pending.
	busy atomic.Bool
	// space is closed when the reader waiting for room may look again: an
	// item was taken, or an EmitWithAck started (see wake).
	space chan struct{}
}

// put adds an item, starting the worker if needed, within the inbound
// bounds: it blocks while the queue is full, and returns early if the spark
// ends. With onlyIfBusy (data, which needs the queue only to keep its place
// behind events) it adds nothing and reports false when no event is pending:
// then the caller delivers the data at once. Otherwise it reports true: the
// item was queued, or dropped because the spark ended or overflowed.
func (q *eventQueue) put(s *Spark, in inboundEvent, onlyIfBusy bool) bool {
	if onlyIfBusy && !q.busy.Load() {
		return false // the common case: a data message costs no lock
	}
	for {
		q.mu.Lock()
		if onlyIfBusy && !q.running {
			q.mu.Unlock()
			return false
		}
		// ackCount is read under q.mu, after which wake (which takes q.mu)
		// cannot be missed: a reply awaited from now on closes space.
		switch admitInbound(len(q.items), q.bytes, s.ackCount.Load() > 0) {
		case admitWait:
			if q.space == nil {
				q.space = make(chan struct{})
			}
			wait := q.space
			q.mu.Unlock()
			select {
			case <-wait:
			case <-s.Context().Done():
				return true
			}
			continue
		case admitOverflow:
			q.mu.Unlock()
			s.overflow()
			return true
		}
		q.items = append(q.items, in)
		q.bytes += in.size
		start := !q.running
		q.running = true
		q.busy.Store(true)
		q.mu.Unlock()
		if start {
			s.server.active.add()
			go q.work(s)
		}
		return true
	}
}

// wake lets a reader waiting for room look again; EmitWithAck calls it so a
// reader blocked before the request started switches to the hard bound.
func (q *eventQueue) wake() {
	q.mu.Lock()
	q.wakeLocked()
	q.mu.Unlock()
}

func (q *eventQueue) wakeLocked() {
	if q.space != nil {
		close(q.space)
		q.space = nil
	}
}

func (q *eventQueue) work(s *Spark) {
	defer s.server.active.done()
	for {
		q.mu.Lock()
		if len(q.items) == 0 || s.ReadyState() == Closed {
			q.items, q.running, q.bytes = nil, false, 0
			q.busy.Store(false)
			q.wakeLocked()
			q.mu.Unlock()
			return
		}
		in := q.items[0]
		q.items[0] = inboundEvent{}
		q.items = q.items[1:]
		q.bytes -= in.size
		q.wakeLocked()
		q.mu.Unlock()
		if in.onData != nil {
			for _, fn := range in.onData {
				fn(in.data)
			}
			continue
		}
		s.runHandler(&in)
	}
}
