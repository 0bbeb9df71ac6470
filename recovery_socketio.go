package allspark

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/allspark/allspark/internal/transport"
)

// Socket.IO connection state recovery (docs/recovery.md, "Socket.IO"), as
// the stock client ≥ 4.6 speaks it: the CONNECT reply carries a private id
// (our session token), every event without an ack carries an offset as its
// last argument, and a reconnecting client sends {pid, offset} in its
// CONNECT auth. The client keeps only the offset of the last event it got,
// while a socket may be in several history rooms, so the offset is this
// spark's whole position vector at that event: every history room's last
// position, written by the spark's writer per event, in order, so that
// "the last event received" names exactly what was received everywhere.
// Replayed events carry their vectors too, so a second reconnect resumes
// after the replay (socket.io#5419). A vector is tagged with its session,
// so one left over from an earlier session is not trusted.

// socketIOResumeRequest reads the CONNECT auth of a Socket.IO socket: a
// session for every socket when Recovery is on, restored from pid.
func (s *Server) socketIOResumeRequest(sp *Spark) *resumeRequest {
	if !s.opts.SocketIO.Recovery {
		return nil
	}
	req := &resumeRequest{wire: wireSocketIO}
	auth, _ := sp.Auth().(map[string]any)
	if pid, _ := auth["pid"].(string); pid != "" {
		req.token = pid
		if off, _ := auth["offset"].(string); off != "" {
			req.since = parseVector(off, pid)
		}
	}
	return req
}

// answerSocketIO gives the socket its ids before the CONNECT reply goes
// out: the spark's id as the socket id (a restored spark keeps its old
// one, which the client reads back as socket.id, rather than the id the
// new socket was made with), and the pid. A restore that did not recover
// everything answers with a new pid, which is how the stock client learns
// socket.recovered is false.
func (s *Server) answerSocketIO(sp *Spark) {
	ss := sp.sess
	if ss.restored && !ss.recovered {
		fresh := newSparkSession(sp.id, wireSocketIO)
		ss.mu.Lock()
		ss.token, ss.secret = fresh.token, fresh.secret
		ss.mu.Unlock()
	}
	ss.w.vec.tag = vectorTag(ss.token)
	if ps, ok := sp.conn.(socketIOIdentity); ok {
		ps.SetID(sp.id)
		ps.SetPID(ss.token)
	}
}

// socketIOIdentity is a Socket.IO socket whose CONNECT reply is not
// written yet: the ids it will carry can still change.
type socketIOIdentity interface {
	SetID(id string)
	SetPID(pid string)
}

// vectorTag ties a vector to its session's token.
func vectorTag(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// positionVector is the last position the spark was sent in each of its
// history rooms, at most maxSinceRooms of them (the least recently moved
// goes first), and its text, remade only when it changed. Only the
// spark's writer touches it.
type positionVector struct {
	tag     string
	entries []vectorEntry // least recently moved first
	text    string
	dirty   bool
}

type vectorEntry struct {
	room string
	pos  Position
}

// move records st as the room's position.
func (v *positionVector) move(st *transport.Stamp) {
	p := Position{Offset: st.Offset, Epoch: st.Epoch}
	if i := slices.IndexFunc(v.entries, func(e vectorEntry) bool { return e.room == st.Room }); i >= 0 {
		if v.entries[i].pos == p {
			return
		}
		v.entries = slices.Delete(v.entries, i, i+1)
	} else if len(v.entries) >= maxSinceRooms {
		v.entries = slices.Delete(v.entries, 0, 1)
	}
	v.entries = append(v.entries, vectorEntry{room: st.Room, pos: p})
	v.dirty = true
}

// Outcomes of checking a live message against the vector.
const (
	stampNext      = iota // the room's next message, or the first seen
	stampDuplicate        // at or before the position: already sent
	stampGap              // past the next offset, or another epoch
)

// check tells how a message stamped st follows the spark's position in its
// room.
func (v *positionVector) check(st *transport.Stamp) int {
	for _, e := range v.entries {
		if e.room != st.Room {
			continue
		}
		switch {
		case e.pos.Epoch != st.Epoch || st.Offset > e.pos.Offset+1:
			return stampGap
		case st.Offset <= e.pos.Offset:
			return stampDuplicate
		}
		return stampNext
	}
	return stampNext
}

// String returns "<tag>.<base64url of {room: [offset, epoch]}>".
func (v *positionVector) String() string {
	if v.dirty || v.text == "" {
		m := make(map[string][2]any, len(v.entries))
		for _, e := range v.entries {
			m[e.room] = [2]any{e.pos.Offset, e.pos.Epoch}
		}
		b, _ := json.Marshal(m)
		v.text = v.tag + "." + base64.RawURLEncoding.EncodeToString(b)
		v.dirty = false
	}
	return v.text
}

// parseVector reads a vector the server wrote for the session of token;
// nil for anything else (the session's own positions are used then).
func parseVector(text, token string) map[string]Position {
	tag, body, ok := strings.Cut(text, ".")
	if !ok || tag != vectorTag(token) || len(body) > maxSinceBytes {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil
	}
	return parsePositions(b, func(room string) bool {
		return room != "" && len(room) <= 2*MaxRoomNameLen+2
	})
}
