package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/hist"
	"github.com/allspark/allspark/bench/harness/internal/load"
	"github.com/allspark/allspark/bench/harness/internal/result"
)

func recoveryOptions() options {
	return options{scenarios: "history-fanout,reconnect", servers: strings.Join(allServers, ","), perWorker: 15000, perServer: 17000,
		fanoutN: 10000, historySize: 1000, historyBrokers: "memory,redis", reconnectN: 10000, reconnectRooms: 100, reconnectRate: 200,
		reconnectSignals: "term,kill", reconnectWarm: 3 * time.Second, reconnectRetry: 100 * time.Millisecond}
}

func TestPlanHistoryFanoutPairsHistoryOffAndOnPerBroker(t *testing.T) {
	o := recoveryOptions()
	o.scenarios = "history-fanout"
	plan, err := o.plan()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range plan {
		if st.server != "allspark" || st.n != 10000 || st.cfg.Scenario != load.Fanout || !st.cfg.Recover {
			t.Fatalf("step %+v", st)
		}
		got = append(got, st.broker+"/"+itoa(st.history))
	}
	if !slices.Equal(got, []string{"memory/0", "memory/1000", "redis/0", "redis/1000"}) {
		t.Fatalf("steps %v", got)
	}
	if g := groupSteps(plan); len(g) != 1 {
		t.Fatalf("%d groups: the four settings must go round-robin in each round", len(g))
	}
	o.historyBrokers = "nats"
	if _, err := o.plan(); err == nil {
		t.Fatal("history-fanout on nats accepted")
	}
	o = recoveryOptions()
	o.scenarios, o.servers = "history-fanout", "centrifuge"
	if plan, err := o.plan(); err != nil || len(plan) != 0 {
		t.Fatalf("without allspark: %v %v", plan, err)
	}
}

func TestPlanReconnectRestartsTermAndKill(t *testing.T) {
	o := recoveryOptions()
	o.scenarios = "reconnect"
	plan, err := o.plan()
	if err != nil {
		t.Fatal(err) // 10,000 members: several load processes, not refused
	}
	if len(plan) != 2 || plan[0].signal != "term" || plan[1].signal != "kill" {
		t.Fatalf("plan %+v", plan)
	}
	for _, st := range plan {
		c := st.cfg
		if st.broker != "redis" || st.history != 1000 || c.Scenario != load.Reconnect || c.Rooms != 100 || c.Rate != 200 || c.Warmup != 3*time.Second || c.RetryEvery != 100*time.Millisecond {
			t.Fatalf("step %+v", st)
		}
	}
	for _, mod := range []func(*options){
		func(o *options) { o.reconnectSignals = "hup" },
		func(o *options) { o.reconnectRooms = 0 },
		func(o *options) { o.reconnectN = 50 }, // fewer members than rooms
		func(o *options) { o.reconnectRate = 0 },
		func(o *options) { o.historySize = 0 },
	} {
		o := recoveryOptions()
		o.scenarios = "reconnect"
		mod(&o)
		if _, err := o.plan(); err == nil {
			t.Fatalf("plan accepted %+v", o)
		}
	}
}

func TestShortRunsTheRecoveryScenariosSmall(t *testing.T) {
	o := recoveryOptions()
	o.short = true // as --short sets it
	o.applyShort()
	plan, err := o.plan()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, st := range plan {
		if st.scenario == historyFanout && (st.broker != "redis" || st.cfg.Duration > time.Second || st.n != 200) {
			t.Fatalf("short history-fanout %+v", st)
		}
		if st.scenario == load.Reconnect && st.n != 200 {
			t.Fatalf("short reconnect %+v", st)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("%d short steps, want 2 history-fanout and 2 reconnect", n)
	}
}

func TestCommandsGiveExtraArgumentsToAllsparkOnly(t *testing.T) {
	bn := &binaries{dir: "/bin-dir"}
	cmds, err := bn.commands("allspark", 9001, 1, "", "-history", "1000", "-broker", "redis://127.0.0.1:7001")
	if err != nil || len(cmds) != 1 {
		t.Fatal(err)
	}
	if args := strings.Join(cmds[0].Args[1:], " "); args != "-addr 127.0.0.1:9001 -history 1000 -broker redis://127.0.0.1:7001" {
		t.Fatalf("args %q", args)
	}
	if _, err := bn.commands("raw", 9001, 1, "", "-history", "1"); err == nil {
		t.Fatal("extra arguments given to the raw server")
	}
}

func line(fields ...string) result.Line {
	var l result.Line
	for i := 0; i+1 < len(fields); i += 2 {
		l.Str(fields[i], fields[i+1])
	}
	return l
}

func TestHistoryRatiosCompareOnWithOffPerBroker(t *testing.T) {
	lines := []result.Line{
		line("scenario", "history-fanout", "n", "10000", "broker", "memory", "history", "0", "deliveries_per_s", "100000", "p99_ms", "400"),
		line("scenario", "history-fanout", "n", "10000", "broker", "memory", "history", "1000", "deliveries_per_s", "80000", "p99_ms", "500"),
		line("scenario", "history-fanout", "n", "10000", "broker", "redis", "history", "1000", "deliveries_per_s", "50000"),
		line("scenario", "fanout", "n", "10000", "server", "allspark", "deliveries_per_s", "1"),
	}
	got := historyRatios(lines)
	want := "RATIO scenario=history-fanout n=10000 broker=memory metric=deliveries_per_s better=higher on=80000.00 off=100000.00 on/off=0.80"
	if !slices.Contains(got, want) {
		t.Fatalf("no %q in %q", want, got)
	}
	if !slices.Contains(got, "RATIO scenario=history-fanout n=10000 broker=memory metric=p99_ms better=lower on=500.00 off=400.00 on/off=1.25") {
		t.Fatalf("p99: %q", got)
	}
	for _, r := range got {
		if strings.Contains(r, "broker=redis") {
			t.Fatalf("redis has no history-off line, yet: %s", r)
		}
	}
}

func TestMergeReconnectAddsWorkersUp(t *testing.T) {
	var h1, h2 hist.Histogram
	h1.Record(100 * time.Millisecond)
	h2.Record(300 * time.Millisecond)
	h2.Record(300 * time.Millisecond)
	m := mergeReconnect([]load.ReconnectReport{
		{Members: 5000, MinBefore: 12, Cut: 5000, Back: 5000, Recovered: 4999, CaughtUp: 4999, Duplicates: 3, FirstCutNS: 200, LastBackNS: 900, LastDoneNS: 1000,
			NotRecovered: map[string]int{"unavailable": 1}, DoneLatency: h1.Buckets()},
		{Members: 5000, MinBefore: 9, Cut: 5000, Back: 4998, Recovered: 4998, CaughtUp: 4998, TimedOut: true, FirstCutNS: 100, LastBackNS: 950, LastDoneNS: 990,
			NotRecovered: map[string]int{"never_back": 2, "unavailable": 1}, DoneLatency: h2.Buckets()},
	})
	if m.Members != 10000 || m.Back != 9998 || m.CaughtUp != 9997 || m.MinBefore != 9 || m.Duplicates != 3 || !m.TimedOut {
		t.Fatalf("merged %+v", m)
	}
	if m.FirstCutNS != 100 || m.LastBackNS != 950 || m.LastDoneNS != 1000 {
		t.Fatalf("times %+v", m)
	}
	if reasons(m.NotRecovered) != "never_back:2,unavailable:2" {
		t.Fatal(reasons(m.NotRecovered))
	}
	var d hist.Histogram
	d.AddBuckets(m.DoneLatency)
	if d.Count() != 3 || d.Quantile(0.99) < 290*time.Millisecond {
		t.Fatalf("latency: %d samples, p99 %v", d.Count(), d.Quantile(0.99))
	}
}

func TestReconnectFiguresCountFromTheNewNodesListen(t *testing.T) {
	listen := time.Unix(100, 0)
	var l result.Line
	addReconnectFigures(&l, load.ReconnectReport{Members: 10, Cut: 10, Back: 10, Recovered: 10, CaughtUp: 10, Replayed: 50,
		FirstCutNS: listen.Add(-700 * time.Millisecond).UnixNano(), LastBackNS: listen.Add(2 * time.Second).UnixNano(),
		LastDoneNS: listen.Add(2500 * time.Millisecond).UnixNano(), NotRecovered: map[string]int{}}, listen, 600*time.Millisecond)
	for k, want := range map[string]string{"down_s": "0.700", "all_back_s": "2.000", "all_recovered_s": "2.500", "connects_per_s": "5",
		"replayed_per_member": "5.0", "not_recovered": "0", "reasons": "-", "stop_s": "0.600"} {
		if got, _ := l.Get(k); got != want {
			t.Fatalf("%s = %q, want %q (%s)", k, got, want, l.String())
		}
	}
}

func TestSumDoneAddsEveryCount(t *testing.T) {
	d, lat := sumDone([]load.Done{
		{Alive: 2, Sent: 3, Deliveries: 10, Stamped: 10, Stalls: 1, Polls: 4, Seconds: 9.5},
		{Alive: 1, Sent: 2, Deliveries: 5, Stamped: 4, Errors: 1, Seconds: 10, FirstErr: "x"},
	})
	if d.Alive != 3 || d.Sent != 5 || d.Deliveries != 15 || d.Stamped != 14 || d.Stalls != 1 || d.Polls != 4 || d.Errors != 1 || d.Seconds != 10 || d.FirstErr != "x" || lat == nil {
		t.Fatalf("%+v", d)
	}
}
