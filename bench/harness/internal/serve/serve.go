package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // profiles on the separate -pprof listener only
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/reuseport"
)

// Flags are the common command-line flags.
type Flags struct {
	Addr      string
	ReusePort bool
	Pprof     string
	Lifetime  time.Duration
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Addr, "addr", "127.0.0.1:9100", "listen address (loopback)")
	fs.BoolVar(&f.ReusePort, "reuseport", false, "listen with SO_REUSEPORT (several processes on one port)")
	fs.StringVar(&f.Pprof, "pprof", "", "serve net/http/pprof on this loopback address (off when empty)")
	fs.DurationVar(&f.Lifetime, "lifetime", 30*time.Minute, "exit after this long whatever happens")
}

// Run listens, prints "READY" on stdout, and serves h until SIGINT/SIGTERM,
// stdin closing, or the lifetime ends.
func Run(f Flags, h http.Handler) error { return RunDrain(f, h, nil) }

// RunDrain is Run with drain called, before the HTTP server shuts down,
// when the process is asked to stop: a server that ends its connections
// itself (hijacked WebSockets, which http.Server.Shutdown does not touch)
// does it there, within the context's 2 s.
func RunDrain(f Flags, h http.Handler, drain func(context.Context)) error {
	return RunWrapped(f, h, drain, nil)
}

// RunWrapped is RunDrain serving through wrap(listener) when wrap is set
// (allspark's Server.Listener, which reads WebSocket upgrades itself).
func RunWrapped(f Flags, h http.Handler, drain func(context.Context), wrap func(net.Listener) net.Listener) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, f.Lifetime)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	ln, err := reuseport.Listen(ctx, f.Addr, f.ReusePort)
	if err != nil {
		return err
	}
	if f.Pprof != "" {
		pl, err := net.Listen("tcp4", f.Pprof)
		if err != nil {
			return fmt.Errorf("pprof listener: %w", err)
		}
		go func() { _ = http.Serve(pl, http.DefaultServeMux) }()
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if wrap != nil {
		ln = wrap(ln)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Println("READY")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	if drain != nil {
		drain(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
