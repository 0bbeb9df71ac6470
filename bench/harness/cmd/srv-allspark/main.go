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
//	srv-allspark [-addr 127.0.0.1:9100] [-reuseport] [-pprof 127.0.0.1:6060] [-broker redis://127.0.0.1:6379]
//
// -reuseport lets the harness run several processes on one port (one process
// may hold at most 20,000 open files on the benchmark machine); -pprof serves
// net/http/pprof on a separate loopback listener for profiling runs.
package main

import (
	"context"
	"flag"
	"fmt"
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
	flag.Parse()
	if err := run(f, *brokerURL); err != nil {
		fmt.Fprintln(os.Stderr, "srv-allspark:", err)
		os.Exit(1)
	}
}

func run(f serve.Flags, brokerURL string) error {
	broker, closer, err := openBroker(brokerURL)
	if err != nil {
		return err
	}
	if closer != nil {
		defer closer.Close()
	}
	srv, err := allspark.New(allspark.Options{Broker: broker})
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
	return serve.Run(f, srv)
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
