package load

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// histNode is one in-process Allspark server with the benchmark server's room
// contract (rooms from ?rooms=, {"publish":room,"data":x}) and history on
// every room, on a shared broker.
type histNode struct {
	srv *allspark.Server
	hs  *http.Server
	ln  net.Listener
}

func startHistNode(t *testing.T, addr string, b allspark.Broker) *histNode {
	t.Helper()
	srv, err := allspark.New(allspark.Options{Broker: b, History: allspark.HistoryOptions{Rooms: []allspark.HistoryRule{{Pattern: "*", Size: 1000, TTL: time.Minute}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if q := sp.Query().Get("rooms"); q != "" {
			if err := sp.Join(strings.Split(q, ",")...); err != nil {
				return err
			}
		}
		sp.OnData(func(data any) {
			if m, ok := data.(map[string]any); ok {
				if room, ok := m["publish"].(string); ok {
					_, _ = srv.Room(room).Write(m["data"])
				}
			}
		})
		return nil
	})
	var ln net.Listener
	for try := 0; ; try++ { // the port of a histNode just stopped may take a moment
		if ln, err = net.Listen("tcp4", addr); err == nil || try == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	n := &histNode{srv: srv, hs: &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go func() { _ = n.hs.Serve(ln) }()
	return n
}

func (n *histNode) addr() string { return n.ln.Addr().String() }

// stop ends the histNode: gracefully (every spark ended for a reconnect) or
// by cutting every socket as a killed process would.
func (n *histNode) stop(t *testing.T, graceful bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if graceful {
		_ = n.srv.Shutdown(ctx, allspark.ShutdownOptions{Reconnect: true, KeepListener: true})
	}
	_ = n.hs.Close()
	if !graceful {
		_ = n.srv.Shutdown(ctx, allspark.ShutdownOptions{Reconnect: true, Timeout: time.Millisecond})
	}
}

// restartDrive runs a reconnect worker against a histNode at addrs[0] that
// restart replaces, and returns the worker's report.
func restartDrive(t *testing.T, cfg Config, restart func() time.Time) ReconnectReport {
	t.Helper()
	ctlR, ctlW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := Run(context.Background(), cfg, ctlR, outW)
		outW.CloseWithError(err)
		errc <- err
	}()
	sc := bufio.NewScanner(outR)
	sc.Buffer(nil, 1<<24)
	var c Connected
	if !sc.Scan() || json.Unmarshal([]byte(strings.TrimPrefix(sc.Text(), "CONNECTED ")), &c) != nil {
		t.Fatalf("no CONNECTED line: %q %v", sc.Text(), sc.Err())
	}
	if c.Ready != cfg.N {
		t.Fatalf("connected %+v", c)
	}
	fmt.Fprintln(ctlW, "go")
	time.Sleep(400 * time.Millisecond) // every room gets messages
	listen := restart()
	fmt.Fprintf(ctlW, "listen %d\n", listen.UnixNano())
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "CAUGHTUP ") {
		t.Fatalf("no CAUGHTUP line: %q %v", sc.Text(), sc.Err())
	}
	fmt.Fprintln(ctlW, "stop")
	var d Done
	if !sc.Scan() || json.Unmarshal([]byte(strings.TrimPrefix(sc.Text(), "DONE ")), &d) != nil || d.Reconnect == nil {
		t.Fatalf("no DONE line: %q %v", sc.Text(), sc.Err())
	}
	ctlW.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return *d.Reconnect
}

func reconnectConfig(a, b string) Config {
	return Config{Server: "allspark", Addrs: []string{a, b}, Scenario: Reconnect, N: 60, Rooms: 6, Rate: 200,
		RetryEvery: 20 * time.Millisecond, RecoverTimeout: 10 * time.Second, Sources: []string{"127.0.0.2", "127.0.0.3"}}
}

// A restart on the same broker (sessions and history kept): every member
// comes back recovered, gets what was published while its histNode was down,
// with no gap and no duplicate, graceful or not.
func TestReconnectEveryMemberRecovers(t *testing.T) {
	for _, graceful := range []bool{true, false} {
		t.Run(fmt.Sprintf("graceful=%v", graceful), func(t *testing.T) {
			b := allspark.NewMemoryBroker()
			a, pub := startHistNode(t, "127.0.0.1:0", b), startHistNode(t, "127.0.0.1:0", b)
			defer pub.stop(t, false)
			var a2 *histNode
			defer func() {
				if a2 != nil {
					a2.stop(t, false)
				}
			}()
			rep := restartDrive(t, reconnectConfig(a.addr(), pub.addr()), func() time.Time {
				a.stop(t, graceful)
				time.Sleep(200 * time.Millisecond) // down: messages are missed
				a2 = startHistNode(t, a.addr(), b)
				return time.Now()
			})
			t.Logf("%+v", rep)
			if rep.Cut != 60 || rep.Back != 60 || rep.Recovered != 60 || rep.Restored != 60 || rep.CaughtUp != 60 || rep.TimedOut {
				t.Fatalf("report %+v", rep)
			}
			if rep.Gaps != 0 || rep.Duplicates != 0 || rep.MinBefore < 1 {
				t.Fatalf("gaps %d, duplicates %d, fewest before the cut %d", rep.Gaps, rep.Duplicates, rep.MinBefore)
			}
			// ≈ 200/s for 200 ms went to 6 rooms of 10: each member missed
			// some, and they were replayed to it.
			if rep.Replayed < 60 || rep.DialErrors == 0 || rep.Published == 0 || rep.LastDoneNS < rep.ListenNS {
				t.Fatalf("replayed %d, dial errors %d, published %d, done %d listen %d", rep.Replayed, rep.DialErrors, rep.Published, rep.LastDoneNS, rep.ListenNS)
			}
		})
	}
}

// A restart onto a broker that lost everything: every member is back but
// none recovered, each counted with the server's reason.
func TestReconnectCountsMembersNotRecovered(t *testing.T) {
	b := allspark.NewMemoryBroker()
	a, pub := startHistNode(t, "127.0.0.1:0", b), startHistNode(t, "127.0.0.1:0", b)
	defer pub.stop(t, false)
	var a2 *histNode
	defer func() {
		if a2 != nil {
			a2.stop(t, false)
		}
	}()
	rep := restartDrive(t, reconnectConfig(a.addr(), pub.addr()), func() time.Time {
		a.stop(t, false)
		a2 = startHistNode(t, a.addr(), allspark.NewMemoryBroker())
		return time.Now()
	})
	if rep.Back != 60 || rep.Recovered != 0 || rep.CaughtUp != 0 || rep.NotRecovered["expired"] != 60 || rep.TimedOut {
		t.Fatalf("report %+v", rep)
	}
}

// history-fanout's members ask for a session: on a room with history every
// delivery comes stamped; on a server without history none does, and the
// deliveries are counted the same.
func TestFanoutWithSessionsCountsStampedDeliveries(t *testing.T) {
	b := allspark.NewMemoryBroker()
	n := startHistNode(t, "127.0.0.1:0", b)
	defer n.stop(t, false)
	_, d := drive(t, Config{Server: "allspark", Addr: n.addr(), Scenario: Fanout, N: 50, Recover: true, Warmup: 200 * time.Millisecond, Duration: 500 * time.Millisecond})
	if d.Deliveries == 0 || d.Stamped != d.Deliveries || d.Stalls != 0 {
		t.Fatalf("history on: %d deliveries, %d stamped, %d stalls", d.Deliveries, d.Stamped, d.Stalls)
	}
	plain, err := allspark.New(allspark.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if err := sp.Join("bench"); err != nil {
			return err
		}
		sp.OnData(func(data any) {
			if m, ok := data.(map[string]any); ok && m["publish"] == "bench" {
				_, _ = plain.Room("bench").Write(m["data"])
			}
		})
		return nil
	})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: plain, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		_ = hs.Close()
		_ = plain.Shutdown(context.Background(), allspark.ShutdownOptions{Timeout: time.Millisecond})
	}()
	c, d := drive(t, Config{Server: "allspark", Addr: ln.Addr().String(), Scenario: Fanout, N: 50, Recover: true, Warmup: 200 * time.Millisecond, Duration: 500 * time.Millisecond})
	if c.Ready != 51 || d.Deliveries == 0 || d.Stamped != 0 {
		t.Fatalf("history off: ready %d, %d deliveries, %d stamped", c.Ready, d.Deliveries, d.Stamped)
	}
	if _, _, err := (&Config{Server: "raw", Addr: "127.0.0.1:1", Scenario: Fanout, N: 1, Room: "bench", Recover: true}).validate(); err == nil {
		t.Fatal("sessions asked of the raw server")
	}
}
