package allspark

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Presence messages between nodes are notices (one-way node messages)
// whose body is a JSON array of wireEntry:
//
//	presence.delta    joins and leaves of the sender's sparks, in order
//	presence.refresh  some of the sender's entries, all of them over a
//	                  refresh (chunked): they keep the entries alive and
//	                  repair lost deltas
//	presence.sync     (empty body) "send me all your entries": a node that
//	                  starts learns the others' entries at once
//
// The node of every entry is the sender: a node only speaks for its own
// sparks.

// Kinds of inbound presence notices.
const (
	wireDelta   byte = 'd'
	wireRefresh byte = 'r'
	wireSync    byte = 's'
)

// maxWireEntries bounds the entries of one presence message: senders chunk
// at it, receivers refuse more.
const maxWireEntries = 512

// Bounds of a wire entry's strings (a room key holds a namespace and a
// name).
const (
	maxWireRoomLen  = 2*MaxRoomNameLen + 2
	maxWireSparkLen = 128
	maxWireUserLen  = 1024
)

// errBadPresenceMessage: a presence notice that does not decode or breaks
// a bound.
var errBadPresenceMessage = errors.New("allspark: malformed presence message")

// wireEntry is one entry (or, with Leave, its removal) on the wire.
type wireEntry struct {
	Room  string `json:"r"`
	Spark string `json:"s"`
	User  string `json:"u,omitempty"`
	Since int64  `json:"t,omitempty"` // Unix milliseconds
	Leave bool   `json:"l,omitempty"`
}

// decodeWireEntries decodes and checks the body of a delta or refresh.
func decodeWireEntries(body []byte) ([]wireEntry, error) {
	var es []wireEntry
	if err := json.Unmarshal(body, &es); err != nil {
		return nil, errBadPresenceMessage
	}
	if len(es) > maxWireEntries {
		return nil, errBadPresenceMessage
	}
	for _, e := range es {
		if !validWireString(e.Room, maxWireRoomLen) || !validWireString(e.Spark, maxWireSparkLen) ||
			len(e.User) > maxWireUserLen || !utf8.ValidString(e.User) || e.Since < 0 {
			return nil, errBadPresenceMessage
		}
	}
	return es, nil
}

func validWireString(s string, limit int) bool {
	return s != "" && len(s) <= limit && utf8.ValidString(s)
}

// encodeWireEntries splits es into message bodies of at most
// maxWireEntries entries.
func encodeWireEntries(es []wireEntry) [][]byte {
	var out [][]byte
	for len(es) > 0 {
		n := min(len(es), maxWireEntries)
		b, err := json.Marshal(es[:n])
		if err == nil {
			out = append(out, b)
		}
		es = es[n:]
	}
	return out
}
