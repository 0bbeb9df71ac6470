// Command allspark serves an Allspark server.
//
//	go run ./cmd/allspark [--addr :8080] [--pathname /primus] [--ping-interval 30s] [--echo]
//
// With --echo every data message is written back to its sender; the
// conformance and benchmark suites use that mode.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/parser"
)

type config struct {
	addr         string
	pathname     string
	pingInterval time.Duration
	echo         bool
	parser       string
	maxLength    int
	compression  bool
	trusted      string
	logLevel     string
	shutdownWait time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("allspark", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", ":8080", "listen address")
	fs.StringVar(&c.pathname, "pathname", allspark.DefaultPathname, "path prefix the real-time endpoint owns")
	fs.DurationVar(&c.pingInterval, "ping-interval", allspark.DefaultPingInterval, "interval between server pings; 0 turns heartbeats off")
	fs.BoolVar(&c.echo, "echo", false, "write every data message back to its sender")
	fs.StringVar(&c.parser, "parser", "json", "message parser: json or msgpack")
	fs.IntVar(&c.maxLength, "max-length", allspark.DefaultMaxLength, "largest message in bytes")
	fs.BoolVar(&c.compression, "compression", false, "negotiate permessage-deflate")
	fs.StringVar(&c.trusted, "trusted-proxies", "", "comma-separated IPs/CIDRs whose X-Forwarded-For is believed")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&c.shutdownWait, "shutdown-timeout", 10*time.Second, "graceful shutdown limit on SIGINT/SIGTERM")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, nil
}

func (c config) options(logger *slog.Logger) (allspark.Options, error) {
	p, ok := parser.ByName(c.parser)
	if !ok {
		return allspark.Options{}, fmt.Errorf("unknown parser %q (want json or msgpack)", c.parser)
	}
	ping := c.pingInterval
	if ping == 0 {
		ping = allspark.NoPing
	}
	o := allspark.Options{
		Pathname:     c.pathname,
		Parser:       p,
		PingInterval: ping,
		MaxLength:    c.maxLength,
		Compression:  c.compression,
		Logger:       logger,
	}
	if c.trusted != "" {
		o.TrustedProxies = splitComma(c.trusted)
	}
	return o, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "allspark:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts, err := c.options(logger)
	if err != nil {
		return err
	}
	srv, err := allspark.New(opts)
	if err != nil {
		return err
	}
	if c.echo {
		srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
			s.OnData(func(data any) { _ = s.Write(data) })
			return nil
		})
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	logger.Info("allspark listening", "addr", ln.Addr().String(), "pathname", srv.Pathname(), "echo", c.echo,
		"ping_interval", c.pingInterval, "parser", c.parser)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down; clients will reconnect", "timeout", c.shutdownWait)
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownWait)
	defer cancel()
	err = srv.Shutdown(sctx, allspark.ShutdownOptions{Reconnect: true})
	if serr := <-errc; serr != nil && !errors.Is(serr, allspark.ErrServerClosed) {
		return serr
	}
	return err
}
