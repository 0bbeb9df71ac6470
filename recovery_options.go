package allspark

import "time"

// RecoveryOptions configures sessions (a reconnecting client gets its spark
// back) and the replay of what it missed (docs/recovery.md). Only clients
// that ask get a session: our JS and Go clients, Socket.IO clients when
// SocketIOOptions.Recovery is on, EventSource clients of the SSE wire. The
// zero value gives sessions to those clients with the defaults below.
type RecoveryOptions struct {
	// Disabled gives no sessions: every connection is a new spark, as in
	// Primus.
	Disabled bool
	// Window is how long a session outlives its connection: a client that
	// reconnects within it gets its spark id, rooms, user and Set values
	// back. Default DefaultRecoveryWindow.
	Window time.Duration
	// MaxReplay bounds the messages one reconnect may replay (all rooms
	// together). A client that missed more is told recovered: false and
	// gets none of them: it reloads its state instead. Default
	// DefaultMaxReplay.
	MaxReplay int
	// Timeout bounds the store calls of one restore (taking the session,
	// reading history); past it the client gets recovered: false
	// ("unavailable"). Default 5 s.
	Timeout time.Duration
	// Store keeps the sessions. Default: the broker, when it implements
	// SessionStore (every node can then restore any node's sparks), else
	// this server's memory.
	Store SessionStore
	// MaxSessions bounds the sessions kept in this process's memory when
	// it is the store (the default private MemoryBroker, or no store in
	// the broker); past it the oldest are dropped. Default 100,000, which
	// is also the bound of a MemoryBroker made with NewMemoryBroker.
	MaxSessions int
}

// Defaults of RecoveryOptions.
const (
	DefaultRecoveryWindow = 2 * time.Minute
	DefaultMaxReplay      = 1000
	DefaultMaxSessions    = 100_000
)

func (o RecoveryOptions) withDefaults() RecoveryOptions {
	if o.Window <= 0 {
		o.Window = DefaultRecoveryWindow
	}
	if o.MaxReplay <= 0 {
		o.MaxReplay = DefaultMaxReplay
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	return o
}
