package allspark

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/allspark/allspark/internal/events"
)

// The Socket.IO server operations on a target that act on this node's
// sparks: volatile writes and acks from every receiver. The cluster-wide
// ones (socketsJoin/Leave, disconnectSockets, fetchSockets) are in
// cluster_ops.go.

// Volatile returns the target with volatile writes: a receiver whose send
// queue holds anything or whose socket is busy (a polling client between
// two requests, a slow reader) is skipped instead of queued for, as
// Socket.IO's volatile drops a packet when the transport is not writable.
// Skips are counted in Stats.VolatileSkipped. Writes from other nodes are
// not volatile, nor are writes to a room with history (its messages take
// positions every member must see, or recover).
func (t Target) Volatile() Target {
	t.volatile = true
	return t
}

// AckTimeoutError is Target.EmitWithAck's error when some receivers did
// not reply before the context ended (or ended first themselves).
type AckTimeoutError struct {
	Missing int   // receivers that did not reply
	Total   int   // receivers the event was sent to
	Err     error // the context's error, when it ended
}

func (e *AckTimeoutError) Error() string {
	return fmt.Sprintf("allspark: %d of %d receivers did not acknowledge", e.Missing, e.Total)
}

// Unwrap returns the context's error.
func (e *AckTimeoutError) Unwrap() error { return e.Err }

// EmitWithAck sends a named event to every selected spark, on every node,
// and waits for each reply until ctx ends (Socket.IO's
// io.timeout(ms).emit(ev, cb)). It returns the replies in no particular
// order, each naming its sender (Reply.From); a receiver that answered with
// an ack error is a reply with Err set. When some did not reply in time
// (or ended first) it returns the replies so far and an
// *AckTimeoutError with the count. Other nodes run the same wait for their
// sparks and answer with their replies just before ctx's deadline; a node
// that does not answer at all adds a *PartialError (joined with the
// AckTimeoutError when both apply). Each receiver gets its own request id,
// so the event is encoded once per receiver, and one goroutine per
// receiver waits for its reply until ctx ends: give large rooms a
// deadline. ErrReserved for an invalid name.
func (t Target) EmitWithAck(ctx context.Context, event string, args ...any) ([]*Reply, error) {
	if !events.ValidName(event) {
		return nil, ErrReserved
	}
	remote := make(chan ackAnswer, 1)
	if t.srv.hasPeers() && !t.allLocal() {
		go func() { remote <- t.emitAckRemote(ctx, event, args) }()
	} else {
		remote <- ackAnswer{}
	}
	res := t.emitAckLocal(ctx, event, args)
	r := <-remote
	res.replies = append(res.replies, r.replies...)
	res.missing += r.missing
	res.total += r.total
	if res.reserved {
		return nil, ErrReserved
	}
	var err error
	if res.missing > 0 {
		err = &AckTimeoutError{Missing: res.missing, Total: res.total, Err: ctx.Err()}
	}
	if r.err != nil {
		err = errors.Join(err, r.err)
	}
	return res.replies, err
}

// ackCollected is what one node collected for EmitWithAck.
type ackCollected struct {
	replies        []*Reply
	missing, total int
	reserved       bool
}

// emitAckLocal runs EmitWithAck for the selected sparks of this node.
func (t Target) emitAckLocal(ctx context.Context, event string, args []any) ackCollected {
	sparks := t.Sparks()
	var (
		mu  sync.Mutex
		res = ackCollected{replies: make([]*Reply, 0, len(sparks)), total: len(sparks)}
		wg  sync.WaitGroup
	)
	for _, sp := range sparks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := sp.EmitWithAck(ctx, event, args...)
			mu.Lock()
			defer mu.Unlock()
			var ee *EventError
			switch {
			case err == nil:
				r.From = sp.ID()
				res.replies = append(res.replies, r)
			case errors.Is(err, ErrReserved):
				res.reserved = true
			case errors.As(err, &ee) && ee.Code != CodeTimeout && ee.Code != CodeDisconnected:
				res.replies = append(res.replies, &Reply{Event: event, From: sp.ID(), Err: err})
			default:
				res.missing++
			}
		}()
	}
	wg.Wait()
	return res
}
