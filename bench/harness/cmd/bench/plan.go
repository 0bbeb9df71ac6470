package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/load"
)

// allServers in the order they are measured; raw-epoll is the limit server
// with its event-driven read path (srv-raw -engine epoll), allspark-deflate
// srv-allspark with permessage-deflate negotiated (-compression; its
// clients offer it without context takeover); allspark-nethttp the poller
// engine with upgrades through net/http's hijack (-nethttp-upgrade), and
// allspark-goroutine the engine before issue 17 (gws, a read goroutine per
// connection, net/http upgrades); allspark-cli is cmd/allspark
// --echo and takes part in echo only; primus-eio (Primus with the engine.io
// transformer) takes part in poll-fanout only. The Socket.IO servers
// (sioServers) follow one another, so a scenario's Socket.IO rounds run back
// to back.
var allServers = []string{"allspark", "allspark-cli", "primus", "centrifuge", "raw", "raw-epoll", "primus-eio", "allspark-sio", "socketio", "zishang", "node-sse", "allspark-deflate", "allspark-nethttp", "allspark-goroutine"}

// sioServers speak Socket.IO v5 at /socket.io/ and are compared with each
// other (RATIO lines of allspark-sio against the other two): allspark-sio is
// cmd/srv-allspark reached through its Socket.IO server, socketio the Node
// reference, zishang github.com/zishang520/socket.io.
var sioServers = []string{"allspark-sio", "socketio", "zishang"}

// sseServers serve event streams at /primus/sse?rooms= and take WebSocket
// publishers at /primus: allspark, and node-sse (node/sse-server.js, a
// plain Node http SSE server doing the same work), which takes part in
// sse-fanout only.
var sseServers = []string{"allspark", "node-sse"}

// pollServers serve Engine.IO v4 long-polling at /primus/ (allspark once its
// Engine.IO server is in; until then poll-fanout skips it at the handshake).
var pollServers = []string{"allspark", "primus-eio"}

// wsRooms reports whether server takes part in the WebSocket room scenarios
// (fanout, storm, idle).
func wsRooms(server string) bool {
	return server != "allspark-cli" && server != "primus-eio" && server != "node-sse"
}

type options struct {
	// history-fanout and reconnect (issue 16)
	historySize                   int
	historyBrokers                string
	reconnectN, reconnectRooms    int
	reconnectRate                 float64
	reconnectSignals              string
	reconnectWarm, reconnectRetry time.Duration
	recoveryTimeout               time.Duration
	brokerWriteTimeout            time.Duration

	// cluster: members, nodes, publishers per node, broker
	clusterN, clusterNodes, clusterPubs  int
	clusterBroker                        string
	short                                bool
	scenarios, servers, idleN            string
	echoN, fanoutN, stormN, pollN, sseN  int
	echoRate, pollRate                   float64
	stormRooms, stormPer, stormPubs      int
	pollRooms, pollPubs                  int
	dur, warm, settle                    time.Duration
	perWorker, perServer, window, rounds int
	out, profile                         string
	verbose                              bool
}

func (o *options) applyShort() {
	o.idleN = "200"
	o.echoN, o.fanoutN, o.stormN, o.pollN, o.sseN, o.clusterN = 200, 200, 200, 200, 200, 200
	o.stormRooms, o.stormPer, o.stormPubs = 20, 4, 4
	o.dur, o.warm, o.settle = 2*time.Second, 500*time.Millisecond, 500*time.Millisecond
	// The recovery scenarios' smoke runs: history-fanout on the dedicated
	// Redis only (the memory broker's path is fanout's, with -history),
	// 1 s each; reconnect with 200 members.
	o.historyBrokers = "redis"
	o.reconnectN, o.reconnectRooms, o.reconnectWarm = 200, 20, time.Second
}

// step is one measurement: a scenario at one size against one server.
type step struct {
	scenario string
	server   string
	n        int
	nodes    int         // cluster: server processes, each on its own port
	broker   string      // cluster: the broker joining them
	cfg      load.Config // template; N, Offset, Sources, Addr set per worker
	// history-fanout, reconnect: the room history kept (messages; 0: none)
	history int
	// reconnect: how the node is stopped, "term" (graceful) or "kill"
	signal string
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (o *options) plan() ([]step, error) {
	servers := splitList(o.servers)
	for _, s := range servers {
		if !slices.Contains(allServers, s) {
			return nil, fmt.Errorf("unknown server %q (have %s)", s, strings.Join(allServers, ", "))
		}
	}
	if o.perWorker < 1 || o.perWorker > 19000 || o.perServer < 1 || o.perServer > 19000 {
		return nil, fmt.Errorf("per-worker and per-server must be within 1..19000")
	}
	base := load.Config{Warmup: o.warm, Duration: o.dur}
	var plan []step
	for _, sc := range splitList(o.scenarios) {
		switch sc {
		case load.Idle:
			for _, f := range splitList(o.idleN) {
				n, err := strconv.Atoi(f)
				if err != nil || n <= 0 {
					return nil, fmt.Errorf("idle-n: %q", f)
				}
				for _, s := range servers {
					if !wsRooms(s) {
						continue
					}
					c := base
					c.Scenario = load.Idle
					plan = append(plan, step{scenario: sc, server: s, n: n, cfg: c})
				}
			}
		case load.Echo:
			for _, s := range servers {
				if s == "primus-eio" || s == "node-sse" {
					continue
				}
				c := base
				c.Scenario, c.Rate = load.Echo, o.echoRate
				plan = append(plan, step{scenario: sc, server: s, n: o.echoN, cfg: c})
			}
		case load.Fanout:
			for _, s := range servers {
				if !wsRooms(s) {
					continue
				}
				c := base
				c.Scenario, c.Window = load.Fanout, o.window
				plan = append(plan, step{scenario: sc, server: s, n: o.fanoutN, cfg: c})
			}
		case load.Storm:
			for _, s := range servers {
				if !wsRooms(s) {
					continue
				}
				c := base
				c.Scenario, c.Rooms, c.PerConn, c.Publishers, c.Window = load.Storm, o.stormRooms, o.stormPer, o.stormPubs, o.window
				plan = append(plan, step{scenario: sc, server: s, n: o.stormN, cfg: c})
			}
		case load.PollFanout:
			if o.pollRooms < 1 || o.pollPubs < 1 || o.pollRate <= 0 {
				return nil, fmt.Errorf("poll-fanout needs rooms, publishers and rate > 0")
			}
			for _, s := range servers {
				if !slices.Contains(pollServers, s) {
					continue
				}
				c := base
				c.Scenario, c.Rooms, c.PerConn, c.Publishers, c.Rate = load.PollFanout, o.pollRooms, 1, o.pollPubs, o.pollRate
				plan = append(plan, step{scenario: sc, server: s, n: o.pollN, cfg: c})
			}
		case load.SSEFanout:
			for _, s := range servers {
				if !slices.Contains(sseServers, s) {
					continue
				}
				c := base
				c.Scenario, c.Window = load.SSEFanout, o.window
				plan = append(plan, step{scenario: sc, server: s, n: o.sseN, cfg: c})
			}
		case load.Cluster:
			if o.clusterNodes < 2 || o.clusterPubs < 1 || o.clusterN < o.clusterNodes {
				return nil, fmt.Errorf("cluster needs ≥ 2 nodes, ≥ 1 publisher per node and a member per node")
			}
			if !slices.Contains(clusterBrokers, o.clusterBroker) {
				return nil, fmt.Errorf("cluster broker %q (have %s)", o.clusterBroker, strings.Join(clusterBrokers, ", "))
			}
			for _, s := range servers {
				if !slices.Contains(clusterPeers[o.clusterBroker], s) {
					continue
				}
				c := base
				c.Scenario, c.Window, c.Publishers = load.Cluster, o.window, o.clusterNodes*o.clusterPubs
				plan = append(plan, step{scenario: sc, server: s, n: o.clusterN, nodes: o.clusterNodes, broker: o.clusterBroker, cfg: c})
			}
		case historyFanout:
			if !slices.Contains(servers, "allspark") {
				continue
			}
			if o.historySize < 1 {
				return nil, fmt.Errorf("history-fanout needs --history-size ≥ 1")
			}
			for _, b := range splitList(o.historyBrokers) {
				if b != "memory" && b != "redis" {
					return nil, fmt.Errorf("history-fanout broker %q (have memory, redis)", b)
				}
				for _, hist := range []int{0, o.historySize} {
					c := base
					c.Scenario, c.Window, c.Recover = load.Fanout, o.window, true
					if o.short {
						c.Warmup, c.Duration = 300*time.Millisecond, time.Second
					}
					plan = append(plan, step{scenario: sc, server: "allspark", n: o.fanoutN, broker: b, history: hist, cfg: c})
				}
			}
		case load.Reconnect:
			if !slices.Contains(servers, "allspark") {
				continue
			}
			if o.historySize < 1 || o.reconnectRooms < 1 || o.reconnectRate <= 0 || o.reconnectN < o.reconnectRooms {
				return nil, fmt.Errorf("reconnect needs --history-size ≥ 1, rooms ≥ 1, a rate > 0 and a member per room")
			}
			for _, sig := range splitList(o.reconnectSignals) {
				if sig != "term" && sig != "kill" {
					return nil, fmt.Errorf("reconnect signal %q (have term, kill)", sig)
				}
				c := base
				c.Scenario, c.Rooms, c.Rate, c.Warmup, c.RetryEvery = load.Reconnect, o.reconnectRooms, o.reconnectRate, o.reconnectWarm, o.reconnectRetry
				plan = append(plan, step{scenario: sc, server: "allspark", n: o.reconnectN, broker: "redis", history: o.historySize, signal: sig, cfg: c})
			}
		default:
			return nil, fmt.Errorf("unknown scenario %q", sc)
		}
	}
	for _, st := range plan {
		if st.scenario != load.Idle && st.scenario != load.Reconnect && st.n > o.perWorker {
			return nil, fmt.Errorf("%s with %d connections needs one load process (≤ %d)", st.scenario, st.n, o.perWorker)
		}
	}
	return plan, nil
}
