package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
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
var clusterBrokers = []string{"redis", "nats"}

// clusterPeers lists, per broker, the servers that can run on it: the
// centrifuge and Socket.IO peers here have Redis only (centrifuge's NATS
// broker lives outside the library, Socket.IO has no NATS adapter in
// node_modules).
var clusterPeers = map[string][]string{
	"redis": clusterServers,
	"nats":  {"allspark"},
}

// brokerProc is the dedicated broker of one cluster measurement, on a free
// loopback port, so its counters and CPU are this measurement's alone (never
// the shared Redis on 6379 or NATS on 4222): a redis-server without
// persistence, or a nats-server without JetStream and with its monitoring
// endpoint (/varz) on a second port.
type brokerProc struct {
	kind    string
	addr    string
	monitor string // nats: the /varz listener
	cmd     *exec.Cmd
}

// startBroker starts a dedicated broker and waits until it answers. Its log
// (startup banner, warnings) goes to logw.
func startBroker(ctx context.Context, kind string, logw io.Writer) (*brokerProc, error) {
	var bin string
	switch kind {
	case "redis":
		bin = "redis-server"
	case "nats":
		bin = "nats-server"
	default:
		return nil, fmt.Errorf("unknown broker %q (have %s)", kind, strings.Join(clusterBrokers, ", "))
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("cluster scenario: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	b := &brokerProc{kind: kind, addr: "127.0.0.1:" + strconv.Itoa(port)}
	switch kind {
	case "redis":
		b.cmd = exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning")
	case "nats":
		mport, err := freePort()
		if err != nil {
			return nil, err
		}
		b.monitor = "127.0.0.1:" + strconv.Itoa(mport)
		b.cmd = exec.Command(path, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(mport))
	}
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	b.cmd.Stdout = &prefixWriter{prefix: "[" + kind + "] ", w: logw}
	b.cmd.Stderr = b.cmd.Stdout
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	end := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := b.sample(pctx)
		cancel()
		if err == nil {
			return b, nil
		}
		if time.Now().After(end) || ctx.Err() != nil {
			b.stop()
			return nil, fmt.Errorf("%w: %s on %s: %v", errNotReady, bin, b.addr, err)
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

// brokerSample is the broker's state at one moment: its process, and its
// own counters (INFO for Redis, /varz for NATS).
type brokerSample struct {
	proc procfs.Sample
	info redisinfo.Info
	varz *natsVarz
}

// natsVarz is what the benchmark reads from nats-server's /varz.
type natsVarz struct {
	InMsgs   int64 `json:"in_msgs"`
	OutMsgs  int64 `json:"out_msgs"`
	InBytes  int64 `json:"in_bytes"`
	OutBytes int64 `json:"out_bytes"`
}

func (b *brokerProc) sample(ctx context.Context) (brokerSample, error) {
	s := brokerSample{proc: procfs.Measure([]int{b.cmd.Process.Pid})}
	var err error
	if b.kind == "nats" {
		s.varz, err = fetchVarz(ctx, b.monitor)
	} else {
		s.info, err = redisinfo.Fetch(ctx, b.addr)
	}
	return s, err
}

// fetchVarz reads /varz (a few KiB of JSON; at most 1 MiB is read).
func fetchVarz(ctx context.Context, monitor string) (*natsVarz, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+monitor+"/varz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("nats /varz: %s", resp.Status)
	}
	var v natsVarz
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil {
		return nil, fmt.Errorf("nats /varz: %w", err)
	}
	return &v, nil
}

// cpu is the broker's CPU time: INFO cpu for Redis (every thread, user and
// system, µs resolution), /proc for NATS (10 ms ticks).
func (s brokerSample) cpu() time.Duration {
	if s.info != nil {
		return s.info.CPU()
	}
	return s.proc.CPU
}

// addBrokerCost adds what the broker spent over [s0, s1] to l, per
// publication: CPU (per 1,000 publications), commands (Redis: commands
// processed; NATS: messages in), socket reads (Redis only: each a round trip
// from some client, pipelined commands sharing one), writes (Redis: socket
// writes; NATS: messages out) and bytes in and out; and commands per
// second, which shows the broker's background traffic (pings, heartbeats)
// beside the publications. The harness's own INFO (one command, one read,
// one write) is taken out.
func addBrokerCost(l *result.Line, s0, s1 brokerSample, window time.Duration, published int64) {
	pub := float64(max(published, 1))
	cpu := s1.cpu() - s0.cpu()
	var cmds, reads, writes, in, out float64
	top := "-"
	if s0.varz != nil && s1.varz != nil {
		cmds, reads, writes = float64(s1.varz.InMsgs-s0.varz.InMsgs), math.NaN(), float64(s1.varz.OutMsgs-s0.varz.OutMsgs)
		in, out = float64(s1.varz.InBytes-s0.varz.InBytes), float64(s1.varz.OutBytes-s0.varz.OutBytes)
	} else {
		delta := func(key string) float64 { return float64(s1.info.Int(key) - s0.info.Int(key)) }
		cmds, reads, writes = delta("total_commands_processed")-1, delta("total_reads_processed")-1, delta("total_writes_processed")-1
		in, out = delta("total_net_input_bytes"), delta("total_net_output_bytes")
		top = topCommands(s0.info, s1.info, pub, 4)
	}
	l.Float("broker_cpu_pct", float64(cpu)/float64(window)*100, 1)
	l.Float("broker_cpu_ms_per_1k_pub", float64(cpu)/float64(time.Millisecond)/pub*1000, 2)
	l.Float("broker_cmds_per_pub", cmds/pub, 3)
	l.Float("broker_reads_per_pub", reads/pub, 3)
	l.Float("broker_writes_per_pub", writes/pub, 3)
	l.Float("broker_in_b_per_pub", in/pub, 0)
	l.Float("broker_out_b_per_pub", out/pub, 0)
	l.Float("broker_cmds_per_s", cmds/window.Seconds(), 0)
	l.Float("broker_rss_mb", float64(s1.proc.RSSKB)/1024, 1)
	l.Str("broker_cmds", top)
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
