package redis

import "errors"

var (
	// ErrClosed is returned by every operation after Close.
	ErrClosed = errors.New("redis broker: closed")
	// ErrNotConnected is returned (wrapped) while the PUB/SUB connection is
	// down: the broker keeps what was asked of it and applies it once it is
	// connected again.
	ErrNotConnected = errors.New("redis broker: not connected")
	// ErrProbeTimeout is what Health reports when a probe published on the
	// broker's own channel did not come back within ProbeInterval: the
	// connection looks alive but no longer delivers (a stale subscription
	// after a failover, a half-dead TCP path).
	ErrProbeTimeout = errors.New("redis broker: probe not received in time")
	// ErrUnknownNode is returned by Subscribe, Unsubscribe and Unregister for
	// a node that is not registered on this broker.
	ErrUnknownNode = errors.New("redis broker: node not registered")
	// ErrNodeExists is returned by Register for a node already registered.
	ErrNodeExists = errors.New("redis broker: node already registered")
	// ErrBadURL is wrapped by every ParseURL error.
	ErrBadURL = errors.New("redis broker: bad URL")
	// errBadEnvelope: bytes on one of our channels that no Allspark node of
	// this version wrote. They are counted and dropped.
	errBadEnvelope = errors.New("redis broker: malformed envelope")
)
