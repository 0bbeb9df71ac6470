package sse

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// trickleConn takes at most step bytes per Write and then fails it with
// a deadline error, as a socket does to a client that reads slowly but
// steadily; after stall such writes it takes nothing at all.
type trickleConn struct {
	net.Conn // nil: only Write and SetWriteDeadline are used
	step     int
	stall    int // writes with progress before the client stops reading
	got      bytes.Buffer
	renewals int
}

func (c *trickleConn) Write(b []byte) (int, error) {
	if c.stall == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	c.stall--
	n := min(len(b), c.step)
	c.got.Write(b[:n])
	if n < len(b) {
		return n, os.ErrDeadlineExceeded
	}
	return n, nil
}

func (c *trickleConn) SetWriteDeadline(time.Time) error { c.renewals++; return nil }

// TestChunkWriteGoesOnWhileTheClientReads: a write that times out after
// progress is renewed and goes on, in both write paths (one buffer, and
// writev of the pieces); one that makes no progress fails.
func TestChunkWriteGoesOnWhileTheClientReads(t *testing.T) {
	for _, size := range []int{1000, coalesceMax + 1000} { // coalesced, then writev
		frame := []byte(strings.Repeat("f", size))
		c := &trickleConn{step: 300, stall: 1 << 20}
		o := &connOutput{c: c, timeout: time.Second}
		if err := o.write(net.Buffers{nil, frame}, len(frame)); err != nil {
			t.Fatalf("size %d: a steady reader was cut: %v", size, err)
		}
		want := strconv.FormatInt(int64(size), 16) + "\r\n" + string(frame) + "\r\n"
		if c.got.String() != want {
			t.Fatalf("size %d: wrote %d bytes, want the chunk of %d", size, c.got.Len(), len(want))
		}
		if c.renewals < size/300-1 {
			t.Errorf("size %d: %d deadline renewals", size, c.renewals)
		}

		stuck := &trickleConn{step: 300, stall: 2}
		o = &connOutput{c: stuck, timeout: time.Second}
		if err := o.write(net.Buffers{nil, frame}, len(frame)); err == nil {
			t.Errorf("size %d: a client that stopped reading was not cut", size)
		}
	}
}
