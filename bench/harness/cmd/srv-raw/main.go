// Command srv-raw runs the benchmark's limit server (internal/rawsrv): bare
// WebSocket framing on raw TCP, pre-framed room writes, no framework.
//
// With -engine epoll it reads through rawsrv.ServeEpoll: no goroutine and no
// read buffer per open connection (the harness's raw-epoll server).
//
//	srv-raw [-addr 127.0.0.1:9100] [-reuseport] [-engine goroutine|epoll]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/rawsrv"
	"github.com/allspark/allspark/bench/harness/internal/reuseport"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address (loopback)")
	share := flag.Bool("reuseport", false, "listen with SO_REUSEPORT")
	lifetime := flag.Duration("lifetime", 30*time.Minute, "exit after this long whatever happens")
	engine := flag.String("engine", "goroutine", "read path: goroutine (one per connection) or epoll (event-driven)")
	flag.Parse()
	if *engine != "goroutine" && *engine != "epoll" {
		fmt.Fprintln(os.Stderr, "srv-raw: -engine must be goroutine or epoll")
		os.Exit(2)
	}
	if err := run(*addr, *share, *lifetime, *engine); err != nil {
		fmt.Fprintln(os.Stderr, "srv-raw:", err)
		os.Exit(1)
	}
}

func run(addr string, share bool, lifetime time.Duration, engine string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, lifetime)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	ln, err := reuseport.Listen(ctx, addr, share)
	if err != nil {
		return err
	}
	fmt.Println("READY")
	if engine == "epoll" {
		return rawsrv.ServeEpoll(ctx, ln, rawsrv.Options{})
	}
	return rawsrv.Serve(ctx, ln)
}
