package allspark

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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

// cutWait bounds how long Shutdown waits, after cutting the sockets, for the
// connections' goroutines to return when ctx leaves no time for it. A cut
// socket ends its read loop within microseconds; what is still running after
// this is user code that ignores its context, and is abandoned.
const cutWait = 250 * time.Millisecond

// Shutdown stops the server: new upgrades get 503, heartbeats stop, every
// spark is ended (see ShutdownOptions.Reconnect) with its queue flushed, and
// Shutdown returns once every connection goroutine, connection hook and
// event handler has finished. After such a clean return no goroutine of the
// server remains.
//
// Shutdown returns by ctx's deadline. When the graceful phase runs out (ctx's
// deadline, less a reserve of up to 250 ms kept for the cut, or Timeout),
// the remaining sockets are cut and Shutdown waits for their goroutines until
// ctx's deadline (or, if ctx has no deadline or is already done, up to
// 250 ms). It then returns ctx's error, or context.DeadlineExceeded, when
// everything finished after the cut; or a *ShutdownError (which unwraps to
// that error) counting what is still running: hooks and handlers that ignore
// their context, which keep running in the background until they return.
// Calling Shutdown again waits again.
func (s *Server) Shutdown(ctx context.Context, opts ShutdownOptions) error {
	s.mu.Lock()
	s.closing = true
	s.reconnectOnLate = opts.Reconnect
	hs := s.httpServer
	s.mu.Unlock()
	s.heartbeat.halt()

	stopLate := context.AfterFunc(ctx, func() { s.sessions.lateForFinal.Store(true) })
	defer stopLate()
	s.endAll(opts.Reconnect)

	graceCtx, cancel := graceContext(ctx, opts.Timeout)
	defer cancel()
	var err error
	if s.active.wait(graceCtx) != nil {
		err = context.DeadlineExceeded
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		}
		s.cutAll()
		// Cut sockets make every read loop return promptly; hooks see their
		// context cancelled. Wait for them, but only as long as ctx allows.
		wait := cutWait
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) > 0 {
			wait = time.Until(dl)
		}
		cutCtx, cancelCut := context.WithTimeout(context.WithoutCancel(ctx), wait)
		if s.active.wait(cutCtx) != nil {
			err = &ShutdownError{Abandoned: s.active.count(), Err: err}
		}
		cancelCut()
	}

	if s.eio != nil {
		// Sessions still open (a polling client that never came back for
		// its close packet) are dropped, and their timers stopped.
		s.eio.Close()
	}
	if s.sio != nil {
		s.sio.Close()
	}
	if s.sockjsPrimus != nil {
		// Sessions kept for their close frame, and any still open, go.
		s.sockjsPrimus.Close()
		s.sockjsPlain.Close()
	}
	s.presence.stop()
	s.stopSessionRefresh()
	s.cluster.stop()
	if uerr := s.broker.Unregister(context.WithoutCancel(ctx), s.nodeID); uerr != nil {
		s.opts.Logger.Warn("broker unregister failed", "node", s.nodeID, "err", uerr)
	}
	if hs != nil && !opts.KeepListener {
		if cerr := hs.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// shutdownEnders is how many sparks Shutdown ends at once. Ending a spark
// with a session writes its record to the store (a Redis round trip): one
// after the other, 10,000 sparks took longer than 30 s and ran past every
// deadline the caller gave.
const shutdownEnders = 64

// endAll ends every spark, shutdownEnders at a time, and returns when all
// have ended.
func (s *Server) endAll(reconnect bool) {
	var list []*Spark
	s.ForEach(func(sp *Spark) bool {
		list = append(list, sp)
		return true
	})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(shutdownEnders, len(list)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(list) {
					return
				}
				list[i].setReason(ReasonServerShutdown)
				list[i].End(nil, reconnect)
			}
		})
	}
	wg.Wait()
}

// graceContext is the graceful phase of a Shutdown under ctx: it ends at
// Timeout, and early enough before ctx's deadline to leave a reserve (a
// quarter of the time left, at most cutWait) for cutting what remains and
// seeing its goroutines return.
func graceContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	end := time.Time{}
	if timeout > 0 {
		end = time.Now().Add(timeout)
	}
	if dl, ok := ctx.Deadline(); ok {
		early := dl.Add(-max(0, min(time.Until(dl)/4, cutWait)))
		if end.IsZero() || early.Before(end) {
			end = early
		}
	}
	if end.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, end)
}

// Close is Shutdown without reconnect and without a time limit beyond the
// write timeout each socket has anyway. It also waits, without limit, for
// hooks and handlers to return: use Shutdown with a deadline to bound that.
func (s *Server) Close() error {
	return s.Shutdown(context.Background(), ShutdownOptions{})
}

// cutAll aborts every connection still alive, registered or already ended
// but still flushing.
func (s *Server) cutAll() {
	s.liveMu.Lock()
	var all []*Spark
	for sp := s.live; sp != nil; sp = sp.liveNext {
		all = append(all, sp)
	}
	s.liveMu.Unlock()
	for _, sp := range all { // outside liveMu: an Abort ends sparks, which leave live
		sp.queue.drop()
		_ = sp.conn.Abort()
	}
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
// Its http.Server reads request headers for at most 10 s and accepts at most
// DefaultMaxHeaderBytes (64 KiB) of them (431 past it): a spark keeps its
// upgrade request's headers as long as it lives. WebSocket upgrades are read
// off the connection without net/http (Server.Listener). Mount the Server on
// your own http.Server to choose otherwise.
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: DefaultMaxHeaderBytes}
	ln = s.Listener(ln)
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
