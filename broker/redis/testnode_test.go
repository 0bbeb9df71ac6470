package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// testNodeEnv, set in the environment, makes the test binary run one
// Allspark node on Redis instead of the tests (see TestMain): a node in a
// separate process that a test can SIGKILL. Its value is
// "<redis addr> <prefix> <node id>".
const testNodeEnv = "ALLSPARK_REDIS_TESTNODE"

// runTestNode serves a node until its standard input closes, printing
// "URL <base>" once it listens.
func runTestNode() int {
	f := strings.Fields(os.Getenv(testNodeEnv))
	if len(f) != 3 {
		fmt.Fprintln(os.Stderr, "testnode: want <addr> <prefix> <node>")
		return 2
	}
	b, err := New(Options{Addrs: []string{f[0]}, Prefix: f[1], Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnode:", err)
		return 1
	}
	defer b.Close()
	srv, err := allspark.New(allspark.Options{Broker: b, NodeID: f[2], Cluster: fastCluster, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnode:", err)
		return 1
	}
	joinRooms(srv)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnode:", err)
		return 1
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(l) }()
	fmt.Printf("URL http://%s\n", l.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx, allspark.ShutdownOptions{Timeout: time.Second})
	_ = hs.Shutdown(ctx)
	return 0
}

// startTestNode runs a node in a child process and returns its base URL.
func startTestNode(t *testing.T, addr, prefix, node string) (*exec.Cmd, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), testNodeEnv+"="+addr+" "+prefix+" "+node)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
				lines <- u
			}
		}
		close(lines)
	}()
	select {
	case u, ok := <-lines:
		if !ok {
			t.Fatal("test node exited before listening")
		}
		return cmd, u
	case <-time.After(20 * time.Second):
		t.Fatal("test node did not start")
	}
	return nil, ""
}

// A node in another process joins the cluster through Redis: its spark is
// in the room, reachable with To, located and counted. After SIGKILL (no
// goodbye) it is forgotten once NodeTTL passes and its sparks are not
// found any more.
func TestSeparateProcessNode(t *testing.T) {
	addr := sharedRedis(t)
	prefix := randomPrefix()
	cmd, childBase := startTestNode(t, addr, prefix, "child")
	a, baseA := startServer(t, newTestBroker(t, Options{Prefix: prefix}), "a")
	_, baseB := startServer(t, newTestBroker(t, Options{Prefix: prefix}), "b")
	pa := connectPeer(t, baseA, "rooms=lobby")
	pb := connectPeer(t, baseB, "rooms=lobby")
	pc := connectPeer(t, childBase, "rooms=lobby")
	eventually(t, 10*time.Second, "a knows the child", func() bool {
		return slices.Equal(a.Nodes(), []string{"a", "b", "child"})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := a.Room("lobby").Write("all of you"); err != nil {
		t.Fatal(err)
	}
	pa.expect(t, "a", "all of you")
	pb.expect(t, "b", "all of you")
	pc.expect(t, "child", "all of you")
	pc.reset()
	if _, err := a.To(pc.id).Write("child only"); err != nil {
		t.Fatal(err)
	}
	pc.expect(t, "child", "child only")
	if node, err := a.Locate(ctx, pc.id); node != "child" || err != nil {
		t.Fatalf("Locate: %q %v", node, err)
	}
	if n, err := a.Room("lobby").Count(ctx); n != 3 || err != nil {
		t.Fatalf("Count: %d %v", n, err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, 10*time.Second, "the killed node is forgotten", func() bool {
		return slices.Equal(a.Nodes(), []string{"a", "b"})
	})
	t.Logf("killed node forgotten after %v (NodeTTL %v)", time.Since(killed), fastCluster.NodeTTL)
	if _, err := a.Locate(ctx, pc.id); !errors.Is(err, allspark.ErrNotFound) {
		t.Fatalf("Locate of the killed node's spark: %v", err)
	}
	if n, err := a.Room("lobby").Count(ctx); n != 2 || err != nil {
		t.Fatalf("Count without the killed node: %d %v", n, err)
	}
}
