package nats

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults of Options' zero fields.
const (
	DefaultServer        = "nats://127.0.0.1:4222"
	DefaultPrefix        = "allspark"
	DefaultWriteTimeout  = time.Second
	DefaultProbeInterval = 5 * time.Second
	DefaultInboundQueue  = 65536
	DefaultInboundBytes  = 64 << 20
)

// Options configure a Broker. The zero value works: it connects to
// nats://127.0.0.1:4222 with the "allspark" prefix.
type Options struct {
	// Servers are the NATS servers to connect to, as URLs
	// ("nats://h:4222", "tls://h:4222") or bare "host:port". The client
	// picks one and fails over to the others. Default DefaultServer.
	Servers []string
	// Username and Password authenticate with user/password; Token with a
	// token; CredsFile with a JWT + NKey credentials file. Set at most one
	// of the three ways.
	Username, Password string
	Token              string
	CredsFile          string
	// TLS, if set, secures the connection with this configuration.
	// A tls:// server URL without it uses the system roots.
	TLS *tls.Config
	// Name is the client connection name shown by the NATS server's
	// monitoring; default "allspark".
	Name string
	// Prefix is the first token(s) of every subject the Broker uses, so
	// several clusters can share one NATS account: <prefix>.all,
	// <prefix>.n.<node>, <prefix>.r.<room>. It must be a valid literal
	// subject (dot-separated non-empty tokens, no wildcards or spaces).
	// Default DefaultPrefix.
	Prefix string
	// WriteTimeout bounds how long a publish may wait for the socket, and
	// how long Register and Subscribe wait for the server to confirm the
	// subscription. Default DefaultWriteTimeout (1 s).
	WriteTimeout time.Duration
	// ProbeInterval is how often each node publishes a probe to its own
	// subject; a probe not back by the next tick makes Health fail and the
	// connection is rebuilt. Default DefaultProbeInterval (5 s); negative
	// turns probing off.
	ProbeInterval time.Duration
	// InboundQueue bounds, in messages, each node's queue of received
	// traffic waiting for its handler; past it traffic is dropped and
	// counted in BrokerStats.Dropped. Default DefaultInboundQueue (65,536).
	InboundQueue int
	// InboundBytes bounds the same queue in payload bytes. Default
	// DefaultInboundBytes (64 MiB).
	InboundBytes int
	// Logger receives connection events and drops (at most one drop line
	// per second per node); default discards.
	Logger *slog.Logger

	// History turns on room history and sessions in JetStream
	// (history.go, session.go): New then checks that the account has
	// JetStream and fails with ErrNoJetStream when it has not, and
	// Broker.WithHistory returns the broker the server should be given.
	// URL: ?history=jetstream.
	History bool
	// HistoryStorage is where the history and session streams keep their
	// messages: FileStorage (the default; they survive a NATS restart)
	// or MemoryStorage. URL: ?storage=file|memory.
	HistoryStorage Storage
	// HistoryReplicas is the replica count of those streams in a
	// clustered JetStream; default 1.
	HistoryReplicas int
	// SessionMaxAge bounds the TTL of a saved session (it is the session
	// stream's MaxAge, so NATS removes what no node took); SaveSession
	// refuses a longer TTL. Default DefaultSessionMaxAge (24 h).
	SessionMaxAge time.Duration
}

// Storage is where a JetStream stream keeps its messages.
type Storage int

const (
	// FileStorage keeps them on the NATS server's disk.
	FileStorage Storage = iota
	// MemoryStorage keeps them in the NATS server's memory.
	MemoryStorage
)

// DefaultSessionMaxAge is Options.SessionMaxAge's default.
const DefaultSessionMaxAge = 24 * time.Hour

// withDefaults returns o with its zero fields filled and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if len(o.Servers) == 0 {
		o.Servers = []string{DefaultServer}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := checkPrefix(o.Prefix); err != nil {
		return o, err
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.WriteTimeout < 0 {
		return o, fmt.Errorf("%w: negative WriteTimeout %v", ErrBadOptions, o.WriteTimeout)
	}
	if o.ProbeInterval == 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.InboundQueue == 0 {
		o.InboundQueue = DefaultInboundQueue
	}
	if o.InboundQueue < 0 {
		return o, fmt.Errorf("%w: negative InboundQueue %d", ErrBadOptions, o.InboundQueue)
	}
	if o.InboundBytes == 0 {
		o.InboundBytes = DefaultInboundBytes
	}
	if o.InboundBytes < 0 {
		return o, fmt.Errorf("%w: negative InboundBytes %d", ErrBadOptions, o.InboundBytes)
	}
	auth := 0
	if o.Username != "" || o.Password != "" {
		auth++
	}
	if o.Token != "" {
		auth++
	}
	if o.CredsFile != "" {
		auth++
	}
	if auth > 1 {
		return o, fmt.Errorf("%w: set only one of Username/Password, Token and CredsFile", ErrBadOptions)
	}
	if o.Name == "" {
		o.Name = "allspark"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HistoryStorage != FileStorage && o.HistoryStorage != MemoryStorage {
		return o, fmt.Errorf("%w: unknown HistoryStorage %d", ErrBadOptions, o.HistoryStorage)
	}
	if o.HistoryReplicas == 0 {
		o.HistoryReplicas = 1
	}
	if o.HistoryReplicas < 0 {
		return o, fmt.Errorf("%w: negative HistoryReplicas %d", ErrBadOptions, o.HistoryReplicas)
	}
	if o.SessionMaxAge == 0 {
		o.SessionMaxAge = DefaultSessionMaxAge
	}
	if o.SessionMaxAge < 0 {
		return o, fmt.Errorf("%w: negative SessionMaxAge %v", ErrBadOptions, o.SessionMaxAge)
	}
	return o, nil
}

// checkPrefix accepts a literal NATS subject: non-empty tokens separated by
// single dots, with no '*' or '>' anywhere (NATS reads them as wildcards as
// whole tokens; refusing them everywhere keeps the rule simple), and no
// whitespace or control bytes, which end a subject on the wire.
func checkPrefix(p string) error {
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" {
			return fmt.Errorf("%w: prefix %q has an empty token", ErrBadOptions, p)
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c <= ' ' || c == 0x7f || c == '*' || c == '>' {
				return fmt.Errorf("%w: prefix %q has a wildcard, space or control byte", ErrBadOptions, p)
			}
		}
	}
	return nil
}
