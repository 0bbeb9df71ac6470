package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errNotReady reports a server that did not say READY (or accept TCP) in time.
var errNotReady = errors.New("server did not become ready")

// server is one running server under test: one or more processes.
type server struct {
	kind  string
	addr  string   // the first (or only) listening address
	addrs []string // every node's address (cluster: one per process)
	pprof string
	cmds  []*exec.Cmd
	stdin []io.WriteCloser
}

// binaries built once per harness run.
type binaries struct {
	root, harness, dir string
}

// locateRoot finds the repository root (the directory holding
// bench/harness/go.mod) from the working directory upwards.
func locateRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "bench", "harness", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the allspark repository (bench/harness/go.mod not found above the working directory)")
		}
		dir = parent
	}
}

// nodeServers run on Node and need node_modules at the repository root.
var nodeServers = []string{"primus", "socketio", "primus-eio", "node-sse"}

// build compiles the Go servers; with node true (some Node server is to be
// measured, or a scenario drives Node itself) it also checks node_modules.
func (b *binaries) build(ctx context.Context, node bool) error {
	builds := []struct{ dir, pkg, out string }{
		{b.harness, "./cmd/srv-allspark", "srv-allspark"},
		{b.harness, "./cmd/srv-centrifuge", "srv-centrifuge"},
		{b.harness, "./cmd/srv-raw", "srv-raw"},
		{b.harness, "./cmd/srv-zishang", "srv-zishang"},
		{b.root, "./cmd/allspark", "allspark"},
	}
	for _, bd := range builds {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(b.dir, bd.out), bd.pkg)
		cmd.Dir = bd.dir
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", bd.pkg, err)
		}
	}
	if !node {
		return nil
	}
	for _, mod := range []string{"primus", "ws", "socket.io", "engine.io", "@socket.io/redis-adapter", "ioredis"} {
		if _, err := os.Stat(filepath.Join(b.root, "node_modules", mod, "package.json")); err != nil {
			return fmt.Errorf("node_modules/%s missing: run npm ci at the repository root", mod)
		}
	}
	return nil
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// commands returns the processes that make up server kind on port; extra
// arguments go to srv-allspark (history, broker) and are refused elsewhere.
// allspark-deflate is srv-allspark -compression, allspark-nethttp
// srv-allspark -nethttp-upgrade, allspark-goroutine srv-allspark -ws-engine
// goroutine -nethttp-upgrade, raw-epoll srv-raw -engine epoll.
func (b *binaries) commands(kind string, port, procs int, pprof string, extra ...string) ([]*exec.Cmd, error) {
	if len(extra) > 0 && kind != "allspark" {
		return nil, fmt.Errorf("server %q takes no extra arguments (%s)", kind, strings.Join(extra, " "))
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	goServer := func(bin string, own ...string) []*exec.Cmd {
		var out []*exec.Cmd
		for i := range procs {
			args := []string{"-addr", addr}
			if procs > 1 {
				args = append(args, "-reuseport")
			}
			if pprof != "" && i == 0 && bin != "srv-raw" {
				args = append(args, "-pprof", pprof)
			}
			args = append(args, own...)
			args = append(args, extra...)
			out = append(out, exec.Command(filepath.Join(b.dir, bin), args...))
		}
		return out
	}
	switch kind {
	case "allspark", "allspark-sio":
		// One binary: Primus at /primus, Socket.IO at /socket.io/.
		return goServer("srv-allspark"), nil
	case "zishang":
		return goServer("srv-zishang"), nil
	case "centrifuge":
		return goServer("srv-centrifuge"), nil
	case "allspark-deflate":
		return goServer("srv-allspark", "-compression"), nil
	case "allspark-nethttp":
		return goServer("srv-allspark", "-nethttp-upgrade"), nil
	case "allspark-goroutine":
		return goServer("srv-allspark", "-ws-engine", "goroutine", "-nethttp-upgrade"), nil
	case "raw":
		return goServer("srv-raw"), nil
	case "raw-epoll":
		return goServer("srv-raw", "-engine", "epoll"), nil
	case "allspark-cli":
		if procs > 1 {
			return nil, errors.New("allspark-cli runs as one process")
		}
		return []*exec.Cmd{exec.Command(filepath.Join(b.dir, "allspark"), "--echo", "--addr", addr, "--log-level", "error")}, nil
	case "primus", "socketio", "primus-eio", "node-sse":
		if (kind == "primus-eio" || kind == "node-sse") && procs > 1 {
			return nil, fmt.Errorf("%s runs as one process (its rooms live in one process)", kind)
		}
		script := filepath.Join(b.harness, "node", map[string]string{"primus": "primus-server.js", "socketio": "socketio-server.js", "primus-eio": "primus-eio-server.js", "node-sse": "sse-server.js"}[kind])
		cmd := exec.Command("node", script, strconv.Itoa(port), strconv.Itoa(procs))
		cmd.Dir = b.root
		return []*exec.Cmd{cmd}, nil
	}
	return nil, fmt.Errorf("unknown server %q", kind)
}

// start launches the server and waits until it is ready: a READY line on
// stdout, or (cmd/allspark, which prints none) an accepted TCP connection.
func (b *binaries) start(ctx context.Context, kind string, procs int, pprof string, extra ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return b.startAt(ctx, kind, port, procs, pprof, extra...)
}

// startAt is start on a given port (a restart takes its predecessor's).
func (b *binaries) startAt(ctx context.Context, kind string, port, procs int, pprof string, extra ...string) (*server, error) {
	cmds, err := b.commands(kind, port, procs, pprof, extra...)
	if err != nil {
		return nil, err
	}
	s := &server{kind: kind, addr: "127.0.0.1:" + strconv.Itoa(port), pprof: pprof}
	s.addrs = []string{s.addr}
	return s, s.launch(ctx, cmds)
}

// launch starts cmds as the processes of s and waits until each is ready;
// on failure everything started is stopped.
func (s *server) launch(ctx context.Context, cmds []*exec.Cmd) error {
	kind := s.kind
	ready := make(chan error, len(cmds))
	for _, cmd := range cmds {
		// Own process group (stop signals the whole tree, Node cluster workers
		// included); killed with the harness even if it dies without cleaning up.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = &prefixWriter{prefix: "[" + kind + "] ", w: os.Stderr}
		in, err := cmd.StdinPipe()
		if err != nil {
			s.stop()
			return err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			s.stop()
			return err
		}
		if err := cmd.Start(); err != nil {
			s.stop()
			return fmt.Errorf("start %s: %w", kind, err)
		}
		s.cmds = append(s.cmds, cmd)
		s.stdin = append(s.stdin, in)
		go func() {
			sc := bufio.NewScanner(out)
			said := false
			for sc.Scan() {
				if !said && strings.TrimSpace(sc.Text()) == "READY" {
					said = true
					ready <- nil
				}
			}
			if !said {
				ready <- fmt.Errorf("%w: %s exited or closed stdout", errNotReady, kind)
			}
		}()
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	if kind == "allspark-cli" {
		if err := waitTCP(ctx, s.addr, 30*time.Second); err != nil {
			s.stop()
			return err
		}
		return nil
	}
	for range cmds {
		select {
		case err := <-ready:
			if err != nil {
				s.stop()
				return err
			}
		case <-timeout.C:
			s.stop()
			return fmt.Errorf("%w: %s within 30 s", errNotReady, kind)
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		}
	}
	return nil
}

func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	end := time.Now().Add(limit)
	for time.Now().Before(end) && ctx.Err() == nil {
		c, err := net.DialTimeout("tcp4", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%w: nothing accepts on %s", errNotReady, addr)
}

func (s *server) pids() []int {
	var out []int
	for _, c := range s.cmds {
		if c.Process != nil {
			out = append(out, c.Process.Pid)
		}
	}
	return out
}

// stop closes stdin (every server exits on that), then sends SIGTERM to each
// process group the harness created, then SIGKILL after 5 s.
func (s *server) stop() {
	for _, in := range s.stdin {
		_ = in.Close()
	}
	done := make(chan struct{})
	go func() {
		for _, c := range s.cmds {
			_ = c.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(2 * time.Second):
	}
	for _, c := range s.cmds {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, c := range s.cmds {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
		<-done
	}
}

// prefixWriter tags a child's stderr lines with its name.
type prefixWriter struct {
	prefix string
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
