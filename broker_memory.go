package allspark

import (
	"context"
	"errors"
	"sync"
	"time"
)

// MemoryBroker is the in-process Broker, and the default: a server without
// Options.Broker gets a private one, which makes it a single-node cluster at
// the cost of one map lookup per room write. Share one MemoryBroker between
// several servers in a process and they behave as one cluster: room writes
// and spark lookups cross between them exactly as they would over Redis or
// NATS, which is how the room code is tested against the Broker contract.
//
// Delivery is synchronous: Publish returns after every other node has queued
// the message, and reports their counts; Send returns after every receiving
// node's handler returned.
type MemoryBroker struct {
	mu    sync.RWMutex
	nodes map[string]*memoryNode

	history  memoryHistory   // room streams (broker_memory_history.go)
	sessions *memorySessions // sessions of every server on this broker
}

type memoryNode struct {
	h     BrokerHandler
	rooms map[string]struct{}
}

// ErrNodeExists: a node registered under a name already in use.
var ErrNodeExists = errors.New("allspark: broker node already registered")

// NewMemoryBroker returns an empty MemoryBroker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{
		nodes:    make(map[string]*memoryNode),
		history:  memoryHistory{now: time.Now},
		sessions: newMemorySessions(DefaultMaxSessions),
	}
}

// Register implements Broker.
func (b *MemoryBroker) Register(_ context.Context, node string, h BrokerHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.nodes[node]; dup {
		return ErrNodeExists
	}
	b.nodes[node] = &memoryNode{h: h, rooms: make(map[string]struct{})}
	return nil
}

// Unregister implements Broker.
func (b *MemoryBroker) Unregister(_ context.Context, node string) error {
	b.mu.Lock()
	delete(b.nodes, node)
	b.mu.Unlock()
	return nil
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(_ context.Context, node, room string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.nodes[node]
	if !ok {
		return ErrNotFound
	}
	n.rooms[room] = struct{}{}
	return nil
}

// Unsubscribe implements Broker.
func (b *MemoryBroker) Unsubscribe(_ context.Context, node, room string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n, ok := b.nodes[node]; ok {
		delete(n.rooms, room)
	}
	return nil
}

// Nodes implements NodeLister.
func (b *MemoryBroker) Nodes() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.nodes))
	for name := range b.nodes {
		out = append(out, name)
	}
	return out
}

// HasPeers implements PeerReporter.
func (b *MemoryBroker) HasPeers(node string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, self := b.nodes[node]
	return len(b.nodes) > 1 || (!self && len(b.nodes) > 0)
}

// Publish implements Broker. Handlers run without the broker's lock held, so
// a node may publish again from inside delivery.
func (b *MemoryBroker) Publish(_ context.Context, p *Publication) (int, error) {
	b.mu.RLock()
	var targets []BrokerHandler
	for name, n := range b.nodes {
		if name == p.Node {
			continue
		}
		if p.All || len(p.Sparks) > 0 || n.subscribedAny(p.Rooms) {
			targets = append(targets, n.h)
		}
	}
	b.mu.RUnlock()
	total := 0
	for _, h := range targets {
		total += h.HandlePublication(p)
	}
	return total, nil
}

func (n *memoryNode) subscribedAny(rooms []string) bool {
	for _, r := range rooms {
		if _, ok := n.rooms[r]; ok {
			return true
		}
	}
	return false
}

// Send implements Broker. Each receiving node gets its own copy of msg,
// handed over synchronously and without the broker's lock held.
func (b *MemoryBroker) Send(_ context.Context, from, to string, msg []byte) error {
	b.mu.RLock()
	var targets []BrokerHandler
	if to != "" {
		if n, ok := b.nodes[to]; ok && to != from {
			targets = append(targets, n.h)
		}
	} else {
		for name, n := range b.nodes {
			if name != from {
				targets = append(targets, n.h)
			}
		}
	}
	b.mu.RUnlock()
	for _, h := range targets {
		h.HandleMessage(from, append([]byte(nil), msg...))
	}
	return nil
}
