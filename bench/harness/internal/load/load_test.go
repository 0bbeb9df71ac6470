package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/hist"
	"github.com/allspark/allspark/bench/harness/internal/rawsrv"
	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

// startRaw serves the raw limit server on a loopback port for the test.
func startRaw(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rawsrv.Serve(ctx, ln)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// drive runs a worker through its whole protocol and returns both reports.
func drive(t *testing.T, cfg Config) (Connected, Done) {
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
	var d Done
	if !sc.Scan() {
		t.Fatalf("no CONNECTED line: %v", sc.Err())
	}
	js, ok := strings.CutPrefix(sc.Text(), "CONNECTED ")
	if !ok || json.Unmarshal([]byte(js), &c) != nil {
		t.Fatalf("first line %q", sc.Text())
	}
	if _, err := io.WriteString(ctlW, "go\n"); err != nil {
		t.Fatal(err)
	}
	if !sc.Scan() {
		t.Fatalf("no DONE line: %v", sc.Err())
	}
	js, ok = strings.CutPrefix(sc.Text(), "DONE ")
	if !ok || json.Unmarshal([]byte(js), &d) != nil {
		t.Fatalf("second line %q", sc.Text())
	}
	ctlW.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return c, d
}

func TestIdleHoldsConnections(t *testing.T) {
	addr := startRaw(t)
	c, d := drive(t, Config{Server: "raw", Addr: addr, Scenario: Idle, N: 50, Sources: []string{"127.0.0.2", "127.0.0.3"}})
	if c.OK != 50 || c.Ready != 50 || c.Failed != 0 {
		t.Fatalf("connected %+v", c)
	}
	if d.Alive != 50 {
		t.Fatalf("alive = %d, want 50", d.Alive)
	}
}

func TestEchoMeasuresRoundTrips(t *testing.T) {
	addr := startRaw(t)
	_, d := drive(t, Config{Server: "raw", Addr: addr, Scenario: Echo, N: 20, Rate: 50, Warmup: 200 * time.Millisecond, Duration: time.Second})
	// 20 connections × 50/s × 1 s, give or take the edges of the window.
	if d.Sent < 800 || d.Deliveries < 800 || d.Errors != 0 {
		t.Fatalf("done %+v", d)
	}
	var h hist.Histogram
	h.AddBuckets(d.Latency)
	if h.Count() != uint64(d.Deliveries) || h.Quantile(0.5) <= 0 || h.Quantile(0.5) > time.Second {
		t.Fatalf("latency: %d samples, median %v", h.Count(), h.Quantile(0.5))
	}
}

func TestFanoutCountsEveryMember(t *testing.T) {
	addr := startRaw(t)
	c, d := drive(t, Config{Server: "raw", Addr: addr, Scenario: Fanout, N: 100, Warmup: 200 * time.Millisecond, Duration: time.Second})
	if c.OK != 101 { // members plus the publisher
		t.Fatalf("connected %+v", c)
	}
	// Every published message reaches all 100 members; deliveries counted in
	// the window are about published × 100 (edges aside).
	if d.Sent == 0 || d.Stalls != 0 {
		t.Fatalf("done %+v", d)
	}
	ratio := float64(d.Deliveries) / float64(d.Sent)
	if ratio < 90 || ratio > 110 {
		t.Fatalf("%d deliveries for %d messages: %.1f per message, want ≈ 100", d.Deliveries, d.Sent, ratio)
	}
}

func TestStormSpreadsRooms(t *testing.T) {
	addr := startRaw(t)
	_, d := drive(t, Config{Server: "raw", Addr: addr, Scenario: Storm, N: 100, Rooms: 10, PerConn: 3, Publishers: 3, Warmup: 200 * time.Millisecond, Duration: time.Second})
	// Each room has 100·3/10 = 30 members.
	ratio := float64(d.Deliveries) / float64(d.Sent)
	if d.Sent == 0 || ratio < 25 || ratio > 35 {
		t.Fatalf("%+v: %.1f deliveries per message, want ≈ 30", d, ratio)
	}
}

func TestFanoutStallsWhenNothingArrives(t *testing.T) {
	// A server that accepts and answers the handshake but never delivers:
	// the publisher must give up on each message after StallAfter instead of
	// waiting for ever.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := wsframe.Accept(c, br); err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, br)
			}()
		}
	}()
	_, d := drive(t, Config{Server: "raw", Addr: ln.Addr().String(), Scenario: Fanout, N: 5, Warmup: 100 * time.Millisecond, Duration: 600 * time.Millisecond, StallAfter: 100 * time.Millisecond})
	if d.Deliveries != 0 || d.Stalls == 0 {
		t.Fatalf("done %+v: want no deliveries and some stalls", d)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{Server: "nope", Addr: "127.0.0.1:1", Scenario: Idle, N: 1},
		{Server: "raw", Addr: "10.0.0.1:1", Scenario: Idle, N: 1},
		{Server: "raw", Addr: "127.0.0.1:1", Scenario: "x", N: 1},
		{Server: "raw", Addr: "127.0.0.1:1", Scenario: Idle, N: 20000},
		{Server: "raw", Addr: "127.0.0.1:1", Scenario: Idle, N: 1, Sources: []string{"192.168.1.1"}},
		{Server: "raw", Addr: "127.0.0.1:1", Scenario: Storm, N: 1, Rooms: 2, PerConn: 3},
	}
	for _, c := range bad {
		c.setDefaults()
		if _, _, err := c.validate(); !errors.Is(err, ErrConfig) {
			t.Fatalf("%+v: err = %v, want ErrConfig", c, err)
		}
	}
}

func TestStormRoomsAreDistinctAndEven(t *testing.T) {
	count := map[string]int{}
	for i := range 200 {
		rs := stormRooms(i, 20, 4)
		seen := map[string]bool{}
		for _, r := range rs {
			if seen[r] {
				t.Fatalf("connection %d joins %s twice: %v", i, r, rs)
			}
			seen[r] = true
			count[r]++
		}
		if len(rs) != 4 {
			t.Fatalf("connection %d: %v", i, rs)
		}
	}
	for r, n := range count {
		if n != 40 {
			t.Fatalf("room %s has %d members, want 40", r, n)
		}
	}
}
