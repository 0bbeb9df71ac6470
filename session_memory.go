package allspark

import (
	"context"
	"sync"
	"time"
)

// memorySessions is a SessionStore in this process's memory: MemoryBroker's
// (shared by the servers on it) and the private store of a server whose
// broker keeps no sessions. It holds at most max records; past it the
// oldest saved go first, so a client that opens connections in a loop
// evicts old sessions instead of growing the heap.
type memorySessions struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	recs  map[string]memorySession
	order []memoryOrder // save order, oldest first; stale entries are skipped
	gen   uint64
}

type memorySession struct {
	record  []byte
	expires time.Time
	gen     uint64
}

type memoryOrder struct {
	id  string
	gen uint64
}

func newMemorySessions(max int) *memorySessions {
	return &memorySessions{max: max, now: time.Now, recs: make(map[string]memorySession)}
}

// SaveSession implements SessionStore.
func (m *memorySessions) SaveSession(_ context.Context, id string, record []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.recs[id] = memorySession{record: append([]byte(nil), record...), expires: m.now().Add(ttl), gen: m.gen}
	m.order = append(m.order, memoryOrder{id: id, gen: m.gen})
	m.trimLocked()
	return nil
}

// trimLocked drops the oldest records past the bound, and compacts the
// order list once most of it is stale.
func (m *memorySessions) trimLocked() {
	for len(m.recs) > m.max && len(m.order) > 0 {
		o := m.order[0]
		m.order = m.order[1:]
		if r, ok := m.recs[o.id]; ok && r.gen == o.gen {
			delete(m.recs, o.id)
		}
	}
	if len(m.order) > 2*len(m.recs)+64 {
		live := m.order[:0]
		now := m.now()
		for _, o := range m.order {
			r, ok := m.recs[o.id]
			switch {
			case !ok || r.gen != o.gen:
			case now.After(r.expires):
				delete(m.recs, o.id)
			default:
				live = append(live, o)
			}
		}
		clear(m.order[len(live):])
		m.order = live
	}
}

// TakeSession implements SessionStore.
func (m *memorySessions) TakeSession(_ context.Context, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	if !ok {
		return nil, ErrNoSession
	}
	delete(m.recs, id)
	if m.now().After(r.expires) {
		return nil, ErrNoSession
	}
	return r.record, nil
}

// DeleteSession implements SessionStore.
func (m *memorySessions) DeleteSession(_ context.Context, id string) error {
	m.mu.Lock()
	delete(m.recs, id)
	m.mu.Unlock()
	return nil
}

// len counts the records held, expired ones included until they are swept.
func (m *memorySessions) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}
