package app

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/allspark/allspark"
)

// Two binaries on one broker: the HTTP API lists rooms and members of both
// nodes and disconnects a spark on the other node.
func TestAPIAcrossNodes(t *testing.T) {
	broker := allspark.NewMemoryBroker()
	cfg := func(node string) Config {
		c := apiConfig()
		c.Demo = true // names come from ?name=
		c.NodeID, c.brokerOverride = node, broker
		return c
	}
	a := startApp(t, cfg("a"))
	b := startApp(t, cfg("b"))
	alice := a.dialRaw(t, "room=lobby&name=alice").ready()
	bob := b.dialRaw(t, "room=lobby&name=bob").ready()
	bobID := bob.id()
	b.dialRaw(t, "room=ops").ready()

	_, body := a.do(t, "GET", "/api/rooms", token, "")
	if got := fmt.Sprint(body["rooms"]); got != "[map[members:2 name:lobby] map[members:1 name:ops]]" {
		t.Fatalf("rooms across nodes: %s", got)
	}
	_, body = a.do(t, "GET", "/api/rooms/lobby", token, "")
	var got []string
	for _, m := range body["members"].([]any) {
		mm := m.(map[string]any)
		got = append(got, fmt.Sprint(mm["id"], ":", mm["name"], "@", mm["node"]))
	}
	want := []string{alice.id() + ":alice@a", bobID + ":bob@b"}
	if fmt.Sprint(got) != fmt.Sprint(want) { // sorted by name
		t.Fatalf("members %v, want %v", got, want)
	}
	resp, body := a.do(t, "DELETE", "/api/sparks/"+bobID, token, "")
	if resp.StatusCode != 200 || body["disconnected"] != bobID {
		t.Fatalf("remote disconnect: %d %v", resp.StatusCode, body)
	}
	<-bob.closed
	if resp, _ := a.do(t, "DELETE", "/api/sparks/"+bobID, token, ""); resp.StatusCode != 404 {
		t.Fatalf("second disconnect: %d", resp.StatusCode)
	}
}

// sickBroker is a MemoryBroker that reports itself unhealthy, as a Redis
// broker does while its subscription probe goes unanswered.
type sickBroker struct {
	*allspark.MemoryBroker
	err error
}

func (b sickBroker) Health() error { return b.err }
func (b sickBroker) BrokerStats() allspark.BrokerStats {
	return allspark.BrokerStats{Published: 7, Dropped: 3, Reconnects: 2, Connected: b.err == nil}
}

// /readyz answers 503 with the reason while the broker is unhealthy, and
// /metrics carries the broker's counters.
func TestReadyzAndMetricsReportTheBroker(t *testing.T) {
	for _, tc := range []struct {
		err      error
		status   int
		brokerUp string
	}{
		{nil, 200, "allspark_broker_up 1"},
		{errors.New("probe unanswered for 10s"), 503, "allspark_broker_up 0"},
	} {
		var c Config
		c.brokerOverride = sickBroker{allspark.NewMemoryBroker(), tc.err}
		ta := startApp(t, c)
		ta.ready.Store(true)
		resp, err := http.Get(ta.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.err != nil && !strings.Contains(string(body), "probe unanswered")) {
			t.Fatalf("readyz with broker error %v: %d %q", tc.err, resp.StatusCode, body)
		}
		resp, err = http.Get(ta.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{tc.brokerUp, "allspark_broker_published_total 7", "allspark_broker_dropped_total 3", "allspark_broker_reconnects_total 2", "allspark_cluster_nodes 1", "allspark_forwarded_requests_total 0", "allspark_forwarded_requests_served_total 0"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	}
}

// Two binaries on one broker: the chat's member list and its presence
// events span both nodes.
func TestDemoPresenceAcrossNodes(t *testing.T) {
	broker := allspark.NewMemoryBroker()
	cfg := func(node string) Config {
		c := Config{Demo: true}
		c.NodeID, c.brokerOverride = node, broker
		return c
	}
	a := startApp(t, cfg("a"))
	b := startApp(t, cfg("b"))
	alice := a.dialRaw(t, "name=alice").withPresence()
	bob := b.dialRaw(t, "name=bob").withPresence()
	aID, bID := alice.id(), bob.id()
	_, before := alice.call(1, "join", map[string]any{"room": "lobby"})
	alice.presence(before, aID, "join")
	ack, before := bob.call(1, "join", map[string]any{"room": "lobby"})
	both := fmt.Sprintf(`[{"members":[{"id":%q,"name":"alice"},{"id":%q,"name":"bob"}],"room":"lobby"}]`, aID, bID)
	if js(ack["args"]) != both {
		t.Fatalf("bob's join lists %v, want both nodes' users", js(ack["args"]))
	}
	bob.presence(before, bID, "join")
	if d := alice.presence(nil, bID, "join"); d["node"] != "b" || d["user"] != "bob" || d["sparks"] != float64(1) {
		t.Fatalf("alice saw bob arrive as %v", js(d))
	}
	_ = bob.conn.NetConn().Close()
	if d := alice.presence(nil, bID, "leave"); d["node"] != "b" || d["sparks"] != float64(0) {
		t.Fatalf("alice saw bob go as %v", js(d))
	}
}

// --broker URLs are checked before anything starts, and an unreachable
// broker fails New instead of leaving a lone node serving.
func TestBrokerFlag(t *testing.T) {
	for _, spec := range []string{"redis", "kafka://x", "memcache://127.0.0.1"} {
		if _, err := New(Config{Broker: spec}, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("--broker %q: %v, want ErrConfig", spec, err)
		}
	}
	if _, err := New(Config{Broker: "redis://127.0.0.1:6379/notanumber"}, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("bad redis URL: %v", err)
	}
	_, err := New(Config{Broker: "redis://user:hunter2@127.0.0.1:1/0"}, nil)
	if err == nil || errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("unreachable redis: %v (want a connection error without the password)", err)
	}
	if _, err := New(Config{Broker: "nats://127.0.0.1:1"}, nil); err == nil || errors.Is(err, ErrConfig) {
		t.Errorf("unreachable nats: %v (want a connection error)", err)
	}
	if _, err := New(Config{Broker: "nats://h:4222?bogus=1"}, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("bad nats URL: %v", err)
	}
	if got := redactURL("nats://u:hunter2@h:4222"); strings.Contains(got, "hunter2") || !strings.Contains(got, "h:4222") {
		t.Errorf("redactURL: %q", got)
	}
}
