package allspark

import "time"

// ClusterOptions tunes the node-to-node layer of a cluster: how nodes learn
// of each other and how long a cluster-wide request waits for answers. The
// zero value works.
type ClusterOptions struct {
	// HeartbeatInterval is how often a node announces itself to the others
	// over Broker.Send. Default 2 s. Not used with brokers that list their
	// nodes exactly (NodeLister, the MemoryBroker).
	HeartbeatInterval time.Duration
	// NodeTTL is how long a node that stopped announcing itself (killed,
	// partitioned) is still counted as a member: cluster-wide requests wait
	// for its answer, and presence keeps its entries, until it passes.
	// Default 3 × HeartbeatInterval.
	NodeTTL time.Duration
	// RequestTimeout bounds a cluster-wide request (Locate, Count, Fetch,
	// remote Join/Leave/Disconnect, presence) when the caller's context
	// has no earlier deadline. Default 5 s. A forwarded polling request
	// is held longer, until its wire answers it: at most the longer of
	// the Engine.IO ping interval and the SockJS heartbeat, plus
	// WriteTimeout and RequestTimeout.
	RequestTimeout time.Duration
	// MaxConcurrentRequests bounds the requests from other nodes this node
	// serves at once; past it a request is answered "busy" at once.
	// Default 256.
	MaxConcurrentRequests int
	// MaxForwardedRequests bounds the polling requests forwarded from
	// other nodes (HTTP fallbacks without sticky sessions) this node
	// serves at once. They have their own bound because a forwarded
	// long-poll is held for up to a poll's duration (25 s by default):
	// one per polling client whose requests land elsewhere. Past it a
	// forwarded request is answered "busy", which its client gets as 503.
	// Default 4096.
	MaxForwardedRequests int
}

// Defaults of ClusterOptions.
const (
	DefaultHeartbeatInterval     = 2 * time.Second
	DefaultRequestTimeout        = 5 * time.Second
	DefaultMaxConcurrentRequests = 256
	DefaultMaxForwardedRequests  = 4096
)

func (o ClusterOptions) withDefaults() ClusterOptions {
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.NodeTTL <= 0 {
		o.NodeTTL = 3 * o.HeartbeatInterval
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxConcurrentRequests <= 0 {
		o.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	if o.MaxForwardedRequests <= 0 {
		o.MaxForwardedRequests = DefaultMaxForwardedRequests
	}
	return o
}
