package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allspark/allspark/bench/harness/internal/result"
)

func TestPlanShortCoversEveryServer(t *testing.T) {
	o := options{scenarios: "idle,echo,fanout,storm,poll-fanout,sse-fanout", servers: strings.Join(allServers, ","), perWorker: 15000, perServer: 17000, pollRooms: 10, pollPubs: 10, pollRate: 10}
	o.applyShort()
	plan, err := o.plan()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, st := range plan {
		count[st.scenario+"/"+st.server]++
		if st.n != 200 {
			t.Fatalf("short step %+v has n=%d", st, st.n)
		}
	}
	for _, s := range allServers {
		for _, sc := range []string{"idle", "echo", "fanout", "storm", "poll-fanout", "sse-fanout"} {
			want := 1
			switch {
			case sc == "sse-fanout":
				if s != "allspark" && s != "node-sse" {
					want = 0 // no event streams at /primus/sse
				}
			case s == "node-sse":
				want = 0 // the Node SSE peer takes part in sse-fanout only
			case sc == "poll-fanout":
				if s != "allspark" && s != "primus-eio" {
					want = 0 // no Engine.IO long-polling at /primus/
				}
			case s == "allspark-cli" && sc != "echo":
				want = 0 // cmd/allspark --echo has no rooms
			case s == "primus-eio":
				want = 0 // engine.io transformer: no plain WebSocket at /primus
			}
			if count[sc+"/"+s] != want {
				t.Fatalf("%s/%s appears %d times, want %d", sc, s, count[sc+"/"+s], want)
			}
		}
	}
	groups := groupSteps(plan)
	if len(groups) != 6 || len(groups[1]) != len(allServers)-2 || len(groups[4]) != 2 || len(groups[5]) != 2 {
		t.Fatalf("groups: %d, echo group %d", len(groups), len(groups[1]))
	}
}

func TestPlanRejects(t *testing.T) {
	for _, o := range []options{
		{scenarios: "idle", servers: "nope", idleN: "10", perWorker: 10, perServer: 10},
		{scenarios: "warp", servers: "raw", perWorker: 10, perServer: 10},
		{scenarios: "idle", servers: "raw", idleN: "x", perWorker: 10, perServer: 10},
		{scenarios: "fanout", servers: "raw", fanoutN: 50, perWorker: 10, perServer: 10},
		{scenarios: "idle", servers: "raw", idleN: "10", perWorker: 20000, perServer: 10},
		{scenarios: "poll-fanout", servers: "primus-eio", pollN: 10, pollRooms: 0, pollPubs: 1, pollRate: 1, perWorker: 10, perServer: 10},
	} {
		if _, err := o.plan(); err == nil {
			t.Fatalf("plan accepted %+v", o)
		}
	}
}

func TestPrintTablesUsesMedians(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.txt")
	data := "RESULT scenario=fanout server=raw n=10 deliveries_per_s=5 round=1\n" +
		"RESULT scenario=fanout server=raw n=10 deliveries_per_s=7 round=median\n" +
		"RATIO scenario=fanout n=10 metric=x\n" +
		"RESULT scenario=idle server=primus n=10 kb_per_conn=3.5 kernel_kb_per_conn=7.25 error=boom\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := printTables(path, &b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "| raw | 10 | 7 |") || strings.Contains(out, "| raw | 10 | 5 |") {
		t.Fatalf("fanout table should show the median only:\n%s", out)
	}
	if !strings.Contains(out, "| primus (boom) | 10 |") || !strings.Contains(out, "| 3.5 | 7.25 |") {
		t.Fatalf("idle table:\n%s", out)
	}
}

func TestSIORatiosCompareSocketIOServersOnly(t *testing.T) {
	var lines []result.Line
	for i, srv := range []string{"allspark", "allspark-sio", "socketio", "zishang", "raw"} {
		var l result.Line
		l.Str("scenario", "storm").Str("server", srv).Int("n", 10).Float("deliveries_per_s", float64(100*(i+1)), 0)
		lines = append(lines, l)
	}
	var got string
	for _, r := range sioRatios(lines) {
		if strings.Contains(r, "metric=deliveries_per_s ") {
			got = r
		}
	}
	// allspark-sio delivered 200, socketio 300, zishang 400.
	if !strings.Contains(got, "allspark-sio=200.00") || !strings.Contains(got, "allspark-sio/socketio=0.67") || !strings.Contains(got, "allspark-sio/zishang=0.50") {
		t.Fatalf("ratio line %q", got)
	}
	if strings.Contains(got, "/raw=") || strings.Contains(got, "/allspark=") {
		t.Fatalf("ratio line %q compares with a server that does not speak Socket.IO", got)
	}
}

func TestCommandsForTheNewKinds(t *testing.T) {
	b := binaries{dir: "/bin-dir"}
	for kind, want := range map[string]string{
		"raw-epoll":          "/bin-dir/srv-raw -addr 127.0.0.1:9 -reuseport -engine epoll",
		"allspark-deflate":   "/bin-dir/srv-allspark -addr 127.0.0.1:9 -reuseport -compression",
		"allspark-nethttp":   "/bin-dir/srv-allspark -addr 127.0.0.1:9 -reuseport -nethttp-upgrade",
		"allspark-goroutine": "/bin-dir/srv-allspark -addr 127.0.0.1:9 -reuseport -ws-engine goroutine -nethttp-upgrade",
	} {
		cmds, err := b.commands(kind, 9, 3, "")
		if err != nil || len(cmds) != 3 {
			t.Fatalf("%s: %d commands, %v", kind, len(cmds), err)
		}
		if got := strings.Join(cmds[2].Args, " "); got != want {
			t.Fatalf("%s: %q, want %q", kind, got, want)
		}
	}
	if needsNode(options{servers: "raw,raw-epoll,allspark,allspark-deflate", scenarios: "idle,fanout"}) {
		t.Fatal("a Go-only idle/fanout run should not need node_modules")
	}
	if !needsNode(options{servers: "raw,primus", scenarios: "idle"}) || !needsNode(options{servers: "allspark", scenarios: "reconnect"}) {
		t.Fatal("Node servers and the other scenarios need node_modules")
	}
}
