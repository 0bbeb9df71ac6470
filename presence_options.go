package allspark

import (
	"path"
	"time"
)

// PresenceOptions chooses the rooms whose members are tracked cluster-wide
// (Server.Presence, presence events) and tunes how. The zero value tracks
// no room: no hook is installed, no goroutine runs, nothing is sent.
type PresenceOptions struct {
	// Rooms are path.Match patterns ("chat:*", "lobby") over room names, in
	// every namespace. A room matching one of them is tracked. As in
	// path.Match, * does not match "/": use Track for such names.
	Rooms []string
	// Track, when set, decides instead of Rooms: ns is the namespace ("/"
	// for the main one), room the name the application gave. It runs on
	// every Join and Leave of every room, so it must be cheap and must not
	// block.
	Track func(ns, room string) bool
	// TTL is how long a remote entry lives without being refreshed by its
	// node. It bounds how long a spark whose leave was lost (a dropped
	// delta, a node cut off from the broker) is still listed; a node that
	// is gone is dropped sooner, when the cluster forgets it (NodeTTL).
	// Default 60 s.
	TTL time.Duration
	// RefreshInterval is how often each node sends all its entries to the
	// others, which keeps them alive and repairs lost deltas. It must be
	// well under TTL; default TTL/3.
	RefreshInterval time.Duration
	// Event is the name of the event members of a tracked room receive for
	// each join and leave (PresenceEvent as its argument). Default
	// DefaultPresenceEvent.
	Event string
	// NoEvents stops the events to members; Server.OnPresence hooks still
	// run.
	NoEvents bool
	// MaxRemoteEntries bounds the entries of other nodes' sparks this node
	// keeps (for events and per-user counts; reads ask the owners). Past
	// it new remote entries are not kept and counted in
	// PresenceStats.DroppedEntries. Default 100,000.
	MaxRemoteEntries int
	// MaxQueued bounds the presence messages waiting to be sent or
	// applied (each direction); past it they are dropped and counted,
	// and the next refresh repairs what they carried. Events waiting for
	// delivery to this node's members are bounded at 16 × MaxQueued
	// (dropped ones are not repaired). Default 4096.
	MaxQueued int
}

// Defaults of PresenceOptions.
const (
	DefaultPresenceTTL       = 60 * time.Second
	DefaultPresenceEvent     = "presence_diff"
	DefaultMaxRemoteEntries  = 100_000
	DefaultPresenceMaxQueued = 4096
)

// enabled reports whether any room can be tracked.
func (o PresenceOptions) enabled() bool { return len(o.Rooms) > 0 || o.Track != nil }

func (o PresenceOptions) withDefaults() PresenceOptions {
	if !o.enabled() {
		return o
	}
	if o.TTL <= 0 {
		o.TTL = DefaultPresenceTTL
	}
	if o.RefreshInterval <= 0 || o.RefreshInterval >= o.TTL {
		o.RefreshInterval = o.TTL / 3
	}
	if o.Event == "" {
		o.Event = DefaultPresenceEvent
	}
	if o.MaxRemoteEntries <= 0 {
		o.MaxRemoteEntries = DefaultMaxRemoteEntries
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultPresenceMaxQueued
	}
	return o
}

// tracks reports whether room (a name, not a registry key) of namespace ns
// is tracked. It does not allocate: it runs on every Join and Leave.
func (o *PresenceOptions) tracks(ns, room string) bool {
	if o.Track != nil {
		return o.Track(ns, room)
	}
	for _, pat := range o.Rooms {
		if ok, _ := path.Match(pat, room); ok {
			return true
		}
	}
	return false
}
