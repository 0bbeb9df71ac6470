package allspark

import (
	"context"
	"sync"
)

// tracker counts live work (connections with their goroutines, hook runners)
// and lets Shutdown wait for zero. Unlike sync.WaitGroup it allows add while
// someone waits, which a connection racing with Shutdown needs.
type tracker struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n reaches 0; nil until someone waits
}

func (t *tracker) add() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 && t.zero != nil {
		close(t.zero)
		t.zero = nil
	}
	t.mu.Unlock()
}

// count is the work still running.
func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// wait blocks until the count is zero or ctx ends.
func (t *tracker) wait(ctx context.Context) error {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return nil
	}
	if t.zero == nil {
		t.zero = make(chan struct{})
	}
	ch := t.zero
	t.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
