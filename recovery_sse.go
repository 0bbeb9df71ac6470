package allspark

import (
	"net/http"
	"strings"

	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/sse"
)

// SSE resume (docs/recovery.md, "SSE"). With sessions on, every event of a
// stream carries as its id the spark's session token and its position
// vector at that event ("<token>~<vector>"); an EventSource sends the last
// one back as Last-Event-ID when it reconnects, which restores the spark
// (its id and rooms) and replays what it missed, all or nothing. A stream
// that could not be recovered gets the event UnrecoveredEvent first, with
// the reason, and starts from the rooms' current positions.

// UnrecoveredEvent is the event an SSE subscriber gets when its reconnect
// could not replay everything it missed: its application reloads its
// state (the argument is the reason, as Spark.RecoveryReason).
const UnrecoveredEvent = "allspark:unrecovered"

// sseIDSeparator splits a session's event id into token and vector.
const sseIDSeparator = "~"

// sseResumeRequest reads the session request of an event stream: every
// stream gets a session; one whose last event id is a session's resumes
// it.
func sseResumeRequest(r *http.Request) *resumeRequest {
	req := &resumeRequest{wire: wireSSE}
	last := r.Header.Get(sse.HeaderLastEventID)
	if last == "" {
		last = r.URL.Query().Get(sse.QueryLastEventID)
	}
	if last == "" {
		last = r.URL.Query().Get(sse.QueryLastEventID2)
	}
	if len(last) > maxSinceBytes {
		return req
	}
	if token, vec, ok := strings.Cut(last, sseIDSeparator); ok {
		req.token = token
		req.since = parseVector(vec, token)
	}
	return req
}

// sseEventID is the id of the next event of a stream with a session.
func (w *sessionWriter) sseEventID() string {
	return w.sp.sess.token + sseIDSeparator + w.vec.String()
}

// unrecoveredEvent is the frame of UnrecoveredEvent.
func (s *Server) unrecoveredEvent(reason string) frame {
	f, err := s.encode(events.NewEvent(UnrecoveredEvent, []any{reason}, 0))
	if err != nil {
		return frame{}
	}
	return f
}
