package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/procfs"
	"github.com/allspark/allspark/bench/harness/internal/redisinfo"
	"github.com/allspark/allspark/bench/harness/internal/result"
)

// clusterServers take part in the cluster scenario: several processes of one
// server, each on its own port, joined by one broker.
var clusterServers = []string{"allspark", "centrifuge", "socketio"}

// clusterBrokers are the brokers the cluster scenario can run on.
var clusterBrokers = []string{"redis"}

// brokerProc is the dedicated broker of one cluster measurement: a
// redis-server of its own on a free loopback port, without persistence, so
// its counters and CPU are this measurement's alone (never the shared Redis
// on 6379).
type brokerProc struct {
	kind string
	addr string
	cmd  *exec.Cmd
}

// startBroker starts a dedicated broker and waits until it answers.
// Its log (startup banner, warnings) goes to logw.
func startBroker(ctx context.Context, kind string, logw io.Writer) (*brokerProc, error) {
	if kind != "redis" {
		return nil, fmt.Errorf("unknown broker %q (have %s)", kind, strings.Join(clusterBrokers, ", "))
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("cluster scenario: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	b := &brokerProc{kind: kind, addr: "127.0.0.1:" + strconv.Itoa(port)}
	b.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning")
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	b.cmd.Stdout = &prefixWriter{prefix: "[redis] ", w: logw}
	b.cmd.Stderr = b.cmd.Stdout
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	end := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := redisinfo.Ping(pctx, b.addr)
		cancel()
		if err == nil {
			return b, nil
		}
		if time.Now().After(end) || ctx.Err() != nil {
			b.stop()
			return nil, fmt.Errorf("%w: redis-server on %s: %v", errNotReady, b.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// url is the broker's address as the allspark peer's -broker flag takes it.
func (b *brokerProc) url() string { return b.kind + "://" + b.addr }

func (b *brokerProc) stop() {
	if b.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// brokerSample is the broker's state at one moment.
type brokerSample struct {
	proc procfs.Sample
	info redisinfo.Info
}

func (b *brokerProc) sample(ctx context.Context) (brokerSample, error) {
	s := brokerSample{proc: procfs.Measure([]int{b.cmd.Process.Pid})}
	var err error
	s.info, err = redisinfo.Fetch(ctx, b.addr)
	return s, err
}

// addBrokerCost adds what the broker spent over [s0, s1] to l, per
// publication: CPU (INFO cpu: every thread, user and system, µs resolution;
// per 1,000 publications), commands processed, socket reads (each a round
// trip from some client: pipelined commands share one) and writes, and
// bytes in and out; and commands per second, which shows the broker's
// background traffic (pings, heartbeats) beside the publications. The
// harness's own INFO (one command, one read, one write) is taken out.
func addBrokerCost(l *result.Line, s0, s1 brokerSample, window time.Duration, published int64) {
	pub := float64(max(published, 1))
	cpu := s1.info.CPU() - s0.info.CPU()
	delta := func(key string) float64 { return float64(s1.info.Int(key) - s0.info.Int(key)) }
	cmds := delta("total_commands_processed") - 1
	l.Float("broker_cpu_pct", float64(cpu)/float64(window)*100, 1)
	l.Float("broker_cpu_ms_per_1k_pub", float64(cpu)/float64(time.Millisecond)/pub*1000, 2)
	l.Float("broker_cmds_per_pub", cmds/pub, 3)
	l.Float("broker_reads_per_pub", (delta("total_reads_processed")-1)/pub, 3)
	l.Float("broker_writes_per_pub", (delta("total_writes_processed")-1)/pub, 3)
	l.Float("broker_in_b_per_pub", delta("total_net_input_bytes")/pub, 0)
	l.Float("broker_out_b_per_pub", delta("total_net_output_bytes")/pub, 0)
	l.Float("broker_cmds_per_s", cmds/window.Seconds(), 0)
	l.Float("broker_rss_mb", float64(s1.proc.RSSKB)/1024, 1)
	l.Str("broker_cmds", topCommands(s0.info, s1.info, pub, 4))
}

// topCommands names the n commands the broker ran most over the window with
// their calls per publication ("publish:1.00,ping:0.01"), the harness's INFO
// left out.
func topCommands(s0, s1 redisinfo.Info, pub float64, n int) string {
	type count struct {
		name  string
		calls int64
	}
	before := s0.Commands()
	var cs []count
	for name, calls := range s1.Commands() {
		if d := calls - before[name]; d > 0 && name != "info" {
			cs = append(cs, count{name, d})
		}
	}
	slices.SortFunc(cs, func(a, b count) int {
		return cmp.Or(cmp.Compare(b.calls, a.calls), strings.Compare(a.name, b.name))
	})
	var parts []string
	for _, c := range cs[:min(n, len(cs))] {
		parts = append(parts, fmt.Sprintf("%s:%.2f", c.name, float64(c.calls)/pub))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// clusterCommands returns one process per node of server kind, node i on
// ports[i], all on broker b; with pprof set, the first allspark node serves
// its profiles there.
func (bn *binaries) clusterCommands(kind string, ports []int, b *brokerProc, pprof string) ([]*exec.Cmd, error) {
	var out []*exec.Cmd
	for i, port := range ports {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		switch kind {
		case "allspark":
			args := []string{"-addr", addr, "-broker", b.url()}
			if pprof != "" && i == 0 {
				args = append(args, "-pprof", pprof)
			}
			out = append(out, exec.Command(filepath.Join(bn.dir, "srv-allspark"), args...))
		case "centrifuge":
			if b.kind != "redis" {
				return nil, fmt.Errorf("centrifuge peer: no %s broker", b.kind)
			}
			out = append(out, exec.Command(filepath.Join(bn.dir, "srv-centrifuge"), "-addr", addr, "-redis", b.addr))
		case "socketio":
			if b.kind != "redis" {
				return nil, fmt.Errorf("socketio peer: no %s adapter", b.kind)
			}
			// Separate processes on separate ports (not a Node cluster): what
			// the Redis adapter is for.
			cmd := exec.Command("node", filepath.Join(bn.harness, "node", "socketio-server.js"), strconv.Itoa(port), "1")
			cmd.Dir = bn.root
			cmd.Env = append(os.Environ(), "REDIS_URL=redis://"+b.addr)
			out = append(out, cmd)
		default:
			return nil, fmt.Errorf("server %q has no cluster mode", kind)
		}
	}
	return out, nil
}

// startCluster starts nodes processes of kind, each on its own port, joined
// by broker b, and waits until every one is ready.
func (bn *binaries) startCluster(ctx context.Context, kind string, nodes int, b *brokerProc, pprof string) (*server, error) {
	if nodes < 1 {
		return nil, errors.New("cluster: no nodes")
	}
	ports := make([]int, 0, nodes)
	for len(ports) < nodes {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	cmds, err := bn.clusterCommands(kind, ports, b, pprof)
	if err != nil {
		return nil, err
	}
	s := &server{kind: kind, pprof: pprof}
	for _, p := range ports {
		s.addrs = append(s.addrs, "127.0.0.1:"+strconv.Itoa(p))
	}
	s.addr = s.addrs[0]
	return s, s.launch(ctx, cmds)
}
