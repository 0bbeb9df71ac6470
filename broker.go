package allspark

import (
	"context"
	"fmt"
)

// Broker carries room and spark traffic between the nodes (servers) of a
// cluster, on an existing message system: the in-memory MemoryBroker in one
// process, Redis (broker/redis) or NATS (broker/nats) across machines. The
// split follows Socket.IO's adapters and centrifuge's Broker: each node keeps
// its own membership and delivers to its own sparks; the broker only moves
// already-encoded publications to the other nodes that need them, and
// carries the small node-to-node messages (heartbeats, requests, answers)
// on which the server builds cluster-wide operations: Locate, counts,
// fetching sparks, presence, remote join/leave/disconnect, forwarded
// polling requests. Node membership, timeouts and partial results are the
// server's business (cluster.go), so every broker gets them the same way.
//
// Every method may be called from many goroutines. The node argument lets one
// Broker value serve several servers in one process. A node never receives
// its own publications or messages back: the publishing server has delivered
// locally already, which is what lets room writes report exact local counts.
//
// Delivery is at most once: a broker may drop traffic during an outage or
// when a node cannot keep up, and says so through its error results and
// BrokerStats, never by blocking the caller without bound.
type Broker interface {
	// Register attaches a node; publications and messages for it are
	// handed to h until Unregister. Handlers must not block for long: the
	// server's handlers only queue work.
	Register(ctx context.Context, node string, h BrokerHandler) error
	// Unregister detaches the node and drops its subscriptions.
	Unregister(ctx context.Context, node string) error
	// Subscribe tells the broker that node has members in room, so
	// publications to room must reach it. Topic-routing brokers (Redis
	// channels, NATS subjects) subscribe to the room's topic here. The
	// interest is recorded even when the call fails (the broker is
	// unreachable): a broker resubscribes what was asked of it by itself
	// once it is connected again.
	Subscribe(ctx context.Context, node, room string) error
	// Unsubscribe undoes Subscribe when the node's last member left; like
	// Subscribe, the interest is dropped even when the call fails.
	Unsubscribe(ctx context.Context, node, room string) error
	// Publish delivers p to every other node that has members of p.Rooms or
	// may hold one of p.Sparks, or to every other node when p.All. It returns the deliveries the other nodes
	// reported synchronously; brokers that deliver asynchronously return 0.
	Publish(ctx context.Context, p *Publication) (int, error)
	// Send delivers msg from node from to node to's HandleMessage, or to
	// every other registered node when to is "". Messages are small and
	// opaque to the broker; a message for a node that is gone is dropped
	// silently (the sender's request times out).
	Send(ctx context.Context, from, to string, msg []byte) error
}

// PeerReporter is implemented by brokers that can tell cheaply whether a node
// has peers. A server whose broker reports none skips the publication
// entirely, including encoding a value only its outgoing transforms make
// encodable. MemoryBroker implements it.
type PeerReporter interface {
	HasPeers(node string) bool
}

// HealthReporter is implemented by brokers that watch their own connection
// (Redis and NATS probe their subscriptions by publishing to themselves).
// Health returns nil while the broker can carry traffic, and the reason
// otherwise; /readyz of the allspark binary reports it.
type HealthReporter interface {
	Health() error
}

// StatsReporter is implemented by brokers that count their traffic; the
// allspark binary's /metrics exports the figures.
type StatsReporter interface {
	BrokerStats() BrokerStats
}

// BrokerStats are a broker's counters since it was created.
type BrokerStats struct {
	Published  uint64 // publications and messages sent
	Received   uint64 // publications and messages handed to a node
	Dropped    uint64 // received but dropped: a node's inbound queue was full
	Errors     uint64 // operations that failed (each also returned or logged)
	Reconnects uint64 // connections re-established after a loss
	Connected  bool   // the broker can carry traffic now
}

// hasPeers reports whether other nodes may need this node's publications.
func (s *Server) hasPeers() bool {
	if pr, ok := s.broker.(PeerReporter); ok {
		return pr.HasPeers(s.nodeID)
	}
	return true
}

// BrokerHandler is how a broker hands traffic to a node. Server implements
// it.
type BrokerHandler interface {
	// HandlePublication delivers p to the node's local sparks and returns how
	// many it was queued for.
	HandlePublication(p *Publication) int
	// HandleMessage receives a node-to-node message sent with Broker.Send.
	// The handler owns msg.
	HandleMessage(from string, msg []byte)
}

// Publication is one message on its way to rooms and/or sparks on other
// nodes. Payload is already encoded with the cluster's parser (every node
// must use the same one), so receivers push the bytes without re-encoding.
type Publication struct {
	Node string // the publishing node
	// Namespace is the Socket.IO namespace All selects in ("" for the
	// main one); rooms of other namespaces are already keyed with it.
	Namespace string
	All       bool     // deliver to every spark of Namespace (Rooms and Sparks are then empty)
	Rooms     []string // deliver to members of any of these rooms
	Sparks    []string // and to these sparks
	Except    []string // but never to these sparks
	Payload   []byte
	Binary    bool // Payload travels in a binary frame
	// Value is the message again in MessagePack, set only when it holds
	// []byte values that Payload's text encoding (JSON) turned into base64
	// strings: the receiving node gives it to wires that send bytes as
	// binary (Socket.IO attachments), so a Buffer sent on one node is a
	// Buffer on every node.
	Value []byte
	// Pos is the message's place in the history of its one room (Rooms[0]),
	// set by a HistoryBroker on the publications it delivers for
	// PublishHistory; the zero Position for every other publication.
	Pos Position
}

// BrokerError reports a broker failure for one operation.
type BrokerError struct {
	Op   string // "subscribe", "unsubscribe", "publish", "locate", "register"
	Room string // for subscribe/unsubscribe
	Err  error
}

func (e *BrokerError) Error() string {
	if e.Room != "" {
		return fmt.Sprintf("allspark: broker %s %q: %v", e.Op, e.Room, e.Err)
	}
	return fmt.Sprintf("allspark: broker %s: %v", e.Op, e.Err)
}

// Unwrap returns the broker's error.
func (e *BrokerError) Unwrap() error { return e.Err }

// NodeID is this server's name in the cluster (Options.NodeID or a random id).
func (s *Server) NodeID() string { return s.nodeID }

// HandlePublication implements BrokerHandler: a publication from another
// node is delivered to the local members it targets.
func (s *Server) HandlePublication(p *Publication) int {
	if p.Pos.Offset != 0 && len(p.Rooms) == 1 {
		return s.deliverStamped(p)
	}
	t := Target{srv: s, ns: p.Namespace, all: p.All, rooms: p.Rooms, ids: p.Sparks, except: p.Except}
	f := frame{Payload: p.Payload, Binary: p.Binary}
	if p.Value != nil && s.reframing.Load() > 0 {
		f.Value = sideValue(p.Value)
	}
	if len(s.transforms[Outgoing].load()) > 0 {
		// Transforms work on values, per spark: decode once, write to each.
		data, err := s.opts.Parser.Decode(p.Payload, p.Binary)
		if err != nil {
			s.opts.Logger.Warn("undecodable publication", "from", p.Node, "err", err)
			return 0
		}
		return t.writeEach(data)
	}
	return t.pushLocal(f)
}

// BrokerHealth returns the broker's own view of its connection
// (HealthReporter), or nil for brokers that do not watch one.
func (s *Server) BrokerHealth() error {
	if hr, ok := s.broker.(HealthReporter); ok {
		if err := hr.Health(); err != nil {
			return &BrokerError{Op: "health", Err: err}
		}
	}
	return nil
}

// BrokerStats returns the broker's counters, and false when it keeps none
// (StatsReporter).
func (s *Server) BrokerStats() (BrokerStats, bool) {
	if sr, ok := s.broker.(StatsReporter); ok {
		return sr.BrokerStats(), true
	}
	return BrokerStats{}, false
}
