package nats

import (
	"sync"

	"github.com/allspark/allspark"
)

// item is one received publication or message waiting for a node's handler.
type item struct {
	pub  *allspark.Publication // a publication, or
	from string                // a message from this node
	msg  []byte
	size int // bytes of the received NATS message it holds on to
}

// inbound is a node's queue between the broker's intake (which must never
// block, or one slow node would stall every subscription of the connection)
// and the goroutine that calls the node's handler. It is bounded both in
// items and in bytes; push refuses what does not fit and the caller counts
// the drop. Its ring grows on demand up to the item bound and is released
// when it drains, so an idle node holds nothing.
type inbound struct {
	mu       sync.Mutex
	ring     []item
	head, n  int
	bytes    int
	maxItems int
	maxBytes int
	wake     chan struct{} // one pending wake-up for the consumer
}

func newInbound(maxItems, maxBytes int) *inbound {
	return &inbound{maxItems: maxItems, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

// minRing is the ring's first size, and the size kept when it drains.
const minRing = 64

// push appends it, or reports false when the queue is full.
func (q *inbound) push(it item) bool {
	q.mu.Lock()
	if q.n >= q.maxItems || q.bytes+it.size > q.maxBytes {
		q.mu.Unlock()
		return false
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)%len(q.ring)] = it
	q.n++
	q.bytes += it.size
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *inbound) grow() {
	size := max(minRing, 2*len(q.ring))
	size = min(size, q.maxItems)
	ring := make([]item, size)
	for i := range q.n {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = ring, 0
}

// pop takes the oldest item.
func (q *inbound) pop() (item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		if len(q.ring) > minRing {
			q.ring, q.head = nil, 0 // release a burst's ring
		}
		return item{}, false
	}
	it := q.ring[q.head]
	q.ring[q.head] = item{}
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	q.bytes -= it.size
	return it, true
}

// len reports the queued items and bytes.
func (q *inbound) len() (items, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.bytes
}
