package client_test

import (
	"bufio"
	"bytes"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/client"
)

// syncBuffer collects the Node process's stderr for failure reports.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPrimus runs testdata/primus-server.js (stock primus@8 with the
// websockets transformer, from the repository's node_modules) and returns
// its base URL. Missing Node or node_modules fails the test: the
// conformance suite must not be skipped silently.
func startPrimus(t *testing.T, pingInterval time.Duration) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH: install Node.js ≥ 20, then run `npm ci` at the repository root")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"primus", "ws"} {
		if _, err := os.Stat(filepath.Join(root, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("npm package %q is missing (%v): run `npm ci` at the repository root (%s)", pkg, err, root)
		}
	}
	cmd := exec.Command(node, filepath.Join("client", "testdata", "primus-server.js"), strconv.FormatInt(pingInterval.Milliseconds(), 10))
	cmd.Dir = root // require() resolves the repository's node_modules
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close() // the script exits when stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() && stderr.String() != "" {
			t.Logf("primus-server.js stderr:\n%s", stderr.String())
		}
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			port <- sc.Text()
		}
		close(port)
	}()
	select {
	case p, ok := <-port:
		if !ok || p == "" {
			t.Fatalf("primus-server.js printed no port; stderr:\n%s", stderr.String())
		}
		return "ws://127.0.0.1:" + p
	case <-time.After(waitTimeout):
		t.Fatalf("primus-server.js did not start; stderr:\n%s", stderr.String())
		return ""
	}
}

func TestStockPrimusServer(t *testing.T) {
	const pingInterval = 100 * time.Millisecond
	base := startPrimus(t, pingInterval)

	t.Run("echo", func(t *testing.T) {
		rec := newRecorder(t)
		c, err := client.Dial(ctxFor(t), base, client.Options{OnEvent: rec.on})
		if err != nil {
			t.Fatal(err)
		}
		destroy(t, c)
		rec.expect(client.EventOpen)
		for _, v := range []any{"hello", float64(0), map[string]any{"a": []any{"b", true}}, "\u2028 <&> é"} {
			if err := c.Write(v); err != nil {
				t.Fatal(err)
			}
			if ev := rec.expect(client.EventData)[0]; !reflect.DeepEqual(ev.Data, v) {
				t.Fatalf("echo of %#v = %#v", v, ev.Data)
			}
		}
	})

	t.Run("ping pong", func(t *testing.T) {
		// The watchdog comes from /primus/spec (150 ms). The server ends a
		// spark that misses one pong; it announces every pong it gets.
		rec := newRecorder(t)
		c, err := client.Dial(ctxFor(t), base, client.Options{Query: url.Values{"beats": {"1"}}, OnEvent: rec.on})
		if err != nil {
			t.Fatal(err)
		}
		destroy(t, c)
		rec.expect(client.EventOpen)
		const beats = 5
		for i := 1; i <= beats; i++ {
			ev := rec.expect(client.EventData)[0]
			if !reflect.DeepEqual(ev.Data, map[string]any{"heartbeat": float64(i)}) {
				t.Fatalf("data = %v, want heartbeat %d", ev.Data, i)
			}
		}
		if s := c.ReadyState(); s != client.Open {
			t.Fatalf("ReadyState after %d ping intervals = %v", beats, s)
		}
	})

	t.Run("id", func(t *testing.T) {
		rec := newRecorder(t)
		c, err := client.Dial(ctxFor(t), base, client.Options{OnEvent: rec.on})
		if err != nil {
			t.Fatal(err)
		}
		destroy(t, c)
		rec.expect(client.EventOpen)
		id, err := c.ID(ctxFor(t))
		if err != nil || id == "" {
			t.Fatalf("ID = %q, %v", id, err)
		}
		_ = c.Write(map[string]any{"cmd": "id"})
		if ev := rec.expect(client.EventData)[0]; !reflect.DeepEqual(ev.Data, map[string]any{"id": id}) {
			t.Fatalf("server says %v, ID said %q", ev.Data, id)
		}
	})

	t.Run("server end", func(t *testing.T) {
		rec := newRecorder(t)
		c, err := client.Dial(ctxFor(t), base, client.Options{Reconnect: client.ReconnectOptions{Min: time.Millisecond}, OnEvent: rec.on})
		if err != nil {
			t.Fatal(err)
		}
		destroy(t, c)
		rec.expect(client.EventOpen)
		_ = c.Write(map[string]any{"cmd": "end"})
		evs := rec.expect(client.EventClose, client.EventEnd)
		if !errors.Is(evs[1].Err, client.ErrServerClosed) {
			t.Fatalf("end reason = %v, want ErrServerClosed", evs[1].Err)
		}
		if s := c.ReadyState(); s != client.Closed {
			t.Fatalf("ReadyState = %v", s)
		}
	})
}
