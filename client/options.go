package client

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/allspark/allspark/parser"
)

// Defaults applied when an Options field is left at its zero value. They are
// Primus's client defaults, except DefaultQueueSize (Primus: unbounded).
const (
	DefaultPathname         = "/primus"
	DefaultTimeout          = 10 * time.Second       // connect timeout
	DefaultReconnectMin     = 500 * time.Millisecond // first back-off delay
	DefaultReconnectRetries = 10
	DefaultReconnectFactor  = 2
	DefaultReconnectTimeout = 30 * time.Second // one reconnect attempt
	DefaultQueueSize        = 1024             // writes held while not open
	DefaultMaxLength        = 10 << 20         // largest message accepted, bytes
	DefaultMaxQueuedEvents  = 256              // received events waiting for handlers
	DefaultMaxQueuedBytes   = 4 << 20          // their size on the wire
	DefaultMaxPendingAcks   = 1024             // EmitWithAck requests awaiting replies
)

// OverflowFactor is how far past MaxQueuedEvents and MaxQueuedBytes the
// reader goes on reading while a request awaits its reply (see
// Options.MaxQueuedEvents); past it the connection is closed with
// ErrEventOverflow.
const OverflowFactor = 4

// Unlimited, as ReconnectOptions.Retries or Options.QueueSize, removes the
// bound (Primus's Infinity).
const Unlimited = -1

// Off, as Options.Timeout, Options.PingTimeout or ReconnectOptions.Timeout,
// disables that timer (Primus's false).
const Off time.Duration = -1

// Strategy is a set of reasons for which the client reconnects, as Primus's
// "strategy" option.
type Strategy uint8

const (
	// StrategyDisconnect reconnects after an unexpected drop: the connection
	// closed without "primus::server::close", or the ping watchdog expired.
	StrategyDisconnect Strategy = 1 << iota
	// StrategyTimeout reconnects when the first connection fails or does not
	// open within Options.Timeout. Authorization failures never reconnect.
	StrategyTimeout
	// StrategyOnline is accepted for parity with Primus, where it reconnects
	// when the browser reports it is back online. A Go process has no such
	// signal, so it has no effect here.
	StrategyOnline
	// StrategyNone disables reconnection; the other bits are ignored.
	StrategyNone
)

// DefaultStrategy is what the zero Strategy means: Primus's
// "disconnect,online,timeout".
const DefaultStrategy = StrategyDisconnect | StrategyOnline | StrategyTimeout

func (s Strategy) has(bit Strategy) bool { return s&StrategyNone == 0 && s&bit != 0 }

// ReconnectOptions configure the randomized exponential back-off between
// reconnection attempts (Primus's "reconnect" option, from the recovery
// package). Attempt n waits
//
//	delay(n) = min(round((rand+1) · Min · Factor^(n−1)), Max)
//
// with rand uniform in [0, 1), except the first attempt, which waits exactly
// Min (as Primus does; Min is also the formula's lower bound for n = 1).
type ReconnectOptions struct {
	// Min is the first delay and the scale of the others. Default 500 ms.
	Min time.Duration
	// Max caps every delay. Zero means no cap (Primus's Infinity).
	Max time.Duration
	// Retries is how many attempts are made before giving up with
	// "end" and "reconnect failed". Default 10; Unlimited never gives up.
	Retries int
	// Factor is the growth per attempt. Default 2.
	Factor float64
	// Timeout bounds one attempt, from "reconnect" until the connection is
	// open; on expiry "reconnect timeout" is emitted and the next attempt is
	// scheduled. Default 30 s; Off disables it.
	Timeout time.Duration
}

// Options configure a Client. The zero value connects to "/primus" on the
// URL's host with the JSON parser and Primus's defaults.
type Options struct {
	// Pathname the server listens under. Default: the URL's path when it is
	// neither empty nor "/", else "/primus".
	Pathname string
	// Parser encodes and decodes messages; it must match the server's.
	// Default parser.JSON. If the server's <pathname>/spec names a different
	// parser, an EventError wrapping ErrParserMismatch is emitted.
	Parser parser.Parser
	// Header is sent with the WebSocket upgrade (and the spec request).
	// Userinfo in the URL becomes a Basic Authorization header unless Header
	// sets Authorization itself.
	Header http.Header
	// Query is added to the URL's own query string. The client also adds
	// Primus's cache buster, _primuscb, to every connection request.
	Query url.Values
	// TLSConfig for wss:// (and https://) URLs; it is cloned per dial.
	TLSConfig *tls.Config
	// Compression offers permessage-deflate.
	Compression bool
	// NetDial, if set, opens the TCP connection (proxies, tests). TLS is
	// layered on top for wss:// URLs.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Manual leaves the client closed after New until Open is called.
	Manual bool
	// Timeout bounds the first connection (Primus's "timeout"), from Open
	// until the WebSocket handshake completes. On expiry EventTimeout is
	// emitted, then the client reconnects (StrategyTimeout) or ends. Default
	// 10 s; Off disables it. Reconnection attempts use Reconnect.Timeout.
	Timeout time.Duration
	// PingTimeout is the watchdog: if no "primus::ping::" arrives for this
	// long, the connection is cut and treated as an unexpected drop. Zero
	// reads the server's pingInterval from <pathname>/spec and uses 1.5 times
	// it (no watchdog when the server does not ping or the spec cannot be
	// read). Off disables the watchdog.
	PingTimeout time.Duration
	// Reconnect configures the back-off.
	Reconnect ReconnectOptions
	// Strategy says when to reconnect. Zero means DefaultStrategy.
	Strategy Strategy
	// QueueSize bounds the writes held while the client is not open. When it
	// is full the oldest is dropped and reported as EventDrop. Default
	// DefaultQueueSize; Unlimited removes the bound (Primus's default).
	QueueSize int
	// MaxLength is the largest message accepted from the server; a larger
	// one closes the connection. Default 10 MiB.
	MaxLength int

	// MaxQueuedEvents bounds the messages received but not yet handled:
	// EventData (and EventError for undecodable or failed messages) waiting
	// for OnEvent, and named events waiting for their On handlers, counted
	// together. MaxQueuedBytes bounds their size on the wire; a message
	// always fits in an empty queue. Defaults DefaultMaxQueuedEvents and
	// DefaultMaxQueuedBytes.
	//
	// When either bound is reached the client stops reading the socket
	// until the handlers have worked the queue down to half of it, so a
	// slow handler slows the server (through TCP) instead of growing memory;
	// nothing is dropped. Meanwhile the ping watchdog is paused (a paused
	// reader cannot see pings) and the client sends WebSocket pings, which
	// the server's heartbeat counts as pongs.
	//
	// While an EmitWithAck or ID request awaits its reply, the reader reads
	// on past the bounds, since a handler may be the one waiting and the
	// reply is somewhere behind the queued messages; pings and acks are then
	// handled as they arrive. This is bounded too: when OverflowFactor times
	// either bound is queued, the connection is closed (close code 1008)
	// and EventClose reports ErrEventOverflow; it is then an unexpected drop,
	// reconnected per Strategy. Every message read before that is still
	// delivered.
	MaxQueuedEvents int
	// MaxQueuedBytes: see MaxQueuedEvents.
	MaxQueuedBytes int
	// MaxPendingAcks bounds the EmitWithAck calls waiting for a reply at
	// once; past it EmitWithAck fails at once with ErrTooManyRequests.
	// Default DefaultMaxPendingAcks.
	MaxPendingAcks int

	// OnEvent receives every event of the client, in order, one at a time,
	// on a goroutine of the client's (see Event). nil discards events.
	// Without Manual, events may start before New returns; a handler that
	// needs the *Client should get it from Dial, or use Manual and Open.
	OnEvent func(Event)

	// NoRecover asks the server for no session: every connection is a new
	// spark, with nothing replayed, as with Primus. By default the client
	// asks for one and keeps room positions (see RecoveryInfo).
	NoRecover bool
	// OnSession receives what the server says of every connection that
	// opens (its session envelope): whether the spark came back and
	// whether what was missed follows; RecoveryInfo.Unrecovered is the
	// signal to reload the application's state. It is called in order with
	// OnEvent (after the connection's EventOpen, before its data), on the
	// same goroutine, never at the same time. nil: not called.
	OnSession func(RecoveryInfo)
}

// resolved is Options with every default applied.
type resolved struct {
	Options
}

func (o Options) withDefaults() resolved {
	if o.Parser == nil {
		o.Parser = parser.JSON{}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Strategy == 0 {
		o.Strategy = DefaultStrategy
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxLength <= 0 {
		o.MaxLength = DefaultMaxLength
	}
	if o.MaxQueuedEvents <= 0 {
		o.MaxQueuedEvents = DefaultMaxQueuedEvents
	}
	if o.MaxQueuedBytes <= 0 {
		o.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if o.MaxPendingAcks <= 0 {
		o.MaxPendingAcks = DefaultMaxPendingAcks
	}
	r := &o.Reconnect
	if r.Min <= 0 {
		r.Min = DefaultReconnectMin
	}
	if r.Max > 0 && r.Max < r.Min {
		r.Max = r.Min
	}
	if r.Retries == 0 {
		r.Retries = DefaultReconnectRetries
	}
	if r.Factor <= 0 {
		r.Factor = DefaultReconnectFactor
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultReconnectTimeout
	}
	return resolved{o}
}
