// Command recoveryfixture is the Allspark side of the black-box recovery
// suites: the Socket.IO connection state recovery one
// (test/conformance/socketio-recovery.test.mjs, the stock socket.io-client)
// and the one of our JS client (test/conformance/recovery.test.mjs). One
// allspark.Server with SocketIOOptions.Recovery on and history kept for the
// rooms "chat:*", on the MemoryBroker or on Redis (-broker redis://…), built
// with the public API only.
//
// Socket.IO (path /socket.io/, main namespace) and Primus (/primus, the wire
// of our JS and Go clients, which ask for a session on their own):
//
//	event "join"(room)    Spark.Join; the ack is the spark's rooms
//	CONNECT auth {rooms}  a new (not restored) Socket.IO socket joins them on connecting
//
// HTTP, beside it:
//
//	POST /admin/publish?room=R&from=A&to=B  Room(R).Emit("msg", i) for i = A..B,
//	                                        answered once every write returned
//	GET  /admin/spark?id=ID                 {"rooms", "restored", "recovered", "reason"}
//	                                        of a live spark; 404 when there is none
//
// Flags: -broker, -history-size (default 2,000), -history-ttl (10m),
// -meta-ttl (15m, so a run leaves nothing in Redis for long), -max-replay
// (RecoveryOptions.MaxReplay; 0: the default, 1,000), -window
// (RecoveryOptions.Window; 0: the default, 2 min), -node (Options.NodeID).
//
// The first line on stdout is "LISTEN <host:port>" (-addr, default
// 127.0.0.1:0); the process exits when stdin closes. A -broker whose broker
// keeps no history or no sessions (it does not implement
// allspark.HistoryBroker or allspark.SessionStore) makes the process print
// a line "NO_HISTORY_BROKER <what is missing>" on stderr and exit with
// status 3, so the suite can skip its Redis scenarios with that reason.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/allspark/allspark"
	redisbroker "github.com/allspark/allspark/broker/redis"
)

// exitNoHistory is the exit status when the broker keeps no history.
const exitNoHistory = 3

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	brokerURL := flag.String("broker", "memory", `"memory" or a redis:// URL`)
	historySize := flag.Int("history-size", 2000, `messages kept per "chat:*" room`)
	historyTTL := flag.Duration("history-ttl", 10*time.Minute, `how long a "chat:*" message is kept`)
	metaTTL := flag.Duration("meta-ttl", 15*time.Minute, `how long a "chat:*" room's position outlives its last write`)
	maxReplay := flag.Int("max-replay", 0, "RecoveryOptions.MaxReplay (0: the default)")
	window := flag.Duration("window", 0, "RecoveryOptions.Window (0: the default)")
	nodeID := flag.String("node", "", "Options.NodeID (empty: a random one)")
	flag.Parse()

	broker, err := openBroker(*brokerURL)
	if err != nil {
		log.Fatal(err)
	}
	if missing := missingFeatures(broker); missing != "" {
		fmt.Fprintf(os.Stderr, "NO_HISTORY_BROKER %s\n", missing)
		os.Exit(exitNoHistory)
	}
	srv, err := allspark.New(allspark.Options{
		Broker:   broker,
		NodeID:   *nodeID,
		SocketIO: allspark.SocketIOOptions{Recovery: true},
		History: allspark.HistoryOptions{Rooms: []allspark.HistoryRule{
			{Pattern: "chat:*", Size: *historySize, TTL: *historyTTL, MetaTTL: *metaTTL},
		}},
		Recovery: allspark.RecoveryOptions{MaxReplay: *maxReplay, Window: *window},
	})
	if err != nil {
		log.Fatal(err)
	}
	err = srv.On("join", func(_ context.Context, ev *allspark.Event) (any, error) {
		room, _ := argAt(ev.Args, 0).(string)
		if err := ev.Spark.Join(room); err != nil {
			return nil, err
		}
		return ev.Spark.Rooms(), nil
	})
	if err != nil {
		log.Fatal(err)
	}

	// A new socket joins the rooms its CONNECT auth names ({rooms: [...]})
	// before any event; a restored one is back in its rooms already.
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if sp.Restored() {
			return nil
		}
		auth, _ := sp.Auth().(map[string]any)
		rooms, _ := auth["rooms"].([]any)
		for _, r := range rooms {
			if name, ok := r.(string); ok {
				if err := sp.Join(name); err != nil {
					return err
				}
			}
		}
		return nil
	})

	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/publish", func(w http.ResponseWriter, r *http.Request) { publish(srv, w, r) })
	mux.HandleFunc("GET /admin/spark", func(w http.ResponseWriter, r *http.Request) { sparkInfo(srv, w, r) })
	mux.Handle("/", srv)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())

	// Exit when the parent closes our stdin (or dies).
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		os.Exit(0)
	}()

	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(hs.Serve(ln))
}

// openBroker returns the broker -broker names.
func openBroker(spec string) (allspark.Broker, error) {
	if spec == "memory" {
		return allspark.NewMemoryBroker(), nil
	}
	if !strings.HasPrefix(spec, "redis://") {
		return nil, fmt.Errorf("-broker: want memory or redis://…, not %q", spec)
	}
	o, err := redisbroker.ParseURL(spec)
	if err != nil {
		return nil, err
	}
	return redisbroker.New(o)
}

// missingFeatures names what the broker lacks for cluster-wide recovery
// ("" when it has everything).
func missingFeatures(b allspark.Broker) string {
	var missing []string
	if _, ok := b.(allspark.HistoryBroker); !ok {
		missing = append(missing, "allspark.HistoryBroker")
	}
	if _, ok := b.(allspark.SessionStore); !ok {
		missing = append(missing, "allspark.SessionStore")
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("%T does not implement %s", b, strings.Join(missing, " and "))
}

// publish writes the integers from..to to a room, one "msg" event each.
func publish(srv *allspark.Server, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	room := q.Get("room")
	from, err1 := strconv.Atoi(q.Get("from"))
	to, err2 := strconv.Atoi(q.Get("to"))
	if room == "" || err1 != nil || err2 != nil || to < from || to-from >= 1_000_000 {
		http.Error(w, "want room, from and to (from ≤ to)", http.StatusBadRequest)
		return
	}
	for i := from; i <= to; i++ {
		if _, err := srv.Room(room).Emit("msg", i); err != nil {
			http.Error(w, fmt.Sprintf("msg %d: %v", i, err), http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// sparkInfo describes a live spark.
func sparkInfo(srv *allspark.Server, w http.ResponseWriter, r *http.Request) {
	sp, ok := srv.Spark(r.URL.Query().Get("id"))
	if !ok {
		http.Error(w, "no such spark", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"rooms":     sp.Rooms(),
		"restored":  sp.Restored(),
		"recovered": sp.Recovered(),
		"reason":    sp.RecoveryReason(),
	})
}

// argAt is args[i], nil past the end.
func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}
