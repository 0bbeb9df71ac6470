package allspark

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxRoomNameLen is the longest room name, in bytes.
const MaxRoomNameLen = 256

// ErrInvalidRoom: a room name is empty, longer than MaxRoomNameLen, not
// valid UTF-8, or holds a NUL (which keys the rooms of Socket.IO
// namespaces apart).
var ErrInvalidRoom = errors.New("allspark: invalid room name")

// roomRegistry is this node's room membership: room → members and, on each
// spark, spark → rooms. One lock guards both sides so they never disagree.
//
// Lock order: roomRegistry.mu is taken without Server.mu or Spark.mu held,
// and sendQueue.mu may be taken under it (a room write pushes while holding
// the read lock). A subscription stripe (broker calls for the rooms that
// hash to it) is taken before mu, and before subscribedMu, which is a leaf.
type roomRegistry struct {
	mu    sync.RWMutex
	rooms map[string]map[*Spark]struct{}

	// subStripes serialize broker Subscribe/Unsubscribe per room (by
	// hash): a room's calls stay in order, while joins that create
	// different rooms wait on their own broker round trips in parallel.
	subStripes   [subStripeCount]sync.Mutex
	subscribedMu sync.Mutex
	subscribed   map[string]struct{} // rooms this node subscribed to at the broker
}

const subStripeCount = 64

func (reg *roomRegistry) stripe(room string) *sync.Mutex {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(room); i++ {
		h = (h ^ uint32(room[i])) * 16777619
	}
	return &reg.subStripes[h%subStripeCount]
}

func validRoom(name string) bool {
	return name != "" && len(name) <= MaxRoomNameLen && utf8.ValidString(name) && !strings.Contains(name, "\x00")
}

// Join adds the spark to rooms. Joining a room twice is a no-op. It returns
// ErrClosed once the spark has ended, ErrInvalidRoom for a bad name or
// ErrTooManyRooms when the spark would be in more than
// Options.MaxRoomsPerSpark rooms (no room of the call is joined then), or
// the broker's error when the room could not be subscribed across nodes
// (local membership stands; local writes reach it). OnJoin hooks run for
// each room newly joined.
func (s *Spark) Join(rooms ...string) error {
	for _, r := range rooms {
		if !validRoom(r) {
			return ErrInvalidRoom
		}
	}
	return s.joinKeys(s.roomKeys(rooms), true)
}

// joinKeys is Join for registry keys. announce: tell a spark with a
// session its position in each history room joined (a restore, which
// knows the positions already, does not).
func (s *Spark) joinKeys(rooms []string, announce bool) error {
	srv := s.server
	reg := &srv.rooms
	var joined []string
	reg.mu.Lock()
	if s.ReadyState() == Closed || s.ending.Load() {
		reg.mu.Unlock()
		return ErrClosed
	}
	if limit := srv.opts.MaxRoomsPerSpark; limit > 0 {
		// Count the new rooms first, so a batch past the bound joins none.
		if len(s.rooms)+newRooms(s.rooms, rooms) > limit {
			reg.mu.Unlock()
			return ErrTooManyRooms
		}
	}
	for _, r := range rooms {
		if _, in := s.rooms[r]; in {
			continue
		}
		if s.rooms == nil {
			s.rooms = make(map[string]struct{}, 1)
		}
		s.rooms[r] = struct{}{}
		members := reg.rooms[r]
		if members == nil {
			members = make(map[*Spark]struct{})
			reg.rooms[r] = members
		}
		members[s] = struct{}{}
		joined = append(joined, r)
	}
	reg.mu.Unlock()
	if len(joined) == 0 {
		return nil
	}
	err := srv.syncSubscriptions(joined)
	if announce && s.sess != nil {
		srv.announceJoined(s, joined)
	}
	for _, r := range joined {
		for _, fn := range srv.joinHooks.load() {
			fn(s, roomName(r))
		}
	}
	return err
}

// newRooms counts the distinct names in rooms that are not in have.
func newRooms(have map[string]struct{}, rooms []string) int {
	n := 0
	if len(rooms) <= 8 {
		for i, r := range rooms {
			if _, in := have[r]; !in && !slices.Contains(rooms[:i], r) {
				n++
			}
		}
		return n
	}
	seen := make(map[string]struct{}, len(rooms))
	for _, r := range rooms {
		if _, in := have[r]; !in {
			seen[r] = struct{}{}
		}
	}
	return len(seen)
}

// Leave removes the spark from rooms it is in; others are ignored. OnLeave
// hooks run for each room left. The error is the broker's, when a room this
// node no longer needs could not be unsubscribed.
func (s *Spark) Leave(rooms ...string) error {
	return s.leave(s.roomKeys(rooms), false)
}

// roomKeys maps room names to registry keys for the spark's namespace.
func (s *Spark) roomKeys(rooms []string) []string {
	if s.ns.key() == "" {
		return rooms
	}
	keys := make([]string, len(rooms))
	for i, r := range rooms {
		keys[i] = roomKey(s.ns.key(), r)
	}
	return keys
}

// LeaveAll removes the spark from every room. It happens by itself when the
// spark ends.
func (s *Spark) LeaveAll() {
	_ = s.leave(nil, true)
}

func (s *Spark) leave(rooms []string, all bool) error {
	srv := s.server
	reg := &srv.rooms
	var left []string
	reg.mu.Lock()
	if all {
		rooms = make([]string, 0, len(s.rooms))
		for r := range s.rooms {
			rooms = append(rooms, r)
		}
		slices.Sort(rooms)
	}
	for _, r := range rooms {
		if _, in := s.rooms[r]; !in {
			continue
		}
		delete(s.rooms, r)
		members := reg.rooms[r]
		delete(members, s)
		if len(members) == 0 {
			delete(reg.rooms, r)
		}
		left = append(left, r)
	}
	if len(s.rooms) == 0 {
		s.rooms = nil
	}
	reg.mu.Unlock()
	if len(left) == 0 {
		return nil
	}
	err := srv.syncSubscriptions(left)
	if s.sess != nil && !all {
		srv.touchSession(s)
	}
	for _, r := range left {
		for _, fn := range srv.leaveHooks.load() {
			fn(s, roomName(r))
		}
	}
	return err
}

// Rooms returns the rooms the spark is in, sorted.
func (s *Spark) Rooms() []string {
	reg := &s.server.rooms
	reg.mu.RLock()
	out := make([]string, 0, len(s.rooms))
	for r := range s.rooms {
		out = append(out, roomName(r))
	}
	reg.mu.RUnlock()
	slices.Sort(out)
	return out
}

// InRoom reports whether the spark is in room.
func (s *Spark) InRoom(room string) bool {
	reg := &s.server.rooms
	reg.mu.RLock()
	_, in := s.rooms[roomKey(s.ns.key(), room)]
	reg.mu.RUnlock()
	return in
}

// OnJoin adds a hook called after a spark joins a room.
func (s *Server) OnJoin(fn func(sp *Spark, room string)) { s.joinHooks.add(fn) }

// OnLeave adds a hook called after a spark leaves a room, including the
// automatic leave when it disconnects (then the spark is already Closed).
func (s *Server) OnLeave(fn func(sp *Spark, room string)) { s.leaveHooks.add(fn) }

// RoomNames returns the rooms of the main namespace that have members on
// this node, sorted.
func (s *Server) RoomNames() []string {
	reg := &s.rooms
	reg.mu.RLock()
	out := make([]string, 0, len(reg.rooms))
	for r := range reg.rooms {
		if r[0] != 0 {
			out = append(out, r)
		}
	}
	reg.mu.RUnlock()
	slices.Sort(out)
	return out
}

// syncSubscriptions brings the broker's subscriptions for rooms in line with
// local membership. Serialized per room by its stripe and reading
// membership afresh, so a join racing a leave ends in the right state
// whatever order they run in.
func (s *Server) syncSubscriptions(rooms []string) error {
	reg := &s.rooms
	var errs []error
	for _, r := range rooms {
		if err := s.syncSubscription(reg, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Server) syncSubscription(reg *roomRegistry, r string) error {
	st := reg.stripe(r)
	st.Lock()
	defer st.Unlock()
	reg.mu.RLock()
	want := len(reg.rooms[r]) > 0
	reg.mu.RUnlock()
	reg.subscribedMu.Lock()
	_, have := reg.subscribed[r]
	reg.subscribedMu.Unlock()
	// The broker keeps what it was asked even when the call fails (it
	// resubscribes once connected again), so the state moves either way
	// and the error only tells the caller.
	var err error
	switch {
	case want && !have:
		if berr := s.broker.Subscribe(context.Background(), s.nodeID, r); berr != nil {
			err = &BrokerError{Op: "subscribe", Room: r, Err: berr}
		}
		reg.subscribedMu.Lock()
		reg.subscribed[r] = struct{}{}
		reg.subscribedMu.Unlock()
	case !want && have:
		if berr := s.broker.Unsubscribe(context.Background(), s.nodeID, r); berr != nil {
			err = &BrokerError{Op: "unsubscribe", Room: r, Err: berr}
		}
		reg.subscribedMu.Lock()
		delete(reg.subscribed, r)
		reg.subscribedMu.Unlock()
	}
	return err
}
