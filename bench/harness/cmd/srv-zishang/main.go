// Command srv-zishang is the benchmark's github.com/zishang520/socket.io
// server (the v3 module family: servers/socket/v3), the Go port of the Node
// socket.io server, at its defaults except that, like the Node peer
// (node/socketio-server.js), it serves the WebSocket transport only and no
// client bundle. The room contract is the Socket.IO one every Socket.IO
// server under test implements (internal/proto's SocketIO):
//
//   - rooms from the handshake query (?rooms=a,b), or from the CONNECT auth
//     payload ({"rooms":"a,b"}), joined with Socket.Join;
//
//   - 'echo' with an ack (42<id>["echo",x]) is acknowledged with x
//     (43<id>[x]); without an ack it is emitted back as 'echo';
//
//   - 'publish' (room, data) emits 'm' data to the room with
//     Server.To(room).Emit (encoded once by the library's broadcast).
//
//     srv-zishang [-addr 127.0.0.1:9100] [-reuseport] [-pprof 127.0.0.1:6060]
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/allspark/allspark/bench/harness/internal/serve"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

func main() {
	var f serve.Flags
	f.Register(flag.CommandLine)
	flag.Parse()
	if err := serve.Run(f, handler()); err != nil {
		fmt.Fprintln(os.Stderr, "srv-zishang:", err)
		os.Exit(1)
	}
}

func handler() http.Handler {
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetTransports(types.NewSet[engine.TransportCtor](engine.WebSocket))
	io := socket.NewServer(nil, opts)
	_ = io.On("connection", func(args ...any) {
		client, ok := args[0].(*socket.Socket)
		if !ok {
			return
		}
		if rooms := roomsOf(client); len(rooms) > 0 {
			names := make([]socket.Room, len(rooms))
			for i, r := range rooms {
				names[i] = socket.Room(r)
			}
			client.Join(names...)
		}
		_ = client.On("echo", func(args ...any) {
			if n := len(args); n > 0 {
				if ack, ok := args[n-1].(socket.Ack); ok {
					ack(args[:n-1], nil)
					return
				}
			}
			_ = client.Emit("echo", args...)
		})
		_ = client.On("publish", func(args ...any) {
			if len(args) < 2 {
				return
			}
			room, ok := args[0].(string)
			if !ok {
				return
			}
			_ = io.To(socket.Room(room)).Emit("m", args[1])
		})
	})
	return io.ServeHandler(opts)
}

// roomsOf reads the rooms from the handshake query, else from the CONNECT
// auth payload.
func roomsOf(client *socket.Socket) []string {
	hs := client.Handshake()
	q := hs.Query.Query().Get("rooms")
	if q == "" {
		if s, ok := hs.Auth["rooms"].(string); ok {
			q = s
		}
	}
	var out []string
	for r := range strings.SplitSeq(q, ",") {
		if r != "" {
			out = append(out, r)
		}
	}
	return out
}
