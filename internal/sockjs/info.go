package sockjs

import (
	"crypto/rand"
	"encoding/binary"
	"net/http"
	"strconv"
)

// serveInfo answers /info: GET gives what the client needs before it
// picks a transport, {"websocket":…,"origins":["*:*"],"cookie_needed":…,
// "entropy":…} with a fresh random entropy each time (clients seed
// nothing from it today, but the protocol asks for it), uncacheable,
// answered at once because sockjs-client measures its round trip to set
// the transports' timeouts. OPTIONS is the CORS preflight.
func (srv *Server) serveInfo(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodOptions:
		srv.answerOptions(w, r, "OPTIONS, GET")
		return
	default:
		notAllowed(w, "OPTIONS, GET")
		return
	}
	h := w.Header()
	cors(h, r, false)
	noCache(h)
	body := srv.appendInfo(nil, entropy())
	h.Set("Content-Type", typeJSON)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// appendInfo appends the /info document, keys in the reference's order.
func (srv *Server) appendInfo(dst []byte, entropy uint32) []byte {
	dst = append(dst, `{"websocket":`...)
	dst = strconv.AppendBool(dst, srv.cfg.WebSocket != nil)
	dst = append(dst, `,"origins":["*:*"],"cookie_needed":`...)
	dst = strconv.AppendBool(dst, srv.cfg.JSessionID)
	dst = append(dst, `,"entropy":`...)
	dst = strconv.AppendUint(dst, uint64(entropy), 10)
	return append(dst, '}')
}

// entropy is a random 32-bit number.
func entropy() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}
