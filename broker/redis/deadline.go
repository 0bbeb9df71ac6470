package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sharedDeadline hands out one context with a deadline to every call in a
// short window, instead of a context.WithTimeout per PUBLISH: those are
// all of the publish path's allocations (a context, a timer, a channel).
// Each call's deadline lands between timeout and timeout+timeout/10 from
// its start. It is only used for callers whose context can never end
// (context.Background, as the server passes); others get their own.
type sharedDeadline struct {
	timeout time.Duration
	cur     atomic.Pointer[deadlineCtx]
	mu      sync.Mutex // one refresher at a time
}

type deadlineCtx struct {
	ctx       context.Context
	cancel    context.CancelFunc
	refreshAt int64 // unix nanoseconds after which a new one is made
}

func (s *sharedDeadline) get() context.Context {
	now := time.Now().UnixNano()
	if d := s.cur.Load(); d != nil && now < d.refreshAt {
		return d.ctx
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.cur.Load(); d != nil && now < d.refreshAt {
		return d.ctx
	}
	step := max(s.timeout/10, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout+step)
	// The previous context stays valid for the calls holding it; its own
	// timer releases it at its deadline.
	s.cur.Store(&deadlineCtx{ctx: ctx, cancel: cancel, refreshAt: now + int64(step)})
	return ctx
}

// stop releases the current context.
func (s *sharedDeadline) stop() {
	if d := s.cur.Load(); d != nil {
		d.cancel()
	}
}
