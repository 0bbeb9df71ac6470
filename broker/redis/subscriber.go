package redis

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/rueidis"
)

// resubscribeBatch is how many channels one SUBSCRIBE carries when a new
// connection resubscribes everything.
const resubscribeBatch = 512

// run keeps the PUB/SUB connection up until Close: it connects, subscribes
// every wanted channel, probes, and starts over when the connection breaks
// or a probe does not come back. The first attempt's result goes to first.
func (b *Broker) run(first chan<- error) {
	defer close(b.done)
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := b.session(attempt, first)
		first = nil
		if b.isClosed() {
			return
		}
		b.setHealth(fmt.Errorf("%w: %w", ErrNotConnected, err))
		b.opts.Logger.Warn("redis broker: PUB/SUB connection lost", "addrs", b.opts.Addrs, "err", err)
		select {
		case <-b.closing:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
		if err == nil {
			backoff = 50 * time.Millisecond
		}
	}
}

// session runs one PUB/SUB connection. It returns why it ended (nil on
// Close).
func (b *Broker) session(attempt int, first chan<- error) error {
	dc, err := b.dedicate(attempt)
	if err != nil {
		if first != nil {
			first <- err
		}
		return err
	}
	lost := dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: b.onMessage})
	if err := b.attach(dc); err != nil {
		dc.Close()
		if first != nil {
			first <- err
		}
		return err
	}
	if first != nil {
		first <- nil
	} else {
		b.reconnects.Add(1)
		b.opts.Logger.Info("redis broker: PUB/SUB connection restored", "addrs", b.opts.Addrs)
	}
	b.setHealth(nil)
	defer b.detach(dc)

	tick := time.NewTicker(b.opts.ProbeInterval)
	defer tick.Stop()
	b.probeAcked.Store(b.probeSent.Load())
	for {
		select {
		case <-b.closing:
			return nil
		case err, ok := <-lost:
			if !ok || err == nil {
				err = fmt.Errorf("connection closed")
			}
			return err
		case <-tick.C:
			if b.probeAcked.Load() < b.probeSent.Load() {
				b.setHealth(ErrProbeTimeout)
				return ErrProbeTimeout
			}
			b.probe()
		}
	}
}

// dedicate takes a connection for PUB/SUB. In Cluster mode it is a
// connection to one node (rotating over the nodes on each attempt): classic
// PUB/SUB in a cluster delivers every PUBLISH on every node.
func (b *Broker) dedicate(attempt int) (rueidis.DedicatedClient, error) {
	c := b.client
	if b.opts.Cluster {
		nodes := b.client.Nodes()
		if len(nodes) == 0 {
			return nil, fmt.Errorf("no cluster node known")
		}
		addrs := make([]string, 0, len(nodes))
		for a := range nodes {
			addrs = append(addrs, a)
		}
		slices.Sort(addrs)
		c = nodes[addrs[attempt%len(addrs)]]
	}
	dc, _ := c.Dedicate()
	return dc, nil
}

// attach subscribes every wanted channel on dc and makes it the current
// connection.
func (b *Broker) attach(dc rueidis.DedicatedClient) error {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	want := []string{b.topics.all, b.topics.name(b.topics.probe, b.id)}
	b.mu.RLock()
	for name := range b.nodes {
		want = append(want, b.topics.name(b.topics.node, name))
	}
	for room := range b.rooms {
		want = append(want, b.topics.name(b.topics.room, room))
	}
	b.mu.RUnlock()
	for chunk := range slices.Chunk(want, resubscribeBatch) {
		ctx, cancel := context.WithTimeout(context.Background(), max(b.opts.WriteTimeout, time.Second)*2)
		err := dc.Do(ctx, dc.B().Subscribe().Channel(chunk...).Build()).Error()
		cancel()
		if err != nil {
			return err
		}
	}
	clear(b.subscribed)
	for _, ch := range want {
		b.subscribed[ch] = struct{}{}
	}
	b.conn = dc
	return nil
}

// detach forgets dc (wanted channels stay wanted) and closes it, which is
// what tears down a connection that still looks alive.
func (b *Broker) detach(dc rueidis.DedicatedClient) {
	b.subMu.Lock()
	b.conn = nil
	clear(b.subscribed)
	b.subMu.Unlock()
	dc.Close()
}

// probe publishes the next probe on this value's own channel.
func (b *Broker) probe() {
	seq := b.probeSent.Add(1)
	bp := getBuf()
	buf := b.topics.appendName((*bp)[:0], b.topics.probe, b.id)
	chLen := len(buf)
	buf = appendProbe(buf, seq)
	ctx, cancel := context.WithTimeout(context.Background(), min(b.opts.WriteTimeout, b.opts.ProbeInterval))
	err := b.client.Do(ctx, b.client.B().Publish().Channel(rueidis.BinaryString(buf[:chLen])).Message(rueidis.BinaryString(buf[chLen:])).Build()).Error()
	cancel()
	*bp = buf
	if err == nil {
		putBuf(bp)
	}
	// A failed probe publish simply does not come back: the next tick
	// decides.
}

// onMessage is the PUB/SUB reader's hook. It never waits: each receiving
// node gets the delivery on its bounded queue, or it is dropped.
func (b *Broker) onMessage(m rueidis.PubSubMessage) {
	kind, name, ok := b.topics.parse(m.Channel)
	if !ok {
		return
	}
	data := []byte(m.Message)
	if kind == 'r' && len(data) > 0 && data[0] == kindHistory {
		b.onHistory(name, data)
		return
	}
	e, err := decodeEnvelope(data)
	if err != nil {
		b.errs.Add(1)
		return
	}
	if kind == 'k' {
		if e.Kind == kindProbe && name == b.id {
			for {
				cur := b.probeAcked.Load()
				if e.Seq <= cur || b.probeAcked.CompareAndSwap(cur, e.Seq) {
					break
				}
			}
		}
		return
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	switch e.Kind {
	case kindPublication:
		origin := e.Pub.Node
		switch kind {
		case 'a':
			for _, n := range b.nodes {
				if n.name != origin {
					b.deliver(n, item{pub: e.Pub})
				}
			}
		case 'r':
			for n := range b.rooms[name] {
				if n.name != origin {
					b.deliver(n, item{pub: e.Pub})
				}
			}
		}
	case kindMessage:
		switch kind {
		case 'a':
			if e.To != "" {
				return
			}
			shared := false
			for _, n := range b.nodes {
				if n.name == e.From {
					continue
				}
				msg := e.Msg
				if shared {
					msg = append([]byte(nil), e.Msg...)
				}
				shared = true
				b.deliver(n, item{from: e.From, msg: msg})
			}
		case 'n':
			if e.To != name || e.From == name {
				return
			}
			if n := b.nodes[name]; n != nil {
				b.deliver(n, item{from: e.From, msg: e.Msg})
			}
		}
	}
}

// onHistory hands a history write of room to every node with members in
// it, the publishing node included: the server does not deliver history
// writes locally, so that every node delivers them in one (offset) order.
func (b *Broker) onHistory(room string, data []byte) {
	p, err := decodeStamped(data)
	if err != nil || p.Rooms[0] != room {
		b.errs.Add(1)
		return
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for n := range b.rooms[room] {
		b.deliver(n, item{pub: p})
	}
}

// deliver queues it for n, or drops and counts it when n's queue is full
// (logging at most once a second per node).
func (b *Broker) deliver(n *node, it item) {
	if n.q.push(it) {
		return
	}
	b.dropped.Add(1)
	n.droppedSince.Add(1)
	now := time.Now().UnixNano()
	last := n.lastDropLog.Load()
	if now-last >= int64(time.Second) && n.lastDropLog.CompareAndSwap(last, now) {
		b.opts.Logger.Warn("redis broker: node cannot keep up, dropping traffic",
			"node", n.name, "dropped", n.droppedSince.Swap(0), "queue", b.opts.InboundQueue)
	}
}

// drain hands n's queued deliveries to its handler, one at a time.
func (b *Broker) drain(n *node) {
	defer b.drainers.Done()
	defer close(n.done)
	var buf []item
	for {
		buf = n.q.take(buf, n.stop)
		if buf == nil {
			return
		}
		for i, it := range buf {
			if it.pub != nil {
				n.h.HandlePublication(it.pub)
			} else {
				n.h.HandleMessage(it.from, it.msg)
			}
			buf[i] = item{}
			b.received.Add(1)
		}
	}
}
