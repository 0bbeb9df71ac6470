package allspark

import (
	"context"
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// Recovery on reconnect (docs/recovery.md). A connecting client that asks
// for a session presents a resumeRequest: its token, if it had one, and
// the last position it received in each room with history. At attach the
// token's record is taken from the store, which gives the spark its old
// id; the spark's send queue is paused. Before its connection hooks run
// (started), the spark rejoins its rooms — live writes to them queue
// behind the pause from then on — and each history room's stream is read
// from the client's position. The answer is all or nothing: either every
// missed message is put in front of the queue, in order, and the live
// ones the read already holds are dropped from behind it (no gap, no
// duplicate), or nothing is replayed and the client is told why. Then the
// queue resumes.

// Reasons a reconnect is not recovered (Spark.RecoveryReason and the
// session envelope's "reason").
const (
	RecoveryNew         = "new"         // the client presented no token
	RecoveryExpired     = "expired"     // no such session: unknown, expired, ended, or a bad token
	RecoveryEpoch       = "epoch"       // a room's stream was lost or recreated since the client's position
	RecoveryTruncated   = "truncated"   // a room's history no longer holds the first missed message
	RecoveryLimit       = "limit"       // more missed messages than RecoveryOptions.MaxReplay
	RecoveryUnavailable = "unavailable" // the session or history store failed, or a position is unknown
	// RecoveryNoHistory: the spark is in no room that keeps history, so
	// nothing says what it missed (writes to other rooms and to the spark
	// itself are at most once).
	RecoveryNoHistory = "no_history"
)

// resumeRequest is what a connecting client presents for a session.
type resumeRequest struct {
	wire  sessionWire
	token string // "" on a first connect
	// since are the client's last positions by room key; rooms it has
	// none for replay from the position the spark had when it joined.
	since map[string]Position
}

// pendingRestore carries a restore from its start in attach to its end.
type pendingRestore struct {
	req    *resumeRequest
	rec    *sessionRecord // nil: a new session
	reason string         // why rec is nil
}

// resumeRequestFor reads the session request of a connecting client, nil
// when it asks for none (or sessions are off).
func (s *Server) resumeRequestFor(sp *Spark, r *http.Request) *resumeRequest {
	if !s.sessions.enabled() {
		return nil
	}
	switch sp.Protocol() {
	case "primus":
		return envelopeResumeRequest(r)
	case "socket.io":
		return s.socketIOResumeRequest(sp)
	case "sse":
		if !s.opts.History.enabled() || s.opts.SSE.NoResume {
			return nil
		}
		return sseResumeRequest(r)
	}
	return nil
}

// beginRestore runs at attach for a spark whose client asked for a
// session: it pauses the queue and takes the token's record, whose id the
// spark then takes. It returns the id wanted ("" for a fresh one).
func (s *Server) beginRestore(sp *Spark, req *resumeRequest) string {
	sp.queue.pause()
	pr := &pendingRestore{req: req, reason: RecoveryNew}
	sp.restore = pr
	if req.token == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.sessions.opts.Timeout)
	defer cancel()
	rec, err := s.takeSession(ctx, req.token)
	if errors.Is(err, ErrNoSession) {
		// Not in the store, which with a store of this process means the
		// spark is still connected here (its end writes the record): a
		// connection the server has not yet seen die.
		rec, err = s.liveSessionRecord(req.token)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrNoSession) || errors.Is(err, errBadToken):
		pr.reason = RecoveryExpired
		return ""
	default:
		s.opts.Logger.Warn("session store", "err", err)
		pr.reason = RecoveryUnavailable
		return ""
	}
	if rec.NS != sp.ns.key() {
		pr.reason = RecoveryExpired
		return ""
	}
	pr.rec = rec
	s.takeOver(rec)
	return rec.ID
}

// liveSessionRecord is the record of a spark connected to this node whose
// token is token, or ErrNoSession.
func (s *Server) liveSessionRecord(token string) (*sessionRecord, error) {
	id, _, ok := splitToken(token)
	if !ok {
		return nil, errBadToken
	}
	old, ok := s.Spark(id)
	if !ok || old.sess == nil || !old.setUp() {
		return nil, ErrNoSession
	}
	old.sess.mu.Lock()
	own := old.sess.token
	old.sess.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(own), []byte(token)) != 1 {
		return nil, errBadToken
	}
	return old.sessionRecord(true), nil
}

// takeOver ends the spark that still holds a session being restored: on
// this node (a connection the server has not yet seen die), at once and
// without touching the record; on another node, through a cluster
// disconnect.
func (s *Server) takeOver(rec *sessionRecord) {
	s.supersede(rec.ID)
	if rec.Live && rec.Node != "" && rec.Node != s.nodeID && s.hasPeers() {
		s.active.add()
		go func() {
			defer s.active.done()
			ctx, cancel := context.WithTimeout(context.Background(), s.sessions.opts.Timeout)
			defer cancel()
			if _, err := s.cluster.request(ctx, rec.Node, opSupersede, []byte(rec.ID)); err != nil {
				s.opts.Logger.Debug("session take-over", "spark", rec.ID, "node", rec.Node, "err", err)
			}
		}()
	}
}

// opSupersede asks a node to let go of a spark whose session another node
// has restored.
const opSupersede = "session.supersede"

// supersede ends this node's spark id, if any, leaving its session record
// to the connection that took it over, and waits (a second at most) until
// it is unregistered.
func (s *Server) supersede(id string) {
	old, ok := s.Spark(id)
	if !ok {
		return
	}
	if old.sess != nil {
		old.sess.mu.Lock()
		old.sess.superseded = true
		old.sess.mu.Unlock()
	}
	old.End(nil, true)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if _, still := s.Spark(id); !still {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// installSessionOps answers other nodes' take-overs.
func (s *Server) installSessionOps() {
	s.cluster.handle(opSupersede, func(_ context.Context, _ string, body []byte) ([]byte, error) {
		s.supersede(string(body))
		return []byte{'1'}, nil
	})
}

// finishRestore runs at the end of attach, before the engine reads and the
// connection hooks run: it rejoins
// the rooms, replays or refuses, writes the wire's session answer and
// resumes the queue.
func (s *Server) finishRestore(sp *Spark) {
	sp.replayMu.Lock()
	defer sp.replayMu.Unlock()
	pr := sp.restore
	sp.restore = nil
	ss := sp.sess
	var prefix []frame
	var tops map[string]uint64
	if rec := pr.rec; rec != nil && rec.ID == sp.id {
		ss.mu.Lock()
		ss.restored = true
		ss.mu.Unlock()
		if len(s.restoreHooks.load()) > 0 {
			sp.hooksDone = false // data waits for the restore hooks too
		}
		sp.decodeValues(rec.Values)
		if rec.User != "" {
			sp.SetUser(rec.User)
		}
		ss.mu.Lock()
		ss.bases = make(map[string]Position, len(rec.Bases))
		for r, p := range rec.Bases {
			ss.bases[r] = p
		}
		ss.mu.Unlock()
		if err := sp.joinKeys(rec.Rooms, false); err != nil && !errors.Is(err, ErrClosed) {
			s.opts.Logger.Warn("session rooms", "spark", sp.id, "err", err)
		}
		replay, t, recovered, reason := s.replay(context.Background(), sp, rec.Rooms, pr.req.since)
		prefix, tops = replay, t
		// Everything up to the tops read is now delivered, or given up
		// (the client reloads): a later reconnect without positions
		// starts there.
		ss.mu.Lock()
		ss.recovered, ss.reason = recovered, reason
		for _, f := range replay {
			if f.Stamp != nil {
				ss.bases[f.Stamp.Room] = Position{Offset: f.Stamp.Offset, Epoch: f.Stamp.Epoch}
			}
		}
		ss.mu.Unlock()
	} else {
		ss.mu.Lock()
		ss.reason = pr.reason
		ss.mu.Unlock()
	}
	switch ss.wire {
	case wireEnvelope:
		if f, err := s.sessionEnvelope(sp); err == nil {
			prefix = append([]frame{f}, prefix...)
		}
	case wireSocketIO:
		s.answerSocketIO(sp)
	case wireSSE:
		ss.w.vec.tag = vectorTag(ss.token)
		if pr.req.token != "" && !ss.recovered {
			prefix = append(prefix, s.unrecoveredEvent(ss.reason))
		}
	}
	if sp.queue.resume(prefix, tops) {
		sp.startWriter()
	}
	if s.sessions.durable {
		// At once, not in the background: a client that loses this
		// connection right away and reconnects elsewhere must find it.
		// (A new spark whose connection hooks are still to run is saved
		// when they are done instead: saveSession, started.)
		s.saveSession(sp, true)
	}
}

// replay reads what the client missed in the spark's history rooms, from
// since (the client's positions) or the positions the spark joined with.
// It returns the frames to put in front of the queue, each room's top
// offset as read (live frames up to it are already covered), and whether
// every missed message is in the frames. When one room cannot be
// recovered none is replayed: the frames are then announcements of every
// history room's current position.
func (s *Server) replay(ctx context.Context, sp *Spark, rooms []string, since map[string]Position) ([]frame, map[string]uint64, bool, string) {
	hb := s.historyBroker()
	rooms = slices.Sorted(slices.Values(rooms))
	ctx, cancel := context.WithTimeout(ctx, s.sessions.opts.Timeout)
	defer cancel()
	type roomRead struct {
		room    string
		top     Position
		entries []HistoryEntry
	}
	var reads []roomRead
	tops := make(map[string]uint64)
	reason := ""
	budget := s.sessions.opts.MaxReplay
	for _, room := range rooms {
		pol, ok := s.historyPolicyKey(room)
		if !ok || hb == nil {
			continue
		}
		from, known := since[room]
		if !known && sp.sess != nil {
			sp.sess.mu.Lock()
			from, known = sp.sess.bases[room]
			sp.sess.mu.Unlock()
		}
		q := HistoryQuery{After: from.Offset, Limit: budget + 1}
		if reason != "" || !known {
			q = HistoryQuery{After: math.MaxUint64} // only the position is needed now
		}
		res, err := hb.History(ctx, room, q, pol)
		if err != nil {
			s.opts.Logger.Warn("history read", "room", roomName(room), "err", err)
			if reason == "" {
				reason = RecoveryUnavailable
			}
			continue
		}
		tops[room] = res.Top.Offset
		reads = append(reads, roomRead{room: room, top: res.Top, entries: res.Entries})
		if reason != "" {
			continue
		}
		missed := uint64(0)
		if res.Top.Offset > from.Offset {
			missed = res.Top.Offset - from.Offset
		}
		switch {
		case !known:
			reason = RecoveryUnavailable
		case res.Top.Epoch != from.Epoch || from.Offset > res.Top.Offset:
			reason = RecoveryEpoch
		case missed == 0:
		case len(res.Entries) == 0 || res.Entries[0].Pos.Offset != from.Offset+1:
			reason = RecoveryTruncated
		case missed > uint64(budget):
			reason = RecoveryLimit
		case uint64(len(res.Entries)) != missed:
			reason = RecoveryTruncated
		default:
			budget -= int(missed)
		}
	}
	var out []frame
	if reason == "" && len(reads) == 0 {
		return nil, tops, false, RecoveryNoHistory
	}
	if reason != "" {
		for _, rd := range reads {
			out = append(out, announceFrame(rd.room, rd.top))
		}
		return out, tops, false, reason
	}
	for _, rd := range reads {
		if len(rd.entries) == 0 {
			out = append(out, announceFrame(rd.room, rd.top))
			continue
		}
		for i := range rd.entries {
			out = append(out, s.replayFrame(sp, rd.room, &rd.entries[i]))
		}
	}
	return out, tops, true, ""
}

// announceFrame is a position announcement: the receiver is at pos in
// room, with no message.
func announceFrame(room string, pos Position) frame {
	return frame{Control: transport.Position, Stamp: &transport.Stamp{Room: room, Offset: pos.Offset, Epoch: pos.Epoch}}
}

// replayFrame turns a stored entry into the frame sp gets: the message as
// it was sent live (through the outgoing transforms when there are some),
// or an announcement when the live write excluded sp.
func (s *Server) replayFrame(sp *Spark, room string, e *HistoryEntry) frame {
	stamp := &transport.Stamp{Room: room, Offset: e.Pos.Offset, Epoch: e.Pos.Epoch}
	if slices.Contains(e.Except, sp.id) {
		return frame{Control: transport.Position, Stamp: stamp}
	}
	f := frame{Payload: e.Payload, Binary: e.Binary, Stamp: stamp}
	if e.Value != nil && sp.reframes {
		f.Value = sideValue(e.Value)
	}
	if len(s.transforms[Outgoing].load()) == 0 {
		return f
	}
	data, err := s.opts.Parser.Decode(e.Payload, e.Binary)
	if err != nil {
		return frame{Control: transport.Position, Stamp: stamp}
	}
	p := Packet{Data: data}
	keep, err := s.runTransforms(Outgoing, sp, &p)
	if err != nil || !keep {
		return frame{Control: transport.Position, Stamp: stamp}
	}
	tf, err := s.encode(p.Data)
	if err != nil {
		return frame{Control: transport.Position, Stamp: stamp}
	}
	tf.Stamp = stamp
	return tf
}
