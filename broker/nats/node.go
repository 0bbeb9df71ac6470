package nats

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark"
	natsgo "github.com/nats-io/nats.go"
)

// node is one registered node: its subscriptions, all feeding one intake
// channel, and two goroutines. The intake goroutine decodes, drops the
// node's own traffic, answers probes and queues the rest without ever
// blocking; the delivery goroutine calls the handler, one item at a time, in
// arrival order. A slow handler thus fills only its own bounded queue.
type node struct {
	b       *Broker
	name    string
	subject string // its node subject
	h       allspark.BrokerHandler
	intake  chan *natsgo.Msg
	q       *inbound

	mu     sync.Mutex
	all    *natsgo.Subscription
	self   *natsgo.Subscription
	rooms  map[string]*natsgo.Subscription
	closed bool

	stop                    chan struct{}
	intakeDone, deliverDone chan struct{}

	// Probes: the sequence of the last probe sent and of the last one back.
	probeSent, probeBack atomic.Uint64
	probeFailing         atomic.Bool

	lastDropLog atomic.Int64 // unix nanoseconds of the last drop logged
}

func newNode(b *Broker, name string, h allspark.BrokerHandler) *node {
	n := &node{
		b:           b,
		name:        name,
		subject:     b.subj.node(name),
		h:           h,
		intake:      make(chan *natsgo.Msg, min(intakeLen, b.opts.InboundQueue)),
		q:           newInbound(b.opts.InboundQueue, b.opts.InboundBytes),
		rooms:       make(map[string]*natsgo.Subscription),
		stop:        make(chan struct{}),
		intakeDone:  make(chan struct{}),
		deliverDone: make(chan struct{}),
	}
	go n.intakeLoop()
	go n.deliverLoop()
	return n
}

func (n *node) intakeLoop() {
	defer close(n.intakeDone)
	for {
		select {
		case <-n.stop:
			return
		case m := <-n.intake:
			if m.Header != nil {
				if pos, ok, err := headerPos(m.Header); ok {
					n.acceptHistory(pos, m, err)
					continue
				}
			}
			n.accept(m.Data)
		}
	}
}

// accept sorts one received NATS message.
func (n *node) accept(data []byte) {
	e, err := decodeEnvelope(data)
	if err != nil {
		n.b.errors.Add(1)
		n.logDrop("malformed envelope", err)
		return
	}
	it := item{size: len(data)}
	switch e.Kind {
	case kindProbe:
		n.probeBack.Store(e.Seq)
		if e.Seq == n.probeSent.Load() {
			n.probeFailing.Store(false)
		}
		return
	case kindPublication:
		if e.Pub.Node == n.name {
			return // its own, echoed by NATS
		}
		it.pub = e.Pub
	case kindMessage:
		if e.From == n.name || (e.To != "" && e.To != n.name) {
			return
		}
		it.from, it.msg = e.From, e.Msg
	}
	if !n.q.push(it) {
		n.b.dropped.Add(1)
		n.logDrop("inbound queue full", nil)
	}
}

// acceptHistory queues a history message that a stream republished on a
// room's subject. Unlike an ordinary publication it is queued for the
// node that wrote it too: a history write is not delivered locally by the
// writer (allspark history_write.go), so its own node learns it here, in
// stream order, with every other. Markers (offset 0) only record a room's
// epoch and are not delivered.
//
// It also refreshes the Broker's cached state of the room's subject, so
// that a write of this node that lost the race for an offset can retry at
// once with the winner's position instead of reading it back first.
func (n *node) acceptHistory(pos allspark.Position, m *natsgo.Msg, err error) {
	data := m.Data
	if err == nil && n.b.hist != nil {
		n.b.hist.observe(m.Header, pos)
	}
	if err == nil && pos.Offset == 0 {
		return
	}
	var p *allspark.Publication
	if err == nil {
		p, err = decodeHistory(pos, data)
	}
	if err != nil {
		n.b.errors.Add(1)
		n.logDrop("malformed history message", err)
		return
	}
	if !n.q.push(item{pub: p, size: len(data)}) {
		n.b.dropped.Add(1)
		n.logDrop("inbound queue full", nil)
	}
}

// logDrop logs at most once a second per node.
func (n *node) logDrop(what string, err error) {
	now := time.Now().UnixNano()
	last := n.lastDropLog.Load()
	if now-last < int64(time.Second) || !n.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	items, bytes := n.q.len()
	n.b.opts.Logger.Warn("nats broker: dropped traffic", "node", n.name, "why", what, "err", err,
		"queued", items, "queued_bytes", bytes, "dropped_total", n.b.dropped.Load())
}

func (n *node) deliverLoop() {
	defer close(n.deliverDone)
	for {
		select {
		case <-n.stop:
			return
		case <-n.q.wake:
		}
		for {
			select {
			case <-n.stop:
				return
			default:
			}
			it, ok := n.q.pop()
			if !ok {
				break
			}
			if it.pub != nil {
				n.h.HandlePublication(it.pub)
			} else {
				n.h.HandleMessage(it.from, it.msg)
			}
			n.b.received.Add(1)
		}
	}
}

// shutdown unsubscribes everything and stops the goroutines; queued
// traffic is dropped. It is idempotent.
func (n *node) shutdown() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	subs := make([]*natsgo.Subscription, 0, len(n.rooms)+2)
	for _, s := range n.rooms {
		subs = append(subs, s)
	}
	n.rooms = nil
	if n.all != nil {
		subs = append(subs, n.all)
	}
	if n.self != nil {
		subs = append(subs, n.self)
	}
	n.mu.Unlock()
	for _, s := range subs {
		n.b.retire(s)
	}
	close(n.stop)
}

// wait returns when both goroutines have ended, or with ctx's error.
func (n *node) wait(ctx context.Context) error {
	for _, done := range [...]chan struct{}{n.intakeDone, n.deliverDone} {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// natsDrops sums what nats.go dropped on the node's live subscriptions.
func (n *node) natsDrops() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	var total uint64
	count := func(s *natsgo.Subscription) {
		if s == nil {
			return
		}
		if d, err := s.Dropped(); err == nil && d > 0 {
			total += uint64(d)
		}
	}
	count(n.all)
	count(n.self)
	for _, s := range n.rooms {
		count(s)
	}
	return total
}
