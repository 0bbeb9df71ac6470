package client_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// The server pings a few times, checking each pong, then falls silent. The
// client reads pingInterval from /primus/spec (200 ms → watchdog 300 ms),
// must keep the connection while pings arrive, and must cut it once they
// stop.
func TestPingPongThenWatchdogFromSpec(t *testing.T) {
	const (
		interval = 200 * time.Millisecond
		watchdog = interval * 3 / 2
		pings    = 5
		pace     = 50 * time.Millisecond
	)
	rs := newRawServer(t, interval.Milliseconds())
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), rs.url, client.Options{Strategy: client.StrategyNone, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	ws := recv(t, rs.conns)
	open := rec.expect(client.EventOpen)[0]

	var lastPing time.Time
	tick := time.NewTicker(pace)
	defer tick.Stop()
	for i := range pings {
		<-tick.C
		v := strconv.FormatInt(time.Now().UnixMilli()+int64(i), 10)
		lastPing = time.Now()
		if err := ws.WriteString(`"primus::ping::` + v + `"`); err != nil {
			t.Fatal(err)
		}
		if got, want := recv(t, rs.msgs), `"primus::pong::`+v+`"`; got != want {
			t.Fatalf("answer to ping %d = %s, want %s", i, got, want)
		}
	}
	// Silence. The next events must be the watchdog's close, and the end.
	evs := rec.expect(client.EventClose, client.EventEnd)
	if !errors.Is(evs[0].Err, client.ErrPingTimeout) {
		t.Fatalf("close reason = %v, want ErrPingTimeout", evs[0].Err)
	}
	if since := evs[0].at.Sub(lastPing); since < watchdog {
		t.Fatalf("watchdog fired %v after the last ping, before its %v", since, watchdog)
	}
	if life := evs[0].at.Sub(open.at); life < watchdog+pace {
		t.Fatalf("connection lived %v: pings did not reset the watchdog", life)
	}
	recv(t, rs.closed) // the client cut the connection
}

// Allspark server with heartbeats off: a client with an explicit
// PingTimeout cuts the silent connection and reconnects.
func TestWatchdogAgainstSilentAllsparkServer(t *testing.T) {
	const pingTimeout = 100 * time.Millisecond
	gone := make(chan string, 4)
	srv := newServer(t, allspark.Options{PingInterval: allspark.NoPing}, func(srv *allspark.Server) {
		srv.OnDisconnection(func(s *allspark.Spark) { gone <- s.ID() })
	})
	url := serve(t, srv)
	rec := newRecorder(t)
	start := time.Now()
	c, err := client.Dial(ctxFor(t), url, client.Options{
		PingTimeout: pingTimeout,
		Reconnect:   client.ReconnectOptions{Min: time.Hour},
		OnEvent:     rec.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	id, err := c.ID(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	evs := rec.expect(client.EventOpen, client.EventClose, client.EventReconnectScheduled)
	if !errors.Is(evs[1].Err, client.ErrPingTimeout) {
		t.Fatalf("close reason = %v, want ErrPingTimeout", evs[1].Err)
	}
	if el := evs[1].at.Sub(start); el < pingTimeout {
		t.Fatalf("watchdog fired after %v, before PingTimeout %v", el, pingTimeout)
	}
	if got := recv(t, gone); got != id {
		t.Fatalf("server saw %q leave, want %q", got, id)
	}
}

// Against Allspark's heartbeat (150 ms: short enough for 8 intervals in a
// test, long enough that a loaded machine under -race answers in time) the
// client answers every ping, so the server never ends it for a missed pong.
func TestAnswersAllsparkPings(t *testing.T) {
	srv := newServer(t, allspark.Options{PingInterval: 150 * time.Millisecond}, nil)
	url := serve(t, srv)
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), url, client.Options{OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	// Wait until the server has received 8 messages (the pongs; the client
	// sends nothing else) — 8 ping intervals, where a missed pong ends the
	// spark after one.
	ctx := ctxFor(t)
	for srv.Stats().MessagesIn < 8 {
		select {
		case <-ctx.Done():
			t.Fatalf("server received %d pongs", srv.Stats().MessagesIn)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if st := srv.Stats(); st.MissedPongs != 0 || st.Connections != 1 || st.Accepted != 1 {
		t.Fatalf("stats %+v: the client missed pongs", st)
	}
	select {
	case ev := <-rec.ch:
		t.Fatalf("unexpected %q (%v)", ev.Kind, ev.Err)
	default:
	}
}

// Unknown primus:: messages are data (as in Primus); primus::server::close
// ends the client.
func TestProtocolMessagesFromRawServer(t *testing.T) {
	rs := newRawServer(t, false)
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), rs.url, client.Options{OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	ws := recv(t, rs.conns)
	rec.expect(client.EventOpen)
	for _, m := range []string{`"primus::pong::1"`, `"primus::nope::x"`} {
		_ = ws.WriteString(m)
		ev := rec.expect(client.EventData)[0]
		if want := m[1 : len(m)-1]; ev.Data != want {
			t.Fatalf("data = %v, want %v", ev.Data, want)
		}
	}
	_ = ws.WriteString(`"primus::id::abc"`)
	if id, err := c.ID(context.Background()); err != nil || id != "abc" {
		t.Fatalf("ID = %q, %v", id, err)
	}
	_ = ws.WriteString(`not json`)
	if ev := rec.expect(client.EventError)[0]; ev.Err == nil {
		t.Fatal("decode error without Err")
	}
	_ = ws.WriteString(`"primus::server::close"`)
	_ = ws.WriteClose(1000, nil)
	evs := rec.expect(client.EventClose, client.EventEnd)
	if !errors.Is(evs[1].Err, client.ErrServerClosed) {
		t.Fatalf("end reason = %v", evs[1].Err)
	}
}
