package allspark

import (
	"context"
	"slices"
	"sync"
	"time"
)

// The cluster layer: how the nodes sharing a Broker know each other and
// answer each other's requests. Everything cluster-wide that is not a room
// write (Locate, Count, Fetch, remote Join/Leave/Disconnect, room listings,
// presence, forwarded polling requests) is a request from one node to the
// others over Broker.Send, so every broker gets the same membership,
// timeouts and partial results without implementing any of it.
//
// Membership comes from the broker when it knows its nodes exactly
// (NodeLister: the MemoryBroker) and from heartbeats otherwise: every node
// announces itself every HeartbeatInterval, answers an unknown node's
// heartbeat with its own so a newcomer learns the cluster at once, and says
// goodbye on Shutdown. A node unheard of for NodeTTL (killed with SIGKILL,
// partitioned) is forgotten: requests stop waiting for it and the peer-down
// hooks run (presence drops its entries).

// NodeLister is implemented by brokers that know exactly which nodes are
// registered (MemoryBroker). A server on such a broker sends no heartbeats.
type NodeLister interface {
	// Nodes returns every registered node, the caller's included.
	Nodes() []string
}

// clusterOp serves one kind of request from another node; the answer's
// bytes go back to it. Handlers run on their own goroutine, bounded by
// MaxConcurrentRequests, under a context that ends at RequestTimeout or
// Shutdown.
type clusterOp func(ctx context.Context, from string, body []byte) ([]byte, error)

type cluster struct {
	srv    *Server
	opts   ClusterOptions
	lister NodeLister // nil: membership by heartbeats

	mu    sync.Mutex
	peers map[string]time.Time // heartbeat membership: node → last heard, at most maxPeers
	// peersFull: a node past maxPeers was refused (logged once until the
	// next expiry frees room).
	peersFull bool
	nextID    uint64
	pending   map[uint64]*pendingRequest
	closed    bool

	ops       map[string]clusterOp // filled in New, read-only after
	notices   map[string]func(from string, body []byte)
	limits    map[string]opLimits // ops with their own bounds; filled in New, read-only after
	sem       chan struct{}
	downHooks cowList[func(node string)]

	ctx    context.Context // ends at Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup // heartbeat loop and request handlers
}

func (c *cluster) init(s *Server) {
	c.srv = s
	c.opts = s.opts.Cluster
	c.peers = make(map[string]time.Time)
	c.pending = make(map[uint64]*pendingRequest)
	c.ops = make(map[string]clusterOp)
	c.notices = make(map[string]func(string, []byte))
	c.limits = make(map[string]opLimits)
	c.sem = make(chan struct{}, c.opts.MaxConcurrentRequests)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.lister, _ = s.broker.(NodeLister)
}

// handle registers the handler of op (during New only).
func (c *cluster) handle(op string, fn clusterOp) { c.ops[op] = fn }

// handleNotice registers the handler of one-way messages for op (during
// New only). It runs on the broker's delivery goroutine, so it must only
// queue work, and body is only valid during the call.
func (c *cluster) handleNotice(op string, fn func(from string, body []byte)) { c.notices[op] = fn }

// notify sends a one-way message for op's notice handler on node to (""
// = every other node), bounded by ctx and RequestTimeout.
func (c *cluster) notify(ctx context.Context, to, op string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	m := &nodeMessage{kind: msgNotice, op: op, body: body}
	return c.srv.broker.Send(ctx, c.srv.nodeID, to, m.marshal())
}

// opLimits are the bounds of an op whose handlers are not quick: they run
// under timeout instead of RequestTimeout, and at most cap(sem) at once
// instead of sharing MaxConcurrentRequests, so that many held long-polls
// (forwarded polling requests) cannot starve Count or Locate, nor be
// starved by them.
type opLimits struct {
	timeout time.Duration
	sem     chan struct{}
}

// handleLimited registers the handler of op with its own bounds (during
// New only).
func (c *cluster) handleLimited(op string, fn clusterOp, timeout time.Duration, concurrency int) {
	c.ops[op] = fn
	c.limits[op] = opLimits{timeout: timeout, sem: make(chan struct{}, concurrency)}
}

// onPeerDown adds a hook run when a peer is forgotten (goodbye or NodeTTL).
func (c *cluster) onPeerDown(fn func(node string)) { c.downHooks.add(fn) }

// start begins heartbeating when membership is not the broker's.
func (c *cluster) start() {
	if c.lister != nil {
		return
	}
	c.wg.Add(1)
	go c.heartbeatLoop()
}

func (c *cluster) heartbeatLoop() {
	defer c.wg.Done()
	c.send("", &nodeMessage{kind: msgHeartbeat})
	t := time.NewTicker(c.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.send("", &nodeMessage{kind: msgHeartbeat})
			c.expire(time.Now())
		}
	}
}

// expire forgets the peers unheard of for NodeTTL.
func (c *cluster) expire(now time.Time) {
	var gone []string
	c.mu.Lock()
	for node, seen := range c.peers {
		if now.Sub(seen) > c.opts.NodeTTL {
			delete(c.peers, node)
			gone = append(gone, node)
		}
	}
	if len(gone) > 0 {
		c.peersFull = false
	}
	c.mu.Unlock()
	for _, node := range gone {
		c.peerDown(node)
	}
}

func (c *cluster) peerDown(node string) {
	c.srv.opts.Logger.Info("cluster node gone", "node", node)
	for _, fn := range c.downHooks.load() {
		fn(node)
	}
}

// heard records a message from node; it reports whether node was unknown.
func (c *cluster) heard(node string) bool {
	if c.lister != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	_, known := c.peers[node]
	if !known && len(c.peers) >= maxPeers {
		// Anything on the broker can claim to be a node; past maxPeers a
		// new name is not counted (requests would wait for it), and it is
		// said once per expiry round.
		if !c.peersFull {
			c.peersFull = true
			c.srv.opts.Logger.Warn("cluster: too many nodes, ignoring new ones", "limit", maxPeers, "node", node)
		}
		return false
	}
	c.peers[node] = time.Now()
	return !known
}

// maxPeers bounds the nodes a node counts as members.
const maxPeers = 1024

// livePeers returns the other nodes this node counts as members, sorted.
func (c *cluster) livePeers() []string {
	self := c.srv.nodeID
	var out []string
	if c.lister != nil {
		for _, n := range c.lister.Nodes() {
			if n != self {
				out = append(out, n)
			}
		}
	} else {
		now := time.Now()
		c.mu.Lock()
		for n, seen := range c.peers {
			if now.Sub(seen) <= c.opts.NodeTTL {
				out = append(out, n)
			}
		}
		c.mu.Unlock()
	}
	slices.Sort(out)
	return out
}

// Nodes returns this node and the other live nodes of its cluster, sorted.
func (s *Server) Nodes() []string {
	out := append(s.cluster.livePeers(), s.nodeID)
	slices.Sort(out)
	return out
}

// send hands m to the broker for node to ("" = every other node). Failures
// are logged: a request's sender sees them as a missing answer.
func (c *cluster) send(to string, m *nodeMessage) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout)
	defer cancel()
	if err := c.srv.broker.Send(ctx, c.srv.nodeID, to, m.marshal()); err != nil {
		c.srv.opts.Logger.Debug("cluster send failed", "to", to, "kind", string(m.kind), "err", err)
	}
}

// HandleMessage implements BrokerHandler.
func (s *Server) HandleMessage(from string, msg []byte) {
	m, err := unmarshalNodeMessage(msg)
	if err != nil {
		s.opts.Logger.Warn("malformed node message", "from", from, "err", err)
		return
	}
	c := &s.cluster
	switch m.kind {
	case msgHeartbeat:
		if c.heard(from) {
			c.send(from, &nodeMessage{kind: msgHeartbeat})
		}
	case msgBye:
		c.mu.Lock()
		_, known := c.peers[from]
		delete(c.peers, from)
		c.mu.Unlock()
		if known {
			c.peerDown(from)
		}
	case msgRequest:
		c.heard(from)
		c.serve(from, m)
	case msgAnswer:
		c.heard(from)
		c.answer(from, m)
	case msgNotice:
		c.heard(from)
		if fn := c.notices[m.op]; fn != nil {
			fn(from, m.body)
		}
	}
}

// stop ends heartbeats and request handling, after telling the other nodes.
func (c *cluster) stop() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	// The heartbeat loop ends before the goodbye goes out: a heartbeat
	// sent after it would make the others count this node again (until
	// NodeTTL), which TestClusterGoodbye caught in CI.
	c.cancel()
	c.wg.Wait()
	if c.lister == nil {
		// Not c.send: its context is c.ctx, cancelled above.
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
		defer cancel()
		if err := c.srv.broker.Send(ctx, c.srv.nodeID, "", (&nodeMessage{kind: msgBye}).marshal()); err != nil {
			c.srv.opts.Logger.Debug("cluster goodbye failed", "err", err)
		}
	}
}
