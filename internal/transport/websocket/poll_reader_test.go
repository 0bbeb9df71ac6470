//go:build linux

package websocket

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// These tests are the poller engine's own: how its readers linger on a busy
// connection and give a quiet one back (poll_reader.go).

// pollConnOf is the engine's connection under a recorder of a poller test.
func pollConnOf(t *testing.T, h *recorder) *pollConn {
	t.Helper()
	pc, ok := h.conn.(*pollConn)
	if !ok || pc.p == nil {
		t.Fatalf("not a polled connection: %T", h.conn)
	}
	return pc
}

// waitState waits up to within for c's reader state to become want.
func waitState(t *testing.T, c *pollConn, want uint32, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for c.state.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("reader state %d after %v, want %d", c.state.Load(), within, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func expectMsg(t *testing.T, h *recorder, want string) {
	t.Helper()
	select {
	case got := <-h.msgs:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%q was not delivered", want)
	}
}

// A connection that sends once is given back as soon as the message is
// delivered: no reader stays. One that sends again within lingerFor keeps
// its reader (busy while the socket is quiet), until it has been quiet for
// lingerFor/2 to lingerFor; then it is given back and its next message
// still arrives.
func TestBusyConnectionLingersQuietOneIsGivenBack(t *testing.T) {
	addr, conns := startEngine(t, Config{}, nil)
	c := dialRaw(t, addr, "", nil)
	h := nextConn(t, conns)
	pc := pollConnOf(t, h)

	c.send(t, clientFrame(true, 0x1, []byte("one")))
	expectMsg(t, h, "one")
	waitState(t, pc, connIdle, time.Second) // quiet: given back at once

	c.send(t, clientFrame(true, 0x1, []byte("two")))
	expectMsg(t, h, "two")
	time.Sleep(lingerFor / 5)
	if s := pc.state.Load(); s != connBusy {
		t.Fatalf("a connection read twice within %v is not lingering (state %d)", lingerFor, s)
	}
	start := time.Now()
	waitState(t, pc, connIdle, 2*lingerFor)
	if quiet := time.Since(start) + lingerFor/5; quiet < lingerFor/2 {
		t.Fatalf("given back after %v of quiet, want at least %v", quiet, lingerFor/2)
	}

	c.send(t, clientFrame(true, 0x1, []byte("three")))
	expectMsg(t, h, "three")
	c.Close()
	h.waitClosed(t)
}

// Messages spaced around the linger deadline (just before it, just after
// it, on top of its extension) are all delivered, once and in order.
func TestMessagesAroundTheLingerDeadline(t *testing.T) {
	addr, conns := startEngine(t, Config{}, nil)
	c := dialRaw(t, addr, "", nil)
	h := nextConn(t, conns)
	gaps := []time.Duration{0, 5, lingerFor / 2, lingerFor/2 + 10, lingerFor - 5, lingerFor + 5, 1, lingerFor / 4, lingerFor * 3 / 4, 0}
	for i, gap := range gaps {
		time.Sleep(gap)
		c.send(t, clientFrame(true, 0x1, fmt.Appendf(nil, "m%d", i)))
	}
	for i := range gaps {
		expectMsg(t, h, fmt.Sprintf("m%d", i))
	}
	expectNoMsg(t, h, 20*time.Millisecond)
	c.Close()
	h.waitClosed(t)
}

// A lingering reader is parked on the netpoller without its read buffer:
// 200 busy connections hold far less heap than 200 read buffers.
func TestLingeringReadersHoldNoBuffer(t *testing.T) {
	const n = 200
	addr, conns := startEngine(t, Config{}, nil)
	clients := make([]*rawClient, n)
	handlers := make([]*recorder, n)
	for i := range clients {
		clients[i] = dialRaw(t, addr, "", nil)
		handlers[i] = nextConn(t, conns)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for _, m := range []string{"a", "b"} {
		for i, c := range clients {
			c.send(t, clientFrame(true, 0x1, []byte(m)))
			expectMsg(t, handlers[i], m)
		}
	}
	lingering := 0
	for _, h := range handlers {
		if pollConnOf(t, h).state.Load() == connBusy {
			lingering++
		}
	}
	grown := int64(heap()) - int64(before)
	if lingering < n/2 {
		t.Fatalf("only %d of %d busy connections linger", lingering, n)
	}
	if limit := int64(n) * readBufSize / 4; grown > limit {
		t.Fatalf("%d lingering readers grew the heap by %d B, more than a quarter of their read buffers (%d B)", lingering, grown, limit)
	}
	t.Logf("%d lingering readers: heap grew %d B (%d read buffers would be %d B)", lingering, grown, n, n*readBufSize)
	for i, c := range clients {
		c.Close()
		handlers[i].waitClosed(t)
	}
}

// Abort and Close reach a lingering reader at once, not at its deadline:
// Abort ends it with OnClose, Close sends our Close frame and the peer's
// reply ends it.
func TestCloseWhileLingering(t *testing.T) {
	for _, how := range []string{"abort", "close"} {
		t.Run(how, func(t *testing.T) {
			addr, conns := startEngine(t, Config{}, nil)
			c := dialRaw(t, addr, "", nil)
			h := nextConn(t, conns)
			pc := pollConnOf(t, h)
			for _, m := range []string{"a", "b"} {
				c.send(t, clientFrame(true, 0x1, []byte(m)))
				expectMsg(t, h, m)
			}
			if s := pc.state.Load(); s != connBusy {
				t.Fatalf("not lingering (state %d)", s)
			}
			start := time.Now()
			if how == "abort" {
				_ = h.conn.Abort()
			} else {
				_ = h.conn.Close(1000, "bye")
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				b0, p, err := c.readFrame()
				if err != nil || b0&0x0f != 0x8 {
					t.Fatalf("want our Close frame, got opcode %#x %q (%v)", b0&0x0f, p, err)
				}
				c.send(t, clientFrame(true, 0x8, closePayload(1000, "")))
			}
			h.waitClosed(t)
			if took := time.Since(start); took > lingerFor/2 {
				t.Fatalf("the lingering reader ended %v after the %s", took, how)
			}
		})
	}
}

// Giving a quiet connection back (the CAS and the epoll re-arm) allocates
// nothing: the re-arm's callback is bound once in the pooled drainer.
func TestReleaseAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	addr, conns := startEngine(t, Config{}, nil)
	c := dialRaw(t, addr, "", nil)
	h := nextConn(t, conns)
	pc := pollConnOf(t, h)
	waitState(t, pc, connIdle, time.Second)
	d := drainers.Get().(*drainer)
	allocs := testing.AllocsPerRun(100, func() {
		if !pc.state.CompareAndSwap(connIdle, connBusy) {
			t.Fatal("the connection was not idle")
		}
		if !pc.release(d) {
			t.Fatal("release found an event")
		}
	})
	d.done()
	if allocs != 0 {
		t.Fatalf("release allocates %v times", allocs)
	}
	c.Close()
	h.waitClosed(t)
}
