package sockjs

import (
	"bytes"
	"net/http"
	"strings"
)

// forwardReceiver offers a receiver for a session that is not here to
// Config.Forward and reports whether it was served elsewhere.
//
// A polling receiver (xhr, jsonp) goes as it is. A streaming one
// (xhr_streaming, eventsource, htmlfile) cannot sensibly: its frames
// would have to cross between nodes one by one for as long as it lasts,
// in order, with flow control. It goes as an xhr poll instead, and the
// frame that poll brings back is written here in the stream's own
// envelope, after its prelude; then the response ends. A stream that ends
// is what the client sees at every ResponseLimit, and it opens the next
// one at once (sockjs-client reschedules a receiver that finished with
// 200), so a stream whose session lives on another node degrades to
// polling in the stream's envelope, one request per frame, and the owner
// sees an ordinary poll: its heartbeat, its second-receiver answer
// (c[2010]) and its close frame all reach the client unchanged.
func (srv *Server) forwardReceiver(w http.ResponseWriter, r *http.Request, id string, k kind, callback string) bool {
	if k.polling() {
		return srv.cfg.Forward(w, r, id, srv.cfg.MaxMessage)
	}
	poll := r.Clone(r.Context())
	poll.Method = http.MethodPost
	base := strings.TrimSuffix(strings.TrimSuffix(r.URL.Path, "/"), k.String())
	poll.URL.Path, poll.URL.RawPath, poll.URL.RawQuery = base+TransportXHR, "", ""
	poll.Body, poll.ContentLength = http.NoBody, 0
	var ans capture
	if !srv.cfg.Forward(&ans, poll, id, 0) {
		return false
	}
	if ans.status != http.StatusOK {
		h := w.Header()
		for k, v := range ans.header {
			h[k] = v
		}
		w.WriteHeader(ans.status)
		_, _ = w.Write(ans.body.Bytes())
		return true
	}
	recv := newReceiver(&session{srv: srv}, k, w, 0)
	recv.callback = callback
	srv.preamble(w, r, recv)
	if frame := bytes.TrimSuffix(ans.body.Bytes(), []byte("\n")); len(frame) > 0 {
		_ = recv.out(frame)
	} else {
		_ = recv.rc.Flush()
	}
	return true
}

// capture is the ResponseWriter a forwarded poll is answered into. Its
// body is an answer that already crossed the broker, bounded there.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header {
	if c.header == nil {
		c.header = make(http.Header)
	}
	return c.header
}

func (c *capture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *capture) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(b)
}
