package allspark

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark/internal/events"
)

// presence is one node's view of the tracked rooms: the entries of its own
// sparks (which it owns and never expires) and those of other nodes (kept
// for events and per-user counts, bounded by MaxRemoteEntries, expired by
// TTL and when their node is forgotten).
//
// Lock order: presence.mu is taken without any other lock held, and the
// room registry's read lock may be taken under it (joined checks that the
// spark is still in the room). No user code runs under it: events are
// queued under it and delivered by the worker goroutine.
type presence struct {
	srv   *Server
	on    bool
	opts  PresenceOptions
	hooks cowList[func(PresenceEvent)]

	mu     sync.Mutex
	rooms  map[string]*presenceRoom // registry key →
	local  int
	remote int
	closed bool
	// Queues, each bounded by MaxQueued (inbound also by bytes).
	out     []wireEntry         // deltas of local sparks to send
	syncTo  map[string]struct{} // nodes that asked for all our entries
	in      []inboundNotice
	inBytes int
	evs     []PresenceEvent
	down    []string // nodes the cluster forgot

	wakeWorker chan struct{}
	wakeSender chan struct{}
	ctx        context.Context // ends at stop
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	droppedEntries, droppedIn, droppedOut, droppedEvents atomic.Uint64
}

type presenceRoom struct {
	entries map[string]*presenceEntry // spark id →
	users   map[string]int            // user → sparks, named users only
}

type presenceEntry struct {
	node  string
	user  string
	since time.Time
	seen  time.Time // last delta or refresh from its node (remote entries)
}

// inboundNotice is a presence message from another node, waiting for the
// worker.
type inboundNotice struct {
	from string
	kind byte
	body []byte
}

// maxPresenceInBytes bounds the bytes of inbound presence messages waiting
// for the worker.
const maxPresenceInBytes = 8 << 20

// presenceEventsFactor scales MaxQueued for the events waiting for local
// delivery: a missed event is not repaired (members learn of the change at
// their next join), so a burst (a node's sparks all reconnecting after a
// deploy) gets more room than the deltas, which refreshes repair.
const presenceEventsFactor = 16

// maxSyncRequests bounds the nodes whose request for all our entries waits
// for the sender.
const maxSyncRequests = 64

func (p *presence) init(s *Server) error {
	p.srv, p.on, p.opts = s, true, s.opts.Presence
	if !events.ValidName(p.opts.Event) {
		return ErrReserved
	}
	p.rooms = make(map[string]*presenceRoom)
	p.syncTo = make(map[string]struct{})
	p.wakeWorker = make(chan struct{}, 1)
	p.wakeSender = make(chan struct{}, 1)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return nil
}

// start runs the worker and the sender (after the broker registration).
func (p *presence) start() {
	if !p.on {
		return
	}
	p.wg.Add(2)
	go p.worker()
	go p.sender()
}

// stop sends the last deltas (the leaves of the sparks Shutdown ended) and
// ends the goroutines.
func (p *presence) stop() {
	if !p.on {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// roomNamespace is the namespace of a registry key ("/" for the main one).
func roomNamespace(key string) string {
	if strings.HasPrefix(key, "\x00") {
		if i := strings.IndexByte(key[1:], 0); i >= 0 {
			return key[1 : i+1]
		}
	}
	return MainNamespace
}

// keyTracked reports whether the room of a registry key is tracked.
func (p *presence) keyTracked(key string) bool {
	return p.opts.tracks(roomNamespace(key), roomName(key))
}

// joined is the OnJoin hook. An untracked room costs one pattern match.
func (p *presence) joined(sp *Spark, room string) {
	if !p.opts.tracks(sp.Namespace(), room) {
		return
	}
	key := roomKey(sp.ns.key(), room)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	// A leave racing this hook may have run already: only a spark still in
	// the room gets an entry, so none outlives its membership.
	if p.closed || !sp.inRoomKey(key) {
		return
	}
	if p.add(key, sp.id, p.srv.nodeID, sp.User(), now, now) {
		p.queueOut(wireEntry{Room: key, Spark: sp.id, User: sp.User(), Since: now.UnixMilli()})
	}
}

// left is the OnLeave hook.
func (p *presence) left(sp *Spark, room string) {
	if !p.opts.tracks(sp.Namespace(), room) {
		return
	}
	key := roomKey(sp.ns.key(), room)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if e := p.entry(key, sp.id); e == nil || e.node != p.srv.nodeID {
		return
	}
	p.remove(key, sp.id, false)
	p.queueOut(wireEntry{Room: key, Spark: sp.id, Leave: true})
}

// userChanged is the SetUser hook: the spark's entries change user, which
// members see as a leave under the old name and a join under the new one.
func (p *presence) userChanged(sp *Spark, user string) {
	rooms := sp.roomKeysHeld()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for _, key := range rooms {
		e := p.entry(key, sp.id)
		if e == nil || e.node != p.srv.nodeID || e.user == user {
			continue
		}
		since := e.since
		p.remove(key, sp.id, false)
		p.add(key, sp.id, p.srv.nodeID, user, since, since)
		p.queueOut(wireEntry{Room: key, Spark: sp.id, User: user, Since: since.UnixMilli()})
	}
}

// inRoomKey reports whether the spark is in the room of registry key.
func (s *Spark) inRoomKey(key string) bool {
	reg := &s.server.rooms
	reg.mu.RLock()
	_, in := s.rooms[key]
	reg.mu.RUnlock()
	return in
}

// roomKeysHeld returns the registry keys of the spark's rooms.
func (s *Spark) roomKeysHeld() []string {
	reg := &s.server.rooms
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]string, 0, len(s.rooms))
	for r := range s.rooms {
		out = append(out, r)
	}
	return out
}

func (p *presence) entry(key, id string) *presenceEntry {
	if r := p.rooms[key]; r != nil {
		return r.entries[id]
	}
	return nil
}

// add records an entry and queues its join event; it reports false when
// nothing changed (known already, or a remote entry past the bound). A
// known remote entry is refreshed; one whose user changed is replaced.
// The caller holds p.mu.
func (p *presence) add(key, id, node, user string, since, now time.Time) bool {
	self := node == p.srv.nodeID
	r := p.rooms[key]
	if r != nil {
		if e := r.entries[id]; e != nil {
			if e.node == node && e.user == user {
				e.seen = now
				return false
			}
			p.remove(key, id, false)
			r = p.rooms[key]
		}
	}
	if !self && p.remote >= p.opts.MaxRemoteEntries {
		p.droppedEntries.Add(1)
		return false
	}
	if r == nil {
		r = &presenceRoom{entries: make(map[string]*presenceEntry)}
		p.rooms[key] = r
	}
	r.entries[id] = &presenceEntry{node: node, user: user, since: since, seen: now}
	if self {
		p.local++
	} else {
		p.remote++
	}
	n := 1
	if user != "" {
		if r.users == nil {
			r.users = make(map[string]int)
		}
		r.users[user]++
		n = r.users[user]
	}
	p.queueEvent(key, PresenceEvent{Action: PresenceJoin, SparkID: id, User: user, Node: node, Sparks: n})
	return true
}

// remove drops an entry and queues its leave event. The caller holds p.mu.
func (p *presence) remove(key, id string, expired bool) {
	r := p.rooms[key]
	if r == nil {
		return
	}
	e := r.entries[id]
	if e == nil {
		return
	}
	delete(r.entries, id)
	if e.node == p.srv.nodeID {
		p.local--
	} else {
		p.remote--
	}
	n := 0
	if e.user != "" {
		n = r.users[e.user] - 1
		if n <= 0 {
			delete(r.users, e.user)
			n = 0
		} else {
			r.users[e.user] = n
		}
	}
	if len(r.entries) == 0 {
		delete(p.rooms, key)
	}
	p.queueEvent(key, PresenceEvent{Action: PresenceLeave, SparkID: id, User: e.user, Node: e.node, Sparks: n, Expired: expired})
}

// queueEvent queues ev for local delivery. The caller holds p.mu.
func (p *presence) queueEvent(key string, ev PresenceEvent) {
	if len(p.evs) >= p.opts.MaxQueued*presenceEventsFactor {
		p.droppedEvents.Add(1)
		return
	}
	ev.Room, ev.Namespace = roomName(key), roomNamespace(key)
	p.evs = append(p.evs, ev)
	signal(p.wakeWorker)
}

// queueOut queues a delta for the other nodes. The caller holds p.mu.
func (p *presence) queueOut(w wireEntry) {
	if len(p.out) >= p.opts.MaxQueued {
		p.droppedOut.Add(1)
		return
	}
	p.out = append(p.out, w)
	signal(p.wakeSender)
}

// localEntries returns the entries of this node's sparks in the room of a
// registry key.
func (p *presence) localEntries(key string) []PresenceEntry {
	if !p.on {
		return nil
	}
	self := p.srv.nodeID
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rooms[key]
	if r == nil {
		return nil
	}
	out := make([]PresenceEntry, 0, len(r.entries))
	for id, e := range r.entries {
		if e.node == self {
			out = append(out, PresenceEntry{SparkID: id, Node: self, User: e.user, Since: e.since})
		}
	}
	return out
}

// snapshot returns every entry this node owns, as deltas.
func (p *presence) snapshot() []wireEntry {
	self := p.srv.nodeID
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]wireEntry, 0, p.local)
	for key, r := range p.rooms {
		for id, e := range r.entries {
			if e.node == self {
				out = append(out, wireEntry{Room: key, Spark: id, User: e.user, Since: e.since.UnixMilli()})
			}
		}
	}
	slices.SortFunc(out, func(a, b wireEntry) int { return strings.Compare(a.Room, b.Room) })
	return out
}

func (p *presence) statsSnapshot() PresenceStats {
	if !p.on {
		return PresenceStats{}
	}
	p.mu.Lock()
	st := PresenceStats{Local: p.local, Remote: p.remote}
	p.mu.Unlock()
	st.DroppedEntries = p.droppedEntries.Load()
	st.DroppedIn = p.droppedIn.Load()
	st.DroppedOut = p.droppedOut.Load()
	st.DroppedEvents = p.droppedEvents.Load()
	return st
}
