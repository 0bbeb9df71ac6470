package allspark

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// ShutdownOptions control Server.Shutdown.
type ShutdownOptions struct {
	// Reconnect lets clients reconnect (for a restart or deploy): sparks are
	// closed without "primus::server::close". Default: clients are told the
	// server closed them and do not reconnect.
	Reconnect bool
	// Timeout bounds the graceful phase (flushing queues, close frames);
	// sparks still open after it are cut. 0 waits as long as ctx allows.
	Timeout time.Duration
	// KeepListener leaves the listener of Serve/ListenAndServe open (the
	// process keeps answering HTTP, e.g. with other handlers). Ignored when
	// the server is mounted on someone else's http.Server.
	KeepListener bool
}

// Shutdown stops the server: new upgrades get 503, heartbeats stop, every
// spark is ended (see ShutdownOptions.Reconnect) with its queue flushed, and
// Shutdown returns once every connection goroutine has finished. When ctx
// ends or Timeout passes first, the remaining connections are cut and
// ctx's error (or context.DeadlineExceeded) is returned. After Shutdown no
// goroutine of the server remains. Calling it again waits again.
func (s *Server) Shutdown(ctx context.Context, opts ShutdownOptions) error {
	s.mu.Lock()
	s.closing = true
	s.reconnectOnLate = opts.Reconnect
	hs := s.httpServer
	s.mu.Unlock()
	s.heartbeat.halt()

	s.ForEach(func(sp *Spark) bool {
		sp.End(nil, opts.Reconnect)
		return true
	})

	graceCtx := ctx
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		graceCtx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	err := s.active.wait(graceCtx)
	if err != nil {
		s.cutAll()
		// Cut sockets make every read loop return promptly; hooks see their
		// context cancelled. Wait for them so no goroutine outlives us.
		_ = s.active.wait(context.Background())
	}

	if uerr := s.broker.Unregister(context.Background(), s.nodeID); uerr != nil {
		s.opts.Logger.Warn("broker unregister failed", "node", s.nodeID, "err", uerr)
	}
	if hs != nil && !opts.KeepListener {
		if cerr := hs.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Close is Shutdown without reconnect and without a time limit beyond the
// write timeout each socket has anyway.
func (s *Server) Close() error {
	return s.Shutdown(context.Background(), ShutdownOptions{})
}

// cutAll aborts every connection still alive, registered or already ended
// but still flushing.
func (s *Server) cutAll() {
	s.live.Range(func(k, _ any) bool {
		sp := k.(*Spark)
		sp.queue.drop()
		_ = sp.conn.Abort()
		return true
	})
}

// ListenAndServe listens on addr and serves the server (only its pathname;
// other paths get 404) until Shutdown. It returns ErrServerClosed after
// Shutdown, like http.Server.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown (which closes ln unless KeepListener).
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.httpServer = hs
	s.mu.Unlock()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}
