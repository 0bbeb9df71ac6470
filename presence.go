package allspark

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// Presence: who is in a tracked room, on every node (Options.Presence,
// docs/presence.md). Each node owns the entries of its own sparks; a read
// asks every node for its part (a survey, with PartialError like the other
// cluster operations), while joins and leaves travel as deltas to the other
// nodes, which keep the remote entries of tracked rooms to tell their own
// members about changes and to count sparks per user. Remote entries are
// refreshed by their owner every RefreshInterval and dropped when their
// node is forgotten (NodeTTL) or after TTL without a refresh, with a leave
// for each, so a killed node leaves no zombies.

// ErrNotTracked: the room is not tracked by Options.Presence.
var ErrNotTracked = errors.New("allspark: room not tracked for presence")

// PresenceEntry is one spark present in a room.
type PresenceEntry struct {
	SparkID string    `json:"spark"`
	Node    string    `json:"node"`
	User    string    `json:"user,omitempty"` // Spark.User when it joined
	Since   time.Time `json:"since"`          // when it joined the room
}

// Presence actions.
const (
	PresenceJoin  = "join"
	PresenceLeave = "leave"
)

// PresenceEvent is one change of a tracked room's presence, as members
// receive it (the argument of the Options.Presence.Event event) and as
// OnPresence hooks see it.
//
// Sparks is the number of sparks of User in the room once the change is
// applied, as this node sees it: a join with Sparks 1 is the user's
// arrival (their first tab), a leave with Sparks 0 their departure (the
// last tab closed); other values are a tab more or less. A spark without a
// user is a user of its own: Sparks is 1 on join and 0 on leave.
type PresenceEvent struct {
	Room      string `json:"room"`
	Namespace string `json:"-"`      // "/" for the main one
	Action    string `json:"action"` // PresenceJoin or PresenceLeave
	SparkID   string `json:"spark"`
	User      string `json:"user,omitempty"`
	Node      string `json:"node"` // the node the spark is (or was) on
	Sparks    int    `json:"sparks"`
	// Expired marks a leave no node announced: the spark's node was
	// forgotten by the cluster, or its entry was not refreshed within TTL.
	// Every node writes it to its own members.
	Expired bool `json:"expired,omitempty"`
}

// UserChanged reports whether the event changes the list of users: the
// user's first spark joined or its last one left.
func (e PresenceEvent) UserChanged() bool {
	if e.Action == PresenceJoin {
		return e.Sparks == 1
	}
	return e.Sparks == 0
}

// PresenceStats counts this node's presence state and what its bounds
// dropped.
type PresenceStats struct {
	Local  int // entries of this node's sparks
	Remote int // entries of other nodes' sparks kept here
	// DroppedEntries counts remote entries not kept past
	// MaxRemoteEntries; DroppedIn and DroppedOut messages dropped past
	// MaxQueued (or malformed, for DroppedIn); DroppedEvents local
	// deliveries dropped past MaxQueued.
	DroppedEntries, DroppedIn, DroppedOut, DroppedEvents uint64
}

// PresenceStats returns the presence counters (zero when presence is off).
func (s *Server) PresenceStats() PresenceStats { return s.presence.statsSnapshot() }

// OnPresence adds a hook run for every presence change this node learns of:
// joins and leaves of its own sparks, those of other nodes as their deltas
// arrive, and expiries. Each node runs its hooks for every change, so a
// hook acting once per cluster should keep the events with Node ==
// NodeID() and the Expired ones it has reason to own. Hooks run one at a
// time on the presence goroutine, in order; a slow hook delays events.
func (s *Server) OnPresence(fn func(PresenceEvent)) { s.presence.hooks.add(fn) }

// Presence lists the sparks in a tracked room of the main namespace on
// every node, sorted by Since then SparkID. It fails with ErrNotTracked for
// an untracked room; with a *PartialError the list leaves out the nodes it
// names.
func (s *Server) Presence(ctx context.Context, room string) ([]PresenceEntry, error) {
	return s.nsps.main.Presence(ctx, room)
}

// PresenceUsers counts the sparks of each user in a tracked room of the
// main namespace, on every node. Sparks without a user are counted
// together under "" (each is its own anonymous user: the count under "" is
// how many there are). Errors as Presence.
func (s *Server) PresenceUsers(ctx context.Context, room string) (map[string]int, error) {
	return s.nsps.main.PresenceUsers(ctx, room)
}

// Presence lists the sparks in a tracked room of the namespace, as
// Server.Presence.
func (n *Namespace) Presence(ctx context.Context, room string) ([]PresenceEntry, error) {
	if !n.srv.presence.on || !n.srv.opts.Presence.tracks(n.name, room) {
		return nil, ErrNotTracked
	}
	key := roomKey(n.name, room)
	out := n.srv.presence.localEntries(key)
	answers, err := n.srv.cluster.survey(ctx, "presence", []byte(key), nil, nil)
	for _, b := range answers {
		var es []PresenceEntry
		if json.Unmarshal(b, &es) == nil {
			out = append(out, es...)
		}
	}
	slices.SortFunc(out, func(a, b PresenceEntry) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.SparkID, b.SparkID)
	})
	return out, err
}

// PresenceUsers counts the sparks of each user in a tracked room of the
// namespace, as Server.PresenceUsers.
func (n *Namespace) PresenceUsers(ctx context.Context, room string) (map[string]int, error) {
	entries, err := n.Presence(ctx, room)
	if entries == nil && err != nil && !isPartial(err) {
		return nil, err
	}
	users := make(map[string]int)
	for _, e := range entries {
		users[e.User]++
	}
	return users, err
}

func isPartial(err error) bool {
	var pe *PartialError
	return errors.As(err, &pe)
}

// installPresence registers presence's cluster handlers and room hooks
// (during New, before the broker delivers anything).
func (s *Server) installPresence() error {
	// The read op is served even with presence off, so a mixed cluster
	// answers "nothing here" rather than an unknown op.
	s.cluster.handle("presence", func(_ context.Context, _ string, body []byte) ([]byte, error) {
		return json.Marshal(s.presence.localEntries(string(body)))
	})
	if !s.opts.Presence.enabled() {
		return nil
	}
	p := &s.presence
	if err := p.init(s); err != nil {
		return err
	}
	s.cluster.handleNotice("presence.delta", p.notice(wireDelta))
	s.cluster.handleNotice("presence.refresh", p.notice(wireRefresh))
	s.cluster.handleNotice("presence.sync", p.notice(wireSync))
	s.cluster.onPeerDown(p.peerDown)
	s.OnJoin(p.joined)
	s.OnLeave(p.left)
	s.userHooks.add(p.userChanged)
	return nil
}
