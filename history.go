package allspark

import (
	"context"
	"crypto/rand"
	"errors"
	"time"
)

// Room history (docs/recovery.md). A room whose name matches
// Options.History keeps its last messages in a stream: every message
// written to it takes the next Position of that stream, assigned by the
// broker in the same atomic step that stores and publishes it, so offsets
// are gap-free per room across every node. A reconnecting client that
// names the last position it received gets what it missed replayed, or is
// told plainly that it cannot be (recovery.go).

// Position is a message's place in its room's stream. Offset counts the
// room's messages from 1 without gaps. Epoch names the stream's lifetime:
// it changes whenever the stream was lost or recreated (a memory broker
// that restarted, a Redis key that was evicted or expired), so an offset
// from an older epoch is never trusted. The zero Position is "no position".
type Position struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// IsZero reports whether p is the zero Position.
func (p Position) IsZero() bool { return p.Offset == 0 && p.Epoch == "" }

// HistoryEntry is one stored message of a room: its position and the
// message as every node sends it (Publication's Payload, Binary, Value),
// and the sparks it was not for (Publication.Except): a replay skips them
// as the live write did, and only moves their position on.
type HistoryEntry struct {
	Pos     Position
	Payload []byte
	Binary  bool
	Value   []byte
	Except  []string
}

// HistoryPolicy bounds one room's stream. History is kept only when both
// Size and TTL are positive.
type HistoryPolicy struct {
	// Size is how many of the newest messages are kept.
	Size int
	// TTL is how long a message is kept after it was written.
	TTL time.Duration
	// MetaTTL is how long the stream's position (epoch and top offset)
	// outlives its last write: much longer than TTL, so a client that
	// was away longer than TTL learns that it missed messages (its offset
	// is older than the oldest kept) instead of meeting a new epoch;
	// bounded, so the positions of abandoned rooms do not pile up.
	MetaTTL time.Duration
}

// On reports whether the policy keeps anything.
func (p HistoryPolicy) On() bool { return p.Size > 0 && p.TTL > 0 }

// HistoryQuery selects part of a room's stream.
type HistoryQuery struct {
	// After is the offset to read after: 0 reads from the oldest message
	// kept.
	After uint64
	// Limit caps the entries returned (the oldest first); 0 means every
	// one kept after After.
	Limit int
}

// HistoryResult is a read of a room's stream: the entries asked for, oldest
// first, and the stream's current position (Top.Offset is the last
// message's offset, 0 when the room never had one in this epoch).
type HistoryResult struct {
	Entries []HistoryEntry
	Top     Position
}

// HistoryBroker is implemented by brokers that keep room history
// (MemoryBroker, broker/redis, broker/nats). The server writes a room with
// history through PublishHistory only, and reads it through History.
type HistoryBroker interface {
	// PublishHistory appends p (whose Rooms holds exactly one room, and
	// neither All nor Sparks) to that room's stream under pol, and
	// delivers it to every node with members of the room, the publisher's
	// own node included, with p.Pos set to its position, in position order
	// per room. Assigning the offset, storing and publishing are one
	// atomic step per room: no node can ever see offset n+1 before n. It
	// returns the position, and the deliveries reported synchronously
	// (all of them for MemoryBroker, 0 for asynchronous brokers).
	PublishHistory(ctx context.Context, p *Publication, pol HistoryPolicy) (Position, int, error)
	// History reads room's stream. A room without a stream (never
	// written, or its position expired) gets a fresh epoch and Top.Offset
	// 0, so that a client's stale position is recognised as such.
	// pol.MetaTTL is refreshed by a read as by a write.
	History(ctx context.Context, room string, q HistoryQuery, pol HistoryPolicy) (HistoryResult, error)
}

// Errors of history and recovery.
var (
	// ErrNoHistory: the broker keeps no history (it does not implement
	// HistoryBroker), or the room matches no Options.History rule.
	ErrNoHistory = errors.New("allspark: no history for this room")
	// ErrHistoryTarget: a write to a room with history must name that one
	// room and nothing else (no other room, no spark ids, not All): its
	// message takes one position in one stream. Except is allowed.
	ErrHistoryTarget = errors.New("allspark: a write to a room with history must target that room alone")
)

// epochAlphabet spells epochs: letters and digits, safe in every wire's
// ids and offsets.
const epochAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewEpoch returns a fresh random epoch of 8 letters and digits (47 bits):
// a stream recreated gets one its clients cannot have seen. HistoryBroker
// implementations use it for every stream they start or find lost.
func NewEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = epochAlphabet[int(b[i])%len(epochAlphabet)]
	}
	return string(b[:])
}
