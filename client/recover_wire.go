package client

import (
	"unicode/utf8"

	"github.com/allspark/allspark/internal/events"
)

// The recovery envelopes of docs/recovery.md ("Wire for our clients"), in
// the {"allspark":1,...} family of event envelopes but told apart by their
// keys: "session" for the session envelope, "room" for a stamped message
// (with "data") or a position announcement (without).

// Bounds on what a server can make the client keep (see recoverState).
const (
	// maxRecoverRooms is how many rooms' positions are kept, the least
	// recently updated forgotten first: as many as _since may carry.
	maxRecoverRooms = 64
	// maxRoomLen is the longest room name accepted, in bytes.
	maxRoomLen = 256
	// maxEpochLen is the longest epoch accepted, in bytes.
	maxEpochLen = 64
	// maxTokenLen bounds the session token, spark id and reason: the
	// token travels in every reconnect URL.
	maxTokenLen = 256
	// maxSinceLen is the server's limit on _since (it ignores a longer
	// one); the client leaves out its oldest rooms to stay within it.
	maxSinceLen = 32 << 10
	// maxOffset keeps offsets exact as JavaScript numbers, as request ids.
	maxOffset = 1<<53 - 1
)

// recoverKind tells the recovery envelopes apart.
type recoverKind uint8

const (
	recoverSession  recoverKind = iota + 1 // the session envelope
	recoverStamped                         // a message with its position in a room's history
	recoverPosition                        // a position announcement
	recoverBad                             // malformed: reason says why
)

// recoverMsg is a parsed recovery envelope.
type recoverMsg struct {
	kind    recoverKind
	session RecoveryInfo // recoverSession
	token   string       // recoverSession
	room    string       // recoverStamped, recoverPosition
	offset  uint64
	epoch   string
	data    any    // recoverStamped: the message as it would arrive bare
	reason  string // recoverBad
}

// parseRecover recognizes a recovery envelope in a decoded message. ok is
// false for anything else: plain data, and event envelopes (which have
// "event", "ack" or "error"), left to events.Parse.
func parseRecover(v any) (m recoverMsg, ok bool) {
	obj, isMap := v.(map[string]any)
	if !isMap {
		return recoverMsg{}, false
	}
	ver, has := obj[events.Key]
	if !has {
		return recoverMsg{}, false
	}
	if n, isInt := events.Integer(ver); !isInt || n != events.Version {
		return recoverMsg{}, false
	}
	for _, k := range [...]string{"event", "ack", "error"} {
		if _, has := obj[k]; has {
			return recoverMsg{}, false
		}
	}
	bad := func(reason string) (recoverMsg, bool) { return recoverMsg{kind: recoverBad, reason: reason}, true }
	if raw, has := obj["session"]; has {
		s, isMap := raw.(map[string]any)
		if !isMap {
			return bad(`"session" is not an object`)
		}
		id, okID := boundedString(s["id"], maxTokenLen)
		token, okToken := boundedString(s["token"], maxTokenLen)
		if !okID || !okToken {
			return bad(`session "id" and "token" must be strings of 1 to 256 bytes`)
		}
		restored, okR := s["restored"].(bool)
		recovered, okV := s["recovered"].(bool)
		if !okR || !okV {
			return bad(`session "restored" and "recovered" must be booleans`)
		}
		var reason string
		if r, has := s["reason"]; has && r != nil {
			var okReason bool
			if reason, okReason = r.(string); !okReason || len(reason) > maxTokenLen || !utf8.ValidString(reason) {
				return bad(`session "reason" must be a short string`)
			}
		}
		return recoverMsg{
			kind:    recoverSession,
			token:   token,
			session: RecoveryInfo{ID: id, Restored: restored, Recovered: recovered, Reason: reason},
		}, true
	}
	rawRoom, has := obj["room"]
	if !has {
		return recoverMsg{}, false
	}
	room, okRoom := boundedString(rawRoom, maxRoomLen)
	if !okRoom {
		return bad(`"room" must be a string of 1 to 256 bytes`)
	}
	// A message's offset counts from 1; an announcement's may be 0: the
	// room has had no message in this epoch yet.
	data, stamped := obj["data"]
	off, okOff := events.Integer(obj["offset"])
	if !okOff || off < 0 || (stamped && off == 0) || off > maxOffset {
		return bad(`"offset" must be an integer below 2^53, positive in a stamped message`)
	}
	epoch, okEpoch := boundedString(obj["epoch"], maxEpochLen)
	if !okEpoch {
		return bad(`"epoch" must be a string of 1 to 64 bytes`)
	}
	m = recoverMsg{kind: recoverPosition, room: room, offset: uint64(off), epoch: epoch}
	if stamped {
		m.kind, m.data = recoverStamped, data
	}
	return m, true
}

// boundedString reads a non-empty, valid UTF-8 string of at most limit bytes
// (a room name must come back byte for byte in _since).
func boundedString(v any, limit int) (string, bool) {
	s, ok := v.(string)
	return s, ok && s != "" && len(s) <= limit && utf8.ValidString(s)
}
