package nats

import (
	"fmt"
	"time"

	"github.com/allspark/allspark"
	natsgo "github.com/nats-io/nats.go"
)

// The probe. A connection can look healthy and still deliver nothing: a
// server that stopped routing to it, a network that black-holes one
// direction (centrifugo#1189 is the Redis form of it). TCP and nats.go's
// PINGs notice that only after minutes. So every ProbeInterval each node
// publishes a probe envelope to its own node subject, which only its own
// subscription receives; a probe not back by the next tick marks the node
// failing, which Health reports, and a connection New dialled is rebuilt
// (ForceReconnect; nats.go resubscribes everything). A probe back clears the
// mark. Probes lost to an outage the client already noticed are forgiven:
// nothing is marked failing across a reconnect.

func (b *Broker) probeLoop() {
	defer close(b.probeDone)
	t := time.NewTicker(b.opts.ProbeInterval)
	defer t.Stop()
	reconnects := b.nc.Stats().Reconnects
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		if r := b.nc.Stats().Reconnects; r != reconnects {
			reconnects = r
			b.forgiveProbes()
		}
		b.probe()
	}
}

// probe checks the previous round and sends the next.
func (b *Broker) probe() {
	if !b.nc.IsConnected() {
		b.forgiveProbes() // Health says why; the client is reconnecting already
		return
	}
	stale := false
	for _, n := range b.liveNodes() {
		sent := n.probeSent.Load()
		if n.probeBack.Load() < sent {
			n.probeFailing.Store(true)
			stale = true
			b.opts.Logger.Warn("nats broker: probe not back", "node", n.name, "after", b.opts.ProbeInterval)
		}
		seq := sent + 1
		n.probeSent.Store(seq)
		var buf [1 + 10]byte
		if err := b.nc.Publish(n.subject, appendProbe(buf[:0], seq)); err != nil {
			b.errors.Add(1)
		}
	}
	if stale && b.owned {
		b.opts.Logger.Warn("nats broker: rebuilding the connection after a lost probe")
		if err := b.nc.ForceReconnect(); err != nil {
			b.errors.Add(1)
		}
	}
}

// forgiveProbes treats outstanding probes as answered.
func (b *Broker) forgiveProbes() {
	for _, n := range b.liveNodes() {
		n.probeBack.Store(n.probeSent.Load())
	}
}

func (b *Broker) liveNodes() []*node {
	b.mu.Lock()
	defer b.mu.Unlock()
	nodes := make([]*node, 0, len(b.nodes))
	for _, n := range b.nodes {
		nodes = append(nodes, n)
	}
	return nodes
}

// Health implements allspark.HealthReporter: nil while the connection is
// up and every node's last probe came back in time.
func (b *Broker) Health() error {
	if b.closed.Load() {
		return ErrClosed
	}
	if st := b.nc.Status(); st != natsgo.CONNECTED {
		return fmt.Errorf("%w (%v)", ErrNotConnected, st)
	}
	for _, n := range b.liveNodes() {
		if n.probeFailing.Load() {
			return fmt.Errorf("nats broker: node %q: probe not received within %v", n.name, b.opts.ProbeInterval)
		}
	}
	return nil
}

// BrokerStats implements allspark.StatsReporter. Dropped counts both the
// nodes' full inbound queues and what nats.go dropped before them (slow
// consumer); Reconnects are nats.go's, since this Broker was made.
func (b *Broker) BrokerStats() allspark.BrokerStats {
	drops := b.dropped.Load() + b.retiredDrops.Load()
	for _, n := range b.liveNodes() {
		drops += n.natsDrops()
	}
	return allspark.BrokerStats{
		Published:  b.published.Load(),
		Received:   b.received.Load(),
		Dropped:    drops,
		Errors:     b.errors.Load(),
		Reconnects: b.nc.Stats().Reconnects - b.baseReconnects,
		Connected:  b.nc.IsConnected() && !b.closed.Load(),
	}
}
