package allspark

import (
	"context"
	"fmt"
)

// Broker carries room and spark traffic between the nodes (servers) of a
// cluster, on an existing message system: the in-memory MemoryBroker in one
// process, Redis or NATS across machines. The split follows Socket.IO's
// adapters and centrifuge's Broker: each node keeps its own membership and
// delivers to its own sparks; the broker only moves already-encoded
// publications to the other nodes that need them and answers "which node
// holds spark X".
//
// Every method may be called from many goroutines. The node argument lets one
// Broker value serve several servers in one process. A node never receives
// its own publications back: the publishing server has delivered locally
// already, which is what lets room writes report exact local counts.
type Broker interface {
	// Register attaches a node; publications for it are handed to h until
	// Unregister.
	Register(ctx context.Context, node string, h BrokerHandler) error
	// Unregister detaches the node and drops its subscriptions.
	Unregister(ctx context.Context, node string) error
	// Subscribe tells the broker that node has members in room, so
	// publications to room must reach it. Topic-routing brokers (Redis
	// channels, NATS subjects) subscribe to the room's topic here.
	Subscribe(ctx context.Context, node, room string) error
	// Unsubscribe undoes Subscribe when the node's last member left.
	Unsubscribe(ctx context.Context, node, room string) error
	// Publish delivers p to every other node that has members of p.Rooms or
	// may hold one of p.Sparks, or to every other node when p.All. It returns the deliveries the other nodes
	// reported synchronously; brokers that deliver asynchronously return 0.
	Publish(ctx context.Context, p *Publication) (int, error)
	// Locate returns the node holding the spark, or "" when no node does.
	Locate(ctx context.Context, sparkID string) (string, error)
}

// PeerReporter is implemented by brokers that can tell cheaply whether a node
// has peers. A server whose broker reports none skips the publication
// entirely, including encoding a value only its outgoing transforms make
// encodable. MemoryBroker implements it.
type PeerReporter interface {
	HasPeers(node string) bool
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
	// HasSpark reports whether the node holds the spark.
	HasSpark(id string) bool
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
	t := Target{srv: s, ns: p.Namespace, all: p.All, rooms: p.Rooms, ids: p.Sparks, except: p.Except}
	if len(s.transforms[Outgoing].load()) > 0 {
		// Transforms work on values, per spark: decode once, write to each.
		data, err := s.opts.Parser.Decode(p.Payload, p.Binary)
		if err != nil {
			s.opts.Logger.Warn("undecodable publication", "from", p.Node, "err", err)
			return 0
		}
		return t.writeEach(data)
	}
	return t.pushLocal(frame{Payload: p.Payload, Binary: p.Binary})
}

// HasSpark implements BrokerHandler.
func (s *Server) HasSpark(id string) bool {
	_, ok := s.Spark(id)
	return ok
}

// Locate returns the node that holds the spark: this node's id when it is
// local, another node's as the broker reports it, or ErrNotFound.
func (s *Server) Locate(ctx context.Context, id string) (string, error) {
	if _, ok := s.Spark(id); ok {
		return s.nodeID, nil
	}
	node, err := s.broker.Locate(ctx, id)
	if err != nil {
		return "", &BrokerError{Op: "locate", Err: err}
	}
	if node == "" {
		return "", ErrNotFound
	}
	return node, nil
}
