package allspark

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Cluster-wide operations on sparks and rooms: each runs on this node and,
// as a request, on every other live node, and adds the answers up. A node
// that does not answer in time leaves its part out and the call returns
// what it has with a *PartialError naming it.

// SparkInfo describes a spark anywhere in the cluster (Target.Fetch,
// Socket.IO's fetchSockets).
type SparkInfo struct {
	ID        string   `json:"id"`
	Node      string   `json:"node"`
	Namespace string   `json:"nsp,omitempty"`
	Rooms     []string `json:"rooms,omitempty"` // in its namespace, sorted
	Protocol  string   `json:"proto,omitempty"` // Spark.Protocol
	Remote    string   `json:"addr,omitempty"`  // Spark.RemoteAddr
	User      string   `json:"user,omitempty"`  // Spark.User
	// Spark is the spark itself when it is connected to this node.
	Spark *Spark `json:"-"`
}

// RoomCount is a room and its members on every node (ClusterRooms).
type RoomCount struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
}

// targetSpec is a Target as it travels in a request.
type targetSpec struct {
	NS     string   `json:"ns,omitempty"`
	All    bool     `json:"all,omitempty"`
	Rooms  []string `json:"rooms,omitempty"`
	IDs    []string `json:"ids,omitempty"`
	Except []string `json:"except,omitempty"`
	// Arguments of the operation.
	Join      []string `json:"join,omitempty"`
	Reconnect bool     `json:"re,omitempty"`
}

func (t Target) spec() targetSpec {
	return targetSpec{NS: t.ns, All: t.all, Rooms: t.rooms, IDs: t.ids, Except: t.except}
}

func (s *Server) target(sp targetSpec) Target {
	return Target{srv: s, ns: sp.NS, all: sp.All, rooms: sp.Rooms, ids: sp.IDs, except: sp.Except}
}

// maxAckWait bounds how long a node serves another node's EmitWithAck.
const maxAckWait = 10 * time.Minute

// installClusterOps registers the request handlers of this file.
func (s *Server) installClusterOps() {
	c := &s.cluster
	c.handle("locate", func(_ context.Context, _ string, body []byte) ([]byte, error) {
		if _, ok := s.Spark(string(body)); ok {
			return []byte{'1'}, nil
		}
		return []byte{'0'}, nil
	})
	c.handle("count", s.serveTarget(func(t Target, _ targetSpec) any { return t.Len() }))
	c.handle("fetch", s.serveTarget(func(t Target, _ targetSpec) any { return t.localInfo() }))
	c.handle("join", s.serveTarget(func(t Target, sp targetSpec) any { return t.joinLocal(sp.Join) }))
	c.handle("leave", s.serveTarget(func(t Target, sp targetSpec) any { return t.leaveLocal(sp.Join) }))
	c.handle("disconnect", s.serveTarget(func(t Target, sp targetSpec) any { return t.disconnectLocal(sp.Reconnect) }))
	// An EmitWithAck waits as long as its asker's deadline, not
	// RequestTimeout: it gets its own handler timeout (the wait it is sent
	// is shorter) and its own bound, so it cannot starve the short ops.
	c.handleLimited("emitack", s.serveEmitAck, maxAckWait, c.opts.MaxConcurrentRequests)
	c.handle("rooms", func(_ context.Context, _ string, body []byte) ([]byte, error) {
		return json.Marshal(s.localRooms(string(body)))
	})
}

// serveTarget adapts a local operation on a target to a request handler.
func (s *Server) serveTarget(fn func(Target, targetSpec) any) clusterOp {
	return func(_ context.Context, _ string, body []byte) ([]byte, error) {
		var sp targetSpec
		if err := json.Unmarshal(body, &sp); err != nil {
			return nil, err
		}
		return json.Marshal(fn(s.target(sp), sp))
	}
}

// Locate returns the node that holds the spark: this node's id when it is
// local, another node's as that node answers, or ErrNotFound. When some
// nodes did not answer the error is a *PartialError (the spark may be on
// one of them).
func (s *Server) Locate(ctx context.Context, id string) (string, error) {
	if _, ok := s.Spark(id); ok {
		return s.nodeID, nil
	}
	var found string
	_, err := s.cluster.survey(ctx, "locate", []byte(id), nil, func(node string, body []byte) bool {
		if string(body) == "1" {
			found = node
			return true
		}
		return false
	})
	if found != "" {
		return found, nil
	}
	if err != nil {
		return "", err
	}
	return "", ErrNotFound
}

// askTarget runs op for t on the other nodes, unless t can only select
// sparks of this one or there are no other nodes (a single server encodes
// nothing for them).
func (t Target) askTarget(ctx context.Context, op string, sp targetSpec) (map[string][]byte, error) {
	if !t.srv.hasPeers() || t.allLocal() {
		return nil, nil
	}
	body, err := json.Marshal(sp)
	if err != nil {
		return nil, err
	}
	return t.srv.cluster.survey(ctx, op, body, nil, nil)
}

// sumAnswers adds up integer answers.
func sumAnswers(answers map[string][]byte) int {
	n := 0
	for _, b := range answers {
		if v, err := strconv.Atoi(string(b)); err == nil {
			n += v
		}
	}
	return n
}

// Count is the number of selected sparks on every node of the cluster
// (Len counts this node's). With a *PartialError the count leaves out the
// nodes it names.
func (t Target) Count(ctx context.Context) (int, error) {
	answers, err := t.askTarget(ctx, "count", t.spec())
	return t.Len() + sumAnswers(answers), err
}

// Fetch describes the selected sparks on every node (Socket.IO's
// fetchSockets), this node's first; those connected here carry the Spark.
func (t Target) Fetch(ctx context.Context) ([]SparkInfo, error) {
	out := t.localInfo()
	answers, err := t.askTarget(ctx, "fetch", t.spec())
	nodes := make([]string, 0, len(answers))
	for n := range answers {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	for _, n := range nodes {
		var infos []SparkInfo
		if json.Unmarshal(answers[n], &infos) == nil {
			out = append(out, infos...)
		}
	}
	return out, err
}

// localInfo describes the selected sparks of this node.
func (t Target) localInfo() []SparkInfo {
	sparks := t.Sparks()
	out := make([]SparkInfo, 0, len(sparks))
	for _, sp := range sparks {
		info := SparkInfo{
			ID: sp.id, Node: t.srv.nodeID, Namespace: sp.Namespace(), Rooms: sp.Rooms(),
			Protocol: sp.Protocol(), User: sp.User(), Spark: sp,
		}
		if sp.remote.IsValid() {
			info.Remote = sp.remote.String()
		}
		out = append(out, info)
	}
	return out
}

// Join makes every selected spark, on every node, join rooms (Socket.IO's
// socketsJoin) and returns how many did; a spark that could not (ended,
// too many rooms) is skipped.
func (t Target) Join(ctx context.Context, rooms ...string) (int, error) {
	sp := t.spec()
	sp.Join = rooms
	answers, err := t.askTarget(ctx, "join", sp)
	return t.joinLocal(rooms) + sumAnswers(answers), err
}

func (t Target) joinLocal(rooms []string) int {
	n := 0
	for _, sp := range t.Sparks() {
		if sp.Join(rooms...) == nil {
			n++
		}
	}
	return n
}

// Leave makes every selected spark, on every node, leave rooms
// (socketsLeave) and returns how many were selected.
func (t Target) Leave(ctx context.Context, rooms ...string) (int, error) {
	sp := t.spec()
	sp.Join = rooms
	answers, err := t.askTarget(ctx, "leave", sp)
	return t.leaveLocal(rooms) + sumAnswers(answers), err
}

func (t Target) leaveLocal(rooms []string) int {
	sparks := t.Sparks()
	for _, sp := range sparks {
		_ = sp.Leave(rooms...)
	}
	return len(sparks)
}

// Disconnect ends every selected spark, on every node (disconnectSockets),
// and returns how many: with reconnect false their clients are told not to
// reconnect (Socket.IO: "io server disconnect"), with true they reconnect.
func (t Target) Disconnect(ctx context.Context, reconnect bool) (int, error) {
	sp := t.spec()
	sp.Reconnect = reconnect
	answers, err := t.askTarget(ctx, "disconnect", sp)
	return t.disconnectLocal(reconnect) + sumAnswers(answers), err
}

func (t Target) disconnectLocal(reconnect bool) int {
	sparks := t.Sparks()
	for _, sp := range sparks {
		sp.End(nil, reconnect)
	}
	return len(sparks)
}

// ClusterRooms lists the rooms of namespace ns ("" or "/" for the main
// one) that have members on any node, with their member counts over all
// nodes, sorted by name (RoomNames lists this node's).
func (s *Server) ClusterRooms(ctx context.Context, ns string) ([]RoomCount, error) {
	if ns == MainNamespace {
		ns = ""
	}
	counts := make(map[string]int)
	for _, rc := range s.localRooms(ns) {
		counts[rc.Name] += rc.Members
	}
	answers, err := s.cluster.survey(ctx, "rooms", []byte(ns), nil, nil)
	for _, b := range answers {
		var rcs []RoomCount
		if json.Unmarshal(b, &rcs) == nil {
			for _, rc := range rcs {
				counts[rc.Name] += rc.Members
			}
		}
	}
	out := make([]RoomCount, 0, len(counts))
	for name, n := range counts {
		out = append(out, RoomCount{Name: name, Members: n})
	}
	slices.SortFunc(out, func(a, b RoomCount) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

// localRooms counts this node's members of namespace ns's rooms.
func (s *Server) localRooms(ns string) []RoomCount {
	prefix := ""
	if ns != "" {
		prefix = roomKey(ns, "")
	}
	reg := &s.rooms
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]RoomCount, 0, len(reg.rooms))
	for key, members := range reg.rooms {
		name, ok := roomInNamespace(key, prefix)
		if !ok || len(members) == 0 {
			continue
		}
		out = append(out, RoomCount{Name: name, Members: len(members)})
	}
	return out
}

// roomInNamespace returns the room name of registry key when it belongs to
// the namespace whose key prefix is prefix ("" for the main namespace).
func roomInNamespace(key, prefix string) (string, bool) {
	if prefix == "" {
		return key, key != "" && key[0] != 0
	}
	if strings.HasPrefix(key, prefix) {
		return key[len(prefix):], true
	}
	return "", false
}
