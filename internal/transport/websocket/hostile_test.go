package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// Hostile peers against a real engine on loopback: memory must follow the
// bytes that arrived, and the engine must keep serving everyone else.

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Headers announcing 10 MiB, followed by a trickle of payload and then
// nothing, must not make the server allocate the announced size: once for
// one connection, and far below 100 × 10 MiB for a hundred.
func TestDeclaredLengthIsNotAllocated(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		const declared = 10 << 20
		for _, tc := range []struct {
			conns int
			bound uint64 // heap growth allowed
		}{{1, 4 << 20}, {100, 32 << 20}} {
			addr, conns := startEngine(t, Config{MaxPayload: 16 << 20}, nil)
			base := heapInUse()
			var clients []*rawClient
			var handlers []*recorder
			for range tc.conns {
				c := dialRaw(t, addr, "", nil)
				handlers = append(handlers, nextConn(t, conns))
				c.send(t, append(header(true, 0x2, declared), make([]byte, 1000)...))
				clients = append(clients, c)
			}
			// gws allocated on the header within microseconds; give it a
			// second to show, and fail as soon as it does.
			var grown uint64
			for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if h := heapInUse(); h > base {
					grown = max(grown, h-base)
				}
				if grown > tc.bound {
					t.Fatalf("%d connections announcing %d MiB: heap grew by %d MiB (bound %d MiB)",
						tc.conns, declared>>20, grown>>20, tc.bound>>20)
				}
			}
			t.Logf("%d connections announcing %d MiB each: heap grew by %d KiB", tc.conns, declared>>20, grown>>10)

			// Others are still served.
			c := dialRaw(t, addr, "", nil)
			h := nextConn(t, conns)
			c.send(t, clientFrame(true, 0x1, []byte("still here")))
			if got := <-h.msgs; got != "still here" {
				t.Fatalf("got %q", got)
			}
			c.Close()
			h.waitClosed(t)
			for i, c := range clients {
				c.Close()
				handlers[i].waitClosed(t)
			}
		}
	})
}

// A large message that arrives slowly, in pieces, is delivered intact.
func TestLargeMessageInPieces(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		addr, conns := startEngine(t, Config{}, nil)
		c := dialRaw(t, addr, "", nil)
		h := nextConn(t, conns)
		payload := make([]byte, 3<<20)
		for i := range payload {
			payload[i] = byte(rand.N(256))
		}
		frame := clientFrame(true, 0x2, payload)
		for rest := frame; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			c.send(t, rest[:n])
			rest = rest[n:]
		}
		c.send(t, clientFrame(true, 0x1, []byte("after")))
		if got := <-h.msgs; !bytes.Equal([]byte(got), payload) {
			t.Fatalf("got %d bytes, want the %d sent", len(got), len(payload))
		}
		if got := <-h.msgs; got != "after" {
			t.Fatalf("got %q", got)
		}
		c.Close()
		h.waitClosed(t)
	})
}

// A 64-bit length with its top bit set is refused with 1002. Before the
// gate, gws made a negative-length slice from it and panicked on its read
// goroutine, which took the whole process down.
func TestNegativeLengthCloses1002(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		addr, conns := startEngine(t, Config{}, nil)
		c := dialRaw(t, addr, "", nil)
		h := nextConn(t, conns)
		bad := []byte{0x82, 0x80 | 127}
		bad = binary.BigEndian.AppendUint64(bad, 1<<63|5)
		c.send(t, append(bad, 1, 2, 3, 4))
		if _, code, reason := c.readUntilClose(t); code != 1002 {
			t.Fatalf("close %d %q, want 1002", code, reason)
		}
		if err := h.waitClosed(t); !errors.Is(err, ErrProtocol) {
			t.Fatalf("OnClose(%v), want ErrProtocol", err)
		}
	})
}
