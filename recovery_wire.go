package allspark

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

// The session wire of our JS and Go clients (docs/recovery.md, "Wire"):
// Primus framing, with envelopes of the events family. A client asks with
// query parameters on its connection request — _recover=1 on a first
// connect; _session=<token> and _since=<positions> on a reconnect — and
// gets, first, a session envelope, then its messages; a write to a room
// with history arrives wrapped with its position, and position
// announcements move the client on without a message. Clients that do not
// ask (the stock Primus client) see none of it.

// Query parameters of the session request.
const (
	queryRecover = "_recover"
	querySession = "_session"
	querySince   = "_since"
)

// Bounds of the positions a client sends.
const (
	maxSinceBytes = 32 << 10
	maxSinceRooms = 64
)

// stampSlot is the envelope framing's slot in transport.Shared.
const stampSlot = 4

// envelopeResumeRequest reads the session request of a Primus-framed
// connection, nil when it asks for none.
func envelopeResumeRequest(r *http.Request) *resumeRequest {
	// Most connects resume nothing: a query that cannot name either
	// parameter (no escapes to hide one) is not parsed, which would leave
	// a map behind on every connect.
	if raw := r.URL.RawQuery; !strings.Contains(raw, querySession) && !strings.Contains(raw, queryRecover) && !strings.Contains(raw, "%") {
		return nil
	}
	q := r.URL.Query()
	token := q.Get(querySession)
	if token == "" && q.Get(queryRecover) != "1" {
		return nil
	}
	req := &resumeRequest{wire: wireEnvelope, token: token}
	if since := q.Get(querySince); since != "" && len(since) <= maxSinceBytes {
		req.since = parseSince(since)
	}
	return req
}

// parseSince reads {"<room>":[<offset>,"<epoch>"],...}. Anything else, or
// more than maxSinceRooms rooms, gives no positions: the session's own
// (the rooms' bases) are used instead.
func parseSince(s string) map[string]Position {
	return parsePositions([]byte(s), validRoom)
}

// parsePositions reads a positions object; entries whose room fails valid,
// or whose offset or epoch is unusable, are left out.
func parsePositions(b []byte, valid func(string) bool) map[string]Position {
	var raw map[string][2]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) > maxSinceRooms {
		return nil
	}
	out := make(map[string]Position, len(raw))
	for room, pair := range raw {
		var p Position
		if json.Unmarshal(pair[0], &p.Offset) != nil || json.Unmarshal(pair[1], &p.Epoch) != nil {
			return nil
		}
		if !valid(room) || p.Epoch == "" || len(p.Epoch) > 64 {
			continue
		}
		out[room] = p
	}
	return out
}

// newSession makes the session of a spark whose client asked for one: the
// restored one's token when the restore took its record, a fresh one
// otherwise.
func (s *Server) newSession(sp *Spark, req *resumeRequest) *sparkSession {
	var ss *sparkSession
	if pr := sp.restore; pr != nil && pr.rec != nil && pr.rec.ID == sp.id {
		ss = &sparkSession{token: req.token, secret: pr.rec.Secret, wire: req.wire}
	} else {
		ss = newSparkSession(sp.id, req.wire)
		if pr != nil && pr.rec != nil {
			pr.rec, pr.reason = nil, RecoveryExpired // its id was taken meanwhile
		}
	}
	ss.w = &sessionWriter{Session: sp.conn, sp: sp, proto: s.stampProtocol()}
	sp.emitterOK = false // the session's envelopes and the emitter dialect do not mix
	if !sp.reframes {
		// Stamped broadcasts then carry a frame cache, so the envelope
		// is made once for every receiver.
		sp.reframes = true
		s.reframing.Add(1)
	}
	return ss
}

// sessionEnvelope is the first frame of a session: who the spark is and
// whether what the client missed follows.
func (s *Server) sessionEnvelope(sp *Spark) (frame, error) {
	ss := sp.sess
	body := map[string]any{
		"id": sp.id, "token": ss.token, "restored": ss.restored, "recovered": ss.recovered,
	}
	if ss.reason != "" {
		body["reason"] = ss.reason
	}
	return s.encode(map[string]any{"allspark": 1, "session": body})
}

// stampProtocol frames stamped messages and announcements as envelopes.
func (s *Server) stampProtocol() *transport.Protocol {
	s.stampOnce.Do(func() {
		_, isJSON := s.opts.Parser.(parser.JSON)
		p := s.opts.Parser
		s.stampProto = &transport.Protocol{Name: "primus", Slot: stampSlot, Frame: func(m *transport.Message) ([]byte, bool) {
			return frameStamped(p, isJSON, m)
		}}
	})
	return s.stampProto
}

// frameStamped wraps m in {"allspark":1,"room","offset","epoch","data"}
// ("data" left out for an announcement). With the JSON parser the payload
// is spliced in as it is; other parsers decode it and encode the wrapper.
func frameStamped(p parser.Parser, isJSON bool, m *transport.Message) ([]byte, bool) {
	st := m.Stamp
	if isJSON && (m.Control == transport.Position || !m.Binary) {
		b := make([]byte, 0, len(m.Payload)+len(st.Room)+len(st.Epoch)+64)
		b = append(b, `{"allspark":1,"room":`...)
		b = appendJSONString(b, roomName(st.Room))
		b = append(b, `,"offset":`...)
		b = strconv.AppendUint(b, st.Offset, 10)
		b = append(b, `,"epoch":`...)
		b = appendJSONString(b, st.Epoch)
		if m.Control != transport.Position {
			b = append(b, `,"data":`...)
			b = append(b, m.Payload...)
		}
		return append(b, '}'), false
	}
	env := map[string]any{"allspark": 1, "room": roomName(st.Room), "offset": st.Offset, "epoch": st.Epoch}
	if m.Control != transport.Position {
		v, err := p.Decode(m.Payload, m.Binary)
		if err != nil {
			return m.Payload, m.Binary
		}
		env["data"] = v
	}
	b, bin, err := p.Encode(env)
	if err != nil {
		return m.Payload, m.Binary
	}
	return b, bin
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// sessionWriter is the session of a spark with a session, as its writer
// sees it: stamped messages and announcements are framed for the wire
// (envelopes for our clients) or, for wires that carry positions their own
// way, handed to the wire's tracker and announcements dropped.
type sessionWriter struct {
	transport.Session
	sp    *Spark
	proto *transport.Protocol
	// vec is the spark's position vector: what each room's last message
	// sent was, so no message goes out twice; wires that carry it in every
	// message (Socket.IO offsets, SSE ids) send it too.
	vec positionVector
}

// errPositionGap ends a connection whose next message of a room does not
// follow the last one it was sent.
var errPositionGap = errors.New("allspark: a history message is missing; the client must recover")

// writer returns the spark's session writer.
func (ss *sparkSession) writer(*Spark) transport.Session { return ss.w }

// WriteBatch implements transport.Session. msgs belongs to the writer for
// the call, so it is rewritten in place.
func (w *sessionWriter) WriteBatch(msgs []transport.Message) (n, bytes int, err error) {
	out := msgs[:0]
	wire := w.sp.sess.wire
	for i := range msgs {
		// A pointer into msgs, not a copy: a copy would escape (FrameFor
		// keeps its receiver in a closure) and cost an allocation per
		// message per receiver.
		m := &msgs[i]
		if m.Stamp != nil {
			if wire == wireEnvelope {
				// A stamped message at or before what this connection was
				// last sent in its room is dropped: a live copy the node's
				// broker subscription delivers after the replay that
				// already held it (a restored spark on a busy node). Gaps
				// and epoch changes go through: the client resyncs.
				if w.vec.check(m.Stamp) == stampDuplicate {
					continue
				}
				w.vec.move(m.Stamp)
				m.Payload, m.Binary = m.FrameFor(w.proto)
				m.Control, m.Value = transport.Data, nil
			} else {
				if m.Control != transport.Position {
					switch w.vec.check(m.Stamp) {
					case stampDuplicate:
						continue
					case stampGap:
						// A message of this room never reached this node
						// (a broker dropped it): cut the connection, so the
						// client reconnects from its last offset and the
						// replay fills the gap, or says it cannot.
						if len(out) > 0 {
							if n, bytes, err = w.Session.WriteBatch(out); err != nil {
								return n, bytes, err
							}
						}
						return n, bytes, errPositionGap
					}
				}
				w.vec.move(m.Stamp)
				if m.Control == transport.Position {
					continue
				}
			}
		}
		if m.Control == transport.Data {
			switch wire {
			case wireSocketIO:
				m.Offset = w.vec.String()
			case wireSSE:
				m.Offset = w.sseEventID()
			}
		}
		out = append(out, *m)
	}
	if len(out) == 0 {
		return 0, 0, nil
	}
	return w.Session.WriteBatch(out)
}

// isEndEnvelope reports whether v is {"allspark":1,"end":true}: the client
// ends for good, so its session goes with it.
func isEndEnvelope(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 2 {
		return false
	}
	end, _ := m["end"].(bool)
	ver, _ := m["allspark"].(float64)
	return end && ver == 1
}
