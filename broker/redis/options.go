package redis

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Defaults for the zero Options.
const (
	DefaultAddr          = "127.0.0.1:6379"
	DefaultPrefix        = "allspark"
	DefaultWriteTimeout  = time.Second
	DefaultProbeInterval = 5 * time.Second
	DefaultInboundQueue  = 65536
)

// Options configure a Broker. The zero value connects to a standalone Redis
// at 127.0.0.1:6379.
type Options struct {
	// Addrs are the Redis addresses (host:port): one standalone server, the
	// Sentinels when SentinelMaster is set, or seed nodes when Cluster is
	// set. Default: 127.0.0.1:6379.
	Addrs []string
	// Username and Password authenticate (ACL user, or the password alone).
	// In Sentinel mode they are used for the Sentinels and the master.
	Username string
	Password string
	// DB is the database SELECTed on connect (standalone and Sentinel only;
	// PUB/SUB ignores databases, so DB matters only for Redis ACL setups
	// that restrict it).
	DB int
	// TLS, when set, is used for every connection.
	TLS *tls.Config
	// SentinelMaster turns on Sentinel mode: Addrs are Sentinels, and the
	// broker follows the master they name.
	SentinelMaster string
	// Cluster turns on Redis Cluster mode: Addrs are seed nodes.
	Cluster bool
	// Prefix starts every channel name, so that several Allspark clusters
	// can share one Redis. Default "allspark".
	Prefix string
	// WriteTimeout bounds each Publish, Send, Subscribe and Unsubscribe,
	// and each history write and session save or delete, when the
	// caller's context has no earlier deadline, so that an outage fails
	// calls quickly instead of holding them. History reads and session
	// takes (a reconnecting spark's restore) wait for the caller's
	// deadline when it has one (RecoveryOptions.Timeout), WriteTimeout
	// otherwise. Default 1 s.
	WriteTimeout time.Duration
	// ProbeInterval is how often the broker publishes a probe to itself and
	// how long it waits for it: a probe that does not come back makes the
	// broker rebuild its PUB/SUB connection. Default 5 s.
	ProbeInterval time.Duration
	// InboundQueue bounds, per registered node, the messages received but
	// not yet handled. Past it messages are dropped and counted
	// (BrokerStats.Dropped), so a slow node can never make the broker hold
	// more. Default 65,536.
	InboundQueue int
	// Logger receives connection changes and drop reports (at most one per
	// node per second). Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if len(o.Addrs) == 0 {
		o.Addrs = []string{DefaultAddr}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.InboundQueue <= 0 {
		o.InboundQueue = DefaultInboundQueue
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
