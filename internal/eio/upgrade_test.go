package eio_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// probe opens the upgrade WebSocket of p and runs 2probe/3probe.
func (p *poller) probe(t testing.TB) *wsClient {
	t.Helper()
	ws := p.e.mustWS("EIO=4&transport=websocket&sid=" + p.sid)
	ws.send("2probe")
	if got := ws.recv(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	return ws
}

func TestUpgrade(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	ws := p.probe(t)
	ws.send("5")
	ws.send("4after")
	if ev := p.h.next(t, "msg"); ev.data != "after" {
		t.Errorf("got %+v", ev)
	}
	if _, _, err := p.h.sess.WriteBatch(msgs("down")); err != nil {
		t.Fatal(err)
	}
	if got := ws.recv(); got != "4down" {
		t.Errorf("got %q", got)
	}
	if st, _ := p.get(); st != 400 {
		t.Errorf("poll after upgrade: %d", st)
	}
	if st, _ := p.post("4x"); st != 400 {
		t.Errorf("POST after upgrade: %d", st)
	}
	if _, st, err := e.dialWS("EIO=4&transport=websocket&sid=" + p.sid); err == nil || st != 400 {
		t.Errorf("second upgrade after the switch: %d %v", st, err)
	}
}

// While the upgrade waits for "5", a held GET gets a noop about every
// 100 ms, so the client's paused polling cycle completes.
func TestUpgradeNoopsHeldPoll(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	ws := p.probe(t)
	for i := range 3 {
		start := time.Now()
		st, body := p.get()
		if st != 200 || body != "6" {
			t.Fatalf("poll %d: %d %q, want noop", i, st, body)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("poll %d: noop after %v", i, d)
		}
	}
	ws.send("5")
	ws.send("4x")
	p.h.next(t, "msg")
}

func TestUpgradeSecondProbe(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	p.probe(t)
	if _, st, err := e.dialWS("EIO=4&transport=websocket&sid=" + p.sid); err == nil || st != 400 {
		t.Errorf("second probe: %d %v, want 400", st, err)
	}
}

func TestUpgradeTimeout(t *testing.T) {
	cfg := fast()
	cfg.UpgradeTimeout = 100 * time.Millisecond
	e := newEnv(t, cfg)
	p, _ := e.handshake()
	ws := p.probe(t)
	if !ws.waitGone(2 * time.Second) {
		t.Fatal("probe still open after UpgradeTimeout")
	}
	// The session stays on polling, and may probe again.
	if st, _ := p.post("4still"); st != 200 {
		t.Errorf("POST after the probe timed out: %d", st)
	}
	if ev := p.h.next(t, "msg"); ev.data != "still" {
		t.Errorf("got %+v", ev)
	}
	ws2 := p.probe(t)
	ws2.send("5")
	ws2.send("4ws")
	p.h.next(t, "msg")
}

// A probe that sends anything but 2probe/5 is dropped; the session stays.
func TestUpgradeBadProbe(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	ws := e.mustWS("EIO=4&transport=websocket&sid=" + p.sid)
	ws.send("4nope")
	if !ws.waitGone(2 * time.Second) {
		t.Fatal("bad probe kept")
	}
	if p.h.isClosed() {
		t.Error("session closed by a bad probe")
	}
	if st, _ := p.post("4ok"); st != 200 {
		t.Errorf("POST: %d", st)
	}
}

// 1000 messages written one by one while the client polls, probes and
// switches: every one arrives, once, in order, across both transports.
func TestUpgradeOrderNoLoss(t *testing.T) {
	const total = 1000
	e := newEnv(t, fast())
	p, _ := e.handshake()

	writeErr := make(chan error, 1)
	go func() {
		for i := range total {
			if _, _, err := p.h.sess.WriteBatch(msgs(strconv.Itoa(i))); err != nil {
				writeErr <- fmt.Errorf("write %d: %w", i, err)
				return
			}
		}
		writeErr <- nil
	}()

	var (
		mu  sync.Mutex
		got []string
	)
	add := func(body string) {
		mu.Lock()
		defer mu.Unlock()
		for _, pk := range packets(body) {
			if strings.HasPrefix(pk, "4") {
				got = append(got, pk[1:])
			}
		}
	}
	// Poll until told to pause, as engine.io-client does: the GET in
	// flight completes, then polling stops.
	pause := make(chan struct{})
	paused := make(chan struct{})
	go func() {
		defer close(paused)
		for {
			select {
			case <-pause:
				return
			default:
			}
			st, body, _, err := p.e.try("GET", p.q(), "", "")
			if err != nil || st != 200 {
				t.Errorf("poll: %d %q", st, body)
				return
			}
			add(body)
		}
	}()
	// Let some messages go over polling first.
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 100 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ws := p.probe(t)
	close(pause)
	<-paused
	ws.send("5")
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= total {
			break
		}
		add(ws.recv())
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	if len(got) != total {
		t.Fatalf("got %d messages, want %d", len(got), total)
	}
	for i, s := range got {
		if s != strconv.Itoa(i) {
			t.Fatalf("message %d is %q", i, s)
		}
	}
}

// After the switch, a POST still inside OnMessage and a pong on the
// WebSocket must not call the Handler at the same time.
func TestUpgradeHandlerCallsSerialized(t *testing.T) {
	e := newEnv(t, fast())
	p, _ := e.handshake()
	p.h.block = make(chan struct{})
	posted := make(chan struct{})
	go func() { defer close(posted); p.post("4slow") }()
	p.h.next(t, "msg") // the POST is inside OnMessage
	ws := p.probe(t)
	ws.send("5")
	ws.send("3")       // a pong: OnPing
	ws.send("4second") // waits behind the POST's OnMessage
	// Not a synchronization: time for an unserialized OnPing to overlap
	// the blocked OnMessage (the failure this test looks for).
	time.Sleep(50 * time.Millisecond)
	p.h.block <- struct{}{} // release the first OnMessage
	if ev := p.h.next(t, "msg"); ev.data != "second" {
		t.Errorf("got %+v", ev)
	}
	close(p.h.block)
	<-posted
	p.h.check(t)
}
