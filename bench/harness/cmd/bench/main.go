// Command bench is the benchmark harness: it builds and starts each server
// under test on loopback, drives it with load-generator worker processes (this
// same binary, "bench worker"), measures the server from /proc, and prints
// one RESULT line per measurement and RATIO lines comparing Allspark with each
// peer. See docs/benchmarks.md for the scenarios, the results and how to read
// them.
//
//	cd bench/harness && go run ./cmd/bench                 # full run (≈ 12 min)
//	cd bench/harness && go run ./cmd/bench --short         # CI: small N, all servers
//	go run ./cmd/bench --scenarios fanout --servers allspark,centrifuge --profile /tmp/prof
//	go run ./cmd/bench --scenarios poll-fanout --servers primus-eio  # long-polling only
//	go run ./cmd/bench --scenarios fanout,sse-fanout --servers allspark,node-sse  # SSE beside WebSocket
//	go run ./cmd/bench --scenarios cluster --servers allspark,centrifuge,socketio --rounds 3  # 3 nodes on a dedicated Redis
//	go run ./cmd/bench --scenarios history-fanout,reconnect --rounds 3  # issue 16: history's cost, a restart storm
//	go run ./cmd/bench --table results.txt                 # Markdown tables from -out
//
// Everything is bounded: every server and worker is started by the harness,
// listens or connects on 127.0.0.0/8 only, has its own lifetime limit and is
// stopped when its measurement ends. The exit status is non-zero when a server
// could not be started or delivered nothing, never because of speed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/load"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := workerMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench worker:", err)
			os.Exit(1)
		}
		return
	}
	code, err := harnessMain(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	os.Exit(code)
}

// workerMain runs one load-generator worker: its configuration is JSON in
// -config, its control channel stdin, its reports stdout.
func workerMain(args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	config := fs.String("config", "", "load.Config as JSON")
	limit := fs.Duration("deadline", 5*time.Minute, "hard stop")
	cpuprofile := fs.String("cpuprofile", "", "write the worker's CPU profile here (for runs by hand)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var cfg load.Config
	if err := json.Unmarshal([]byte(*config), &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	return load.Run(ctx, cfg, os.Stdin, os.Stdout)
}

func harnessMain(args []string, stdout io.Writer) (int, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&o.short, "short", false, "CI mode: small N and short durations, every server; fails only when a server cannot start or delivers nothing")
	fs.StringVar(&o.scenarios, "scenarios", "idle,echo,fanout,storm,poll-fanout,sse-fanout,history-fanout,reconnect", "scenarios to run")
	fs.StringVar(&o.servers, "servers", strings.Join(allServers, ","), "servers to measure")
	fs.StringVar(&o.idleN, "idle-n", "10000,50000", "idle: connection counts")
	fs.IntVar(&o.echoN, "echo-n", 1000, "echo: connections")
	fs.Float64Var(&o.echoRate, "echo-rate", 10, "echo: messages per second per connection")
	fs.IntVar(&o.fanoutN, "fanout-n", 10000, "fanout: members of the room")
	fs.IntVar(&o.stormN, "storm-n", 2000, "storm: member connections")
	fs.IntVar(&o.stormRooms, "storm-rooms", 100, "storm: rooms")
	fs.IntVar(&o.stormPer, "storm-per-conn", 10, "storm: rooms per connection")
	fs.IntVar(&o.stormPubs, "storm-publishers", 20, "storm: publisher connections")
	fs.IntVar(&o.pollN, "poll-n", 2000, "poll-fanout: member sessions (Engine.IO long-polling)")
	fs.IntVar(&o.pollRooms, "poll-rooms", 10, "poll-fanout: rooms (every member in one)")
	fs.IntVar(&o.pollPubs, "poll-publishers", 10, "poll-fanout: publisher sessions")
	fs.Float64Var(&o.pollRate, "poll-rate", 10, "poll-fanout: messages per second per publisher")
	fs.IntVar(&o.sseN, "sse-n", 10000, "sse-fanout: event-stream members of the room (memory per member read after they connect)")
	fs.IntVar(&o.clusterN, "cluster-n", 10000, "cluster: members of the room, spread evenly over the nodes")
	fs.IntVar(&o.clusterNodes, "cluster-nodes", 3, "cluster: server processes, each on its own port, on one broker")
	fs.IntVar(&o.clusterPubs, "cluster-publishers", 1, "cluster: publisher connections per node")
	fs.StringVar(&o.clusterBroker, "cluster-broker", "redis", "cluster: the broker, redis or nats (a dedicated redis-server or nats-server per measurement; nats: allspark only)")
	fs.IntVar(&o.historySize, "history-size", 1000, "history-fanout, reconnect: messages of history kept per room (srv-allspark -history)")
	fs.StringVar(&o.historyBrokers, "history-brokers", "memory,redis", "history-fanout: brokers, memory and/or redis (a dedicated redis-server per measurement); each with history off and on")
	fs.IntVar(&o.reconnectN, "reconnect-n", 10000, "reconnect: members (in load processes of at most 5,000)")
	fs.IntVar(&o.reconnectRooms, "reconnect-rooms", 100, "reconnect: rooms with history, every member in one")
	fs.Float64Var(&o.reconnectRate, "reconnect-rate", 200, "reconnect: the publisher's messages per second, round-robin over the rooms")
	fs.StringVar(&o.reconnectSignals, "reconnect-signals", "term,kill", "reconnect: how the node is stopped: term (graceful: Shutdown with Reconnect), kill (SIGKILL)")
	fs.DurationVar(&o.reconnectWarm, "reconnect-warmup", 3*time.Second, "reconnect: publishing before the restart")
	fs.DurationVar(&o.reconnectRetry, "reconnect-retry", load.DefaultRetryEvery, "reconnect: a member's redial interval (±50 %) while its node is down")
	fs.DurationVar(&o.recoveryTimeout, "recovery-timeout", 0, "reconnect: srv-allspark's Recovery.Timeout (0: the library's default, 5 s)")
	fs.DurationVar(&o.brokerWriteTimeout, "broker-write-timeout", 0, "reconnect: broker/redis write_timeout, its bound on each history and session call (0: its default, 1 s)")
	fs.IntVar(&o.rounds, "rounds", 1, "echo, fanout, storm, cluster: measure each this many times and report the median of every figure too")
	fs.IntVar(&o.window, "window", 0, "fanout, storm: messages in flight per publisher (0: the load generator's default)")
	fs.DurationVar(&o.dur, "dur", 10*time.Second, "measured duration of echo, fanout and storm")
	fs.DurationVar(&o.warm, "warmup", 2*time.Second, "warm-up before measuring")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "idle: wait after the last connection before reading RSS")
	fs.IntVar(&o.perWorker, "per-worker", 15000, "connections per load-generator process (≤ 19000: 20,000 open files per process)")
	fs.IntVar(&o.perServer, "per-server", 17000, "connections per server process; more use several processes (SO_REUSEPORT / Node cluster)")
	fs.StringVar(&o.out, "out", "", "also append the RESULT and RATIO lines to this file")
	fs.StringVar(&o.profile, "profile", "", "write pprof profiles of the Allspark server here (CPU over each measured window, heap after idle)")
	fs.BoolVar(&o.verbose, "v", false, "log progress to stderr")
	table := fs.String("table", "", "print the RESULT lines of this file (from -out) as Markdown tables and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	if *table != "" {
		if err := printTables(*table, stdout); err != nil {
			return 1, err
		}
		return 0, nil
	}
	if o.short {
		o.applyShort()
	}
	plan, err := o.plan()
	if err != nil {
		return 2, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := newHarness(ctx, o, stdout)
	if err != nil {
		return 1, err
	}
	defer h.cleanup()
	failures := h.runPlan(ctx, plan)
	if failures > 0 {
		return 1, fmt.Errorf("%d measurement(s) failed (server did not start or delivered nothing)", failures)
	}
	return 0, nil
}
