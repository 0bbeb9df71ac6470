// Command srv-allspark is the benchmark's Allspark server: the allspark
// library at its defaults, with rooms taken from the connection URL
// (?rooms=a,b, joined with Spark.Join), {"publish":"<room>","data":x} writing x
// to the room with Server.Room(room).Write (encoded once), and any
// other message written back to its sender (echo).
//
// The same server is the harness's allspark-sio: Socket.IO clients reach it
// at /socket.io/ (on by default) with the Socket.IO contract of the other
// Socket.IO servers under test: rooms from the handshake query or the CONNECT
// auth payload ({"rooms":"a,b"}), 'echo' with an ack answered by the
// handler's result (43<id>[x]), 'publish' (room, data) →
// Server.Room(room).Emit("m", data).
//
// With -broker redis://host:port (the cluster scenario) the node joins the
// other processes given the same Redis through broker/redis (ParseURL + New
// at their defaults) in Options.Broker; it says READY once the broker
// reports itself healthy.
//
// With -history N every room keeps a history of its last N messages
// (Options.History, TTL -history-ttl): the history-fanout and reconnect
// scenarios (issue 16). Recovery is at its defaults, so a client that asks
// (_recover=1) gets a session and stamped messages; on Redis the sessions
// and history live in Redis, so a restarted process restores them. With
// -shutdown-reconnect a stop (SIGTERM, stdin closing) ends every spark with
// Server.Shutdown(Reconnect: true) — a graceful restart — instead of
// leaving the sockets to the process's exit.
//
// With -compression the server negotiates permessage-deflate
// (Options.Compression) with clients that offer it: the harness's
// allspark-deflate server.
//
//	srv-allspark [-addr 127.0.0.1:9100] [-reuseport] [-pprof 127.0.0.1:6060] [-broker redis://127.0.0.1:6379] [-history 1000 [-history-ttl 10m]] [-shutdown-reconnect] [-compression]
//
// -reuseport lets the harness run several processes on one port (one process
// may hold at most 20,000 open files on the benchmark machine); -pprof serves
// net/http/pprof on a separate loopback listener for profiling runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/bench/harness/internal/serve"
)

func main() {
	var f serve.Flags
	f.Register(flag.CommandLine)
	brokerURL := flag.String("broker", "", "join a cluster on this broker: redis://host:port (empty: one node, the memory broker)")
	var o runOptions
	flag.IntVar(&o.history, "history", 0, "keep the last N messages of every room (0: no history)")
	flag.DurationVar(&o.historyTTL, "history-ttl", 10*time.Minute, "with -history: how long each message is kept")
	flag.DurationVar(&o.recoveryTimeout, "recovery-timeout", 0, "Options.Recovery.Timeout: the bound on one restore's store calls (0: the library's default, 5 s)")
	flag.BoolVar(&o.compression, "compression", false, "negotiate permessage-deflate with clients that offer it (Options.Compression)")
	flag.StringVar(&o.wsEngine, "ws-engine", "", "Options.WebSocketEngine: poller (the default) or goroutine (gws, a read goroutine per connection)")
	flag.BoolVar(&o.netHTTPUpgrade, "nethttp-upgrade", false, "upgrade WebSockets through net/http's hijack instead of Server.Listener's direct path")
	flag.BoolVar(&o.drainReconnect, "shutdown-reconnect", false, "on stop, end every spark with Server.Shutdown(Reconnect: true) (a graceful restart)")
	flag.Parse()
	o.broker = *brokerURL
	if err := run(f, o); err != nil {
		fmt.Fprintln(os.Stderr, "srv-allspark:", err)
		os.Exit(1)
	}
	if o.drainReconnect {
		fmt.Fprintln(os.Stderr, "srv-allspark: exiting", time.Now().Format("15:04:05.000"))
	}
}

// runOptions are the server's settings beyond serve.Flags.
type runOptions struct {
	broker         string
	history        int
	historyTTL     time.Duration
	drainReconnect bool
	compression    bool // Options.Compression
	wsEngine       string
	// netHTTPUpgrade serves without Server.Listener: every upgrade through
	// net/http and Hijack.
	netHTTPUpgrade bool
	// recoveryTimeout is Options.Recovery.Timeout (0: the default)
	recoveryTimeout time.Duration
}

// options returns the library options: the broker, and history on every
// room when asked.
func (o runOptions) options(broker allspark.Broker) allspark.Options {
	opts := allspark.Options{Broker: broker, Compression: o.compression, WebSocketEngine: allspark.WebSocketEngine(o.wsEngine), Recovery: allspark.RecoveryOptions{Timeout: o.recoveryTimeout}}
	if o.history > 0 {
		// Warnings (a failed history read or session store call: the
		// reasons behind recovered: false) go to stderr, which the
		// harness shows; at most one line per restore.
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if o.history > 0 {
		opts.History = allspark.HistoryOptions{Rooms: []allspark.HistoryRule{{Pattern: "*", Size: o.history, TTL: o.historyTTL}}}
	}
	return opts
}

func run(f serve.Flags, o runOptions) error {
	broker, closer, err := openBroker(o.broker)
	if err != nil {
		return err
	}
	if closer != nil {
		defer func() {
			start := time.Now()
			_ = closer.Close()
			if o.drainReconnect {
				fmt.Fprintf(os.Stderr, "srv-allspark: broker closed in %v\n", time.Since(start).Round(time.Millisecond))
			}
		}()
	}
	srv, err := allspark.New(o.options(broker))
	if err != nil {
		return err
	}
	if broker != nil {
		if err := waitHealthy(context.Background(), broker, 10*time.Second); err != nil {
			return err
		}
	}
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if q := roomsOf(sp); q != "" {
			if err := sp.Join(strings.Split(q, ",")...); err != nil {
				return err
			}
		}
		sp.OnData(func(data any) {
			if m, ok := data.(map[string]any); ok {
				if room, ok := m["publish"].(string); ok {
					_, _ = srv.Room(room).Write(m["data"]) // encoded once for all members
					return
				}
			}
			_ = sp.Write(data)
		})
		return nil
	})
	if err := socketIO(srv); err != nil {
		return err
	}
	var drain func(context.Context)
	if o.drainReconnect {
		drain = func(ctx context.Context) {
			// How long the drain took goes to stderr: the harness shows it
			// beside the time the process took to exit.
			start, n := time.Now(), srv.Len()
			fmt.Fprintln(os.Stderr, "srv-allspark: draining", start.Format("15:04:05.000"))
			err := srv.Shutdown(ctx, allspark.ShutdownOptions{Reconnect: true, KeepListener: true})
			fmt.Fprintf(os.Stderr, "srv-allspark: Shutdown(Reconnect) of %d sparks took %v (err: %v)\n", n, time.Since(start).Round(time.Millisecond), err)
		}
	}
	wrap := srv.Listener
	if o.netHTTPUpgrade {
		wrap = nil
	}
	return serve.RunWrapped(f, srv, drain, wrap)
}

// socketIO installs the Socket.IO side of the contract: events, which only
// Socket.IO clients send here (Primus clients write plain data).
func socketIO(srv *allspark.Server) error {
	// 'echo' with an ack: the handler's result is the ack's argument.
	// Without one, the data is emitted back as 'echo'.
	if err := srv.On("echo", func(_ context.Context, ev *allspark.Event) (any, error) {
		if len(ev.Args) == 0 {
			return nil, nil
		}
		if !ev.WantsAck() {
			return nil, ev.Spark.Emit("echo", ev.Args[0])
		}
		return ev.Args[0], nil
	}); err != nil {
		return err
	}
	return srv.On("publish", func(_ context.Context, ev *allspark.Event) (any, error) {
		if len(ev.Args) < 2 {
			return nil, nil
		}
		room, ok := ev.Args[0].(string)
		if !ok {
			return nil, nil
		}
		_, err := srv.Room(room).Emit("m", ev.Args[1]) // encoded once for all members
		return nil, err
	})
}

// roomsOf returns the rooms a spark asks for: the rooms query parameter, or
// for a Socket.IO client without one the rooms field of its CONNECT auth.
func roomsOf(sp *allspark.Spark) string {
	if q := sp.Query().Get("rooms"); q != "" {
		return q
	}
	if auth, ok := sp.Auth().(map[string]any); ok {
		if q, ok := auth["rooms"].(string); ok {
			return q
		}
	}
	return ""
}
