package allspark

import (
	"sync"
	"sync/atomic"
)

// cowList is a copy-on-write list: readers on the hot path load a snapshot
// without locking; the rare writers (registration at setup, plugin/plugout)
// copy under a mutex.
type cowList[T any] struct {
	mu sync.Mutex
	p  atomic.Pointer[[]T]
}

func (l *cowList[T]) load() []T {
	if p := l.p.Load(); p != nil {
		return *p
	}
	return nil
}

// update replaces the list with f(copy of current), atomically for readers.
func (l *cowList[T]) update(f func([]T) []T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.load()
	next := f(append([]T(nil), cur...))
	l.p.Store(&next)
}

func (l *cowList[T]) add(v T) { l.update(func(s []T) []T { return append(s, v) }) }
