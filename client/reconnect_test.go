package client_test

import (
	"context"
	"errors"
	"math"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// bounds is the range the back-off formula allows for attempt n:
// [Min·Factor^(n−1), 2·Min·Factor^(n−1)], both capped by Max.
func bounds(o client.ReconnectOptions, n int) (lo, hi time.Duration) {
	base := float64(o.Min) * math.Pow(o.Factor, float64(n-1))
	lo, hi = time.Duration(base), time.Duration(math.Round(2*base))
	if o.Max > 0 {
		lo, hi = min(lo, o.Max), min(hi, o.Max)
	}
	return lo, hi
}

// checkReconnects verifies a run of reconnect scheduled / reconnect pairs:
// attempt numbers count up from 1, every delay is inside the formula's
// bounds, and every attempt starts no sooner than the delays so far allow.
func checkReconnects(t *testing.T, o client.ReconnectOptions, evs []stamped) {
	t.Helper()
	n := 0
	var sum time.Duration
	for _, ev := range evs {
		switch ev.Kind {
		case client.EventReconnectScheduled:
			n++
			a := ev.Attempt
			if a.N != n {
				t.Fatalf("scheduled attempt %d, want %d", a.N, n)
			}
			lo, hi := bounds(o, n)
			if a.Delay < lo || a.Delay > hi {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", n, a.Delay, lo, hi)
			}
			sum += a.Delay
		case client.EventReconnect:
			if ev.Attempt.N != n {
				t.Fatalf("reconnect attempt %d, want %d", ev.Attempt.N, n)
			}
			if ev.Attempt.Elapsed < sum {
				t.Fatalf("attempt %d started after %v, before the %v of back-off", n, ev.Attempt.Elapsed, sum)
			}
		}
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srvA := newServer(t, allspark.Options{}, echo)
	servedA := serveOn(t, srvA, ln)

	rec := newRecorder(t)
	ro := client.ReconnectOptions{Min: 20 * time.Millisecond, Max: 150 * time.Millisecond, Factor: 2, Retries: 30}
	c, err := client.Dial(ctxFor(t), "ws://"+addr, client.Options{Reconnect: ro, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)

	// Restart: shut down telling clients to come back, and let the client
	// fail against the closed port a few times before the new server is up.
	if err := srvA.Shutdown(ctxFor(t), allspark.ShutdownOptions{Reconnect: true}); err != nil {
		t.Fatal(err)
	}
	<-servedA
	evs := rec.expect(client.EventClose, client.EventReconnectScheduled, client.EventReconnect)
	if errors.Is(evs[0].Err, client.ErrServerClosed) {
		t.Fatalf("close reason %v: a restart must not look like server::close", evs[0].Err)
	}
	for scheduled := 1; scheduled < 3; {
		ev := rec.next()
		evs = append(evs, ev)
		switch ev.Kind {
		case client.EventReconnectScheduled:
			scheduled++
			if ev.Err == nil {
				t.Fatal("reconnect scheduled after a failed attempt carries no cause")
			}
		case client.EventReconnect:
		default:
			t.Fatalf("unexpected %q while the server is down; so far %v", ev.Kind, kindsOf(evs))
		}
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	serveOn(t, newServer(t, allspark.Options{}, echo), ln2)

	evs = append(evs, rec.until(client.EventOpen)...)
	last := evs[len(evs)-2:]
	if last[0].Kind != client.EventReconnected {
		t.Fatalf("events %v: want reconnected right before open", kindsOf(evs))
	}
	for _, ev := range evs[1 : len(evs)-2] {
		if ev.Kind != client.EventReconnectScheduled && ev.Kind != client.EventReconnect {
			t.Fatalf("events %v: only reconnect scheduled/reconnect may come between close and reconnected", kindsOf(evs))
		}
	}
	checkReconnects(t, ro, evs)

	if err := c.Write("after restart"); err != nil {
		t.Fatal(err)
	}
	if ev := rec.expect(client.EventData)[0]; ev.Data != "after restart" {
		t.Fatalf("echo after restart = %v", ev.Data)
	}
}

func TestRetriesExhausted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, allspark.Options{}, nil)
	served := serveOn(t, srv, ln)
	rec := newRecorder(t)
	ro := client.ReconnectOptions{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond, Retries: 3}
	c, err := client.Dial(ctxFor(t), "ws://"+ln.Addr().String(), client.Options{Reconnect: ro, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	if err := srv.Shutdown(ctxFor(t), allspark.ShutdownOptions{Reconnect: true}); err != nil {
		t.Fatal(err)
	}
	<-served

	evs := rec.expect(
		client.EventClose,
		client.EventReconnectScheduled, client.EventReconnect,
		client.EventReconnectScheduled, client.EventReconnect,
		client.EventReconnectScheduled, client.EventReconnect,
		client.EventEnd, client.EventReconnectFailed,
	)
	ro.Factor = client.DefaultReconnectFactor
	checkReconnects(t, ro, evs)
	end, failed := evs[7], evs[8]
	if !errors.Is(end.Err, client.ErrReconnectFailed) || !errors.Is(failed.Err, client.ErrReconnectFailed) {
		t.Fatalf("end err %v, reconnect failed err %v; want ErrReconnectFailed", end.Err, failed.Err)
	}
	if failed.Attempt.N != 3 || failed.Attempt.Retries != 3 {
		t.Fatalf("reconnect failed attempt = %+v", failed.Attempt)
	}
	if s := c.ReadyState(); s != client.Closed {
		t.Fatalf("ReadyState = %v", s)
	}
	if err := c.Write("x"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Write after reconnect failed = %v, want ErrClosed", err)
	}
}

func TestSparkEndWithoutReconnect(t *testing.T) {
	srv := newServer(t, allspark.Options{}, nil)
	ch := sparks(srv)
	url := serve(t, srv)
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), url, client.Options{Reconnect: client.ReconnectOptions{Min: time.Millisecond}, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	recv(t, ch).End(nil, false)
	evs := rec.expect(client.EventClose, client.EventEnd)
	for _, ev := range evs {
		if !errors.Is(ev.Err, client.ErrServerClosed) {
			t.Fatalf("%s: err %v, want ErrServerClosed", ev.Kind, ev.Err)
		}
	}
	if s := c.ReadyState(); s != client.Closed {
		t.Fatalf("ReadyState = %v", s)
	}
	// The client has ended rather than waiting to reconnect.
	if err := c.Write("x"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Write after server close = %v, want ErrClosed", err)
	}
}

func TestSparkEndWithReconnect(t *testing.T) {
	srv := newServer(t, allspark.Options{}, nil)
	ch := sparks(srv)
	url := serve(t, srv)
	rec := newRecorder(t)
	ro := client.ReconnectOptions{Min: 10 * time.Millisecond}
	// Without recovery, as in Primus, the reconnect is a new spark (with it,
	// the same one: recover_server_test.go).
	c, err := client.Dial(ctxFor(t), url, client.Options{Reconnect: ro, OnEvent: rec.on, NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	first := recv(t, ch)
	first.End(nil, true)
	evs := rec.expect(client.EventClose, client.EventReconnectScheduled, client.EventReconnect, client.EventReconnected, client.EventOpen)
	if d := evs[1].Attempt.Delay; d != ro.Min {
		t.Fatalf("first delay %v, want Min %v", d, ro.Min)
	}
	second := recv(t, ch)
	id, err := c.ID(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if id != second.ID() || id == first.ID() {
		t.Fatalf("ID after reconnect = %q; first spark %q, second %q", id, first.ID(), second.ID())
	}
}

func TestStrategyNoneDoesNotReconnect(t *testing.T) {
	srv := newServer(t, allspark.Options{}, nil)
	ch := sparks(srv)
	url := serve(t, srv)
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), url, client.Options{Strategy: client.StrategyNone, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	recv(t, ch).End(nil, true)
	rec.expect(client.EventClose, client.EventEnd)
}

func TestEndStopsReconnecting(t *testing.T) {
	srv := newServer(t, allspark.Options{}, nil)
	ch := sparks(srv)
	url := serve(t, srv)
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), url, client.Options{Reconnect: client.ReconnectOptions{Min: time.Hour}, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	recv(t, ch).End(nil, true)
	rec.expect(client.EventClose, client.EventReconnectScheduled)
	c.End(nil) // during the back-off: Primus resets the recovery and emits end only
	rec.expect(client.EventEnd)
}

// switchDialer sends dials to the real server first and then, once
// blackhole is set, to a listener that accepts and never answers.
type switchDialer struct {
	real      string
	blackhole atomic.Pointer[string]
}

func (d *switchDialer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	addr := d.real
	if p := d.blackhole.Load(); p != nil {
		addr = *p
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// blackhole accepts connections and never answers; they close at cleanup.
func blackhole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestReconnectTimeout(t *testing.T) {
	srv := newServer(t, allspark.Options{}, nil)
	ch := sparks(srv)
	url := serve(t, srv)
	d := &switchDialer{real: url[len("ws://"):]}
	rec := newRecorder(t)
	ro := client.ReconnectOptions{Min: 5 * time.Millisecond, Retries: 2, Timeout: 50 * time.Millisecond}
	c, err := client.Dial(ctxFor(t), url, client.Options{Reconnect: ro, NetDial: d.dial, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	bh := blackhole(t)
	d.blackhole.Store(&bh)
	recv(t, ch).End(nil, true)
	evs := rec.expect(
		client.EventClose,
		client.EventReconnectScheduled, client.EventReconnect, client.EventReconnectTimeout,
		client.EventReconnectScheduled, client.EventReconnect, client.EventReconnectTimeout,
		client.EventEnd, client.EventReconnectFailed,
	)
	for _, i := range []int{3, 6} {
		ev := evs[i]
		if !errors.Is(ev.Err, client.ErrReconnectTimeout) {
			t.Fatalf("reconnect timeout err = %v", ev.Err)
		}
		if gap := ev.at.Sub(evs[i-1].at); gap < 0 || ev.Attempt.Elapsed < ro.Timeout {
			t.Fatalf("reconnect timeout after %v (elapsed %v), want ≥ %v", gap, ev.Attempt.Elapsed, ro.Timeout)
		}
	}
	if !errors.Is(evs[8].Err, client.ErrReconnectTimeout) {
		t.Fatalf("reconnect failed should wrap the last cause, got %v", evs[8].Err)
	}
}

func TestConnectTimeout(t *testing.T) {
	bh := blackhole(t)
	t.Run("strategy without timeout ends", func(t *testing.T) {
		rec := newRecorder(t)
		start := time.Now()
		_, err := client.Dial(ctxFor(t), "ws://"+bh, client.Options{
			Timeout:  80 * time.Millisecond,
			Strategy: client.StrategyDisconnect,
			OnEvent:  rec.on,
		})
		if !errors.Is(err, client.ErrConnectTimeout) {
			t.Fatalf("Dial = %v, want ErrConnectTimeout", err)
		}
		if el := time.Since(start); el < 80*time.Millisecond {
			t.Fatalf("timed out after %v, before Timeout", el)
		}
		rec.expect(client.EventTimeout, client.EventClose, client.EventEnd)
	})
	t.Run("default strategy reconnects", func(t *testing.T) {
		rec := newRecorder(t)
		c, err := client.New("ws://"+bh, client.Options{
			Timeout:   80 * time.Millisecond,
			Reconnect: client.ReconnectOptions{Min: time.Hour},
			OnEvent:   rec.on,
		})
		if err != nil {
			t.Fatal(err)
		}
		destroy(t, c)
		evs := rec.expect(client.EventTimeout, client.EventReconnectScheduled)
		if !errors.Is(evs[1].Err, client.ErrConnectTimeout) {
			t.Fatalf("reconnect scheduled cause = %v", evs[1].Err)
		}
	})
}

func TestFirstConnectionErrorReconnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens: connection refused
	rec := newRecorder(t)
	c, err := client.New("ws://"+addr, client.Options{Reconnect: client.ReconnectOptions{Min: time.Hour}, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	// Primus: error, then (strategy timeout) a reconnection, no close.
	rec.expect(client.EventError, client.EventReconnectScheduled)
}
