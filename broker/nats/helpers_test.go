package nats_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
	"github.com/nats-io/nats-server/v2/server"
)

// runEmbedded starts an in-process NATS server on a free port (or port, if
// not 0) and shuts it down at the end of the test.
func runEmbedded(t testing.TB, port int, tweak ...func(*server.Options)) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	o := &server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true}
	for _, f := range tweak {
		f(o)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func newBroker(t testing.TB, o natsbroker.Options) *natsbroker.Broker {
	t.Helper()
	b, err := natsbroker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

// sharedNATS returns the URL of the shared nats-server at 127.0.0.1:4222,
// starting one (with JetStream, as the environment expects) when absent.
// Tests on it use a random Prefix so they never see each other's traffic.
func sharedNATS(t testing.TB) string {
	t.Helper()
	const addr = "127.0.0.1:4222"
	if dialable(addr) {
		return "nats://" + addr
	}
	path, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("no nats-server at 127.0.0.1:4222 and no nats-server binary")
	}
	cmd := exec.Command(path, "-js", "-a", "127.0.0.1", "-p", "4222")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives the test: it is shared
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Release()
	waitFor(t, 10*time.Second, "shared nats-server up", func() bool { return dialable(addr) })
	return "nats://" + addr
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// natsProcess is a nats-server of the test's own, as a process, so it can be
// killed and restarted without touching the shared one.
type natsProcess struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

func startNATSProcess(t testing.TB, port int) *natsProcess {
	t.Helper()
	path, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("no nats-server binary")
	}
	p := &natsProcess{t: t, port: port}
	p.cmd = exec.Command(path, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	p.cmd.Stdout, p.cmd.Stderr = nil, nil
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	waitFor(t, 10*time.Second, "own nats-server up", func() bool { return dialable(p.addr()) })
	return p
}

func (p *natsProcess) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }
func (p *natsProcess) url() string  { return "nats://" + p.addr() }

func (p *natsProcess) kill() {
	if p.cmd == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Kill)
	_ = p.cmd.Wait()
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is a BrokerHandler that keeps what it is handed. block, if set,
// holds every call until it is closed.
type recorder struct {
	mu      sync.Mutex
	pubs    []*allspark.Publication
	msgs    []msg
	block   chan struct{}
	entered chan struct{} // a token each time a call starts, when not nil
	calls   chan struct{} // a token per call, when not nil
	// discard counts what arrives without keeping it (memory tests).
	discard      bool
	nPubs, nMsgs int
}

type msg struct {
	from string
	body string
}

func newRecorder() *recorder { return &recorder{calls: make(chan struct{}, 1<<16)} }

func (r *recorder) HandlePublication(p *allspark.Publication) int {
	r.enter()
	r.mu.Lock()
	r.nPubs++
	if !r.discard {
		r.pubs = append(r.pubs, p)
	}
	r.mu.Unlock()
	r.tick()
	return 1
}

func (r *recorder) HandleMessage(from string, m []byte) {
	r.enter()
	r.mu.Lock()
	r.nMsgs++
	if !r.discard {
		r.msgs = append(r.msgs, msg{from, string(m)})
	}
	r.mu.Unlock()
	r.tick()
}

func (r *recorder) enter() {
	if r.entered != nil {
		select {
		case r.entered <- struct{}{}:
		default:
		}
	}
	if r.block != nil {
		<-r.block
	}
}

func (r *recorder) tick() {
	select {
	case r.calls <- struct{}{}:
	default:
	}
}

func (r *recorder) counts() (pubs, msgs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nPubs, r.nMsgs
}

func (r *recorder) publications() []*allspark.Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*allspark.Publication(nil), r.pubs...)
}

func (r *recorder) messages() []msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]msg(nil), r.msgs...)
}

// hasPayload reports whether a publication with this payload arrived.
func (r *recorder) hasPayload(payload string) bool {
	for _, p := range r.publications() {
		if string(p.Payload) == payload {
			return true
		}
	}
	return false
}

func (r *recorder) hasMessage(from, body string) bool {
	for _, m := range r.messages() {
		if m.from == from && m.body == body {
			return true
		}
	}
	return false
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// settle gives in-flight traffic time to arrive before a test asserts that
// something did NOT arrive: it sends a marker through the same path and
// waits for it, so "not there" is checked after "everything before it came".
func settle(t testing.TB, b *natsbroker.Broker, from, to string, r *recorder) {
	t.Helper()
	marker := "settle-" + randomPrefix()
	if err := b.Send(ctxT(t), from, to, []byte(marker)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "settle marker", func() bool { return r.hasMessage(from, marker) })
}

// clientSubs counts the subscriptions of the server's client connections
// (the server's own system subscriptions left out).
func clientSubs(t testing.TB, s *server.Server) int {
	t.Helper()
	cz, err := s.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cz.Conns {
		n += int(c.NumSubs)
	}
	return n
}
