package main

import (
	"sync"

	"github.com/allspark/allspark"
)

// rooms is a stand-in for the room API being built on main (Spark.Join,
// Server.Room(...).Write).
//
// TODO(rooms): when room.go lands, replace this file with sp.Join(rooms...)
// in the connection hook and srv.Room(room).Write(data) for publish.
//
// Until then a publish to a room that holds every spark except at most one
// (the fan-out scenario: all members plus the publisher) uses srv.Broadcast,
// which encodes once and queues the same bytes for everyone — what
// Room().Write will do, plus one extra delivery to the publisher. Any other
// room (the storm scenario) is written member by member, one encode each.
type rooms struct {
	srv *allspark.Server

	mu      sync.RWMutex
	members map[string]map[*allspark.Spark]struct{}
	of      map[*allspark.Spark][]string
}

func newRooms(srv *allspark.Server) *rooms {
	return &rooms{srv: srv, members: map[string]map[*allspark.Spark]struct{}{}, of: map[*allspark.Spark][]string{}}
}

func (r *rooms) join(sp *allspark.Spark, names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		if n == "" {
			continue
		}
		m := r.members[n]
		if m == nil {
			m = map[*allspark.Spark]struct{}{}
			r.members[n] = m
		}
		m[sp] = struct{}{}
		r.of[sp] = append(r.of[sp], n)
	}
}

func (r *rooms) leave(sp *allspark.Spark) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.of[sp] {
		delete(r.members[n], sp)
		if len(r.members[n]) == 0 {
			delete(r.members, n)
		}
	}
	delete(r.of, sp)
}

func (r *rooms) publish(room string, data any) {
	r.mu.RLock()
	m := r.members[room]
	if len(m) > 0 && len(m) >= r.srv.Len()-1 {
		r.mu.RUnlock()
		_, _ = r.srv.Broadcast(data)
		return
	}
	list := make([]*allspark.Spark, 0, len(m))
	for sp := range m {
		list = append(list, sp)
	}
	r.mu.RUnlock()
	for _, sp := range list {
		_ = sp.Write(data)
	}
}
