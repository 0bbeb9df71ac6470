package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/hist"
	"github.com/allspark/allspark/bench/harness/internal/load"
	"github.com/allspark/allspark/bench/harness/internal/procfs"
	"github.com/allspark/allspark/bench/harness/internal/result"
)

type harness struct {
	o     options
	bins  binaries
	out   io.Writer
	file  *os.File
	lines []result.Line
	self  string
}

func newHarness(ctx context.Context, o options, stdout io.Writer) (*harness, error) {
	root, err := locateRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "allspark-bench-")
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	h := &harness{o: o, out: stdout, self: self, bins: binaries{root: root, harness: filepath.Join(root, "bench", "harness"), dir: dir}}
	if o.out != "" {
		if h.file, err = os.OpenFile(o.out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return nil, err
		}
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return nil, err
		}
	}
	h.logf("building servers into %s", dir)
	if err := h.bins.build(ctx, needsNode(o)); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return h, nil
}

// needsNode reports whether the run may start a Node process: a Node
// server is measured, or a scenario other than idle, echo, fanout and storm
// is asked for (the cluster and recovery scenarios have Node peers and
// helpers of their own), so only a Go-only run of the basic scenarios
// skips the node_modules check.
func needsNode(o options) bool {
	for _, s := range splitList(o.servers) {
		if slices.Contains(nodeServers, s) {
			return true
		}
	}
	for _, sc := range splitList(o.scenarios) {
		if sc != load.Idle && sc != load.Echo && sc != load.Fanout && sc != load.Storm {
			return true
		}
	}
	return false
}

func (h *harness) cleanup() {
	os.RemoveAll(h.bins.dir)
	if h.file != nil {
		h.file.Close()
	}
}

func (h *harness) logf(format string, args ...any) {
	if h.o.verbose {
		fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	}
}

func (h *harness) emit(s string) {
	fmt.Fprintln(h.out, s)
	if h.file != nil {
		fmt.Fprintln(h.file, s)
	}
}

// ratioMetrics are the figures compared between Allspark and each peer.
var ratioMetrics = map[string][]result.Metric{
	load.Idle:       {{Key: "kb_per_conn"}, {Key: "connects_per_s", HigherBetter: true}},
	load.Echo:       {{Key: "p50_ms"}, {Key: "p99_ms"}, {Key: "cpu_pct"}},
	load.Fanout:     {{Key: "deliveries_per_s", HigherBetter: true}, {Key: "deliveries_per_cpu_s", HigherBetter: true}, {Key: "p50_ms"}, {Key: "p99_ms"}},
	load.Storm:      {{Key: "deliveries_per_s", HigherBetter: true}, {Key: "deliveries_per_cpu_s", HigherBetter: true}, {Key: "p50_ms"}, {Key: "p99_ms"}},
	load.PollFanout: {{Key: "deliveries_per_s", HigherBetter: true}, {Key: "p50_ms"}, {Key: "p99_ms"}, {Key: "rss_mb"}},
	load.SSEFanout:  {{Key: "kb_per_conn"}, {Key: "deliveries_per_s", HigherBetter: true}, {Key: "p50_ms"}, {Key: "p99_ms"}},
	load.Cluster: {{Key: "deliveries_per_s", HigherBetter: true}, {Key: "deliveries_per_cpu_s", HigherBetter: true}, {Key: "deliveries_per_total_cpu_s", HigherBetter: true},
		{Key: "p50_ms"}, {Key: "p99_ms"}, {Key: "broker_cpu_ms_per_1k_pub"}, {Key: "broker_cmds_per_pub"}, {Key: "broker_reads_per_pub"}},
}

// errSkip marks a measurement that does not apply to the server (poll-fanout
// against a server without long-polling): reported, not a failure.
var errSkip = errors.New("skipped")

// runPlan measures every step and prints the ratios; it returns the number
// of failed steps.
func (h *harness) runPlan(ctx context.Context, plan []step) int {
	failures := 0
	// Steps of one scenario and size are measured round-robin, one round of
	// every server before the next round, so anything else happening on the
	// machine during the run spreads over all servers instead of hitting one.
	for _, group := range groupSteps(plan) {
		rounds := 1
		if group[0].scenario != load.Idle && h.o.rounds > 1 {
			rounds = h.o.rounds
		}
		got := make([][]result.Line, len(group))
		skipped := make([]bool, len(group))
		for r := range rounds {
			for i, st := range group {
				if ctx.Err() != nil {
					return failures + 1
				}
				if skipped[i] {
					continue
				}
				l, err := h.measure(ctx, st)
				if errors.Is(err, errSkip) {
					skipped[i] = true
					h.emit(fmt.Sprintf("SKIP scenario=%s server=%s n=%d reason=%q", st.scenario, st.server, st.n, err.Error()))
					continue
				}
				if err != nil {
					failures++
					l.Str("error", err.Error())
				}
				if rounds > 1 {
					l.Int("round", int64(r+1))
				}
				got[i] = append(got[i], l)
				h.emit(l.String())
			}
		}
		for i := range group {
			if skipped[i] {
				continue
			}
			if rounds > 1 {
				m := result.Median(got[i])
				m.Str("round", "median")
				h.emit(m.String())
				h.lines = append(h.lines, m)
			} else {
				h.lines = append(h.lines, got[i][0])
			}
		}
	}
	for _, r := range result.Ratios(h.lines, "allspark", ratioMetrics) {
		h.emit(r)
	}
	for _, r := range sioRatios(h.lines) {
		h.emit(r)
	}
	for _, r := range historyRatios(h.lines) {
		h.emit(r)
	}
	return failures
}

// sioRatios compares Allspark's Socket.IO server with the Socket.IO peers
// only (the other servers speak other protocols).
func sioRatios(lines []result.Line) []string {
	var sio []result.Line
	for _, l := range lines {
		if s, _ := l.Get("server"); slices.Contains(sioServers, s) {
			sio = append(sio, l)
		}
	}
	return result.Ratios(sio, "allspark-sio", ratioMetrics)
}

// groupSteps splits the plan into runs of consecutive steps with the same
// scenario and size, keeping the order.
func groupSteps(plan []step) [][]step {
	var out [][]step
	for _, st := range plan {
		if n := len(out); n > 0 && out[n-1][0].scenario == st.scenario && out[n-1][0].n == st.n {
			out[n-1] = append(out[n-1], st)
			continue
		}
		out = append(out, []step{st})
	}
	return out
}

// workerProc is a running load-generator worker.
type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func (h *harness) startWorker(cfg load.Config, limit time.Duration) (*workerProc, error) {
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(h.self, "worker", "-config", string(js), "-deadline", limit.String())
	cmd.Stderr = &prefixWriter{prefix: "[worker] ", w: os.Stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the harness
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &workerProc{cmd: cmd, stdin: in, lines: make(chan string, 4)}
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<16), 16<<20)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
	}()
	return w, nil
}

// expect waits for a line tagged tag and decodes its JSON into v.
func (w *workerProc) expect(ctx context.Context, tag string, v any, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				return fmt.Errorf("worker exited before %s", tag)
			}
			rest, found := strings.CutPrefix(l, tag+" ")
			if !found {
				continue
			}
			return json.Unmarshal([]byte(rest), v)
		case <-t.C:
			return fmt.Errorf("no %s from worker within %v", tag, limit)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *workerProc) finish() {
	_ = w.stdin.Close()
	done := make(chan struct{})
	go func() { _ = w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
	}
}

// sources gives worker k its own pair of loopback source addresses, so no
// (source, destination) pair needs more than ~10k ephemeral ports.
func sources(k int) []string {
	return []string{fmt.Sprintf("127.0.0.%d", 2+2*k), fmt.Sprintf("127.0.0.%d", 3+2*k)}
}

func (h *harness) measure(ctx context.Context, st step) (result.Line, error) {
	var l result.Line
	l.Str("scenario", st.scenario).Str("server", st.server).Int("n", int64(st.n))
	if st.scenario == load.Reconnect {
		return l, h.measureReconnect(ctx, st, &l)
	}
	procs := (st.n + h.o.perServer - 1) / h.o.perServer
	if st.server == "allspark-cli" {
		procs = 1
	}
	if st.scenario == load.Cluster {
		procs = st.nodes
	}
	l.Int("procs", int64(procs))
	pprof := ""
	// A cluster profiles its first node (every node does the same work).
	if h.o.profile != "" && strings.HasPrefix(st.server, "allspark") && (procs == 1 || st.scenario == load.Cluster) {
		if p, err := freePort(); err == nil {
			pprof = fmt.Sprintf("127.0.0.1:%d", p)
		}
	}
	var brk *brokerProc
	var srv *server
	var err error
	if st.scenario == load.Cluster {
		// A dedicated broker per measurement: its counters are this run's.
		l.Str("broker", st.broker).Int("publishers", int64(st.cfg.Publishers))
		logw := io.Discard
		if h.o.verbose {
			logw = os.Stderr
		}
		if brk, err = startBroker(ctx, st.broker, logw); err != nil {
			return l, err
		}
		defer brk.stop()
		h.logf("%s n=%d: starting %s (%d nodes on %s)", st.scenario, st.n, st.server, procs, brk.url())
		srv, err = h.bins.startCluster(ctx, st.server, procs, brk, pprof)
	} else if st.scenario == historyFanout {
		var extra []string
		if brk, extra, err = h.historyServerArgs(ctx, st, &l); err != nil {
			return l, err
		}
		if brk != nil {
			defer brk.stop()
		}
		h.logf("%s n=%d: starting %s %s", st.scenario, st.n, st.server, strings.Join(extra, " "))
		srv, err = h.bins.start(ctx, st.server, procs, pprof, extra...)
	} else {
		h.logf("%s n=%d: starting %s (%d process(es))", st.scenario, st.n, st.server, procs)
		srv, err = h.bins.start(ctx, st.server, procs, pprof)
	}
	if err != nil {
		return l, err
	}
	defer srv.stop()
	time.Sleep(time.Second)
	pids := procfs.Tree(srv.pids()...)
	base := procfs.Measure(pids)
	var kbase *procfs.Kernel
	if st.scenario == load.Idle {
		if k, err := procfs.ReadKernel(); err == nil {
			kbase = &k
		} else {
			h.logf("kernel cost not measured: %v", err)
		}
	}
	if slices.Contains(sioServers, st.server) {
		if err := load.ProbeSocketIO(ctx, srv.addr); errors.Is(err, load.ErrNoSocketIO) {
			return l, fmt.Errorf("%w: %v", errSkip, err)
		} else if err != nil {
			return l, fmt.Errorf("socket.io probe: %w", err)
		}
	}
	if st.scenario == load.PollFanout {
		if err := load.ProbePolling(ctx, srv.addr); errors.Is(err, load.ErrNoPolling) {
			return l, fmt.Errorf("%w: %v", errSkip, err)
		} else if err != nil {
			return l, fmt.Errorf("polling handshake: %w", err)
		}
	}

	nworkers := (st.n + h.o.perWorker - 1) / h.o.perWorker
	readyLimit := 90 * time.Second
	runLimit := readyLimit + st.cfg.Warmup + st.cfg.Duration + time.Minute
	var workers []*workerProc
	defer func() {
		for _, w := range workers {
			w.finish()
		}
	}()
	for k := range nworkers {
		cfg := st.cfg
		cfg.Server, cfg.Addr = st.server, srv.addr
		if len(srv.addrs) > 1 {
			cfg.Addrs = srv.addrs
		}
		cfg.Offset = k * st.n / nworkers
		cfg.N = (k+1)*st.n/nworkers - cfg.Offset
		cfg.Sources = sources(k)
		cfg.ReadyTimeout = readyLimit
		w, err := h.startWorker(cfg, runLimit)
		if err != nil {
			return l, err
		}
		workers = append(workers, w)
	}
	conns := make([]load.Connected, len(workers))
	if err := eachWorker(workers, func(i int, w *workerProc) error {
		return w.expect(ctx, "CONNECTED", &conns[i], readyLimit+30*time.Second)
	}); err != nil {
		return l, err
	}
	var ok, ready int
	var connectS float64
	var firstErr string
	for _, c := range conns {
		ok += c.OK
		ready += c.Ready
		connectS = max(connectS, c.Seconds)
		if firstErr == "" {
			firstErr = c.FirstErr
		}
	}
	l.Int("ok", int64(ok)).Int("ready", int64(ready))
	if firstErr != "" {
		l.Str("first_err", firstErr)
	}
	pids = procfs.Tree(srv.pids()...) // Node cluster workers, all present now

	if st.scenario == load.Idle {
		return l, h.finishIdle(ctx, st, srv, workers, &l, base, kbase, pids, ok, connectS)
	}
	if st.scenario == load.SSEFanout {
		// What the open streams cost, before any message: compare with the
		// WebSocket idle scenario's kb_per_conn at the same n.
		time.Sleep(h.o.settle)
		after := procfs.Measure(pids)
		l.Float("connect_s", connectS, 2).Float("connects_per_s", float64(ok)/connectS, 0)
		l.Float("rss_idle_mb", float64(after.RSSKB)/1024, 1)
		l.Float("kb_per_conn", float64(after.RSSKB-base.RSSKB)/float64(max(ok, 1)), 2)
	}
	return l, h.finishLoad(ctx, st, srv, brk, workers, &l, pids)
}

func eachWorker(ws []*workerProc, fn func(int, *workerProc) error) error {
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { errs[i] = fn(i, w) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func sendGo(ws []*workerProc) {
	for _, w := range ws {
		_, _ = io.WriteString(w.stdin, "go\n")
	}
}

func (h *harness) finishIdle(ctx context.Context, st step, srv *server, ws []*workerProc, l *result.Line, base procfs.Sample, kbase *procfs.Kernel, pids []int, ok int, connectS float64) error {
	time.Sleep(h.o.settle)
	after := procfs.Measure(pids)
	var kd *procfs.KernelDelta
	if kbase != nil {
		if k1, err := procfs.ReadKernel(); err == nil {
			d := procfs.Delta(*kbase, k1, ok, os.Getpagesize())
			kd = &d
		}
	}
	if srv.pprof != "" {
		h.fetchProfile(srv, "/debug/pprof/heap", fmt.Sprintf("heap-idle-%d.pb.gz", st.n))
		// The text form ends with runtime.MemStats (stack vs heap vs GC slack).
		h.fetchProfile(srv, "/debug/pprof/heap?debug=1", fmt.Sprintf("heap-idle-%d.txt", st.n))
		h.fetchProfile(srv, "/debug/pprof/goroutine?debug=1", fmt.Sprintf("goroutine-idle-%d.txt", st.n))
	}
	sendGo(ws)
	dones := make([]load.Done, len(ws))
	if err := eachWorker(ws, func(i int, w *workerProc) error {
		return w.expect(ctx, "DONE", &dones[i], time.Minute)
	}); err != nil {
		return err
	}
	alive := 0
	for _, d := range dones {
		alive += d.Alive
	}
	l.Int("alive", int64(alive))
	l.Int("server_procs", int64(after.Procs))
	l.Float("connect_s", connectS, 2).Float("connects_per_s", float64(ok)/connectS, 0)
	l.Float("rss_base_mb", float64(base.RSSKB)/1024, 1).Float("rss_mb", float64(after.RSSKB)/1024, 1)
	l.Float("kb_per_conn", float64(after.RSSKB-base.RSSKB)/float64(max(ok, 1)), 2)
	if kd != nil {
		// Machine-wide deltas: both ends of every loopback connection
		// (the server's socket and the load generator's) are counted,
		// and anything else the machine did meanwhile.
		l.Float("kernel_kb_per_conn", kd.BytesPerConn/1024, 2).Str("kernel_scope", "both_ends").Str("kernel_objs_per_conn", kd.Summary())
	}
	if alive == 0 {
		return errors.New("no connection stayed open")
	}
	return nil
}

func (h *harness) finishLoad(ctx context.Context, st step, srv *server, brk *brokerProc, ws []*workerProc, l *result.Line, pids []int) error {
	sendGo(ws)
	start := time.Now()
	time.Sleep(st.cfg.Warmup)
	var b0, b1 brokerSample
	var brkErr error
	if brk != nil {
		b0, brkErr = brk.sample(ctx)
	}
	m0, _ := procfs.ReadMachine()
	s0 := procfs.Measure(pids)
	t0 := time.Now()
	var prof sync.WaitGroup
	if srv.pprof != "" {
		secs := int(st.cfg.Duration.Seconds())
		prof.Go(func() {
			h.fetchProfile(srv, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), fmt.Sprintf("cpu-%s-%d.pb.gz", st.scenario, st.n))
		})
	}
	time.Sleep(time.Until(start.Add(st.cfg.Warmup + st.cfg.Duration)))
	s1 := procfs.Measure(pids)
	m1, _ := procfs.ReadMachine()
	t1 := time.Now()
	if brk != nil && brkErr == nil {
		b1, brkErr = brk.sample(ctx)
	}
	prof.Wait()

	dones := make([]load.Done, len(ws))
	if err := eachWorker(ws, func(i int, w *workerProc) error {
		return w.expect(ctx, "DONE", &dones[i], st.cfg.Duration+time.Minute)
	}); err != nil {
		return err
	}
	d, lat := sumDone(dones)
	cpu := float64(s1.CPU-s0.CPU) / float64(t1.Sub(t0)) * 100
	ms := func(q float64) float64 { return float64(lat.Quantile(q)) / 1e6 }
	switch st.scenario {
	case load.Echo:
		l.Float("rate", st.cfg.Rate, 0).Int("sent", d.Sent).Int("received", d.Deliveries)
		l.Float("msgs_per_s", float64(d.Deliveries)/d.Seconds, 0)
	default:
		if st.scenario == load.Storm {
			l.Int("rooms", int64(st.cfg.Rooms)).Int("per_conn", int64(st.cfg.PerConn)).Int("publishers", int64(st.cfg.Publishers))
		}
		if st.scenario == load.PollFanout {
			// Offered: every publisher at its rate, each message to one room
			// of n/rooms members.
			offered := st.cfg.Rate * float64(st.cfg.Publishers) * float64(st.n) / float64(st.cfg.Rooms)
			l.Int("rooms", int64(st.cfg.Rooms)).Int("publishers", int64(st.cfg.Publishers)).Float("rate", st.cfg.Rate, 0)
			l.Float("offered_per_s", offered, 0).Float("polls_per_s", float64(d.Polls)/d.Seconds, 0)
		}
		l.Int("published", d.Sent).Int("deliveries", d.Deliveries)
		l.Float("deliveries_per_s", float64(d.Deliveries)/d.Seconds, 0).Int("stalls", d.Stalls)
		// Per second of server CPU: moves less than deliveries/s when other
		// jobs on the machine take CPU from the server.
		l.Float("deliveries_per_cpu_s", float64(d.Deliveries)/d.Seconds/(cpu/100), 0)
		if st.cfg.Recover {
			// Deliveries that came stamped with their position: all of them
			// with history on, none with it off.
			l.Int("stamped", d.Stamped)
		}
		if st.scenario == load.Cluster {
			// Every member gets each publication once: ≈ n, give or take
			// the messages in flight at the window's edges.
			l.Float("deliveries_per_pub", float64(d.Deliveries)/float64(max(d.Sent, 1)), 1)
		}
	}
	if brk != nil {
		if brkErr != nil {
			l.Str("broker_err", brkErr.Error())
		} else {
			addBrokerCost(l, b0, b1, t1.Sub(t0), d.Sent)
			bcpu := float64(b1.cpu()-b0.cpu()) / float64(t1.Sub(t0)) * 100
			// Server and broker together: what the cluster spent per delivery.
			l.Float("deliveries_per_total_cpu_s", float64(d.Deliveries)/d.Seconds/((cpu+bcpu)/100), 0)
		}
	}
	l.Float("p50_ms", ms(0.50), 3).Float("p99_ms", ms(0.99), 3).Float("p999_ms", ms(0.999), 3)
	// The whole machine's busy CPU over the window (100 per core): minus
	// the server, the broker and the load generator, what other jobs took.
	if m1.Total > m0.Total {
		l.Float("machine_cpu_pct", float64(m1.Busy-m0.Busy)/float64(t1.Sub(t0))*100, 0)
	}
	l.Float("cpu_pct", cpu, 0).Float("load_cpu_pct", d.CPUSeconds/st.cfg.Duration.Seconds()*100, 0).Float("rss_mb", float64(s1.RSSKB)/1024, 1).Int("alive", int64(d.Alive)).Int("errors", d.Errors)
	if d.FirstErr != "" {
		l.Str("first_send_err", d.FirstErr)
	}
	if d.Deliveries == 0 {
		return errors.New("delivered nothing")
	}
	return nil
}

// fetchProfile saves a profile of the server under test as name; profiles of
// the other allspark kinds get a prefix (allspark-sio's "sio-",
// allspark-goroutine's "goroutine-"), so one run can profile several kinds.
func (h *harness) fetchProfile(srv *server, path, name string) {
	cl := &http.Client{Timeout: 2 * time.Minute}
	resp, err := cl.Get("http://" + srv.pprof + path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return
	}
	defer resp.Body.Close()
	if kind, ok := strings.CutPrefix(srv.kind, "allspark-"); ok {
		name = kind + "-" + name
	}
	f, err := os.Create(filepath.Join(h.o.profile, name))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// sumDone adds the workers' final reports up: counts and CPU add, the
// measured duration is the longest, latencies merge.
func sumDone(dones []load.Done) (load.Done, *hist.Histogram) {
	lat := &hist.Histogram{}
	var d load.Done
	for _, x := range dones {
		d.Alive += x.Alive
		d.Sent += x.Sent
		d.Deliveries += x.Deliveries
		d.Stalls += x.Stalls
		d.Errors += x.Errors
		d.CPUSeconds += x.CPUSeconds
		d.Polls += x.Polls
		d.Stamped += x.Stamped
		d.Seconds = max(d.Seconds, x.Seconds)
		if d.FirstErr == "" {
			d.FirstErr = x.FirstErr
		}
		lat.AddBuckets(x.Latency)
	}
	return d, lat
}
