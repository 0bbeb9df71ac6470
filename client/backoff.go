package client

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// recovery is the reconnection procedure, modelled on the recovery package
// the Primus client uses: attempts are numbered from 1, each waits delay(n)
// (EventReconnectScheduled, then EventReconnect), and each is bounded by
// ReconnectOptions.Timeout. A success emits EventReconnected; a failure
// schedules the next attempt; after Retries failures the client ends.
type recovery struct {
	active  bool      // a reconnection is under way (Primus: reconnecting())
	n       int       // attempts scheduled so far
	start   time.Time // when the connection was lost
	delay   time.Duration
	waiting bool  // the back-off timer is pending (Primus: opts.backoff)
	timer   timer // back-off delay, then the attempt's timeout
}

func (r *recovery) reset() {
	r.timer.stop()
	*r = recovery{timer: r.timer}
}

func (r *recovery) attempt(retries int) Attempt {
	return Attempt{N: r.n, Retries: retries, Delay: r.delay, Elapsed: time.Since(r.start)}
}

// backoff is delay(n) for the options, with rnd in [0, 1):
// min(round((rnd+1)·Min·Factor^(n−1)), Max), and exactly Min for n = 1, as
// Primus computes it. Max 0 means no cap.
func backoff(o ReconnectOptions, n int, rnd float64) time.Duration {
	d := float64(o.Min)
	if n > 1 {
		d = math.Round((rnd + 1) * float64(o.Min) * math.Pow(o.Factor, float64(n-1)))
	}
	if o.Max > 0 && d > float64(o.Max) {
		return o.Max
	}
	if d >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}

// reconnectLocked is recovery.reconnect(): schedule the next attempt, or end
// the client when the retries are used up. cause is why (the drop or the
// failed attempt); it travels in the events. c.mu must be held.
func (c *Client) reconnectLocked(cause error) { c.scheduleLocked(cause, -1) }

// scheduleLocked is reconnectLocked with the attempt's delay chosen by the
// caller (a resync reconnects at once); negative: the back-off's.
func (c *Client) scheduleLocked(cause error, delay time.Duration) {
	r := &c.rec
	if r.waiting {
		return
	}
	o := c.opts.Reconnect
	if !r.active {
		r.active, r.n, r.start = true, 0, time.Now()
	}
	if o.Retries >= 0 && r.n >= o.Retries {
		a := r.attempt(o.Retries)
		err := fmt.Errorf("%w: %w", ErrReconnectFailed, cause)
		if cause == nil {
			err = ErrReconnectFailed
		}
		c.stopLocked()
		c.detachLocked(false)
		c.state = Closed
		c.finishLocked(err)
		// Primus emits "end" from the "reconnect failed" handler, before it.
		c.emit(Event{Kind: EventEnd, Err: err})
		c.emit(Event{Kind: EventReconnectFailed, Err: err, Attempt: a})
		return
	}
	r.n++
	r.delay = delay
	if delay < 0 {
		r.delay = backoff(o, r.n, rand.Float64())
	}
	r.waiting = true
	c.arm(&r.timer, r.delay, c.reconnectDue)
	c.emit(Event{Kind: EventReconnectScheduled, Err: cause, Attempt: r.attempt(o.Retries)})
}

// reconnectDue runs when the back-off delay is over: the attempt starts.
func (c *Client) reconnectDue() {
	r := &c.rec
	r.waiting = false
	c.emit(Event{Kind: EventReconnect, Attempt: r.attempt(c.opts.Reconnect.Retries)})
	if t := c.opts.Reconnect.Timeout; t > 0 {
		c.arm(&r.timer, t, c.reconnectTimedOut)
	}
	c.startAttemptLocked()
}

// reconnectTimedOut runs when an attempt has not opened in time.
func (c *Client) reconnectTimedOut() {
	c.emit(Event{Kind: EventReconnectTimeout, Err: ErrReconnectTimeout, Attempt: c.rec.attempt(c.opts.Reconnect.Retries)})
	c.detachLocked(false)
	c.state = Closed
	c.reconnectLocked(ErrReconnectTimeout)
}

// attemptFailedLocked handles a reconnection attempt that could not connect.
func (c *Client) attemptFailedLocked(err error) {
	c.rec.timer.stop()
	c.state = Closed
	c.reconnectLocked(err)
}
