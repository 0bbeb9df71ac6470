package allspark

import (
	"context"
	"math"

	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/transport"
)

// The write path of rooms with history. A write to such a room is not
// delivered locally by the writer: it goes to the broker's PublishHistory,
// which gives it its position and hands it, stamped, to every node with
// members — this one too — in position order. HandlePublication then
// pushes it to the local members like any publication, with the stamp
// that lets sessions frame it (our clients' envelope, Socket.IO's offset,
// SSE's id) and lets a replay merge with live traffic by offset.

// historyBroker returns the broker's history, or nil when it keeps none or
// no room is configured to.
func (s *Server) historyBroker() HistoryBroker {
	if !s.opts.History.enabled() {
		return nil
	}
	hb, _ := s.broker.(HistoryBroker)
	return hb
}

// historyPolicyKey returns the policy of a room given by registry key.
func (s *Server) historyPolicyKey(key string) (HistoryPolicy, bool) {
	if !s.opts.History.enabled() {
		return HistoryPolicy{}, false
	}
	return s.opts.History.policy(roomNamespace(key), roomName(key))
}

// historyTarget reports whether t writes to a room with history, and
// ErrHistoryTarget when it does but selects more than that one room.
func (t Target) historyTarget() (string, HistoryPolicy, bool, error) {
	s := t.srv
	if t.all || len(t.rooms) == 0 || s.historyBroker() == nil {
		return "", HistoryPolicy{}, false, nil
	}
	for _, r := range t.rooms {
		if pol, ok := s.historyPolicyKey(r); ok {
			if len(t.rooms) != 1 || len(t.ids) > 0 {
				return "", HistoryPolicy{}, false, ErrHistoryTarget
			}
			return r, pol, true, nil
		}
	}
	return "", HistoryPolicy{}, false, nil
}

// writeHistory publishes data to room's stream. The count is what the
// broker reports synchronously (MemoryBroker: every receiver on every
// node; asynchronous brokers: 0).
func (t Target) writeHistory(data any, room string, pol HistoryPolicy) (int, error) {
	s := t.srv
	f, err := s.encode(data)
	if err != nil {
		return 0, err
	}
	_, n, err := s.historyBroker().PublishHistory(context.Background(), &Publication{
		Node: s.nodeID, Namespace: t.ns, Rooms: t.rooms, Except: t.except,
		Payload: f.Payload, Binary: f.Binary, Value: sideEncode(data, f.Binary),
	}, pol)
	if err != nil {
		return 0, &BrokerError{Op: "publish", Room: roomName(room), Err: err}
	}
	return n, nil
}

// deliverStamped pushes a history publication to this node's members of
// its room: the message to each, a position announcement instead to the
// excluded ones whose clients track positions.
func (s *Server) deliverStamped(p *Publication) int {
	room := p.Rooms[0]
	stamp := &transport.Stamp{Room: room, Offset: p.Pos.Offset, Epoch: p.Pos.Epoch}
	except := exceptSet(compact(p.Except))
	if len(s.transforms[Outgoing].load()) > 0 {
		return s.deliverStampedEach(p, stamp, except)
	}
	f := frame{Payload: p.Payload, Binary: p.Binary, Stamp: stamp}
	if p.Value != nil && s.reframing.Load() > 0 {
		f.Value = sideValue(p.Value)
	}
	var fo, ann fanout
	fo.init(s, f)
	ann.init(s, frame{Control: transport.Position, Stamp: stamp})
	reg := &s.rooms
	reg.mu.RLock()
	for sp := range reg.rooms[room] {
		switch {
		case sp.ending.Load():
		case except.has(sp.id):
			if sp.sess != nil {
				ann.push(sp)
			}
		default:
			fo.push(sp)
		}
	}
	reg.mu.RUnlock()
	ann.finish()
	return fo.finish()
}

// deliverStampedEach is deliverStamped for servers with outgoing
// transforms: each member's message goes through them, keeping the stamp.
func (s *Server) deliverStampedEach(p *Publication, stamp *transport.Stamp, except exceptSet) int {
	data, err := s.opts.Parser.Decode(p.Payload, p.Binary)
	if err != nil {
		s.opts.Logger.Warn("undecodable publication", "from", p.Node, "err", err)
		return 0
	}
	t := Target{srv: s, ns: p.Namespace, rooms: p.Rooms}
	n := 0
	for _, sp := range t.Sparks() {
		if except.has(sp.id) {
			if sp.sess != nil {
				_ = sp.enqueue(frame{Control: transport.Position, Stamp: stamp})
			}
			continue
		}
		pk := Packet{Data: data}
		keep, err := s.runTransforms(Outgoing, sp, &pk)
		if err != nil {
			sp.emitError(err)
			continue
		}
		if !keep {
			if sp.sess != nil {
				_ = sp.enqueue(frame{Control: transport.Position, Stamp: stamp})
			}
			continue
		}
		f, err := s.encode(pk.Data)
		if err != nil {
			continue
		}
		f.Stamp = stamp
		if sp.enqueue(f) == nil {
			n++
		}
	}
	return n
}

// announceJoined tells a spark with a session where it starts in each
// history room it just joined (after the broker subscription, so nothing
// published later is missed), and keeps that position as the room's base
// in its session: a reconnect before the client received anything there
// replays from it.
func (s *Server) announceJoined(sp *Spark, joined []string) {
	hb := s.historyBroker()
	if hb == nil {
		return
	}
	for _, r := range joined {
		pol, ok := s.historyPolicyKey(r)
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.sessions.opts.Timeout)
		res, err := hb.History(ctx, r, HistoryQuery{After: math.MaxUint64}, pol)
		cancel()
		if err != nil {
			s.opts.Logger.Warn("history position", "room", roomName(r), "err", err)
			continue
		}
		sp.sess.mu.Lock()
		if sp.sess.bases == nil {
			sp.sess.bases = make(map[string]Position)
		}
		sp.sess.bases[r] = res.Top
		sp.sess.mu.Unlock()
		_ = sp.enqueue(announceFrame(r, res.Top))
	}
	s.touchSession(sp)
}

// HistoryMessage is one message of a room's history, decoded.
type HistoryMessage struct {
	Pos  Position
	Data any // as the parser decodes it; a named event is an *Event-like envelope map
}

// History reads the history of room (a room name of the main namespace):
// the messages after q.After, oldest first, and the room's current
// position. An application that loads its state elsewhere reads the
// position first, then its state, and joins the spark with JoinFrom at
// that position: nothing published in between is lost. ErrNoHistory when
// the room keeps none or the broker keeps no history.
func (s *Server) History(ctx context.Context, room string, q HistoryQuery) ([]HistoryMessage, Position, error) {
	return s.history(ctx, room, q)
}

func (s *Server) history(ctx context.Context, key string, q HistoryQuery) ([]HistoryMessage, Position, error) {
	hb := s.historyBroker()
	pol, ok := s.historyPolicyKey(key)
	if hb == nil || !ok {
		return nil, Position{}, ErrNoHistory
	}
	res, err := hb.History(ctx, key, q, pol)
	if err != nil {
		return nil, Position{}, &BrokerError{Op: "history", Room: roomName(key), Err: err}
	}
	out := make([]HistoryMessage, 0, len(res.Entries))
	for _, e := range res.Entries {
		data, err := s.opts.Parser.Decode(e.Payload, e.Binary)
		if err != nil {
			continue
		}
		if env, ok, _ := events.Parse(data); ok && env.Kind == events.Event {
			data = &Event{Name: env.Name, Args: env.Args}
		}
		out = append(out, HistoryMessage{Pos: e.Pos, Data: data})
	}
	return out, res.Top, nil
}

// JoinFrom joins the spark to a room with history and replays to it every
// message after pos, then live ones, without a gap or a duplicate: the
// second half of "read the position, load the state, subscribe from the
// position". It reports whether the replay was complete; when it was not
// (the reason is as for a reconnect: epoch, truncated, limit, unavailable)
// nothing is replayed, the spark is in the room anyway, and its client
// should reload the room's state. ErrNoHistory for a room without history.
func (sp *Spark) JoinFrom(ctx context.Context, room string, pos Position) (bool, string, error) {
	if !validRoom(room) {
		return false, "", ErrInvalidRoom
	}
	srv := sp.server
	key := roomKey(sp.ns.key(), room)
	if _, ok := srv.historyPolicyKey(key); !ok || srv.historyBroker() == nil {
		return false, "", ErrNoHistory
	}
	sp.replayMu.Lock()
	defer sp.replayMu.Unlock()
	sp.queue.pause()
	err := sp.joinKeys([]string{key}, false)
	var prefix []frame
	var tops map[string]uint64
	recovered, reason := false, ""
	if err == nil {
		prefix, tops, recovered, reason = srv.replay(ctx, sp, []string{key}, map[string]Position{key: pos})
		if sp.sess != nil {
			sp.sess.mu.Lock()
			if sp.sess.bases == nil {
				sp.sess.bases = make(map[string]Position)
			}
			sp.sess.bases[key] = pos
			sp.sess.mu.Unlock()
		}
	}
	if sp.queue.resume(prefix, tops) {
		sp.startWriter()
	}
	return recovered, reason, err
}
