package sse

import (
	"net/http"
	"strconv"
	"strings"
)

// ID is the id of one event of a stream: which stream (the spark's id) and
// the event's place in it, counted from 1. Its text is "<stream>:<seq>";
// the last event of a stream the server ended for good is an "end" event
// whose id is the marker "<stream>:end": the client keeps it as its last
// event id and sends it back when it reconnects, and is answered 204, which
// tells an EventSource to stop reconnecting.
//
// The id names a position in the stream, so a recovery layer can later
// resume a reconnecting subscriber after Seq; until there is one, a
// reconnect starts a new stream that begins with what is sent from then
// on. The id is not a secret and not signed: a client that sends another
// stream's id learns nothing (and a forged end marker only stops itself).
type ID struct {
	Stream string
	Seq    uint64 // 1 for the first event; 0 with End
	End    bool   // the marker of a stream ended without reconnect
}

// MaxIDLen bounds an id read from a request; a longer one is ignored.
const MaxIDLen = 512

// endSeq is the sequence text of the end marker.
const endSeq = "end"

// Names under which a reconnecting client may send its last event id: the
// header an EventSource sends, then the query parameters of polyfills
// that cannot set headers (Yaffle's event-source-polyfill sends
// lastEventId) and of Mercure hubs (last_event_id). The header wins.
const (
	HeaderLastEventID = "Last-Event-ID"
	QueryLastEventID  = "lastEventId"
	QueryLastEventID2 = "last_event_id"
)

// String returns the id's text.
func (id ID) String() string { return string(id.AppendText(nil)) }

// AppendText appends the id's text: "<stream>:<seq>", or "<stream>:end".
func (id ID) AppendText(dst []byte) []byte {
	dst = append(dst, id.Stream...)
	dst = append(dst, ':')
	if id.End {
		return append(dst, endSeq...)
	}
	return strconv.AppendUint(dst, id.Seq, 10)
}

// ParseID reads an id's text. It reports false for anything that is not an
// id this package wrote: no colon, an empty stream, a sequence that is not
// "end" or a decimal number from 1 to 2^64-1 without leading zeros, a
// character an id field cannot hold, or more than MaxIDLen bytes.
func ParseID(s string) (ID, bool) {
	if len(s) > MaxIDLen || !ValidID(s) {
		return ID{}, false
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return ID{}, false
	}
	stream, seq := s[:i], s[i+1:]
	if seq == endSeq {
		return ID{Stream: stream, End: true}, true
	}
	if seq == "" || seq[0] < '1' || seq[0] > '9' {
		return ID{}, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return ID{}, false
	}
	return ID{Stream: stream, Seq: n}, true
}

// LastEventID returns the last event id a reconnecting client sent: the
// Last-Event-ID header, or else the lastEventId or last_event_id query
// parameter. It reports false when there is none or it is not an id of
// this package (a first connection, or an id from elsewhere: both start a
// new stream).
func LastEventID(r *http.Request) (ID, bool) {
	v := r.Header.Get(HeaderLastEventID)
	if v == "" && r.URL.RawQuery != "" {
		q := r.URL.Query()
		if v = q.Get(QueryLastEventID); v == "" {
			v = q.Get(QueryLastEventID2)
		}
	}
	if v == "" {
		return ID{}, false
	}
	return ParseID(v)
}
