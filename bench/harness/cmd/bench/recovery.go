package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/hist"
	"github.com/allspark/allspark/bench/harness/internal/load"
	"github.com/allspark/allspark/bench/harness/internal/procfs"
	"github.com/allspark/allspark/bench/harness/internal/result"
)

// historyFanout is fanout against srv-allspark with the members asking for
// sessions, once with history on the room and once without, on the memory
// broker and on a dedicated Redis (issue 16: what history costs a
// fan-out).
const historyFanout = "history-fanout"

// reconnectPerWorker bounds the members of one load process in the
// reconnect scenario, so the storm's dials come from several processes
// (and several source addresses) at once.
const reconnectPerWorker = 5000

// historyServerArgs returns srv-allspark's arguments for a history-fanout
// step, starting its dedicated Redis when the step runs on one.
func (h *harness) historyServerArgs(ctx context.Context, st step, l *result.Line) (*brokerProc, []string, error) {
	l.Str("broker", st.broker).Int("history", int64(st.history))
	var extra []string
	if st.history > 0 {
		extra = append(extra, "-history", strconv.Itoa(st.history))
	}
	if st.broker != "redis" {
		return nil, extra, nil
	}
	brk, err := startBroker(ctx, "redis", h.brokerLog())
	if err != nil {
		return nil, nil, err
	}
	return brk, append(extra, "-broker", brk.url()), nil
}

func (h *harness) brokerLog() io.Writer {
	if h.o.verbose {
		return os.Stderr
	}
	return io.Discard
}

// historyRatios compares, per broker, history-fanout with history on and
// off: "RATIO scenario=history-fanout n=… broker=… metric=… better=… on=…
// off=… on/off=…".
func historyRatios(lines []result.Line) []string {
	metrics := []result.Metric{{Key: "deliveries_per_s", HigherBetter: true}, {Key: "deliveries_per_cpu_s", HigherBetter: true}, {Key: "p50_ms"}, {Key: "p99_ms"}, {Key: "cpu_pct"}, {Key: "rss_mb"}}
	type key struct{ n, broker string }
	on, off := map[key]result.Line{}, map[key]result.Line{}
	var order []key
	for _, l := range lines {
		if sc, _ := l.Get("scenario"); sc != historyFanout {
			continue
		}
		n, _ := l.Get("n")
		b, _ := l.Get("broker")
		k := key{n, b}
		if hs, _ := l.Get("history"); hs == "0" {
			off[k] = l
		} else {
			on[k] = l
		}
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	var out []string
	for _, k := range order {
		a, okA := on[k]
		b, okB := off[k]
		if !okA || !okB {
			continue
		}
		for _, m := range metrics {
			dir := "lower"
			if m.HigherBetter {
				dir = "higher"
			}
			out = append(out, fmt.Sprintf("RATIO scenario=%s n=%s broker=%s metric=%s better=%s on=%s off=%s on/off=%s",
				historyFanout, k.n, k.broker, m.Key, dir, fmtNum(a.Num(m.Key)), fmtNum(b.Num(m.Key)), fmtNum(a.Num(m.Key)/b.Num(m.Key))))
		}
	}
	return out
}

func fmtNum(v float64) string {
	var l result.Line
	l.Float("v", v, 2)
	s, _ := l.Get("v")
	return s
}

// measureReconnect runs one reconnect step: a dedicated Redis, the node
// under test and a publisher's node (srv-allspark on that Redis, history on
// every room), members connected to the first; after the warm-up the first
// node is stopped (SIGTERM: a graceful Shutdown with Reconnect; SIGKILL)
// and a new process started on its port. Measured from the new process's
// READY until every member is caught up: the new node's CPU and RSS, the
// broker's CPU and commands, the whole machine's CPU.
func (h *harness) measureReconnect(ctx context.Context, st step, l *result.Line) error {
	l.Str("signal", st.signal).Str("broker", "redis").Int("history", int64(st.history)).Int("rooms", int64(st.cfg.Rooms)).Float("rate", st.cfg.Rate, 0)
	brk, err := startBroker(ctx, "redis", h.brokerLog())
	if err != nil {
		return err
	}
	defer brk.stop()
	burl := brk.url()
	if h.o.brokerWriteTimeout > 0 {
		// broker/redis's bound on each history and session call (its
		// default, 1 s, applies when the caller's context allows more).
		burl += "?write_timeout=" + h.o.brokerWriteTimeout.String()
		l.Str("write_timeout", h.o.brokerWriteTimeout.String())
	}
	args := []string{"-broker", burl, "-history", strconv.Itoa(st.history)}
	if h.o.recoveryTimeout > 0 {
		args = append(args, "-recovery-timeout", h.o.recoveryTimeout.String())
		l.Str("recovery_timeout", h.o.recoveryTimeout.String())
	}
	if st.signal == "term" {
		args = append(args, "-shutdown-reconnect")
	}
	h.logf("reconnect n=%d %s: starting two nodes on %s", st.n, st.signal, brk.url())
	pub, err := h.bins.start(ctx, "allspark", 1, "", args...)
	if err != nil {
		return err
	}
	defer pub.stop()
	node, err := h.bins.start(ctx, "allspark", 1, "", args...)
	if err != nil {
		return err
	}
	defer func() { node.stop() }()
	port, err := strconv.Atoi(node.addr[strings.LastIndexByte(node.addr, ':')+1:])
	if err != nil {
		return err
	}

	per := min(h.o.perWorker, reconnectPerWorker)
	nworkers := (st.n + per - 1) / per
	readyLimit := 90 * time.Second
	recoverLimit := load.DefaultRecoverTimeout
	if h.o.short {
		recoverLimit = 15 * time.Second
	}
	var workers []*workerProc
	defer func() {
		for _, w := range workers {
			w.finish()
		}
	}()
	for k := range nworkers {
		cfg := st.cfg
		cfg.Server, cfg.Addr, cfg.Addrs = "allspark", node.addr, []string{node.addr, pub.addr}
		cfg.Offset = k * st.n / nworkers
		cfg.N = (k+1)*st.n/nworkers - cfg.Offset
		cfg.Sources = sources(k)
		cfg.ReadyTimeout = readyLimit
		cfg.RecoverTimeout = recoverLimit
		w, err := h.startWorker(cfg, readyLimit+st.cfg.Warmup+recoverLimit+2*time.Minute)
		if err != nil {
			return err
		}
		workers = append(workers, w)
	}
	conns := make([]load.Connected, len(workers))
	if err := eachWorker(workers, func(i int, w *workerProc) error {
		return w.expect(ctx, "CONNECTED", &conns[i], readyLimit+30*time.Second)
	}); err != nil {
		return err
	}
	var ready int
	var connectS float64
	for _, c := range conns {
		ready += c.Ready
		connectS = max(connectS, c.Seconds)
		if c.FirstErr != "" {
			l.Str("first_err", c.FirstErr)
		}
	}
	l.Int("ready", int64(ready)).Float("connect_s", connectS, 2)
	if ready < st.n {
		return fmt.Errorf("%d of %d members ready", ready, st.n)
	}
	sendGo(workers)
	time.Sleep(st.cfg.Warmup)

	// The restart: stop the node, then a new process on its port.
	stopStart := time.Now()
	killed, err := stopNode(node, st.signal)
	if err != nil {
		return err
	}
	if killed {
		l.Str("killed_after_grace", stopGrace.String())
	}
	stopped := time.Now()
	h.logf("reconnect: node stopped (%s) in %v; restarting on port %d", st.signal, stopped.Sub(stopStart), port)
	pprof := ""
	if h.o.profile != "" {
		if p, err := freePort(); err == nil {
			pprof = fmt.Sprintf("127.0.0.1:%d", p)
		}
	}
	node, err = h.bins.startAt(ctx, "allspark", port, 1, pprof, args...)
	if err != nil {
		node = &server{}
		return fmt.Errorf("restart: %w", err)
	}
	listen := time.Now()
	var prof sync.WaitGroup
	if pprof != "" {
		// The new node's CPU over the storm's first 10 s.
		prof.Go(func() {
			h.fetchProfile(node, "/debug/pprof/profile?seconds=10", fmt.Sprintf("cpu-reconnect-%s-%d.pb.gz", st.signal, st.n))
		})
		defer prof.Wait()
	}
	for _, w := range workers {
		_, _ = fmt.Fprintf(w.stdin, "listen %d\n", listen.UnixNano())
	}
	pids := procfs.Tree(node.pids()...)
	s0 := procfs.Measure(pids)
	b0, brkErr := brk.sample(ctx)
	m0, _ := procfs.ReadMachine()

	caught := make([]load.CaughtUp, len(workers))
	if err := eachWorker(workers, func(i int, w *workerProc) error {
		return w.expect(ctx, "CAUGHTUP", &caught[i], recoverLimit+30*time.Second)
	}); err != nil {
		return err
	}
	t1 := time.Now()
	s1 := procfs.Measure(pids)
	m1, _ := procfs.ReadMachine()
	var b1 brokerSample
	if brkErr == nil {
		b1, brkErr = brk.sample(ctx)
	}
	for _, w := range workers {
		_, _ = io.WriteString(w.stdin, "stop\n")
	}
	dones := make([]load.Done, len(workers))
	if err := eachWorker(workers, func(i int, w *workerProc) error {
		return w.expect(ctx, "DONE", &dones[i], time.Minute)
	}); err != nil {
		return err
	}
	var reps []load.ReconnectReport
	for _, d := range dones {
		if d.Reconnect == nil {
			return errors.New("reconnect worker reported nothing")
		}
		reps = append(reps, *d.Reconnect)
	}
	window := t1.Sub(listen)
	addReconnectFigures(l, mergeReconnect(reps), listen, stopped.Sub(stopStart))
	cpu := float64(s1.CPU-s0.CPU) / float64(window) * 100
	l.Float("window_s", window.Seconds(), 3)
	l.Float("cpu_pct", cpu, 0).Float("cpu_s", (s1.CPU-s0.CPU).Seconds(), 2).Float("rss_mb", float64(s1.RSSKB)/1024, 1)
	if m1.Total > m0.Total {
		l.Float("machine_cpu_pct", float64(m1.Busy-m0.Busy)/float64(window)*100, 0)
	}
	if brkErr != nil {
		l.Str("broker_err", brkErr.Error())
	} else {
		addStormBrokerCost(l, b0, b1, window, st.n)
	}
	if got, _ := l.Get("caught_up"); got == "0" {
		return errors.New("no member recovered")
	}
	return nil
}

// stopGrace is how long a node stopped with SIGTERM may take before it is
// killed, as a process manager would (Kubernetes' default grace period).
const stopGrace = 30 * time.Second

// stopNode stops a node the way the step says: SIGTERM (srv-allspark then
// ends every spark for a reconnect and exits) or SIGKILL, and waits for the
// process to be gone (SIGKILL after stopGrace of a SIGTERM; the step's
// killed_after_grace says so).
func stopNode(s *server, signal string) (killed bool, err error) {
	if len(s.cmds) != 1 || s.cmds[0].Process == nil {
		return false, errors.New("reconnect: the node is not one running process")
	}
	cmd := s.cmds[0]
	sig := syscall.SIGTERM
	if signal == "kill" {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(cmd.Process.Pid, sig); err != nil {
		return false, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		killed = true
	}
	for _, in := range s.stdin {
		_ = in.Close()
	}
	s.cmds, s.stdin = nil, nil
	return killed, nil
}

// mergeReconnect sums the workers' reports: counts add up, times take the
// extreme, latency histograms merge.
func mergeReconnect(reps []load.ReconnectReport) (m load.ReconnectReport) {
	m.NotRecovered = map[string]int{}
	m.MinBefore = -1
	var back, done hist.Histogram
	for _, r := range reps {
		m.Members += r.Members
		m.Cut += r.Cut
		m.Back += r.Back
		m.Recovered += r.Recovered
		m.Restored += r.Restored
		m.CaughtUp += r.CaughtUp
		m.Gaps += r.Gaps
		m.Duplicates += r.Duplicates
		m.DupsFirst += r.DupsFirst
		if m.FirstDup == "" {
			m.FirstDup = r.FirstDup
		}
		m.Replayed += r.Replayed
		m.Dials += r.Dials
		m.DialErrors += r.DialErrors
		m.Published += r.Published
		m.PubErrors += r.PubErrors
		m.TimedOut = m.TimedOut || r.TimedOut
		if m.MinBefore < 0 || r.MinBefore < m.MinBefore {
			m.MinBefore = r.MinBefore
		}
		if r.FirstCutNS > 0 && (m.FirstCutNS == 0 || r.FirstCutNS < m.FirstCutNS) {
			m.FirstCutNS = r.FirstCutNS
		}
		m.LastBackNS = max(m.LastBackNS, r.LastBackNS)
		m.LastDoneNS = max(m.LastDoneNS, r.LastDoneNS)
		for k, v := range r.NotRecovered {
			m.NotRecovered[k] += v
		}
		if m.FirstErr == "" {
			m.FirstErr = r.FirstErr
		}
		back.AddBuckets(r.BackLatency)
		done.AddBuckets(r.DoneLatency)
	}
	m.BackLatency, m.DoneLatency = back.Buckets(), done.Buckets()
	return m
}

// addReconnectFigures adds the storm's figures, times from the new node's
// READY (listen).
func addReconnectFigures(l *result.Line, r load.ReconnectReport, listen time.Time, stopTook time.Duration) {
	since := func(ns int64) float64 {
		if ns == 0 {
			return 0
		}
		return float64(ns-listen.UnixNano()) / 1e9
	}
	var back, done hist.Histogram
	back.AddBuckets(r.BackLatency)
	done.AddBuckets(r.DoneLatency)
	ms := func(h *hist.Histogram, q float64) float64 { return float64(h.Quantile(q)) / 1e6 }
	l.Int("members", int64(r.Members)).Int("min_before", r.MinBefore).Int("cut", int64(r.Cut))
	l.Float("stop_s", stopTook.Seconds(), 3)
	if r.FirstCutNS > 0 {
		l.Float("down_s", -since(r.FirstCutNS), 3) // first cut → the new node's READY
	}
	l.Int("back", int64(r.Back)).Int("recovered", int64(r.Recovered)).Int("restored", int64(r.Restored)).Int("caught_up", int64(r.CaughtUp))
	l.Int("not_recovered", int64(r.Members-r.CaughtUp)).Str("reasons", reasons(r.NotRecovered))
	l.Float("all_back_s", since(r.LastBackNS), 3).Float("all_recovered_s", since(r.LastDoneNS), 3)
	l.Float("back_p50_ms", ms(&back, 0.5), 1).Float("back_p99_ms", ms(&back, 0.99), 1)
	l.Float("recovered_p50_ms", ms(&done, 0.5), 1).Float("recovered_p99_ms", ms(&done, 0.99), 1)
	if s := since(r.LastBackNS); s > 0 {
		l.Float("connects_per_s", float64(r.Back)/s, 0)
	}
	l.Int("replayed", r.Replayed).Float("replayed_per_member", float64(r.Replayed)/float64(max(r.CaughtUp, 1)), 1)
	l.Int("gaps", r.Gaps).Int("duplicates", r.Duplicates).Int("dups_first_conn", r.DupsFirst)
	if r.FirstDup != "" {
		l.Str("first_dup", r.FirstDup)
	}
	l.Int("dials", r.Dials).Int("dial_errors", r.DialErrors).Int("published", r.Published).Int("pub_errors", r.PubErrors)
	if r.TimedOut {
		l.Str("timed_out", "yes")
	}
	if r.FirstErr != "" {
		l.Str("first_dial_err", r.FirstErr)
	}
}

// reasons renders the not-recovered counts, "expired:3,never_back:1" ("-"
// when every member recovered).
func reasons(m map[string]int) string {
	var ks []string
	for k, v := range m {
		if v > 0 {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, k+":"+strconv.Itoa(m[k]))
	}
	return strings.Join(parts, ",")
}

// addStormBrokerCost adds what Redis did during the storm: its CPU, its
// commands (all, per second, per member) and the top commands per member.
// The harness's own INFO (one command) is taken out.
func addStormBrokerCost(l *result.Line, s0, s1 brokerSample, window time.Duration, members int) {
	cpu := s1.cpu() - s0.cpu()
	cmds := float64(s1.info.Int("total_commands_processed")-s0.info.Int("total_commands_processed")) - 1
	l.Float("broker_cpu_pct", float64(cpu)/float64(window)*100, 0).Float("broker_cpu_ms", float64(cpu)/float64(time.Millisecond), 1)
	l.Float("broker_cmds", cmds, 0).Float("broker_cmds_per_s", cmds/window.Seconds(), 0).Float("broker_cmds_per_member", cmds/float64(max(members, 1)), 2)
	l.Str("broker_cmds_top", topCommands(s0.info, s1.info, float64(max(members, 1)), 6))
	l.Float("broker_rss_mb", float64(s1.proc.RSSKB)/1024, 1)
}
