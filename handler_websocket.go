package allspark

import (
	"errors"
	"net/http"

	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/internal/transport/websocket"
)

var _ transport.Acceptor = (*opener)(nil)

// serveWebSocket opens a spark on a WebSocket upgrade: the Primus
// websockets transformer's wire, one text frame per message.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	err := (*opener)(s).Accept(r, func(attach transport.Attach) error {
		return s.engine.Upgrade(w, r, func(conn websocket.Conn) websocket.Handler {
			return attach(conn)
		})
	})
	switch {
	case errors.Is(err, transport.ErrShuttingDown):
		WriteError(w, &AuthError{Status: http.StatusServiceUnavailable, Message: "server is shutting down"})
	case err != nil:
		s.opts.Logger.Debug("upgrade failed", "err", err, "remote", r.RemoteAddr)
	}
}
