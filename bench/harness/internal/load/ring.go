package load

import (
	"sync"
	"sync/atomic"
)

const ringSize = 1 << 16

// ring tracks deliveries per published message (by sequence number modulo
// ringSize) and wakes the publisher whose message just became complete.
type ring struct {
	next  atomic.Uint64
	slots [ringSize]slot

	mu    sync.Mutex
	wakes map[int]chan struct{}
}

type slot struct {
	seq   atomic.Uint64
	count atomic.Int32
	need  atomic.Int32
	pub   atomic.Int32
}

// start allocates the next sequence number for publisher pub, complete after
// need deliveries.
func (r *ring) start(pub int, need int32) uint64 {
	seq := r.next.Add(1)
	s := &r.slots[seq%ringSize]
	s.need.Store(0) // no wake-ups while the slot is being reset
	s.count.Store(0)
	s.pub.Store(int32(pub))
	s.seq.Store(seq)
	s.need.Store(need)
	return seq
}

// add counts one delivery of seq and wakes its publisher when it completes.
func (r *ring) add(seq uint64) {
	s := &r.slots[seq%ringSize]
	if s.seq.Load() != seq {
		return // a delivery of a message long retired
	}
	n := s.count.Add(1)
	if need := s.need.Load(); need > 0 && n == need {
		r.mu.Lock()
		ch := r.wakes[int(s.pub.Load())]
		r.mu.Unlock()
		if ch != nil {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

func (r *ring) complete(seq uint64) bool {
	s := &r.slots[seq%ringSize]
	return s.seq.Load() != seq || s.count.Load() >= s.need.Load()
}

func (r *ring) subscribe(pub int) <-chan struct{} {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wakes == nil {
		r.wakes = map[int]chan struct{}{}
	}
	r.wakes[pub] = ch
	return ch
}

func (r *ring) unsubscribe(pub int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.wakes, pub)
}
