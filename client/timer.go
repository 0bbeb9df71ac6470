package client

import "time"

// timer is a one-shot timer owned by a Client and guarded by its mu. A
// callback that lost a race with stop (or with a later arm) sees a changed
// sequence number and does nothing, so callers never act on a stale timer.
type timer struct {
	t   *time.Timer
	seq uint64
}

// arm (re)starts the timer; fn then runs with c.mu held, unless the client is
// destroyed or the timer was stopped or re-armed meanwhile. c.mu must be held.
func (c *Client) arm(tm *timer, d time.Duration, fn func()) {
	tm.stop()
	seq := tm.seq
	tm.t = time.AfterFunc(d, func() {
		c.mu.Lock()
		if tm.seq != seq || c.destroyed {
			c.mu.Unlock()
			return
		}
		tm.t = nil
		fn()
		c.unlock()
	})
}

// stop cancels the timer. c.mu must be held.
func (tm *timer) stop() {
	tm.seq++
	if tm.t != nil {
		tm.t.Stop()
		tm.t = nil
	}
}
