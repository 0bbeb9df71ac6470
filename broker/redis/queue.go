package redis

import (
	"sync"

	"github.com/allspark/allspark"
)

// item is one delivery waiting for a node's handler: a publication, or a
// message from another node.
type item struct {
	pub  *allspark.Publication
	from string
	msg  []byte
}

// inbound is a node's bounded queue between the PUB/SUB reader, which must
// never wait for a handler, and the one goroutine that calls the handler.
// It grows with what is queued (up to limit items), not ahead of it, so an
// idle node costs nothing.
type inbound struct {
	mu     sync.Mutex
	items  []item // FIFO: items[head:]
	head   int
	limit  int
	closed bool
	ready  chan struct{} // one token: items were added
}

func newInbound(limit int) *inbound {
	return &inbound{limit: limit, ready: make(chan struct{}, 1)}
}

// push queues it and reports false when the queue is full (the item is
// dropped). After close, items are discarded silently: the node is gone.
func (q *inbound) push(it item) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return true
	}
	if len(q.items)-q.head >= q.limit {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Reuse the consumed front before growing.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take moves every queued item into buf (reset) and returns it; it returns
// nil when the queue is closed, and blocks on stop otherwise when empty.
func (q *inbound) take(buf []item, stop <-chan struct{}) []item {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil
		}
		if n := len(q.items) - q.head; n > 0 {
			// Take at most a bounded batch so the handed-over slice stays
			// small; the rest stays counted against the limit.
			n = min(n, 256)
			buf = append(buf[:0], q.items[q.head:q.head+n]...)
			clear(q.items[q.head : q.head+n])
			q.head += n
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
				if cap(q.items) > 4096 {
					// Let a burst's backing array go.
					q.items = nil
				}
			}
			q.mu.Unlock()
			return buf
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-stop:
			return nil
		}
	}
}

// len is the number of items waiting.
func (q *inbound) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

func (q *inbound) close() {
	q.mu.Lock()
	q.closed = true
	q.items, q.head = nil, 0
	q.mu.Unlock()
}
