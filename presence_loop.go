package allspark

import (
	"context"
	"time"

	"github.com/allspark/allspark/internal/events"
)

// The two presence goroutines. The worker applies what other nodes sent,
// expires remote entries and delivers the queued events (to local members
// and OnPresence hooks), in the order the changes were applied. The sender
// sends this node's deltas, its refreshes and its answers to sync
// requests; it alone waits on the broker, so an outage delays deltas (up
// to MaxQueued of them) but never joins, leaves or local events.

// notice returns the broker-side handler of a kind of presence message: it
// only queues (bounded by count and bytes) and wakes a goroutine.
func (p *presence) notice(kind byte) func(from string, body []byte) {
	return func(from string, body []byte) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return
		}
		if kind == wireSync {
			if _, ok := p.syncTo[from]; !ok && len(p.syncTo) >= maxSyncRequests {
				p.droppedIn.Add(1)
				return
			}
			p.syncTo[from] = struct{}{}
			signal(p.wakeSender)
			return
		}
		if len(p.in) >= p.opts.MaxQueued || p.inBytes+len(body) > maxPresenceInBytes {
			p.droppedIn.Add(1)
			return
		}
		p.in = append(p.in, inboundNotice{from: from, kind: kind, body: append([]byte(nil), body...)})
		p.inBytes += len(body)
		signal(p.wakeWorker)
	}
}

// peerDown is the cluster's hook for a forgotten node: its entries go, each
// with an expired leave.
func (p *presence) peerDown(node string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.down) >= p.opts.MaxQueued {
		return // the expiry tick drops the entries of nodes not live
	}
	p.down = append(p.down, node)
	signal(p.wakeWorker)
}

func (p *presence) worker() {
	defer p.wg.Done()
	tick := time.NewTicker(max(p.opts.TTL/8, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.wakeWorker:
		case <-tick.C:
			p.expire(time.Now())
		}
		p.process()
	}
}

// process applies the queued messages and delivers the queued events until
// both queues are empty.
func (p *presence) process() {
	for {
		p.mu.Lock()
		in, down, evs := p.in, p.down, p.evs
		p.in, p.down, p.evs, p.inBytes = nil, nil, nil, 0
		p.mu.Unlock()
		if len(in) == 0 && len(down) == 0 && len(evs) == 0 {
			return
		}
		for _, ev := range evs {
			p.deliver(ev)
		}
		for _, m := range in {
			p.apply(m)
		}
		if len(down) > 0 {
			p.mu.Lock()
			for _, node := range down {
				p.dropNode(node)
			}
			p.mu.Unlock()
		}
	}
}

// apply applies a delta or refresh from another node.
func (p *presence) apply(m inboundNotice) {
	es, err := decodeWireEntries(m.body)
	if err != nil {
		p.droppedIn.Add(1)
		p.srv.opts.Logger.Warn("malformed presence message", "from", m.from, "err", err)
		return
	}
	now := time.Now()
	self := p.srv.nodeID
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range es {
		if !p.keyTracked(w.Room) {
			continue
		}
		e := p.entry(w.Room, w.Spark)
		if e != nil && e.node == self {
			continue // a node speaks for its own sparks only
		}
		if w.Leave {
			if m.kind == wireDelta && e != nil && e.node == m.from {
				p.remove(w.Room, w.Spark, false)
			}
			continue
		}
		p.add(w.Room, w.Spark, m.from, w.User, time.UnixMilli(w.Since), now)
	}
}

// expire drops the remote entries not refreshed within TTL and those of
// nodes that are no longer live.
func (p *presence) expire(now time.Time) {
	live := make(map[string]struct{})
	for _, n := range p.srv.cluster.livePeers() {
		live[n] = struct{}{}
	}
	self := p.srv.nodeID
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, r := range p.rooms {
		for id, e := range r.entries {
			if e.node == self {
				continue
			}
			if _, ok := live[e.node]; !ok || now.Sub(e.seen) > p.opts.TTL {
				p.remove(key, id, true)
			}
		}
	}
}

// dropNode removes every entry of node. The caller holds p.mu.
func (p *presence) dropNode(node string) {
	if node == p.srv.nodeID {
		return
	}
	for key, r := range p.rooms {
		for id, e := range r.entries {
			if e.node == node {
				p.remove(key, id, true)
			}
		}
	}
}

// deliver writes ev to this node's members of its room and runs the hooks.
func (p *presence) deliver(ev PresenceEvent) {
	s := p.srv
	if !p.opts.NoEvents {
		ns := ""
		if ev.Namespace != MainNamespace {
			ns = ev.Namespace
		}
		key := roomKey(ns, ev.Room)
		s.rooms.mu.RLock()
		members := len(s.rooms.rooms[key])
		s.rooms.mu.RUnlock()
		t := Target{srv: s, ns: ns, rooms: []string{key}}
		data := events.NewEvent(p.opts.Event, []any{ev}, 0)
		switch {
		case members == 0: // nobody here to tell: no encoding
		case len(s.transforms[Outgoing].load()) > 0:
			t.writeEach(data)
		default:
			if f, err := s.encode(data); err == nil {
				t.pushLocal(f)
			} else {
				s.opts.Logger.Warn("presence event", "room", ev.Room, "err", err)
			}
		}
	}
	for _, fn := range p.hooks.load() {
		fn(ev)
	}
}

func (p *presence) sender() {
	defer p.wg.Done()
	// A node that starts asks the others for their entries.
	p.send(p.ctx, "", "presence.sync", nil)
	tick := time.NewTicker(p.opts.RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			// Shutdown ended the sparks: their leaves go out now, within
			// one RequestTimeout.
			ctx, cancel := context.WithTimeout(context.Background(), p.srv.cluster.opts.RequestTimeout)
			p.flush(ctx)
			cancel()
			return
		case <-p.wakeSender:
			p.flush(p.ctx)
		case <-tick.C:
			p.flush(p.ctx)
			p.sendAll(p.ctx, "")
		}
	}
}

// flush sends the queued deltas and answers the sync requests.
func (p *presence) flush(ctx context.Context) {
	p.mu.Lock()
	out := p.out
	p.out = nil
	var sync []string
	for n := range p.syncTo {
		sync = append(sync, n)
	}
	clear(p.syncTo)
	p.mu.Unlock()
	for _, body := range encodeWireEntries(out) {
		p.send(ctx, "", "presence.delta", body)
	}
	for _, n := range sync {
		p.sendAll(ctx, n)
	}
}

// sendAll sends every entry this node owns to node to ("" = all).
func (p *presence) sendAll(ctx context.Context, to string) {
	for _, body := range encodeWireEntries(p.snapshot()) {
		p.send(ctx, to, "presence.refresh", body)
	}
}

func (p *presence) send(ctx context.Context, to, op string, body []byte) {
	if err := p.srv.cluster.notify(ctx, to, op, body); err != nil {
		p.droppedOut.Add(1)
		p.srv.opts.Logger.Debug("presence send failed", "to", to, "op", op, "err", err)
	}
}
