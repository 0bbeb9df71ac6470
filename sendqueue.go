package allspark

import (
	"sync"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// frame is one encoded message waiting to be written. Broadcasts push the same
// payload slice to many queues; nobody mutates it after encoding.
type frame = transport.Message

// pushResult tells the caller what a push did beyond queueing.
type pushResult uint8

const (
	pushed     pushResult = iota
	pushedDrop            // queued after dropping the oldest frame
	pushFull              // not queued: full under SlowConsumerClose
	pushClosed            // not queued: queue closed
)

// sendQueue is a spark's bounded outbound queue with a lazily started writer:
// an idle spark has no writer goroutine, and a broadcast costs each receiver
// one locked append (plus a goroutine start when its writer was idle).
type sendQueue struct {
	// Guarded by mu: sealed refuses pushes without a close frame (the peer
	// closed); drained is closed when the writer finds the queue empty and
	// stops, or the queue is dropped (nil until waitDrained needs it).
	sealed  bool
	drained chan struct{}

	mu      sync.Mutex
	frames  []frame // pending, oldest first
	spare   []frame // the writer's last batch, reused to avoid allocation; all an idle queue keeps
	running bool    // a writer goroutine owns the socket
	closing bool    // no more pushes; the writer closes the socket after draining
	abort   bool    // drop everything; the socket is gone or must be cut
	code    uint16  // close code for a graceful close
	// paused: pushes are queued but no writer starts, while a reconnecting
	// spark's replay is read (resume puts the replay in front).
	paused bool
}

// retainCap bounds the slice capacity an idle queue keeps, so a burst does not
// pin memory on an idle connection forever.
const retainCap = 64

// push appends f. limit is the queue bound; dropOldest selects the policy.
// It reports whether the caller must start the writer.
func (q *sendQueue) push(f frame, limit int, dropOldest bool) (res pushResult, start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing || q.abort || q.sealed {
		return pushClosed, false
	}
	res = pushed
	if len(q.frames) >= limit {
		if !dropOldest {
			return pushFull, false
		}
		copy(q.frames, q.frames[1:])
		q.frames = q.frames[:len(q.frames)-1]
		res = pushedDrop
	}
	q.appendLocked(f)
	if !q.running && !q.paused {
		q.running = true
		start = true
	}
	return res, start
}

// pause holds the writer back: pushes are queued (within the bound) but
// not written until resume.
func (q *sendQueue) pause() {
	q.mu.Lock()
	q.paused = true
	q.mu.Unlock()
}

// resume puts prefix in front of what was queued while paused, drops the
// queued frames the replay already holds (stamped at or below tops[room],
// the position the replay read up to), and reports whether the caller must
// start the writer. prefix is not bounded by the queue size: the replay it
// carries is bounded by RecoveryOptions.MaxReplay.
func (q *sendQueue) resume(prefix []frame, tops map[string]uint64) (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.paused {
		return false
	}
	q.paused = false
	if q.abort {
		return false
	}
	if len(prefix) > 0 || len(tops) > 0 {
		out := make([]frame, 0, len(prefix)+len(q.frames))
		out = append(out, prefix...)
		for i := range q.frames {
			if !replayed(&q.frames[i], tops) {
				out = append(out, q.frames[i])
			}
		}
		q.frames = out
	}
	if len(q.frames) > 0 || q.closing {
		if !q.running {
			q.running = true
			return true
		}
	}
	return false
}

// replayed reports whether f is a live message a replay that read up to
// tops already delivered.
func replayed(f *frame, tops map[string]uint64) bool {
	if f.Stamp == nil {
		return false
	}
	top, ok := tops[f.Stamp.Room]
	return ok && f.Stamp.Offset <= top
}

// pushIfIdle queues f only when the queue is empty and no writer is busy
// (a volatile write: nothing waits for this receiver's socket). It
// reports whether f was queued and whether the caller must start the
// writer.
func (q *sendQueue) pushIfIdle(f frame) (queued, start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing || q.abort || q.sealed || q.running || q.paused || len(q.frames) > 0 {
		return false, false
	}
	q.appendLocked(f)
	q.running = true
	return true, true
}

// appendLocked queues f, into the slice an idle queue kept if it has one.
func (q *sendQueue) appendLocked(f frame) {
	if q.frames == nil && q.spare != nil {
		q.frames, q.spare = q.spare[:0], nil
	}
	q.frames = append(q.frames, f)
}

// closeGracefully marks the queue closing: queued frames are still written,
// then a close frame with code. It reports whether the caller must start the
// writer to do that.
func (q *sendQueue) closeGracefully(code uint16) (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing || q.abort {
		return false
	}
	q.closing, q.code = true, code
	if !q.running && !q.paused {
		q.running = true
		return true
	}
	return false
}

// drop discards everything and refuses further pushes (the peer is gone).
func (q *sendQueue) drop() {
	q.mu.Lock()
	q.abort, q.closing = true, true
	q.frames = nil
	q.spare = nil
	q.signalDrainedLocked()
	q.mu.Unlock()
}

// seal refuses further pushes (they report pushClosed) and leaves what is
// queued to the writer: the peer closed, and gets what was sent before.
func (q *sendQueue) seal() {
	q.mu.Lock()
	q.sealed = true
	q.mu.Unlock()
}

// waitDrained waits until no writer runs and nothing is queued, at most
// timeout. Used after seal, so the queue can only shrink.
func (q *sendQueue) waitDrained(timeout time.Duration) {
	q.mu.Lock()
	if !q.running || q.abort {
		q.mu.Unlock()
		return
	}
	if q.drained == nil {
		q.drained = make(chan struct{})
	}
	ch := q.drained
	q.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

func (q *sendQueue) signalDrainedLocked() {
	if q.drained != nil {
		close(q.drained)
		q.drained = nil
	}
}

// len returns the number of frames waiting.
func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames)
}

// writerHost is what the write loop writes to and reports to. Passing the
// spark as an interface (not method values) keeps starting a writer
// allocation-free apart from the goroutine itself.
type writerHost interface {
	// session is the session to write the next batch to: asked per batch,
	// because a spark's dialect (primus-emitter) may change between two.
	session() transport.Session
	written(msgs, bytes int)
	writerFinished(err error)
}

// writeLoop drains the queue onto host's session. It runs while there is
// work and exits when the queue is empty; host.writerFinished is called
// exactly once on exit.
func (q *sendQueue) writeLoop(host writerHost) {
	var err error
	for {
		q.mu.Lock()
		if q.abort || err != nil {
			q.frames, q.spare = nil, nil
			q.running = false
			q.abort = true
			q.signalDrainedLocked()
			q.mu.Unlock()
			host.writerFinished(err)
			return
		}
		if len(q.frames) == 0 {
			closing, code := q.closing, q.code
			q.running = false
			// An idle queue keeps one slice (the next push takes it), not
			// the two the writer alternates between, and no large one.
			if q.spare == nil {
				q.spare = q.frames[:0]
			}
			q.frames = nil
			if cap(q.spare) > retainCap {
				q.spare = nil
			}
			q.signalDrainedLocked()
			q.mu.Unlock()
			if closing {
				_ = host.session().Close(code, "") // the engine bounds it by its write timeout
			}
			host.writerFinished(nil)
			return
		}
		batch := q.frames
		q.frames = q.spare[:0]
		q.mu.Unlock()

		// The engine owns the write deadline: it renews it while the peer
		// takes bytes and fails the write after WriteTimeout without any.
		var msgs, n int
		msgs, n, err = host.session().WriteBatch(batch)
		host.written(msgs, n)
		clear(batch)
		q.mu.Lock()
		q.spare = batch[:0]
		q.mu.Unlock()
	}
}
