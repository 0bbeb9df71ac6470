package allspark

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryBroker's history and sessions. Streams live in the broker, so the
// servers sharing one MemoryBroker share them, exactly as nodes share a
// Redis; a new MemoryBroker (a restarted process) starts every room in a
// new epoch, which is how clients of a restarted single server learn that
// what they missed is gone.

// memoryHistory holds the streams of one MemoryBroker.
//
// Lock order: memoryHistory.mu is a leaf for the map; a stream's mu is
// taken without memoryHistory.mu held, and is held while the stream's
// publication is handed to the nodes (that is what keeps every node's
// deliveries in offset order), so node handlers run under it and must not
// publish to the same room synchronously.
type memoryHistory struct {
	mu      sync.Mutex
	streams map[string]*memoryStream
	now     func() time.Time
	writes  int // since the last sweep of expired streams
}

type memoryStream struct {
	mu      sync.Mutex
	epoch   string
	top     uint64
	entries []memoryEntry // oldest first, at most the policy's size
	touched time.Time     // last write or read: the meta TTL counts from it
	metaTTL time.Duration
	dead    bool // swept from the map: take the map's stream instead
}

type memoryEntry struct {
	HistoryEntry
	at time.Time
}

// sweepEvery is how many history writes pass between sweeps of streams
// whose meta TTL ran out.
const sweepEvery = 1024

// stream returns room's stream, creating it (a new epoch) when it is
// missing or its meta TTL ran out. The stream comes back locked.
func (h *memoryHistory) stream(room string, pol HistoryPolicy) *memoryStream {
	for {
		h.mu.Lock()
		if h.streams == nil {
			h.streams = make(map[string]*memoryStream)
		}
		st := h.streams[room]
		if st == nil {
			st = &memoryStream{epoch: NewEpoch(), touched: h.now(), metaTTL: pol.MetaTTL}
			h.streams[room] = st
		}
		h.mu.Unlock()
		st.mu.Lock()
		if st.dead {
			st.mu.Unlock()
			continue
		}
		now := h.now()
		if now.Sub(st.touched) > st.metaTTL {
			// The position outlived its meta TTL: the stream is gone, as
			// an expired Redis meta key would be.
			st.epoch, st.top, st.entries = NewEpoch(), 0, nil
		}
		st.touched, st.metaTTL = now, pol.MetaTTL
		st.expire(now, pol)
		return st
	}
}

// expire drops entries past the policy's TTL or size.
func (st *memoryStream) expire(now time.Time, pol HistoryPolicy) {
	drop := 0
	for drop < len(st.entries) && now.Sub(st.entries[drop].at) > pol.TTL {
		drop++
	}
	if over := len(st.entries) - drop - pol.Size; over > 0 {
		drop += over
	}
	if drop > 0 {
		clear(st.entries[:drop])
		st.entries = slices.Delete(st.entries, 0, drop)
	}
}

// sweep forgets streams whose meta TTL ran out, so abandoned rooms do not
// pile up.
func (h *memoryHistory) sweep() {
	h.mu.Lock()
	h.writes++
	if h.writes < sweepEvery {
		h.mu.Unlock()
		return
	}
	h.writes = 0
	now := h.now()
	for room, st := range h.streams {
		// A stream busy now is certainly not abandoned: skip it.
		if st.mu.TryLock() {
			if now.Sub(st.touched) > st.metaTTL {
				st.dead = true
				delete(h.streams, room)
			}
			st.mu.Unlock()
		}
	}
	h.mu.Unlock()
}

// PublishHistory implements HistoryBroker: the message takes the room's
// next offset, is stored, and is handed to every node with members of the
// room, the publisher's own included, before the next write to the room
// can take an offset.
func (b *MemoryBroker) PublishHistory(_ context.Context, p *Publication, pol HistoryPolicy) (Position, int, error) {
	if len(p.Rooms) != 1 || p.All || len(p.Sparks) > 0 {
		return Position{}, 0, ErrHistoryTarget
	}
	room := p.Rooms[0]
	h := &b.history
	st := h.stream(room, pol)
	st.top++
	pos := Position{Offset: st.top, Epoch: st.epoch}
	st.entries = append(st.entries, memoryEntry{
		HistoryEntry: HistoryEntry{Pos: pos, Payload: p.Payload, Binary: p.Binary, Value: p.Value, Except: p.Except},
		at:           h.now(),
	})
	st.expire(h.now(), pol)
	delivered := *p
	delivered.Pos = pos
	b.mu.RLock()
	var targets []BrokerHandler
	for _, n := range b.nodes {
		if _, ok := n.rooms[room]; ok {
			targets = append(targets, n.h)
		}
	}
	b.mu.RUnlock()
	total := 0
	for _, t := range targets {
		total += t.HandlePublication(&delivered)
	}
	st.mu.Unlock()
	h.sweep()
	return pos, total, nil
}

// History implements HistoryBroker.
func (b *MemoryBroker) History(_ context.Context, room string, q HistoryQuery, pol HistoryPolicy) (HistoryResult, error) {
	st := b.history.stream(room, pol)
	defer st.mu.Unlock()
	res := HistoryResult{Top: Position{Offset: st.top, Epoch: st.epoch}}
	i, _ := slices.BinarySearchFunc(st.entries, q.After+1, func(e memoryEntry, off uint64) int {
		switch {
		case e.Pos.Offset < off:
			return -1
		case e.Pos.Offset > off:
			return 1
		}
		return 0
	})
	rest := st.entries[i:]
	if q.Limit > 0 && len(rest) > q.Limit {
		rest = rest[:q.Limit]
	}
	if len(rest) > 0 {
		res.Entries = make([]HistoryEntry, len(rest))
		for j := range rest {
			res.Entries[j] = rest[j].HistoryEntry
		}
	}
	return res, nil
}

// SaveSession implements SessionStore.
func (b *MemoryBroker) SaveSession(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	return b.sessions.SaveSession(ctx, id, record, ttl)
}

// TakeSession implements SessionStore.
func (b *MemoryBroker) TakeSession(ctx context.Context, id string) ([]byte, error) {
	return b.sessions.TakeSession(ctx, id)
}

// DeleteSession implements SessionStore.
func (b *MemoryBroker) DeleteSession(ctx context.Context, id string) error {
	return b.sessions.DeleteSession(ctx, id)
}
