package redis

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// startSentinel runs a Sentinel of the test's own watching master as
// "mymaster" (quorum 1).
func startSentinel(t *testing.T, master string) string {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	host, mport, _ := strings.Cut(master, ":")
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster %s %s 1\n"+
		"sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n", port, dir, host, mport)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel", "--logfile", filepath.Join(dir, "sentinel.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if !waitReachable(addr, 5*time.Second) {
		t.Fatal("sentinel did not start")
	}
	return addr
}

func redisCLI(addr string, args ...string) (string, error) {
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

// Through a Sentinel failover (the replica promoted, the old master
// demoted) the brokers follow the new master and traffic flows again.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not installed")
	}
	master := startOwnRedis(t)
	replica := startOwnRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	eventually(t, 10*time.Second, "replica in sync", func() bool {
		out, _ := redisCLI(replica.addr(), "info", "replication")
		return strings.Contains(out, "master_link_status:up")
	})
	sentinel := startSentinel(t, master.addr())
	eventually(t, 10*time.Second, "sentinel sees the replica", func() bool {
		out, _ := redisCLI(sentinel, "sentinel", "replicas", "mymaster")
		return strings.Contains(out, strconv.Itoa(replica.port))
	})
	prefix := randomPrefix()
	opts := Options{Addrs: []string{sentinel}, SentinelMaster: "mymaster", Prefix: prefix, ProbeInterval: 300 * time.Millisecond}
	b1 := newTestBroker(t, opts)
	b2 := newTestBroker(t, opts)
	registerAll(t, b1, "n1")
	r2 := registerAll(t, b2, "n2")
	ctx := ctxT(t)
	if err := b2.Subscribe(ctx, "n2", "room"); err != nil {
		t.Fatal(err)
	}
	publishUntil := func(what string) {
		t.Helper()
		eventually(t, 20*time.Second, "n2 receives "+what, func() bool {
			_, _ = b1.Publish(ctx, &allspark.Publication{Node: "n1", Rooms: []string{"room"}, Payload: []byte(what)})
			time.Sleep(50 * time.Millisecond)
			return slices.Contains(r2["n2"].payloads(), what)
		})
	}
	publishUntil("before")
	// A Sentinel that has listed the replica may not yet have its INFO
	// (it asks every 10 s, sooner once it knows it): until then it answers
	// NOGOODSLAVE, so the failover is asked for again while that lasts.
	var out string
	var err error
	eventually(t, 15*time.Second, "sentinel accepts the failover", func() bool {
		out, err = redisCLI(sentinel, "sentinel", "failover", "mymaster")
		if err == nil && strings.HasPrefix(out, "NOGOODSLAVE") {
			time.Sleep(200 * time.Millisecond)
			return false
		}
		return true
	})
	if err != nil || out != "OK" {
		t.Fatalf("sentinel failover: %q %v", out, err)
	}
	eventually(t, 20*time.Second, "the replica is master", func() bool {
		out, _ := redisCLI(sentinel, "sentinel", "get-master-addr-by-name", "mymaster")
		return strings.Contains(out, strconv.Itoa(replica.port))
	})
	publishUntil("after")
	// b2's subscription has moved to the new master.
	ch := prefix + ":r:room"
	eventually(t, 20*time.Second, "the room channel subscribed on the new master", func() bool {
		out, _ := redisCLI(replica.addr(), "pubsub", "numsub", ch)
		f := strings.Fields(out)
		return len(f) == 2 && f[1] != "0"
	})
	eventually(t, 10*time.Second, "both brokers healthy", func() bool { return b1.Health() == nil && b2.Health() == nil })
}
