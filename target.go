package allspark

import (
	"context"
	"slices"

	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/primus"
)

// Target selects sparks to write to: the members of some rooms and/or some
// sparks by id, minus exceptions. It is a small value; build it per write:
//
//	srv.Room("lobby").Except(sp.ID()).Emit("typing", name)
//
// Write and Emit reach the selected sparks on every node of the cluster (via
// the Broker); Sparks and Len see this node only.
type Target struct {
	srv *Server
	// ns is the Socket.IO namespace the target selects in ("" for the
	// main one, which holds every Primus spark); rooms are registry keys
	// (roomKey) already.
	ns  string
	all bool // every spark of the namespace, on every node
	// volatile: skip receivers whose send queue is busy (Volatile).
	volatile bool
	rooms    []string
	ids      []string
	except   []string
}

// Room selects the members of the named rooms; a spark in several of them is
// counted and written once.
func (s *Server) Room(names ...string) Target {
	return Target{srv: s, rooms: compact(names)}
}

// All selects every spark on every node of the cluster.
func (s *Server) All() Target {
	return Target{srv: s, all: true}
}

// To selects sparks by id, wherever they are connected.
func (s *Server) To(ids ...string) Target {
	return Target{srv: s, ids: compact(ids)}
}

// Room adds rooms to the selection (no effect on All).
func (t Target) Room(names ...string) Target {
	if t.ns != "" {
		keys := make([]string, len(names))
		for i, r := range names {
			keys[i] = roomKey(t.ns, r)
		}
		names = keys
	}
	t.rooms = compact(append(slices.Clip(t.rooms), names...))
	return t
}

// To adds sparks by id to the selection.
func (t Target) To(ids ...string) Target {
	t.ids = compact(append(slices.Clip(t.ids), ids...))
	return t
}

// Except removes sparks by id from the selection (typically the sender).
func (t Target) Except(ids ...string) Target {
	t.except = compact(append(slices.Clip(t.except), ids...))
	return t
}

// compact returns a sorted copy without duplicates.
func compact(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// Write sends data to every selected spark and returns how many it was queued
// for: on this node, plus what the broker reports for other nodes (the
// MemoryBroker reports exactly; asynchronous brokers report 0). Without
// outgoing transforms the message is encoded once and the same bytes are
// queued for every member, here and on other nodes. With them, each local
// spark gets its own transformed write, and other nodes get the value as
// given (their transforms run there). Errors: ErrReserved, ErrTooLarge, a
// *parser.Error, or a *BrokerError when the broker failed (local delivery
// has happened then).
func (t Target) Write(data any) (int, error) {
	if str, ok := data.(string); ok && primus.IsReserved(str) {
		return 0, ErrReserved
	}
	s := t.srv
	if room, pol, ok, err := t.historyTarget(); err != nil {
		return 0, err
	} else if ok {
		return t.writeHistory(data, room, pol)
	}
	var f frame
	var n int
	if len(s.transforms[Outgoing].load()) > 0 {
		n = t.writeEach(data)
	} else {
		var err error
		if f, err = s.encode(data); err != nil {
			return 0, err
		}
		n = t.pushLocal(f)
	}
	if t.allLocal() || !s.hasPeers() {
		return n, nil
	}
	if f.Payload == nil {
		var err error
		if f, err = s.encode(data); err != nil {
			return n, err
		}
	}
	remote, err := s.broker.Publish(context.Background(), &Publication{
		Node: s.nodeID, Namespace: t.ns, All: t.all, Rooms: t.rooms, Sparks: t.ids, Except: t.except,
		Payload: f.Payload, Binary: f.Binary, Value: sideEncode(data, f.Binary),
	})
	if err != nil {
		return n, &BrokerError{Op: "publish", Err: err}
	}
	return n + remote, nil
}

// allLocal reports whether nothing can be selected on another node: no
// rooms, not All, and every id found here. The broker need not be asked then.
func (t Target) allLocal() bool {
	if t.all || len(t.rooms) > 0 {
		return false
	}
	for _, id := range t.ids {
		if _, ok := t.srv.Spark(id); !ok {
			return false
		}
	}
	return true
}

// Emit sends a named event (docs/events.md) to every selected spark; like
// Write, it is encoded once. Acks cannot be collected from a group: use
// Spark.EmitWithAck per spark. It fails with ErrReserved for a reserved or
// invalid event name.
func (t Target) Emit(event string, args ...any) (int, error) {
	if !events.ValidName(event) {
		return 0, ErrReserved
	}
	return t.Write(events.NewEvent(event, args, 0))
}

// Sparks returns the selected sparks connected to this node.
func (t Target) Sparks() []*Spark {
	var out []*Spark
	t.each(func(sp *Spark) { out = append(out, sp) })
	return out
}

// Len is the number of selected sparks connected to this node.
func (t Target) Len() int {
	n := 0
	t.each(func(*Spark) { n++ })
	return n
}

// writeEach writes data to each local member through Spark.Write, for
// servers whose outgoing transforms must see every spark.
func (t Target) writeEach(data any) int {
	n := 0
	for _, sp := range t.Sparks() {
		if sp.Write(data) == nil {
			n++
		}
	}
	return n
}

// pushLocal queues f for every selected local spark.
func (t Target) pushLocal(f frame) int {
	var fo fanout
	fo.init(t.srv, f)
	fo.volatile = t.volatile
	t.each(fo.push)
	return fo.finish()
}

// each calls fn for every selected local spark that is not ending, once,
// holding the room registry's read lock, or Server.mu's for All (fn must not
// take either again or end a spark). The ids are resolved before that lock is taken, keeping
// Server.mu and the registry lock apart.
func (t Target) each(fn func(*Spark)) {
	s := t.srv
	except := exceptSet(t.except)
	if t.all {
		s.mu.RLock()
		defer s.mu.RUnlock()
		for _, sp := range s.sparks {
			if !sp.ending.Load() && sp.ns.key() == t.ns && !except.has(sp.id) {
				fn(sp)
			}
		}
		return
	}
	var direct []*Spark
	if len(t.ids) > 0 {
		s.mu.RLock()
		for _, id := range t.ids {
			if sp, ok := s.sparks[id]; ok {
				direct = append(direct, sp)
			}
		}
		s.mu.RUnlock()
	}
	reg := &s.rooms
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	for i, r := range t.rooms {
		for sp := range reg.rooms[r] {
			if sp.ending.Load() || except.has(sp.id) || inAny(sp, t.rooms[:i]) {
				continue
			}
			fn(sp)
		}
	}
	for _, sp := range direct {
		if sp.ending.Load() || except.has(sp.id) || inAny(sp, t.rooms) {
			continue
		}
		fn(sp)
	}
}

// inAny reports whether sp is in one of rooms; the caller holds the registry
// lock. It is how a spark in several selected rooms is visited once without
// allocating a set per write.
func inAny(sp *Spark, rooms []string) bool {
	for _, r := range rooms {
		if _, in := sp.rooms[r]; in {
			return true
		}
	}
	return false
}

// exceptSet answers "is this id excluded" with a sorted slice: binary search
// over a handful of ids beats building a map per write.
type exceptSet []string

func (e exceptSet) has(id string) bool {
	if len(e) == 0 {
		return false
	}
	_, found := slices.BinarySearch(e, id)
	return found
}
