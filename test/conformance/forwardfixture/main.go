// Command forwardfixture is the Allspark side of the HTTP-fallback
// forwarding suite (test/conformance/forward.test.mjs): -nodes Allspark
// servers (default 3) in one process on one MemoryBroker (or, with
// -heartbeats, finding each other by heartbeats as on Redis and NATS),
// each on its own loopback port, behind a reverse proxy without sticky
// sessions that sends every request to the next node in turn. Each node
// echoes what a spark sends (Write(x)) and answers the Socket.IO event
// "echo" with its argument as the ack. Short Engine.IO pings and SockJS
// heartbeats (300 ms) keep forwarded polls coming.
//
// The proxy also serves, itself:
//
//	POST /admin/publish?node=N&data=D  node N broadcasts the string D
//	GET  /admin/stats                  {"forwarded":[…],"served":[…],"sparks":[…]} per node
//
// The first line on stdout is "LISTEN <host:port>" (the proxy, -addr,
// default 127.0.0.1:0); the process exits when stdin closes.
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
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "the proxy's listen address")
	nodes := flag.Int("nodes", 3, "Allspark nodes behind the proxy")
	heartbeats := flag.Bool("heartbeats", false, "membership by heartbeats (the broker hides its node list)")
	flag.Parse()

	var broker allspark.Broker = allspark.NewMemoryBroker()
	if *heartbeats {
		broker = plainBroker{broker}
	}
	var srvs []*allspark.Server
	var targets []*url.URL
	for i := range *nodes {
		srv, err := allspark.New(allspark.Options{
			Broker: broker, NodeID: "node" + strconv.Itoa(i),
			EngineIO: allspark.EngineIOOptions{PingInterval: 300 * time.Millisecond, PingTimeout: 2 * time.Second},
			SockJS:   allspark.SockJSOptions{Heartbeat: 300 * time.Millisecond},
			Cluster:  allspark.ClusterOptions{HeartbeatInterval: 100 * time.Millisecond},
		})
		if err != nil {
			log.Fatal(err)
		}
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(v any) { _ = sp.Write(v) })
			return nil
		})
		if err := srv.On("echo", func(_ context.Context, ev *allspark.Event) (any, error) {
			var v any
			if err := ev.Decode(0, &v); err != nil {
				return nil, err
			}
			return v, nil
		}); err != nil {
			log.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		go func() { log.Fatal((&http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)) }()
		srvs = append(srvs, srv)
		targets = append(targets, &url.URL{Scheme: "http", Host: ln.Addr().String()})
	}
	for deadline := time.Now().Add(10 * time.Second); len(srvs[0].Nodes()) < *nodes; {
		if time.Now().After(deadline) {
			log.Fatalf("membership: %v", srvs[0].Nodes())
		}
		time.Sleep(20 * time.Millisecond)
	}

	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
			pr.Out.Host = pr.In.Host
		},
		FlushInterval: -1,
	}
	mux := http.NewServeMux()
	mux.Handle("/", proxy)
	mux.HandleFunc("POST /admin/publish", func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.URL.Query().Get("node"))
		if err != nil || i < 0 || i >= len(srvs) {
			http.Error(w, "bad node", http.StatusBadRequest)
			return
		}
		n, err := srvs[i].Broadcast(r.URL.Query().Get("data"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d", n)
	})
	mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, _ *http.Request) {
		var out struct {
			Forwarded []uint64 `json:"forwarded"`
			Served    []uint64 `json:"served"`
			Sparks    []int    `json:"sparks"`
		}
		for _, s := range srvs {
			st := s.Stats()
			out.Forwarded = append(out.Forwarded, st.Forwarded)
			out.Served = append(out.Served, st.ForwardServed)
			out.Sparks = append(out.Sparks, st.Connections)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		os.Exit(0)
	}()
	log.Fatal((&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln))
}

// plainBroker hides the MemoryBroker's node list (allspark.NodeLister), so
// the nodes find each other by heartbeats.
type plainBroker struct{ allspark.Broker }
