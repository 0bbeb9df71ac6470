package client

// frame is one encoded write. data is kept to report a drop.
type frame struct {
	payload []byte
	binary  bool
	data    any
}

// queue holds writes made while the client is not open, oldest first, and
// drops the oldest when it is full (Primus's queueSize). Guarded by
// Client.qmu.
type queue struct {
	frames []frame
	head   int // frames[head:] are pending
}

func (q *queue) len() int { return len(q.frames) - q.head }

// push appends f, dropping from the front to stay within limit (negative =
// unbounded). It returns the dropped frames.
func (q *queue) push(f frame, limit int) (dropped []frame) {
	for limit > 0 && q.len() >= limit {
		dropped = append(dropped, q.frames[q.head])
		q.frames[q.head] = frame{}
		q.head++
	}
	if q.head > 0 && q.head == len(q.frames) {
		q.frames, q.head = q.frames[:0], 0
	}
	q.frames = append(q.frames, f)
	return dropped
}

// pushFront puts frames back before the pending ones (a flush the socket
// refused), then trims from the front to stay within limit.
func (q *queue) pushFront(fs []frame, limit int) (dropped []frame) {
	if len(fs) == 0 {
		return nil
	}
	rest := q.frames[q.head:]
	all := make([]frame, 0, len(fs)+len(rest))
	all = append(append(all, fs...), rest...)
	q.frames, q.head = all, 0
	for limit > 0 && q.len() > limit {
		dropped = append(dropped, q.frames[q.head])
		q.frames[q.head] = frame{}
		q.head++
	}
	return dropped
}

// take removes and returns every pending frame.
func (q *queue) take() []frame {
	if q.len() == 0 {
		q.reset()
		return nil
	}
	out := q.frames[q.head:]
	q.frames, q.head = nil, 0
	return out
}

func (q *queue) reset() { q.frames, q.head = nil, 0 }
