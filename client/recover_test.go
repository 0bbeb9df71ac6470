package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/allspark/allspark/client"
)

// The client's side of recovery (docs/recovery.md, "Wire for our
// clients"), against the scripted raw server: it sends session envelopes,
// stamped messages and announcements by hand and reads each reconnect's
// query.

// recoverPeer is a client of a raw server, its recorder, the sessions it
// reported and the server side of its connections.
type recoverPeer struct {
	t        *testing.T
	rs       *rawServer
	c        *client.Client
	rec      *recorder
	sessions chan client.RecoveryInfo
	markers  int
}

func newRecoverPeer(t *testing.T, opts client.Options) (*recoverPeer, *gws.Conn, url.Values) {
	t.Helper()
	p := &recoverPeer{t: t, rs: newRawServer(t, false), rec: newRecorder(t), sessions: make(chan client.RecoveryInfo, 16)}
	opts.OnEvent = p.rec.on
	opts.OnSession = func(info client.RecoveryInfo) { p.sessions <- info }
	if opts.Reconnect.Min == 0 {
		opts.Reconnect = client.ReconnectOptions{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond}
	}
	c, err := client.Dial(ctxFor(t), p.rs.url, opts)
	if err != nil {
		t.Fatal(err)
	}
	p.c = c
	destroy(t, c)
	p.rec.expect(client.EventOpen)
	ws, q := p.conn()
	return p, ws, q
}

// conn returns the next server-side connection and its upgrade query.
func (p *recoverPeer) conn() (*gws.Conn, url.Values) {
	p.t.Helper()
	ws := recv(p.t, p.rs.conns)
	return ws, recv(p.t, p.rs.urls).Query()
}

// send writes v as a JSON text frame. A write error is ignored: the client
// may have cut the connection (a resync), which the test then sees.
func send(t *testing.T, ws *gws.Conn, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.WriteString(string(b))
}

func session(t *testing.T, ws *gws.Conn, token string, restored, recovered bool, reason string) {
	t.Helper()
	send(t, ws, map[string]any{"allspark": 1, "session": map[string]any{
		"id": "spark1", "token": token, "restored": restored, "recovered": recovered, "reason": reason,
	}})
}

func stamp(t *testing.T, ws *gws.Conn, room string, offset uint64, epoch string, data any) {
	t.Helper()
	send(t, ws, map[string]any{"allspark": 1, "room": room, "offset": offset, "epoch": epoch, "data": data})
}

func announce(t *testing.T, ws *gws.Conn, room string, offset uint64, epoch string) {
	t.Helper()
	send(t, ws, map[string]any{"allspark": 1, "room": room, "offset": offset, "epoch": epoch})
}

// settle sends a marker and returns the data and errors the client
// delivered before it, failing on any other event.
func (p *recoverPeer) settle(ws *gws.Conn) (data []any, errs []error) {
	p.t.Helper()
	p.markers++
	marker := fmt.Sprintf("marker-%d", p.markers)
	send(p.t, ws, marker)
	for {
		ev := p.rec.next()
		switch {
		case ev.Kind == client.EventData && ev.Data == marker:
			return data, errs
		case ev.Kind == client.EventData:
			data = append(data, ev.Data)
		case ev.Kind == client.EventError:
			errs = append(errs, ev.Err)
		default:
			p.t.Fatalf("unexpected event %v", ev.Event)
		}
	}
}

func (p *recoverPeer) session() client.RecoveryInfo {
	p.t.Helper()
	return recv(p.t, p.sessions)
}

// since decodes a query's _since.
func since(t *testing.T, q url.Values) map[string][2]any {
	t.Helper()
	var m map[string][2]any
	if err := json.Unmarshal([]byte(q.Get("_since")), &m); err != nil {
		t.Fatalf("_since %q: %v", q.Get("_since"), err)
	}
	return m
}

func pos(offset float64, epoch string) [2]any { return [2]any{offset, epoch} }

func TestRecoverFirstConnectAsksAndSessionIsReported(t *testing.T) {
	p, ws, q := newRecoverPeer(t, client.Options{})
	if q.Get("_recover") != "1" || q.Has("_session") || q.Has("_since") {
		t.Fatalf("first connect query %v", q)
	}
	if p.c.Recovered() || p.c.Restored() {
		t.Fatal("recovered/restored before any session")
	}
	session(t, ws, "spark1.secret", false, false, client.ReasonNew)
	info := p.session()
	if want := (client.RecoveryInfo{ID: "spark1", Reason: "new"}); info != want {
		t.Fatalf("session %+v, want %+v", info, want)
	}
	if info.Unrecovered() {
		t.Fatal("a first connect is not unrecovered")
	}
	if data, errs := p.settle(ws); len(data)+len(errs) > 0 {
		t.Fatalf("session envelope delivered as %v %v", data, errs)
	}
}

// OnSession runs in order with OnEvent: after the connection's EventOpen,
// before the data that follows the envelope, never at the same time.
func TestRecoverSessionOrderedWithEvents(t *testing.T) {
	rs := newRawServer(t, false)
	var mu sync.Mutex
	var log []string
	done := make(chan struct{})
	c, err := client.Dial(ctxFor(t), rs.url, client.Options{
		OnEvent: func(ev client.Event) {
			mu.Lock()
			defer mu.Unlock()
			log = append(log, fmt.Sprintf("%v %v", ev.Kind, ev.Data))
			if ev.Data == "after" {
				close(done)
			}
		},
		OnSession: func(info client.RecoveryInfo) {
			time.Sleep(20 * time.Millisecond) // a slow hook must not be overtaken
			mu.Lock()
			defer mu.Unlock()
			log = append(log, "session "+info.ID)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	ws, _ := recv(t, rs.conns), recv(t, rs.urls)
	session(t, ws, "spark1.t", false, false, "new")
	send(t, ws, "after")
	recv(t, done)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"open <nil>", "session spark1", "data after"}; !reflect.DeepEqual(log, want) {
		t.Fatalf("order %q, want %q", log, want)
	}
}

func TestRecoverStampedUnwrapped(t *testing.T) {
	p, ws, _ := newRecoverPeer(t, client.Options{})
	session(t, ws, "spark1.t", false, false, "new")
	p.session()
	got := make(chan string, 4)
	if err := p.c.On("chat", func(_ context.Context, ev *client.NamedEvent) (any, error) {
		var s string
		if err := ev.Decode(0, &s); err != nil {
			return nil, err
		}
		got <- s
		return strings.ToUpper(s), nil
	}); err != nil {
		t.Fatal(err)
	}
	stamp(t, ws, "room", 1, "E1", map[string]any{"hello": "world"})
	stamp(t, ws, "room", 2, "E1", map[string]any{"allspark": 1, "event": "chat", "args": []any{"hi"}})
	stamp(t, ws, "room", 3, "E1", map[string]any{"allspark": 1, "event": "chat", "args": []any{"ask"}, "id": 7})
	stamp(t, ws, "room", 4, "E1", "primus::ping::1") // inner data is data, never a control message
	if reply := recv(t, p.rs.msgs); reply != `{"allspark":1,"ack":7,"args":["ASK"]}` {
		t.Fatalf("ack %s", reply)
	}
	data, errs := p.settle(ws)
	if want := []any{map[string]any{"hello": "world"}, "primus::ping::1"}; !reflect.DeepEqual(data, want) || errs != nil {
		t.Fatalf("data %v errs %v, want %v", data, errs, want)
	}
	if a, b := recv(t, got), recv(t, got); a != "hi" || b != "ask" {
		t.Fatalf("handler got %q %q", a, b)
	}
}

func TestRecoverDuplicatesDropped(t *testing.T) {
	p, ws, _ := newRecoverPeer(t, client.Options{})
	session(t, ws, "spark1.t", false, false, "new")
	for _, o := range []uint64{1, 2, 2, 1, 3} {
		stamp(t, ws, "r", o, "E", o)
	}
	stamp(t, ws, "other", 5, "X", "o5") // a room's first message: delivered whatever its offset
	stamp(t, ws, "other", 5, "X", "o5 again")
	data, _ := p.settle(ws)
	if want := []any{1.0, 2.0, 3.0, "o5"}; !reflect.DeepEqual(data, want) {
		t.Fatalf("data %v, want %v", data, want)
	}
}

func TestRecoverGapResyncsWithSessionAndPositions(t *testing.T) {
	p, ws, _ := newRecoverPeer(t, client.Options{})
	session(t, ws, "spark1.tok", false, false, "new")
	p.session()
	stamp(t, ws, "a", 1, "EA", "a1")
	stamp(t, ws, "a", 2, "EA", "a2")
	announce(t, ws, "b", 5, "EB")
	stamp(t, ws, "a", 4, "EA", "a4") // 3 is missing
	stamp(t, ws, "a", 5, "EA", "a5") // nothing more of this connection
	evs := p.rec.until(client.EventClose)
	if got := evs[len(evs)-1].Err; !errors.Is(got, client.ErrResync) {
		t.Fatalf("close reason %v, want ErrResync", got)
	}
	var data []any
	for _, ev := range evs[:len(evs)-1] {
		data = append(data, ev.Data)
	}
	if !reflect.DeepEqual(data, []any{"a1", "a2"}) {
		t.Fatalf("delivered %v before the gap", data)
	}
	sched := p.rec.expect(client.EventReconnectScheduled, client.EventReconnect, client.EventReconnected, client.EventOpen)[0]
	if sched.Attempt.Delay != 0 {
		t.Fatalf("first resync waited %v", sched.Attempt.Delay)
	}
	ws2, q := p.conn()
	if q.Get("_session") != "spark1.tok" || q.Has("_recover") {
		t.Fatalf("reconnect query %v", q)
	}
	if got, want := since(t, q), map[string][2]any{"a": pos(2, "EA"), "b": pos(5, "EB")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("_since %v, want %v", got, want)
	}
	session(t, ws2, "spark1.tok", true, true, "")
	for o := uint64(3); o <= 5; o++ {
		stamp(t, ws2, "a", o, "EA", fmt.Sprintf("a%d", o))
	}
	if got := p.session(); got != (client.RecoveryInfo{ID: "spark1", Restored: true, Recovered: true, Resumed: true}) {
		t.Fatalf("session %+v", got)
	}
	if data, _ := p.settle(ws2); !reflect.DeepEqual(data, []any{"a3", "a4", "a5"}) {
		t.Fatalf("replay delivered %v", data)
	}
	if !p.c.Recovered() || !p.c.Restored() {
		t.Fatal("Recovered/Restored false after a recovered session")
	}
}

func TestRecoverEpochChangeResyncs(t *testing.T) {
	p, ws, _ := newRecoverPeer(t, client.Options{})
	session(t, ws, "spark1.t", false, false, "new")
	stamp(t, ws, "a", 1, "OLD", "a1")
	stamp(t, ws, "a", 2, "NEW", "new2")
	evs := p.rec.until(client.EventClose)
	if len(evs) != 2 || evs[0].Data != "a1" || !errors.Is(evs[1].Err, client.ErrResync) {
		t.Fatalf("events %v", kindsOf(evs))
	}
	_, q := p.conn()
	if got, want := since(t, q), map[string][2]any{"a": pos(1, "OLD")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("_since %v, want %v", got, want)
	}
}

func TestRecoverAnnouncementsMovePositions(t *testing.T) {
	p, ws, _ := newRecoverPeer(t, client.Options{})
	session(t, ws, "spark1.t", false, false, "new")
	announce(t, ws, "a", 7, "E")
	stamp(t, ws, "a", 7, "E", "dup")
	stamp(t, ws, "a", 8, "E", "a8")
	announce(t, ws, "a", 3, "E") // behind, same epoch: ignored
	stamp(t, ws, "a", 9, "E", "a9")
	announce(t, ws, "a", 2, "F") // another epoch: taken
	stamp(t, ws, "a", 3, "F", "f3")
	announce(t, ws, "c", 0, "C") // joined a room without messages yet
	stamp(t, ws, "c", 1, "C", "c1")
	if data, errs := p.settle(ws); !reflect.DeepEqual(data, []any{"a8", "a9", "f3", "c1"}) || errs != nil {
		t.Fatalf("delivered %v, errors %v", data, errs)
	}
	_ = ws.NetConn().Close()
	_, q := p.conn()
	if got, want := since(t, q), map[string][2]any{"a": pos(3, "F"), "c": pos(1, "C")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("_since %v, want %v", got, want)
	}
}

func TestRecoverUnrecoveredForgetsPositions(t *testing.T) {
	p, ws, _ := newRecoverPeer(t, client.Options{})
	session(t, ws, "spark1.t", false, false, "new")
	stamp(t, ws, "a", 1, "E", "a1")
	announce(t, ws, "b", 9, "E")
	p.settle(ws)
	if p.session().Unrecovered() {
		t.Fatal("first session unrecovered")
	}
	_ = ws.NetConn().Close()
	ws2, q := p.conn()
	if got, want := since(t, q), map[string][2]any{"a": pos(1, "E"), "b": pos(9, "E")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("_since %v, want %v", got, want)
	}
	session(t, ws2, "spark1.t", true, false, client.ReasonTruncated)
	info := p.session()
	if !info.Unrecovered() || info.Reason != "truncated" || !info.Restored {
		t.Fatalf("session %+v", info)
	}
	if p.c.Recovered() || !p.c.Restored() {
		t.Fatal("Recovered/Restored do not follow the last session")
	}
	stamp(t, ws2, "a", 50, "E", "a50") // no position any more: delivered, not a gap
	p.rec.until(client.EventOpen)
	if data, _ := p.settle(ws2); !reflect.DeepEqual(data, []any{"a50"}) {
		t.Fatalf("delivered %v", data)
	}
	_ = ws2.NetConn().Close()
	_, q = p.conn()
	if got, want := since(t, q), map[string][2]any{"a": pos(50, "E")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("_since %v, want %v (b forgotten)", got, want)
	}
}

// A hostile server cannot make the client keep more than 64 rooms, names
// over 256 bytes, epochs over 64 bytes or tokens over 256 bytes; malformed
// envelopes are EventErrors and cost nothing else.
func TestRecoverBounds(t *testing.T) {
	p, ws, _ := newRecoverPeer(t, client.Options{})
	session(t, ws, "good.token", false, false, "new")
	for i := range 1000 {
		announce(t, ws, fmt.Sprintf("room%d", i), uint64(i+1), "E")
	}
	stamp(t, ws, "room10", 12, "E", "r10") // updated last: kept
	stamp(t, ws, strings.Repeat("x", 257), 1, "E", "long room")
	stamp(t, ws, "y", 1, strings.Repeat("e", 65), "long epoch")
	stamp(t, ws, "z", 0, "E", "offset 0")
	stamp(t, ws, "z", 1<<53, "E", "offset too big")
	send(t, ws, map[string]any{"allspark": 1, "room": "z", "offset": 1.5, "epoch": "E", "data": "x"})
	send(t, ws, map[string]any{"allspark": 1, "room": "z", "offset": 1, "epoch": 5})
	send(t, ws, map[string]any{"allspark": 1, "room": 7, "offset": 1, "epoch": "E", "data": "x"})
	session(t, ws, strings.Repeat("t", 257), false, false, "new")
	send(t, ws, map[string]any{"allspark": 1, "session": "nope"})
	send(t, ws, map[string]any{"allspark": 1, "session": map[string]any{"id": "x", "token": "y", "restored": "yes", "recovered": true}})
	stamp(t, ws, strings.Repeat("x", 256), 1, strings.Repeat("e", 64), "at the limits")
	data, errs := p.settle(ws)
	if !reflect.DeepEqual(data, []any{"r10", "at the limits"}) {
		t.Fatalf("delivered %v", data)
	}
	if len(errs) != 10 {
		t.Fatalf("%d errors, want 10: %v", len(errs), errs)
	}
	for _, err := range errs {
		var ce *client.CallError
		if !errors.As(err, &ce) || ce.Code != client.CodeBadEnvelope {
			t.Fatalf("error %v, want a bad_envelope CallError", err)
		}
	}
	if p.c.ReadyState() != client.Open {
		t.Fatal("malformed envelopes cost the connection")
	}
	_ = ws.NetConn().Close()
	_, q := p.conn()
	if q.Get("_session") != "good.token" {
		t.Fatalf("_session %q: the overlong token was taken", q.Get("_session"))
	}
	want := map[string][2]any{"room10": pos(12, "E"), strings.Repeat("x", 256): pos(1, strings.Repeat("e", 64))}
	for i := 938; i < 1000; i++ {
		want[fmt.Sprintf("room%d", i)] = pos(float64(i+1), "E")
	}
	if got := since(t, q); !reflect.DeepEqual(got, want) {
		t.Fatalf("_since has %d rooms, want the 64 most recent", len(got))
	}
}

func TestRecoverOffAsksNothing(t *testing.T) {
	p, ws, q := newRecoverPeer(t, client.Options{NoRecover: true})
	if q.Has("_recover") || q.Has("_session") {
		t.Fatalf("query %v", q)
	}
	session(t, ws, "spark1.t", true, true, "")
	stamp(t, ws, "a", 1, "E", "a1")
	stamp(t, ws, "a", 5, "E", "a5") // no per-room rules without recovery
	if data, _ := p.settle(ws); !reflect.DeepEqual(data, []any{"a1", "a5"}) {
		t.Fatalf("delivered %v", data)
	}
	if p.c.Recovered() || len(p.sessions) > 0 {
		t.Fatal("a session was taken without recovery")
	}
	_ = ws.NetConn().Close()
	_, q = p.conn()
	if len(q) != 1 || !q.Has("_primuscb") {
		t.Fatalf("reconnect query %v", q)
	}
}

func TestRecoverEndForgetsSession(t *testing.T) {
	p, ws, _ := newRecoverPeer(t, client.Options{})
	session(t, ws, "spark1.t", false, false, "new")
	stamp(t, ws, "a", 1, "E", "a1")
	p.settle(ws)
	p.c.End(nil)
	p.rec.until(client.EventEnd)
	if err := p.c.Open(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	_, q := p.conn()
	if q.Get("_recover") != "1" || q.Has("_session") || q.Has("_since") {
		t.Fatalf("query after End and Open %v", q)
	}
}

func TestRecoverQuickResyncsBackOff(t *testing.T) {
	p, ws, _ := newRecoverPeer(t, client.Options{})
	session(t, ws, "spark1.t", false, false, "new")
	stamp(t, ws, "a", 1, "E", "a1")
	stamp(t, ws, "a", 3, "E", "gap")
	p.rec.until(client.EventClose)
	if d := p.rec.expect(client.EventReconnectScheduled)[0].Attempt.Delay; d != 0 {
		t.Fatalf("first resync waited %v", d)
	}
	p.rec.until(client.EventOpen)
	ws2, _ := p.conn()
	stamp(t, ws2, "a", 3, "E", "gap again")
	p.rec.until(client.EventClose)
	if d := p.rec.expect(client.EventReconnectScheduled)[0].Attempt.Delay; d < 20*time.Millisecond {
		t.Fatalf("second resync within the window waited %v", d)
	}
}
