package app

import (
	"context"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
)

// Run is the whole binary: load the configuration from args and the
// environment, listen, log `msg="allspark listening" addr=HOST:PORT` (test
// harnesses parse that line: keep it first and keep its shape) followed by
// the effective configuration, and serve until ctx ends or SIGINT/SIGTERM
// arrives. It returns within --shutdown-timeout of the signal even when
// server code ignores its context (Server.Shutdown abandons it, and the
// process exits). --help returns flag.ErrHelp after printing the usage.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return run(ctx, args, getenv, stderr, nil)
}

// run is Run with a setup step on the App before it listens: tests use it to
// install server code the flags cannot (such as a connection hook that never
// returns, to prove that SIGTERM still exits within --shutdown-timeout).
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, setup func(*App)) error {
	c, err := Load(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := NewLogger(c, stderr)
	a, err := New(c, logger)
	if err != nil {
		return err
	}
	if setup != nil {
		setup(a)
	}
	// Catch the signals before listening, so a SIGTERM right after the
	// listening line is a graceful stop, not the default abrupt exit.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	logger.Info("allspark listening", "addr", ln.Addr().String(), "pathname", a.srv.Pathname(), "echo", c.Echo,
		"ping_interval", c.PingInterval.String(), "parser", c.Parser)
	logger.Info("config", "config", c)
	if c.APIToken == "" {
		logger.Info("HTTP API disabled: set ALLSPARK_API_TOKEN (or --api-token) to enable /api/")
	}
	return a.Serve(ctx, ln)
}
