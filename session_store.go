package allspark

import (
	"context"
	"errors"
	"time"
)

// SessionStore keeps the sessions that let a reconnecting client get its
// spark back (its id, rooms, user and Set values; session.go) for
// Options.Recovery.Window after it went away. Records are opaque bytes,
// written by the server. A broker that implements SessionStore
// (MemoryBroker, broker/redis, broker/nats) is the default store, so every
// node of a cluster can restore any node's sparks; a server whose broker
// is not one keeps them in its own memory.
type SessionStore interface {
	// SaveSession stores record under id for ttl, replacing any earlier
	// one.
	SaveSession(ctx context.Context, id string, record []byte, ttl time.Duration) error
	// TakeSession returns and deletes id's record in one step, so that
	// two reconnects presenting one token cannot both restore it; it
	// returns ErrNoSession when there is none (never saved, expired,
	// deleted).
	TakeSession(ctx context.Context, id string) ([]byte, error)
	// DeleteSession removes id's record, if any.
	DeleteSession(ctx context.Context, id string) error
}

// ErrNoSession: the session store holds no record under that id.
var ErrNoSession = errors.New("allspark: no such session")
