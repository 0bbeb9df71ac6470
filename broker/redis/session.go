package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/allspark/allspark"
	"github.com/redis/rueidis"
)

// Sessions (allspark.SessionStore) are plain keys, <prefix>:s:<id>
// (keys.go), written with SET PX and taken with GETDEL, so that one record
// can be taken once however many nodes race for it. GETDEL needs Redis 6.2.

// Bounds of the session store.
const (
	// MaxSessionRecord bounds a record: SaveSession refuses a larger one
	// with ErrSessionTooLarge. A session holds a spark's rooms, user and
	// Set values; past 1 MiB something is wrong, and every node would
	// have to read it back.
	MaxSessionRecord = 1 << 20
	// maxSessionID bounds an id: ids come from tokens clients present,
	// and a key is no place for a client's megabyte.
	maxSessionID = 256
)

var (
	// ErrSessionTooLarge is returned by SaveSession for a record over
	// MaxSessionRecord.
	ErrSessionTooLarge = errors.New("redis broker: session record too large")
	// ErrBadSession is returned by SaveSession for an empty or overlong
	// id, or a TTL that is not positive.
	ErrBadSession = errors.New("redis broker: bad session id or ttl")
)

// SaveSession implements allspark.SessionStore.
func (b *Broker) SaveSession(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	if b.isClosed() {
		return ErrClosed
	}
	if !validSessionID(id) || ttl <= 0 {
		return ErrBadSession
	}
	if len(record) > MaxSessionRecord {
		return fmt.Errorf("%w: %d bytes", ErrSessionTooLarge, len(record))
	}
	ctx, cancel := b.writeContext(ctx)
	defer cancel()
	ms := max(1, (ttl+time.Millisecond-1)/time.Millisecond)
	// A copy of record: after a timeout the command may still sit in the
	// pipeline while the caller reuses its buffer.
	cmd := b.client.B().Set().Key(b.keys.sessionKey(id)).Value(string(record)).PxMilliseconds(int64(ms)).Build()
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		b.errs.Add(1)
		return fmt.Errorf("redis broker: save session: %w", err)
	}
	return nil
}

// TakeSession implements allspark.SessionStore: the record is returned and
// deleted in one command (GETDEL). An id SaveSession would refuse has no
// record.
func (b *Broker) TakeSession(ctx context.Context, id string) ([]byte, error) {
	if b.isClosed() {
		return nil, ErrClosed
	}
	if !validSessionID(id) {
		return nil, allspark.ErrNoSession
	}
	ctx, cancel := b.readContext(ctx)
	defer cancel()
	rec, err := b.client.Do(ctx, b.client.B().Getdel().Key(b.keys.sessionKey(id)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, allspark.ErrNoSession
	}
	if err != nil {
		b.errs.Add(1)
		return nil, fmt.Errorf("redis broker: take session: %w", err)
	}
	return rec, nil
}

// DeleteSession implements allspark.SessionStore.
func (b *Broker) DeleteSession(ctx context.Context, id string) error {
	if b.isClosed() {
		return ErrClosed
	}
	if !validSessionID(id) {
		return nil
	}
	ctx, cancel := b.writeContext(ctx)
	defer cancel()
	if err := b.client.Do(ctx, b.client.B().Del().Key(b.keys.sessionKey(id)).Build()).Error(); err != nil {
		b.errs.Add(1)
		return fmt.Errorf("redis broker: delete session: %w", err)
	}
	return nil
}

func validSessionID(id string) bool { return id != "" && len(id) <= maxSessionID }

var _ allspark.SessionStore = (*Broker)(nil)
