package allspark

import (
	"path"
	"time"
)

// HistoryOptions chooses the rooms that keep history (docs/recovery.md).
// The zero value keeps none: writes go straight to the broker as before,
// and recovery can restore identity but replays nothing.
type HistoryOptions struct {
	// Rooms are rules tried in order; the first whose Pattern matches a
	// room's name gives its policy.
	Rooms []HistoryRule
	// Policy, when set, decides instead of Rooms: ns is the namespace ("/"
	// for the main one), room the name the application gave. It runs on
	// every write to a room and every join, so it must be cheap.
	Policy func(ns, room string) (HistoryPolicy, bool)
}

// HistoryRule gives the rooms matching Pattern a history of Size messages
// kept for TTL each.
type HistoryRule struct {
	// Pattern is a path.Match pattern over room names ("chat:*",
	// "lobby"), in every namespace.
	Pattern string
	Size    int
	TTL     time.Duration
	// MetaTTL is how long the room's position outlives its last write;
	// default DefaultHistoryMetaTTL.
	MetaTTL time.Duration
}

// DefaultHistoryMetaTTL is how long a room's stream position (epoch and
// last offset) is kept after its last write, as centrifuge's default: far
// longer than any history TTL, so a client away longer than the TTL is told
// "truncated" (it missed messages) rather than "epoch" (the stream was
// lost), and still bounded, so abandoned rooms cost nothing forever.
const DefaultHistoryMetaTTL = 30 * 24 * time.Hour

// enabled reports whether any room can keep history.
func (o HistoryOptions) enabled() bool { return len(o.Rooms) > 0 || o.Policy != nil }

// policy returns the history policy of room (a name, not a registry key) in
// namespace ns, and whether it keeps history.
func (o HistoryOptions) policy(ns, room string) (HistoryPolicy, bool) {
	if o.Policy != nil {
		p, ok := o.Policy(ns, room)
		if p.MetaTTL <= 0 {
			p.MetaTTL = DefaultHistoryMetaTTL
		}
		return p, ok && p.On()
	}
	for _, r := range o.Rooms {
		if ok, _ := path.Match(r.Pattern, room); ok {
			p := HistoryPolicy{Size: r.Size, TTL: r.TTL, MetaTTL: r.MetaTTL}
			if p.MetaTTL <= 0 {
				p.MetaTTL = DefaultHistoryMetaTTL
			}
			return p, p.On()
		}
	}
	return HistoryPolicy{}, false
}
