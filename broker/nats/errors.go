package nats

import "errors"

// Errors returned by the Broker. They are plain errors, wrapped with the
// operation's context where useful, so errors.Is works through the server's
// *allspark.BrokerError. Errors of the NATS client (natsgo.ErrMaxPayload for
// a message over the server's max_payload, for instance) are wrapped too.
var (
	// ErrClosed: the Broker was closed.
	ErrClosed = errors.New("nats broker: closed")
	// ErrNotConnected: the connection to NATS is down (reconnecting); the
	// operation was refused at once rather than buffered.
	ErrNotConnected = errors.New("nats broker: not connected")
	// ErrNodeExists: Register with a node name already registered on this
	// Broker value.
	ErrNodeExists = errors.New("nats broker: node already registered")
	// ErrUnknownNode: an operation named a node that is not registered.
	ErrUnknownNode = errors.New("nats broker: node not registered")
	// ErrBadURL: ParseURL could not read the broker URL.
	ErrBadURL = errors.New("nats broker: bad URL")
	// ErrBadOptions: an Options field has an unusable value.
	ErrBadOptions = errors.New("nats broker: bad options")
	// ErrBadEnvelope: bytes received on a broker subject are not an
	// envelope this version can read (they are dropped and counted).
	ErrBadEnvelope = errors.New("nats broker: malformed envelope")
	// ErrNoJetStream: Options.History is on but the NATS account has no
	// JetStream (the server runs without -js, or the account is not
	// enabled). New fails with it; so does a later write or read when
	// JetStream went away.
	ErrNoJetStream = errors.New("nats broker: JetStream not available")
	// ErrHistoryConflict: a history write kept losing the race for its
	// room's next offset to other writers for Options.WriteTimeout (or
	// 256 attempts); nothing was stored.
	ErrHistoryConflict = errors.New("nats broker: history write kept conflicting")
	// ErrSessionTooLarge: SaveSession with a record over
	// MaxSessionRecord.
	ErrSessionTooLarge = errors.New("nats broker: session record too large")
	// ErrBadSession: SaveSession with an empty or overlong id, or a TTL
	// that is not positive or exceeds Options.SessionMaxAge.
	ErrBadSession = errors.New("nats broker: bad session id or ttl")
)
