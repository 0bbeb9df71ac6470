package allspark

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/allspark/allspark/parser"
)

// Defaults applied when an Options field is left at its zero value.
const (
	DefaultPathname     = "/primus"
	DefaultPingInterval = 30 * time.Second
	DefaultMaxLength    = 10 << 20 // 10 MiB, as Primus
	DefaultQueueSize    = 1024     // messages per spark
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxRoomsPerSpark bounds the rooms one spark may be in: room
	// membership is memory a client can make the server spend (the demo's
	// join event, say), and few applications need more.
	DefaultMaxRoomsPerSpark = 1024
	// DefaultMaxPendingAcks bounds the EmitWithAck requests of one spark
	// waiting for replies; each holds a channel and its caller.
	DefaultMaxPendingAcks = 1024
	// DefaultMaxHeaderBytes is the http.Server.MaxHeaderBytes of the server
	// Serve and ListenAndServe run (net/http's default is 1 MiB): a spark
	// keeps its upgrade request's headers for its lifetime.
	DefaultMaxHeaderBytes = 64 << 10
)

// NoPing, as Options.PingInterval, turns heartbeats off.
const NoPing time.Duration = -1

// WebSocketEngine names a WebSocket read engine (Options.WebSocketEngine).
type WebSocketEngine string

// WebSocket engines.
const (
	EnginePoller    WebSocketEngine = "poller"    // readiness-driven reads; the default
	EngineGoroutine WebSocketEngine = "goroutine" // a read goroutine per connection (gws)
)

// SlowConsumerPolicy says what happens when a spark's send queue is full.
type SlowConsumerPolicy uint8

const (
	// SlowConsumerClose ends the spark with reconnect: the client comes back
	// and resynchronises, and the server holds no more than QueueSize
	// messages for it. The write that overflowed returns ErrQueueFull.
	SlowConsumerClose SlowConsumerPolicy = iota
	// SlowConsumerDropOldest drops the oldest queued message to make room;
	// the write succeeds. Suits state streams where the newest value wins.
	SlowConsumerDropOldest
)

// SlowConsumerEvent is reported to Options.OnSlowConsumer.
type SlowConsumerEvent struct {
	Policy  SlowConsumerPolicy
	Dropped int // messages discarded by this event
}

// CORSOptions configures the cors middleware. The zero value answers plain
// HTTP requests from every origin without credentials and accepts WebSocket
// upgrades only without an Origin header or from the server's own origin.
type CORSOptions struct {
	// Origins other than the server's own that may open WebSocket
	// connections, e.g. "https://app.example.com"; an entry such as
	// "https://*.example.com" matches every subdomain (not example.com
	// itself), "*" any origin. Comparison ignores case. An upgrade whose
	// Origin is neither absent, nor same-origin (its host[:port] equals the
	// request's Host, or the X-Forwarded-Host set by a TrustedProxies peer;
	// the scheme is not compared), nor listed gets 403: browsers send cookies
	// with cross-site WebSocket handshakes, so accepting them would let any
	// page act in the user's name. Plain HTTP requests from any origin are
	// answered while the list is empty; once it is explicit, other origins
	// get 403 there too.
	Origins []string
	// Methods for preflight answers; default GET, HEAD, PUT, POST, DELETE, OPTIONS.
	Methods []string
	// Credentials sends Access-Control-Allow-Credentials: true and reflects
	// the request's Origin instead of "*".
	Credentials bool
	// MaxAge of a preflight answer; default 30 days. Negative omits it.
	MaxAge time.Duration
	// Headers allowed in requests; default: whatever the preflight asks for.
	Headers []string
	// Exposed response headers.
	Exposed []string
}

// Options configures a Server. The zero value is a working Primus-compatible
// server at /primus with the JSON parser and 30 s heartbeats.
type Options struct {
	// Pathname the server owns: every request whose path is Pathname or
	// starts with Pathname + "/". Default "/primus"; a missing leading slash
	// is added, a trailing one removed.
	Pathname string
	// Parser for messages; default parser.JSON.
	Parser parser.Parser
	// PingInterval between server pings. 0 means DefaultPingInterval;
	// NoPing (or any negative value) turns heartbeats off. A spark's first
	// ping comes between half an interval and one after it connects; the
	// sparks are pinged in 64 slots spread over the interval, not all at
	// once.
	PingInterval time.Duration
	// MaxLength is the largest message, in bytes, accepted from a client
	// (larger closes the connection with 1009) or written to one (larger
	// returns ErrTooLarge). Default 10 MiB.
	MaxLength int
	// Compression negotiates permessage-deflate with clients that offer it.
	// With the poller engine both directions go without context takeover,
	// so an idle compressed connection costs what an uncompressed one does.
	Compression bool
	// WebSocketEngine picks how WebSocket connections are read (every
	// wire's WebSocket transport: Primus, Engine.IO, Socket.IO, SockJS).
	// The default, EnginePoller, reads on readiness (epoll): an idle
	// connection holds no goroutine and no read buffer, and a busy one
	// keeps a reader goroutine while it sends, so it reads as fast as
	// under EngineGoroutine. EngineGoroutine reads each connection on a
	// goroutine of its own through github.com/lxzan/gws: about 8 KB more
	// per idle connection, for a server that wants the engine it had
	// before, or a platform without epoll where it is the same cost.
	WebSocketEngine WebSocketEngine
	// IDGenerator makes spark ids; default 20 random URL-safe characters.
	// An Engine.IO sid (the spark id of a Primus session on Engine.IO) is
	// its output, ".", and an 8-character tag of the node id, so that any
	// node can forward the session's polling requests to the right one.
	IDGenerator func() string
	// CORS for plain HTTP requests and the origin check on upgrades.
	CORS CORSOptions
	// TrustedProxies are IPs or CIDRs whose X-Forwarded-For / X-Real-IP
	// headers are believed. Headers from any other peer are ignored.
	TrustedProxies []string
	// Logger for connection-level events; default discards.
	Logger *slog.Logger
	// QueueSize bounds each spark's outbound queue, in messages. Default 1024.
	QueueSize int
	// SlowConsumer is the policy when the queue is full.
	SlowConsumer SlowConsumerPolicy
	// OnSlowConsumer, if set, is called (outside any lock) each time the
	// policy fires. Stats counts these too.
	OnSlowConsumer func(s *Spark, ev SlowConsumerEvent)
	// WriteTimeout is how long a peer may accept no bytes at all before it is
	// disconnected (between 0.9× and 2× this: the deadline is renewed
	// whenever the peer takes bytes). A slow reader that keeps taking bytes
	// is never cut, however large the backlog. Default 10 s.
	WriteTimeout time.Duration
	// MaxRoomsPerSpark bounds the rooms one spark may be in; a Join past it
	// returns ErrTooManyRooms and joins none of its rooms. 0 means
	// DefaultMaxRoomsPerSpark (1024); negative means unlimited.
	MaxRoomsPerSpark int
	// MaxPendingAcks bounds the EmitWithAck requests of one spark waiting
	// for replies; past it EmitWithAck returns ErrTooManyAcks at once. 0
	// means DefaultMaxPendingAcks (1024); negative means unlimited.
	MaxPendingAcks int
	// Authorization, if set, is installed as by Server.Authorize.
	Authorization func(*http.Request) error
	// Broker links this server to the other nodes of a cluster for room
	// writes and spark lookups. Default: a private MemoryBroker (one node).
	// Every node of a cluster must use the same Parser.
	Broker Broker
	// NodeID names this server at the broker; default a random id.
	NodeID string
	// Cluster tunes how the nodes of a cluster find each other and answer
	// cluster-wide requests (cluster.go). Only used with a shared Broker.
	Cluster ClusterOptions
	// Presence tracks who is in chosen rooms, cluster-wide (presence.go,
	// docs/presence.md). The zero value tracks nothing and costs nothing.
	Presence PresenceOptions
	// History chooses the rooms that keep their last messages, so that a
	// reconnecting client can get what it missed (docs/recovery.md). The
	// zero value keeps none.
	History HistoryOptions
	// Recovery configures sessions and replay on reconnect.
	Recovery RecoveryOptions
	// EngineIO configures the Engine.IO v4 wire served at the pathname
	// beside the plain WebSocket one (README, "Wires"): HTTP long-polling,
	// WebSocket, and the upgrade between them, carrying Primus framing.
	// Primus's engine.io transformer and the JS client's HTTP fallback
	// speak it. On by default.
	EngineIO EngineIOOptions
	// SSE configures the Server-Sent Events wire: GET <pathname>/sse
	// answers an event stream for a browser's plain EventSource, whose
	// spark receives and cannot write (README, "Wires"). On by default.
	SSE SSEOptions
	// SocketIO configures the Socket.IO v5 wire (stock socket.io-client
	// 4.x) served at its own path beside the pathname. On by default.
	SocketIO SocketIOOptions
	// SockJS configures the SockJS wire (README, "Wires"): under the
	// pathname for the stock Primus client on the sockjs transformer
	// (Primus framing inside SockJS messages), and at SockJS.PlainPath for
	// plain sockjs-client users exchanging strings with sparks. On by
	// default.
	SockJS SockJSOptions
	// Emitter configures the primus-emitter dialect of named events
	// (docs/events.md, "primus-emitter"): Primus clients with the npm
	// primus-emitter plugin, Feathers v4 primus-client. On by default.
	Emitter EmitterOptions
}

// EmitterOptions configures the primus-emitter dialect. The zero value
// detects it per message: a Primus spark whose client sends an emitter
// packet gets its events and acks as emitter packets from then on.
type EmitterOptions struct {
	// Disabled: values shaped like emitter packets are plain data, and no
	// spark gets emitter packets.
	Disabled bool
	// Default makes every Primus spark speak the dialect from its start,
	// before its client sent anything: for servers whose Primus clients
	// all use primus-emitter (a Feathers v4 app whose clients may only
	// listen). A spark whose client sends one of our envelopes switches
	// to envelopes, as in the default mode.
	Default bool
}

// DefaultSSEPath is where the event stream is served, below the pathname.
const DefaultSSEPath = "sse"

// SSEOptions configures the Server-Sent Events wire. The zero value serves
// GET <pathname>/sse with 25 s heartbeats and a 2 s retry.
type SSEOptions struct {
	// Disabled stops serving event streams: the path then gets what any
	// other plain request does (426).
	Disabled bool
	// Path of the stream below the pathname; default "sse", so
	// GET /primus/sse. Slashes around it are dropped.
	Path string
	// Heartbeat is the interval between comment heartbeats (":") on a
	// stream, which keep proxies from closing an idle one; default 25 s,
	// negative for none.
	Heartbeat time.Duration
	// Retry is sent as the stream's "retry:" field, the time a client
	// waits before it reconnects after the stream ends; default 2 s,
	// negative sends none (browsers then wait about 3 s).
	Retry time.Duration
	// MaxSubscribers bounds live streams; past it a request gets 503
	// (which an EventSource does not retry). Default 100,000.
	MaxSubscribers int
	// NoResume keeps event ids "<stream>:<seq>" on a server with
	// history. By default, when Options.History keeps any room, every
	// stream has a session and each event's id is its resume point (the
	// session token and the stream's positions in its history rooms,
	// docs/recovery.md): an EventSource that reconnects with it as
	// Last-Event-ID gets its spark back and what it missed replayed.
	NoResume bool
}

// DefaultSocketIOPath is where the stock socket.io-client connects by
// default.
const DefaultSocketIOPath = "/socket.io/"

// SocketIOOptions configures the Socket.IO wire (README, "Coming from
// Socket.IO"). Its Engine.IO layer (ping, payload limit, transports,
// session bound, cookie) is configured by Options.EngineIO.
type SocketIOOptions struct {
	// Disabled stops serving Socket.IO; Path then belongs to nobody (404).
	Disabled bool
	// Path the client connects to (its "path" option); default
	// "/socket.io/". Server.ServeHTTP owns it beside the pathname: mount
	// the server on both (or on "/").
	Path string
	// ConnectTimeout closes a connection that joined no namespace within
	// it; default 45 s, as the reference.
	ConnectTimeout time.Duration
	// MaxAttachments bounds the binary attachments one packet may
	// announce (more: the connection closes, "parse error"); default 10.
	MaxAttachments int
	// Recovery turns on connection state recovery for the stock client
	// (socket.io-client ≥ 4.6; docs/recovery.md): the CONNECT reply
	// carries a private id, every event without an ack carries an offset
	// as its last argument (handlers see it, as with the reference
	// server), and a client that reconnects within
	// RecoveryOptions.Window gets its socket id, rooms and data back,
	// with every missed message of its history rooms replayed —
	// socket.recovered is true exactly when all of them were. Off by
	// default, as in the reference server, because of the extra
	// argument.
	Recovery bool
}

// DefaultSockJSPath is where plain sockjs-client users connect
// (SockJSOptions.PlainPath).
const DefaultSockJSPath = "/sockjs"

// SockJSOptions configures the SockJS wire. The zero value serves it under
// the pathname and at /sockjs with the reference server's defaults
// (sockjs-node 0.3): 25 s heartbeats, sessions kept 5 s without a
// receiving request, streaming responses closed after 128 KiB.
type SockJSOptions struct {
	// Disabled stops serving SockJS on both paths: its URLs under the
	// pathname then get what any other request does (426), and PlainPath
	// is not owned.
	Disabled bool
	// PlainPath is the base URL path of the plain SockJS endpoint
	// (sockjs-client's URL is http://host/sockjs); default "/sockjs". It
	// must not be the pathname or contain it (inside it, it is served
	// first), nor overlap SocketIO.Path. The server owns it and
	// everything below it: mount the server there too.
	PlainPath string
	// Heartbeat is the interval of SockJS "h" frames; default 25 s. On
	// the Primus path the Primus heartbeat (PingInterval) runs inside as
	// well; on the plain path it is the only one.
	Heartbeat time.Duration
	// DisconnectDelay is how long a session lives without a receiving
	// request (a polling client between polls, a stream reconnecting)
	// before it ends; default 5 s.
	DisconnectDelay time.Duration
	// ResponseLimit is the bytes after which a streaming response
	// (xhr_streaming, eventsource, htmlfile) ends so the client opens the
	// next; default 128 KiB.
	ResponseLimit int
	// JSessionID sets a JSESSIONID cookie on session requests (echoing
	// the client's, or "dummy"), for load balancers that route by it:
	// every transport but WebSocket needs sticky sessions.
	JSessionID bool
	// NoWebSocket serves the HTTP transports only; /info then tells
	// clients websocket: false.
	NoWebSocket bool
	// MaxSessions bounds live SockJS sessions on each path; a new one past
	// it gets 503. Default 100,000.
	MaxSessions int
}

// EngineIOOptions configures the Engine.IO wire. The zero value serves
// polling and WebSocket with the reference server's defaults (npm
// engine.io 6).
type EngineIOOptions struct {
	// Disabled stops serving Engine.IO: its requests then get what any
	// other request does (426, or the WebSocket wire for an upgrade).
	Disabled bool
	// PingInterval between Engine.IO pings ("2"); default 25 s. The
	// Primus heartbeat (Options.PingInterval) runs inside it as well.
	PingInterval time.Duration
	// PingTimeout is how long a pong ("3") may take before the session
	// ends and the client reconnects; default 20 s. A client that
	// vanished is reaped within PingInterval + PingTimeout.
	PingTimeout time.Duration
	// UpgradeTimeout is how long a probed WebSocket may take to confirm
	// the upgrade ("5") before it is closed (the session stays on
	// polling); default 10 s.
	UpgradeTimeout time.Duration
	// MaxPayload is the largest POST body, in bytes (larger: 413), and the
	// maxPayload the open packet announces (clients batch below it).
	// Default MaxLength, as Primus's engine.io transformer sets it, so any
	// message a WebSocket client may send also fits a POST. A single
	// message is bounded by MaxLength either way.
	MaxPayload int
	// Transports allowed: "polling", "websocket"; default both. A request
	// for another gets 400 (code 0, "Transport unknown").
	Transports []string
	// MaxSessions bounds live Engine.IO sessions; a handshake past it gets
	// 503. Default 100,000.
	MaxSessions int
	// Cookie, when not empty, names a cookie set on the polling handshake
	// with the session id (Path=/, HttpOnly, SameSite=Lax), for load
	// balancers that route by cookie (long-polling needs sticky sessions).
	Cookie string
}

// withDefaults returns a copy with every zero field set to its default.
func (o Options) withDefaults() Options {
	o.Pathname = cleanPathname(o.Pathname)
	if o.Parser == nil {
		o.Parser = parser.JSON{}
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PingInterval < 0 {
		o.PingInterval = 0
	}
	if o.MaxLength <= 0 {
		o.MaxLength = DefaultMaxLength
	}
	if o.IDGenerator == nil {
		o.IDGenerator = randomID
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	o.Cluster = o.Cluster.withDefaults()
	o.Presence = o.Presence.withDefaults()
	if o.SockJS.PlainPath == "" {
		o.SockJS.PlainPath = DefaultSockJSPath
	}
	o.SockJS.PlainPath = cleanPathname(o.SockJS.PlainPath)
	switch {
	case o.MaxRoomsPerSpark == 0:
		o.MaxRoomsPerSpark = DefaultMaxRoomsPerSpark
	case o.MaxRoomsPerSpark < 0:
		o.MaxRoomsPerSpark = -1
	}
	if o.SocketIO.Path == "" {
		o.SocketIO.Path = DefaultSocketIOPath
	}
	if !strings.HasPrefix(o.SocketIO.Path, "/") {
		o.SocketIO.Path = "/" + o.SocketIO.Path
	}
	switch {
	case o.MaxPendingAcks == 0:
		o.MaxPendingAcks = DefaultMaxPendingAcks
	case o.MaxPendingAcks < 0:
		o.MaxPendingAcks = -1
	}
	return o
}

func cleanPathname(p string) string {
	if p == "" {
		return DefaultPathname
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}
