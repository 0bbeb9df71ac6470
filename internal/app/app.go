package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/parser"
)

// App is one configured server: the allspark.Server and every HTTP route
// around it. Create it with New, then Serve.
type App struct {
	cfg     Config
	log     *slog.Logger
	srv     *allspark.Server
	mux     *http.ServeMux
	metrics *metrics
	ready   atomic.Bool // serving and not shutting down
	// closeBroker releases the broker connection the App opened (after
	// the server's Shutdown, which unregisters the node).
	closeBroker func() error
}

// New builds the server and routes for c (see Config for zero values). A
// nil logger discards.
func New(c Config, logger *slog.Logger) (*App, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts, err := c.options(logger)
	if err != nil {
		return nil, err
	}
	closeBroker := func() error { return nil }
	if opts.Broker == nil && c.Broker != "memory" {
		if opts.Broker, closeBroker, err = openBroker(c.Broker, logger); err != nil {
			return nil, err
		}
	}
	srv, err := allspark.New(opts)
	if err != nil {
		_ = closeBroker()
		return nil, err
	}
	a := &App{cfg: c, log: logger, srv: srv, mux: http.NewServeMux(), closeBroker: closeBroker}
	a.metrics = newMetrics(srv, a.roomCount)
	if c.Echo {
		a.installEcho()
	}
	if err := a.routes(); err != nil {
		return nil, err
	}
	return a, nil
}

// options maps the configuration onto the server's Options.
func (c Config) options(logger *slog.Logger) (allspark.Options, error) {
	p, ok := parser.ByName(c.Parser)
	if !ok {
		return allspark.Options{}, fmt.Errorf("%w: parser: unknown parser %q", ErrConfig, c.Parser)
	}
	ping := c.PingInterval
	if ping == 0 {
		ping = allspark.NoPing
	}
	o := allspark.Options{
		Pathname:     c.Pathname,
		Parser:       p,
		PingInterval: ping,
		MaxLength:    c.MaxLength,
		Compression:  c.Compression,
		Logger:       logger,
		CORS:         allspark.CORSOptions{Origins: c.origins()},
		EngineIO: allspark.EngineIOOptions{
			Disabled:     !c.EIO,
			PingInterval: c.EIOPingInterval,
			PingTimeout:  c.EIOPingTimeout,
			MaxPayload:   c.EIOMaxPayload,
			Cookie:       c.EIOCookie,
		},
		SSE: allspark.SSEOptions{
			Disabled:       !c.SSE,
			Path:           c.SSEPath,
			Heartbeat:      orNone(c.SSEHeartbeat),
			Retry:          orNone(c.SSERetry),
			MaxSubscribers: c.SSEMaxSubscribers,
		},
		SocketIO: allspark.SocketIOOptions{Disabled: !c.SocketIO, Path: c.SocketIOPath, Recovery: c.SocketIORecovery},
		Recovery: allspark.RecoveryOptions{Disabled: !c.Recovery, Window: c.RecoveryWindow, MaxReplay: c.MaxReplay},
		NodeID:   c.NodeID,
		Broker:   c.brokerOverride,
		SockJS: allspark.SockJSOptions{
			Disabled:        !c.SockJS,
			PlainPath:       c.SockJSPath,
			Heartbeat:       c.SockJSHeartbeat,
			DisconnectDelay: c.SockJSDisconnectDelay,
			ResponseLimit:   c.SockJSResponseLimit,
			JSessionID:      c.SockJSJSessionID,
			NoWebSocket:     !c.SockJSWebSocket,
			MaxSessions:     c.SockJSMaxSessions,
		},
	}
	if c.Demo && c.Parser == "json" {
		o.Presence = demoPresence()
	}
	rules, err := parseHistory(c.History)
	if err != nil {
		return allspark.Options{}, fmt.Errorf("%w: history: %v", ErrConfig, err)
	}
	o.History.Rooms = rules
	for _, t := range strings.Split(c.EIOTransports, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.EngineIO.Transports = append(o.EngineIO.Transports, t)
		}
	}
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.TrustedProxies = append(o.TrustedProxies, p)
		}
	}
	return o, nil
}

// orNone maps the binary's "0 turns it off" onto the options' negative.
func orNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// Server returns the real-time server, for hooks and tests.
func (a *App) Server() *allspark.Server { return a.srv }

// Handler returns every route of the app.
func (a *App) Handler() http.Handler { return a.mux }

func (a *App) routes() error {
	p := a.srv.Pathname()
	a.mux.Handle(p, a.srv)
	a.mux.Handle(p+"/", a.srv)
	if sio := a.srv.Options().SocketIO; !sio.Disabled {
		a.mux.Handle(strings.TrimSuffix(sio.Path, "/")+"/", a.srv)
	}
	if o := a.srv.Options(); !o.SockJS.Disabled {
		a.mux.Handle(o.SockJS.PlainPath, a.srv)
		a.mux.Handle(o.SockJS.PlainPath+"/", a.srv)
	}
	a.mux.HandleFunc("/healthz", a.healthz)
	a.mux.HandleFunc("/readyz", a.readyz)
	a.mux.Handle("/metrics", a.metrics.handler())
	a.apiRoutes()
	switch {
	case !a.cfg.Demo:
	case a.cfg.Parser != "json":
		a.log.Warn("demo off: its browser client speaks JSON only", "parser", a.cfg.Parser)
	default:
		return a.demoRoutes()
	}
	return nil
}

// Serve serves on ln until ctx is done, then shuts down gracefully:
// readiness turns 503, every spark is closed without "primus::server::close"
// so its client reconnects (to this process's successor), and in-flight HTTP
// requests finish, all within Config.ShutdownTimeout; whatever is left then
// is cut. It returns nil after a clean shutdown and the context error when
// the timeout cut connections.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           a.mux,
		ReadHeaderTimeout: 10 * time.Second,
		// A spark keeps its request's headers (an event stream's too) for
		// its lifetime: net/http's 1 MiB default is a lot to hold per client.
		MaxHeaderBytes: allspark.DefaultMaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	a.ready.Store(true)
	// WebSocket upgrades for the real-time server are read off the
	// connection without net/http (Server.Listener); its routes in the mux
	// have no wrapper that would miss them.
	go func() { errc <- hs.Serve(a.srv.Listener(ln)) }()
	select {
	case err := <-errc:
		a.ready.Store(false)
		_ = a.srv.Shutdown(context.Background(), allspark.ShutdownOptions{Reconnect: true, Timeout: a.cfg.ShutdownTimeout})
		_ = a.closeBroker()
		return err
	case <-ctx.Done():
	}
	a.ready.Store(false)
	a.log.Info("shutting down; clients will reconnect", "timeout", a.cfg.ShutdownTimeout,
		"connections", a.srv.Len())
	sctx := context.Background()
	if a.cfg.ShutdownTimeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, a.cfg.ShutdownTimeout)
		defer cancel()
	}
	start := time.Now()
	err := a.srv.Shutdown(sctx, allspark.ShutdownOptions{Reconnect: true})
	if herr := hs.Shutdown(sctx); herr != nil {
		_ = hs.Close() // out of time: cut the HTTP requests still running
		if err == nil {
			err = herr
		}
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if berr := a.closeBroker(); berr != nil {
		a.log.Warn("closing the broker", "err", berr)
	}
	a.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond), "err", err)
	return err
}
