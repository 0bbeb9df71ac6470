package allspark

import (
	"errors"
	"net/http"
)

// errReplyTooLarge: a forwarded request's answer outgrew its bound.
var errReplyTooLarge = errors.New("allspark: forwarded answer too large")

// replyWriter is the http.ResponseWriter a forwarded request is served
// into on the node that owns its session. It holds the answer in memory,
// growing with what the handler wrote, up to limit bytes of body: a write
// past it fails, as a write to a client that stopped reading does (the
// wire ends the session), and the answer becomes a 502. Flush is a no-op:
// the answer goes back whole when the handler returns (polls write one
// response; a stream is never forwarded as one).
type replyWriter struct {
	header http.Header
	status int
	body   []byte
	limit  int
	over   bool
}

func (w *replyWriter) Header() http.Header { return w.header }

func (w *replyWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *replyWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.over || len(w.body)+len(b) > w.limit {
		w.over = true
		return 0, errReplyTooLarge
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

// Flush implements http.Flusher (the wires flush through an
// http.ResponseController, which needs it).
func (w *replyWriter) Flush() {}

// answer is what goes back to the receiving node.
func (w *replyWriter) answer() *forwardAnswer {
	switch {
	case w.over:
		return &forwardAnswer{status: http.StatusBadGateway, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, body: []byte(errReplyTooLarge.Error() + "\n")}
	case w.status == 0:
		w.status = http.StatusOK
	}
	return &forwardAnswer{status: w.status, header: w.header, body: w.body}
}
