package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer lets a test read what Run logs while Run is still writing.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// startRun runs the binary's Run with args and returns its address once the
// listening line is logged.
func startRun(t *testing.T, args []string, e map[string]string) (addr string, logs *syncBuffer, stop func() error) {
	t.Helper()
	return startRunWith(t, args, e, nil)
}

// startRunWith is startRun with a setup step on the App (see run).
func startRunWith(t *testing.T, args []string, e map[string]string, setup func(*App)) (addr string, logs *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, env(e), logs, setup) }()
	addrRE := regexp.MustCompile(`addr"?[=:]"?(127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("no listening line in %q (Run: %v)", logs.String(), <-done)
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return addr, logs, stop
}

func TestRunLogsListeningFirstThenMaskedConfig(t *testing.T) {
	addr, logs, stop := startRun(t, []string{"--addr", "127.0.0.1:0", "--echo"},
		map[string]string{"ALLSPARK_API_TOKEN": "hunter2"})
	if code, _ := get(t, "http://"+addr+"/primus/spec"); code != 200 {
		t.Fatalf("spec status %d", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	out := logs.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// Harnesses take the first addr=127.0.0.1:N they see: it must be the real one.
	if !strings.Contains(lines[0], `msg="allspark listening" addr=`+addr) {
		t.Fatalf("first line %q", lines[0])
	}
	if !strings.Contains(out, "config.api-token="+Masked) || strings.Contains(out, "hunter2") {
		t.Fatalf("config line wrong or token leaked:\n%s", out)
	}
	if !strings.Contains(out, "shutting down; clients will reconnect") {
		t.Fatalf("no shutdown log:\n%s", out)
	}
}

func TestRunJSONLogs(t *testing.T) {
	_, logs, stop := startRun(t, []string{"--log-format", "json", "--addr", "127.0.0.1:0"}, nil)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(logs.String(), "\n", 2)[0]
	if !strings.HasPrefix(first, `{"time":`) || !strings.Contains(first, `"msg":"allspark listening"`) {
		t.Fatalf("first line %q", first)
	}
}

func TestRunRejectsBadConfigBeforeListening(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"--parser", "xml"}, env(nil), &out)
	if err == nil || !strings.Contains(err.Error(), "parser") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(out.String(), "listening") {
		t.Fatal("listened despite a bad config")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	a, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	// Before Serve the app is not ready.
	rec := httptest.NewRecorder()
	a.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz before Serve = %d", rec.Code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, base+p); code != 200 {
			t.Fatalf("%s = %d %q", p, code, body)
		}
	}
	// A connected client with a long back-off: shutdown must make it plan a
	// reconnect, not end, and readiness must already be off by then.
	events := make(chan client.Event, 64)
	c, err := client.Dial(context.Background(), base, client.Options{
		Reconnect: client.ReconnectOptions{Min: time.Hour},
		OnEvent:   func(ev client.Event) { events <- ev },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	cancel()
	var sawClose bool
	for !sawClose {
		select {
		case ev := <-events:
			switch ev.Kind {
			case client.EventEnd:
				t.Fatal("client ended: it was not told to reconnect")
			case client.EventReconnectScheduled:
				sawClose = true
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no reconnect scheduled after shutdown")
		}
	}
	rec = httptest.NewRecorder()
	a.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz during shutdown = %d", rec.Code)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
}

func TestRunStopsGracefullyOnSIGTERM(t *testing.T) {
	addr, logs, _ := startRun(t, []string{"--addr", "127.0.0.1:0", "--echo"}, nil)
	c := (&testApp{url: "http://" + addr}).dialRaw(t, "").ready()
	// Run has caught the signals since before its listening line.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Reconnect shutdown: the socket closes without "primus::server::close".
	select {
	case m := <-c.msgs:
		t.Fatalf("got %s before the close", m)
	case <-c.closed:
	case <-time.After(waitLong):
		t.Fatal("connection still open after SIGTERM")
	}
	for deadline := time.Now().Add(waitLong); !strings.Contains(logs.String(), `msg=stopped`); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not stop:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "shutting down; clients will reconnect") || !strings.Contains(logs.String(), "err=<nil>") {
		t.Fatalf("logs:\n%s", logs.String())
	}
}

// SIGTERM exits within --shutdown-timeout even when a connection hook never
// returns: Shutdown abandons it at the deadline.
func TestRunExitsWithinShutdownTimeoutDespiteStuckHook(t *testing.T) {
	release := make(chan struct{})
	defer close(release) // the abandoned hook returns, for goleak
	entered := make(chan struct{}, 1)
	const timeout = 500 * time.Millisecond
	addr, logs, stop := startRunWith(t, []string{"--addr", "127.0.0.1:0", "--echo", "--shutdown-timeout", timeout.String()}, nil,
		func(a *App) {
			a.Server().OnConnection(func(context.Context, *allspark.Spark) error {
				entered <- struct{}{}
				<-release // ignores its context
				return nil
			})
		})
	c := (&testApp{url: "http://" + addr}).dialRaw(t, "")
	select {
	case <-entered:
	case <-time.After(waitLong):
		t.Fatal("the hook did not run")
	}
	start := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	returned := make(chan error, 1)
	go func() { returned <- stop() }()
	select {
	case err := <-returned:
		took := time.Since(start)
		if took > timeout+time.Second {
			t.Fatalf("Run took %v to return with --shutdown-timeout %v", took, timeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v, want the shutdown deadline's error", err)
		}
		t.Logf("Run returned %v after SIGTERM: %v", took.Round(time.Millisecond), err)
	case <-time.After(5 * time.Second):
		release <- struct{}{} // unblock once so Run can finish before the deferred close
		t.Fatalf("Run still running 5 s after SIGTERM with --shutdown-timeout %v:\n%s", timeout, logs.String())
	}
	select {
	case <-c.closed:
	case <-time.After(waitLong):
		t.Fatal("the client's connection outlived Run")
	}
}
