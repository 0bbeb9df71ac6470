package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// The session wire of Allspark's own clients (docs/recovery.md, "The wire of
// our clients"), client side, for the measuring clients of the recovery
// scenarios: a connection that asks with _recover=1 (first connect) or
// _session=<token>&_since=<positions> (reconnect) gets a session envelope
// first, then every message of a room with history stamped with its
// position. The parsers here read exactly the shapes Allspark writes with
// its JSON parser (recovery_wire.go frameStamped, sessionEnvelope) without
// decoding the payload, because the load generator reads every delivery.

// ErrNotSession reports a message that is not a session envelope.
var ErrNotSession = errors.New("proto: not a session envelope")

// Position is a room's position as the server stamps it: offset and epoch.
type Position struct {
	Offset uint64
	Epoch  string
}

// Stamp is one stamped message: its room and position, and whether it
// carries data (a message) or not (a position announcement).
type Stamp struct {
	Room    string
	Pos     Position
	HasData bool
}

// SessionInfo is the session envelope's body.
type SessionInfo struct {
	ID        string `json:"id"`
	Token     string `json:"token"`
	Restored  bool   `json:"restored"`
	Recovered bool   `json:"recovered"`
	Reason    string `json:"reason"`
}

var (
	stampPrefix   = []byte(`{"allspark":1,"room":"`)
	sessionPrefix = []byte(`{"allspark":1,"session":`)
)

// ParseStamp reads a stamped message or announcement,
// {"allspark":1,"room":"r","offset":N,"epoch":"e"[,"data":…]}; ok is false
// for anything else (a plain message, the session envelope).
func ParseStamp(msg []byte) (st Stamp, ok bool) {
	rest, found := bytes.CutPrefix(msg, stampPrefix)
	if !found {
		return st, false
	}
	i := bytes.IndexByte(rest, '"')
	if i <= 0 || bytes.IndexByte(rest[:i], '\\') >= 0 {
		return st, false
	}
	st.Room = string(rest[:i])
	rest, found = bytes.CutPrefix(rest[i+1:], []byte(`,"offset":`))
	if !found {
		return st, false
	}
	off, rest, ok := number(rest)
	if !ok {
		return st, false
	}
	st.Pos.Offset = off
	rest, found = bytes.CutPrefix(rest, []byte(`,"epoch":"`))
	if !found {
		return st, false
	}
	i = bytes.IndexByte(rest, '"')
	if i <= 0 || bytes.IndexByte(rest[:i], '\\') >= 0 {
		return st, false
	}
	st.Pos.Epoch = string(rest[:i])
	rest = rest[i+1:]
	switch {
	case len(rest) == 1 && rest[0] == '}':
	case bytes.HasPrefix(rest, []byte(`,"data":`)) && rest[len(rest)-1] == '}':
		st.HasData = true
	default:
		return Stamp{}, false
	}
	return st, true
}

// ParseSession reads the session envelope {"allspark":1,"session":{…}}.
func ParseSession(msg []byte) (SessionInfo, error) {
	var s SessionInfo
	if !bytes.HasPrefix(msg, sessionPrefix) {
		return s, ErrNotSession
	}
	var env struct {
		Allspark int          `json:"allspark"`
		Session  *SessionInfo `json:"session"`
	}
	if err := json.Unmarshal(msg, &env); err != nil || env.Allspark != 1 || env.Session == nil || env.Session.Token == "" {
		return s, ErrNotSession
	}
	return *env.Session, nil
}

// RecoverPath is the Primus request target of a first connect that asks
// for a session: /primus?rooms=…&_recover=1.
func RecoverPath(rooms []string) string {
	return roomsQuery("/primus", rooms) + sep(rooms) + "_recover=1"
}

// ResumePath is the request target of a reconnect: the session token and
// the last position received per room (_since), rooms as on the first
// connect (a restored spark has them already; joining again is a no-op).
func ResumePath(rooms []string, token string, since map[string]Position) string {
	var b strings.Builder
	b.WriteString(roomsQuery("/primus", rooms))
	b.WriteString(sep(rooms))
	b.WriteString("_session=")
	b.WriteString(url.QueryEscape(token))
	if len(since) > 0 {
		b.WriteString("&_since=")
		b.WriteString(url.QueryEscape(string(AppendSince(nil, since))))
	}
	return b.String()
}

// AppendSince appends the _since JSON, {"room":[offset,"epoch"],…}. Rooms
// and epochs are JSON-safe as the server makes them (ValidRoom names;
// epochs of letters and digits).
func AppendSince(dst []byte, since map[string]Position) []byte {
	dst = append(dst, '{')
	first := true
	for room, p := range since {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = strconv.AppendQuote(dst, room)
		dst = append(dst, ":["...)
		dst = strconv.AppendUint(dst, p.Offset, 10)
		dst = append(dst, ',')
		dst = strconv.AppendQuote(dst, p.Epoch)
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func sep(rooms []string) string {
	if len(rooms) == 0 {
		return "?"
	}
	return "&"
}

// PrimusSession is Allspark's Primus wire with a session asked for on every
// connection (_recover=1): the first message is the session envelope, which
// makes the connection ready; a message of a room with history arrives
// stamped, its payload inside "data", which Scan finds as in any message.
// Everything else is Primus.
type PrimusSession struct{ Primus }

func (PrimusSession) Path(rooms []string) string { return RecoverPath(rooms) }

// HelloReplies: the session envelope.
func (PrimusSession) HelloReplies([]string) int { return 1 }
func (PrimusSession) Replies(msg []byte) int {
	if _, err := ParseSession(msg); err == nil {
		return 1
	}
	return 0
}
