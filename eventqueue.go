package allspark

import (
	"sync"
	"sync/atomic"
)

// maxQueuedEvents bounds the events waiting for a spark's handlers. When it
// is reached the connection's reader waits, which stops reading from the
// socket: back-pressure on a client that sends faster than its handlers run,
// instead of unbounded memory or dropped events.
const maxQueuedEvents = 256

// inboundEvent is a named event for its handler or, when data (non-nil
// handlers in onData) arrived while events were still queued, a data message
// kept in line behind them.
type inboundEvent struct {
	h      EventHandler
	ev     Event
	data   any
	onData []func(any)
}

// eventQueue runs a spark's event handlers one at a time, in order, on a
// goroutine started when events arrive and ended when none are left, so an
// idle spark costs no goroutine.
type eventQueue struct {
	mu      sync.Mutex
	items   []inboundEvent
	running bool
	// busy mirrors running for appendIfBusy's lock-free check: only the
	// reader adds items, so when it reads busy false no event is pending.
	busy  atomic.Bool
	space chan struct{} // closed when an item is taken while the reader waits
}

// enqueue adds an event, starting the worker if needed; it blocks while the
// queue is full and returns early if the spark ends.
func (q *eventQueue) enqueue(s *Spark, in inboundEvent) {
	for {
		q.mu.Lock()
		if len(q.items) < maxQueuedEvents {
			q.items = append(q.items, in)
			start := !q.running
			q.running = true
			q.busy.Store(true)
			q.mu.Unlock()
			if start {
				s.server.active.add()
				go q.work(s)
			}
			return
		}
		if q.space == nil {
			q.space = make(chan struct{})
		}
		wait := q.space
		q.mu.Unlock()
		select {
		case <-wait:
		case <-s.ctx.Done():
			return
		}
	}
}

// appendIfBusy queues a data message behind pending events, so data and
// events are handled in the order they arrived. It reports false when no
// event is pending: then the caller delivers the data at once.
func (q *eventQueue) appendIfBusy(in inboundEvent) bool {
	if !q.busy.Load() {
		return false // the common case: a data message costs no lock
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.running {
		return false
	}
	q.items = append(q.items, in)
	return true
}

func (q *eventQueue) work(s *Spark) {
	defer s.server.active.done()
	for {
		q.mu.Lock()
		if len(q.items) == 0 || s.ReadyState() == Closed {
			q.items, q.running = nil, false
			q.busy.Store(false)
			q.mu.Unlock()
			return
		}
		in := q.items[0]
		q.items[0] = inboundEvent{}
		q.items = q.items[1:]
		if q.space != nil {
			close(q.space)
			q.space = nil
		}
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
