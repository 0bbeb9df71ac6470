package main

import (
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/load"
	"github.com/allspark/allspark/bench/harness/internal/procfs"
	"github.com/allspark/allspark/bench/harness/internal/redisinfo"
	"github.com/allspark/allspark/bench/harness/internal/result"
)

func clusterOptions() options {
	return options{scenarios: "cluster", servers: strings.Join(allServers, ","), perWorker: 15000, perServer: 17000,
		clusterN: 10000, clusterNodes: 3, clusterPubs: 2, clusterBroker: "redis"}
}

func TestPlanClusterRunsTheClusterPeersOnOneBroker(t *testing.T) {
	o := clusterOptions()
	plan, err := o.plan()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range plan {
		got = append(got, st.server)
		if st.scenario != load.Cluster || st.n != 10000 || st.nodes != 3 || st.broker != "redis" || st.cfg.Publishers != 6 || st.cfg.Scenario != load.Cluster {
			t.Fatalf("step %+v", st)
		}
	}
	if !slices.Equal(got, []string{"allspark", "centrifuge", "socketio"}) {
		t.Fatalf("cluster servers %v", got)
	}
	if g := groupSteps(plan); len(g) != 1 {
		t.Fatalf("%d groups: the cluster rounds must go round-robin over the servers", len(g))
	}
}

func TestPlanClusterRejects(t *testing.T) {
	for _, mod := range []func(*options){
		func(o *options) { o.clusterNodes = 1 },
		func(o *options) { o.clusterPubs = 0 },
		func(o *options) { o.clusterN = 2 },
		func(o *options) { o.clusterBroker = "kafka" },
		func(o *options) { o.clusterN = 20000 }, // more than one load process
	} {
		o := clusterOptions()
		mod(&o)
		if _, err := o.plan(); err == nil {
			t.Fatalf("plan accepted %+v", o)
		}
	}
}

func TestClusterCommandsGiveEveryNodeItsPortAndTheBroker(t *testing.T) {
	bn := &binaries{root: "/r", harness: "/r/bench/harness", dir: "/bin-dir"}
	b := &brokerProc{kind: "redis", addr: "127.0.0.1:7001"}
	ports := []int{9001, 9002, 9003}
	want := map[string][]string{
		"allspark":   {"-addr 127.0.0.1:%d -broker redis://127.0.0.1:7001"},
		"centrifuge": {"-addr 127.0.0.1:%d -redis 127.0.0.1:7001"},
		"socketio":   {"/r/bench/harness/node/socketio-server.js %d 1"},
	}
	for kind := range want {
		cmds, err := bn.clusterCommands(kind, ports, b, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(cmds) != 3 {
			t.Fatalf("%s: %d commands", kind, len(cmds))
		}
		for i, c := range cmds {
			args := strings.Join(c.Args[1:], " ")
			if exp := strings.Replace(want[kind][0], "%d", itoa(ports[i]), 1); args != exp {
				t.Fatalf("%s node %d: %q, want %q", kind, i, args, exp)
			}
			if kind == "socketio" && !hasEnv(c, "REDIS_URL=redis://127.0.0.1:7001") {
				t.Fatalf("socketio node %d has no REDIS_URL", i)
			}
		}
	}
	cmds, err := bn.clusterCommands("allspark", ports, b, "127.0.0.1:6060")
	if err != nil {
		t.Fatal(err)
	}
	if a0, a1 := strings.Join(cmds[0].Args, " "), strings.Join(cmds[1].Args, " "); !strings.HasSuffix(a0, " -pprof 127.0.0.1:6060") || strings.Contains(a1, "-pprof") {
		t.Fatalf("profiles on the first node only: %q, %q", a0, a1)
	}
	if _, err := bn.clusterCommands("primus", ports, b, ""); err == nil {
		t.Fatal("primus has no cluster mode")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func hasEnv(c *exec.Cmd, kv string) bool { return slices.Contains(c.Env, kv) }

func TestBrokerCostPerPublication(t *testing.T) {
	s0 := brokerSample{proc: procfs.Sample{CPU: time.Second, RSSKB: 1024}, info: redisinfo.Info{
		"used_cpu_sys": "1.000000", "used_cpu_user": "0.250000",
		"total_commands_processed": "100", "total_reads_processed": "50", "total_writes_processed": "10",
		"total_net_input_bytes": "1000", "total_net_output_bytes": "2000",
		"cmdstat_publish": "calls=10,usec=1", "cmdstat_info": "calls=1,usec=1",
	}}
	s1 := brokerSample{proc: procfs.Sample{CPU: 9 * time.Second, RSSKB: 2048}, info: redisinfo.Info{
		"used_cpu_sys": "1.300000", "used_cpu_user": "0.450000", // 0.5 s more (INFO, not /proc)
		// 2,000 publications: 2,000 PUBLISH, 200 PING, and the harness's own
		// INFO (one command, one read, one write).
		"total_commands_processed": "2301", "total_reads_processed": "1051", "total_writes_processed": "6011",
		"total_net_input_bytes": "201000", "total_net_output_bytes": "802000",
		"cmdstat_publish": "calls=2010,usec=1", "cmdstat_ping": "calls=200,usec=1", "cmdstat_info": "calls=2,usec=1",
	}}
	var l result.Line
	addBrokerCost(&l, s0, s1, 10*time.Second, 2000)
	for key, want := range map[string]string{
		"broker_cpu_pct":           "5.0", // 0.5 s of 10 s
		"broker_cmds_per_s":        "220",
		"broker_cpu_ms_per_1k_pub": "250.00", // 500 ms for 2,000
		"broker_cmds_per_pub":      "1.100",
		"broker_reads_per_pub":     "0.500",
		"broker_writes_per_pub":    "3.000",
		"broker_in_b_per_pub":      "100",
		"broker_out_b_per_pub":     "400",
		"broker_rss_mb":            "2.0",
		"broker_cmds":              "publish:1.00,ping:0.10",
	} {
		if got, _ := l.Get(key); got != want {
			t.Fatalf("%s = %q, want %q (%s)", key, got, want, l.String())
		}
	}
}

func TestBrokerCostOnNATSCountsMessages(t *testing.T) {
	s0 := brokerSample{proc: procfs.Sample{CPU: time.Second}, varz: &natsVarz{InMsgs: 10, OutMsgs: 20, InBytes: 1000, OutBytes: 2000}}
	s1 := brokerSample{proc: procfs.Sample{CPU: 1200 * time.Millisecond, RSSKB: 4096}, varz: &natsVarz{InMsgs: 1010, OutMsgs: 2020, InBytes: 101000, OutBytes: 202000}}
	var l result.Line
	addBrokerCost(&l, s0, s1, 10*time.Second, 1000)
	for key, want := range map[string]string{
		"broker_cpu_ms_per_1k_pub": "200.00", // /proc: 200 ms for 1,000
		"broker_cmds_per_pub":      "1.000",  // messages in
		"broker_writes_per_pub":    "2.000",  // messages out: two other nodes
		"broker_reads_per_pub":     "-",      // NATS does not count socket reads
		"broker_out_b_per_pub":     "200",
		"broker_cmds":              "-",
	} {
		if got, _ := l.Get(key); got != want {
			t.Fatalf("%s = %q, want %q (%s)", key, got, want, l.String())
		}
	}
}

// TestDedicatedBrokers starts each broker the way a measurement does,
// samples it and stops it: the process must be gone afterwards.
func TestDedicatedBrokers(t *testing.T) {
	for _, kind := range clusterBrokers {
		t.Run(kind, func(t *testing.T) {
			if _, err := exec.LookPath(kind + "-server"); err != nil {
				t.Skipf("%s-server not installed", kind)
			}
			b, err := startBroker(t.Context(), kind, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			pid := b.cmd.Process.Pid
			s, err := b.sample(t.Context())
			if err != nil {
				b.stop()
				t.Fatal(err)
			}
			if s.proc.Procs != 1 || s.proc.RSSKB == 0 || (s.info == nil && s.varz == nil) {
				b.stop()
				t.Fatalf("sample %+v", s)
			}
			if strings.Contains(b.addr, ":6379") || strings.Contains(b.addr, ":4222") {
				t.Fatalf("dedicated broker on a shared port: %s", b.addr)
			}
			b.stop()
			if err := syscall.Kill(pid, 0); err == nil {
				t.Fatalf("broker %d still running after stop", pid)
			}
		})
	}
}

func TestPlanClusterOnNATSRunsAllsparkOnly(t *testing.T) {
	o := clusterOptions()
	o.clusterBroker = "nats"
	plan, err := o.plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || plan[0].server != "allspark" || plan[0].broker != "nats" {
		t.Fatalf("plan %+v", plan)
	}
}
