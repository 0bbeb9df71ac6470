package allspark

import (
	"context"
	"sync"
	"time"
)

// sparkContext is Spark.Context: the values of the upgrade request's
// context, cancelled when the spark ends. It is the Spark itself seen
// through another type, so handing it out allocates nothing, and its state
// (a Done channel, the functions registered by context.AfterFunc and by
// contexts derived from it) is allocated only when something asks for it:
// an idle spark pays 24 bytes inside its struct, where
// context.WithCancel(context.WithoutCancel(r.Context())) cost three objects,
// ~112 B (docs/benchmarks.md, "Per-spark memory").
//
// It implements the context package's AfterFunc hook, so a context derived
// from it (context.WithCancel, WithTimeout) is cancelled with it without a
// goroutine of its own per derived context.
type sparkContext Spark

// ctxState is a sparkContext's state once asked for.
type ctxState struct {
	mu     sync.Mutex
	done   chan struct{} // made on the first Done call
	err    error         // context.Canceled once the spark ended
	afters map[*afterFunc]struct{}
}

type afterFunc struct{ f func() }

// contextValues is what a spark keeps of its request's context: the
// context itself when it can never be cancelled (a direct upgrade's is
// context.Background), else its values behind context.WithoutCancel, which
// also hides the request's cancellation from context.Cause.
func contextValues(r context.Context) context.Context {
	if r.Done() == nil {
		return r
	}
	return context.WithoutCancel(r)
}

func (c *sparkContext) loadState() *ctxState {
	if st := c.ctxState.Load(); st != nil {
		return st
	}
	st := new(ctxState)
	if c.ctxState.CompareAndSwap(nil, st) {
		return st
	}
	return c.ctxState.Load()
}

// Deadline implements context.Context: a spark has none.
func (c *sparkContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context.
func (c *sparkContext) Done() <-chan struct{} {
	st := c.loadState()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done == nil {
		st.done = make(chan struct{})
		if st.err != nil {
			close(st.done)
		}
	}
	return st.done
}

// Err implements context.Context.
func (c *sparkContext) Err() error {
	st := c.ctxState.Load()
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// Value implements context.Context with the request context's values.
func (c *sparkContext) Value(key any) any { return c.ctxValues.Value(key) }

// AfterFunc arranges for f to run in its own goroutine when the spark ends
// (at once if it has), as context.AfterFunc does; stop reports whether it
// kept f from running. The context package uses it for derived contexts.
func (c *sparkContext) AfterFunc(f func()) (stop func() bool) {
	st := c.loadState()
	st.mu.Lock()
	if st.err != nil {
		st.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	if st.afters == nil {
		st.afters = make(map[*afterFunc]struct{})
	}
	st.afters[a] = struct{}{}
	st.mu.Unlock()
	return func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		_, ok := st.afters[a]
		delete(st.afters, a)
		return ok
	}
}

func (c *sparkContext) String() string { return "allspark.Spark.Context" }

// cancel ends the context; later calls do nothing.
func (c *sparkContext) cancel() {
	st := c.loadState()
	st.mu.Lock()
	if st.err != nil {
		st.mu.Unlock()
		return
	}
	st.err = context.Canceled
	if st.done != nil {
		close(st.done)
	}
	afters := st.afters
	st.afters = nil
	st.mu.Unlock()
	for a := range afters {
		go a.f()
	}
}
