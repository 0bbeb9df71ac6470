package allspark

import (
	"net/http"

	"github.com/allspark/allspark/internal/eio"
)

// newEngineIO builds the Engine.IO server for s: sessions open through the
// same opener as WebSocket connections, WebSockets (direct or upgraded)
// come from the same engine, so limits and compression are shared.
// serveFinal routes every request with an EIO query parameter to it.
func newEngineIO(s *Server) (*eio.Server, error) {
	return eio.NewServer(s.engineIOConfig(), (*opener)(s))
}

// engineIOConfig is the Engine.IO configuration of both Engine.IO
// servers: Primus's at the pathname and Socket.IO's at its path.
func (s *Server) engineIOConfig() eio.Config {
	o := s.opts.EngineIO
	if o.MaxPayload <= 0 {
		// As Primus's engine.io transformer (maxHttpBufferSize:
		// maxLength): any message a WebSocket client may send fits a POST.
		o.MaxPayload = s.opts.MaxLength
	}
	cfg := eio.Config{
		PingInterval:   o.PingInterval,
		PingTimeout:    o.PingTimeout,
		UpgradeTimeout: o.UpgradeTimeout,
		MaxPayload:     o.MaxPayload,
		MaxMessage:     s.opts.MaxLength,
		WriteTimeout:   s.opts.WriteTimeout,
		Transports:     o.Transports,
		MaxSessions:    o.MaxSessions,
		WebSocket:      s.engine,
		NewID:          s.newSID,
		Forward:        s.forwardEIO,
		Logger:         s.opts.Logger,
	}
	if o.Cookie != "" {
		cfg.Cookie = &http.Cookie{Name: o.Cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	}
	return cfg
}
