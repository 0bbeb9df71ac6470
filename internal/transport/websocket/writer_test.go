package websocket

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// After a Close frame went through the gate, a batch (or any frame) writes
// nothing, even while the socket is still open: gws closes the socket only
// after writing its Close frame, and a batch racing into that gap used to
// put a data frame after it.
func TestGateWritesNothingAfterClose(t *testing.T) {
	for name, closeFrame := range map[string][]byte{
		"ours":     {0x88, 2, 0x03, 0xe8},
		"engine's": append([]byte{0x88, 2 + 22, 0x03, 0xf3}, "gws: message too large"...),
	} {
		t.Run(name, func(t *testing.T) {
			client, conn := tcpPair(t)
			g := openGate(conn, time.Second)
			if _, err := g.Write(closeFrame); err != nil {
				t.Fatal(err)
			}
			if n, _, err := writeFramed(&g.writer, []Message{{Payload: []byte("late")}}, 0); !errors.Is(err, net.ErrClosed) || n != 0 {
				t.Fatalf("writeFramed after Close = %d, %v; want net.ErrClosed", n, err)
			}
			if _, err := g.Write([]byte{0x81, 1, 'x'}); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Write after Close = %v; want net.ErrClosed", err)
			}
			conn.Close()
			got, _ := io.ReadAll(client)
			if len(got) < 2 || got[0] != 0x88 || len(got) != 2+int(got[1]) {
				t.Fatalf("client read % x, want exactly one Close frame", got)
			}
		})
	}
}

func TestTidyClose(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{append([]byte{0x88, 24, 0x03, 0xf3}, "gws: message too large"...), append([]byte{0x88, 19, 0x03, 0xf1}, "message too large"...)},
		{append([]byte{0x88, 24, 0x03, 0xf1}, "gws: message too large"...), append([]byte{0x88, 19, 0x03, 0xf1}, "message too large"...)},
		{append([]byte{0x88, 17, 0x03, 0xea}, "gws: bad opcode"...), append([]byte{0x88, 12, 0x03, 0xea}, "bad opcode"...)},
		{[]byte{0x88, 2, 0x03, 0xe8}, []byte{0x88, 2, 0x03, 0xe8}},
		{[]byte{0x88, 0}, []byte{0x88, 0}},                         // no code
		{[]byte{0x88, 5, 0x03, 0xe8}, []byte{0x88, 5, 0x03, 0xe8}}, // length mismatch: as is
	} {
		if got := tidyClose(nil, tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("tidyClose(% x) = % x, want % x", tc.in, got, tc.want)
		}
	}
}

// deadlineConn counts write-deadline updates and accepts every write.
type deadlineConn struct {
	chunkConn
	sets int
}

func (c *deadlineConn) SetWriteDeadline(time.Time) error { c.sets++; return nil }
func (c *deadlineConn) Write(p []byte) (int, error)      { return len(p), nil }

// The write deadline is set again only when less than 90 % of the timeout is
// left, not for every batch: a timer update per batch cost 8–9 % of server
// CPU in fan-out.
func TestGateRefreshesDeadlineOnlyWhenNeeded(t *testing.T) {
	c := &deadlineConn{}
	g := openGate(c, time.Hour)
	for range 100 {
		if _, _, err := writeFramed(&g.writer, []Message{{Payload: []byte("x")}}, 0); err != nil {
			t.Fatal(err)
		}
		_, _ = g.Write([]byte{0x8a, 0}) // a pong
	}
	if c.sets != 1 {
		t.Fatalf("%d deadline updates for 200 writes within the first tenth of the timeout, want 1", c.sets)
	}
	g.deadline = time.Now().Add(time.Hour / 2).UnixNano() // half left
	if _, _, err := writeFramed(&g.writer, []Message{{Payload: []byte("x")}}, 0); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(time.Unix(0, g.deadline)); c.sets != 2 || left < 59*time.Minute {
		t.Fatalf("sets=%d, deadline in %v: a stale deadline must be renewed to a full timeout", c.sets, left)
	}
}
