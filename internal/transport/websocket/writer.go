package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// writer is the write side of one connection, shared by both engines: the
// gate embeds it under gws, and the poller engine's conn writes through it.
// gws writes each frame with one Write call (doWrite → WriteN); our batches
// come through writeBuffers, the poller engine's pongs and Close frames
// through Write. One mutex orders them all, which gives two guarantees gws
// alone cannot:
//
//   - Nothing follows a Close frame (RFC 6455 §5.5.1): once one was written,
//     ours or gws's reply, every later write fails with net.ErrClosed and
//     writes nothing.
//   - The write deadline tracks progress: a write that times out after
//     having written something gets a fresh deadline and goes on with the
//     rest, so only a peer that accepts nothing for a whole write timeout
//     is cut (after between 0.9× and 2× the timeout without progress: a
//     write that timed out does not say when its last byte left).
//
// Under gws, gws takes its own Conn.mu before calling Write, so the lock
// order is gws's lock, then wmu; the read side never holds either while it
// calls OnPeerClose.
type writer struct {
	conn     net.Conn
	cfg      *gateConfig
	wmu      sync.Mutex
	wstate   writeState // guarded by wmu
	deadline int64      // write deadline last set on conn, Unix ns; guarded by wmu
}

type writeState uint8

const (
	writeHandshake writeState = iota // before the 101 is out: bytes pass unframed
	writeOpen
	writeClosed // a Close frame was written, or a write failed mid-frame
)

// open marks the handshake done: from now on writes are frames.
func (g *writer) open() {
	g.wmu.Lock()
	g.wstate = writeOpen
	g.wmu.Unlock()
}

// Write writes one of gws's frames, or before the upgrade its handshake
// response.
func (g *writer) Write(b []byte) (int, error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	switch g.wstate {
	case writeClosed:
		return 0, net.ErrClosed
	case writeOpen:
		if len(b) > 0 && b[0]&0x0f == 0x8 {
			g.wstate = writeClosed
			return g.writeClose(b)
		}
	}
	n, err := g.writeLocked(b)
	if err != nil {
		g.wstate = writeClosed // a partial frame: anything after it would be garbage
	}
	return n, err
}

// writeClose writes a Close frame of gws's, tidied by tidyClose.
func (g *writer) writeClose(b []byte) (int, error) {
	var tidy [2 + 125]byte
	if _, err := g.writeLocked(tidyClose(tidy[:0], b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// tidyClose appends to dst the Close frame b with two corrections of gws's
// wording: the inflate limit, which gws reports as an internal error (1011),
// becomes 1009 like every other over-limit message; and the reason loses
// gws's "gws: " prefix, since peers need not know the engine. A frame not
// shaped as expected is returned as is.
func tidyClose(dst, b []byte) []byte {
	if len(b) < 4 || b[1]&0x80 != 0 || int(b[1]&0x7f) != len(b)-2 {
		return b
	}
	code, reason := binary.BigEndian.Uint16(b[2:4]), b[4:]
	if code == 1011 && bytes.HasSuffix(reason, []byte("message too large")) {
		code = 1009
	}
	reason = bytes.TrimPrefix(reason, []byte("gws: "))
	dst = append(dst, b[0], byte(2+len(reason)))
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(dst, reason...)
}

// writeBuffers writes bufs (consuming them) with vectored writes: a batch
// of our own frames, never a Close frame.
//
// No defer, and the deadline check out of line: this frame sits under the
// writev system call on every writer goroutine's stack (see vector.build).
func (g *writer) writeBuffers(bufs *net.Buffers) error {
	g.wmu.Lock()
	if g.wstate != writeOpen {
		g.wmu.Unlock()
		return net.ErrClosed
	}
	var err error
	for {
		g.refreshDeadline()
		var n int64
		n, err = bufs.WriteTo(g.conn)
		if err == nil || !progressed(n, err) {
			break
		}
		g.deadline = 0
	}
	if err != nil {
		g.wstate = writeClosed
	}
	g.wmu.Unlock()
	return err
}

// writeLocked writes all of b, renewing the deadline while the peer makes
// progress. g.wmu is held.
func (g *writer) writeLocked(b []byte) (int, error) {
	total := 0
	for {
		g.refreshDeadline()
		n, err := g.conn.Write(b[total:])
		total += n
		if err == nil || !progressed(int64(n), err) {
			return total, err
		}
		g.deadline = 0
	}
}

// progressed reports whether a write that failed with err after n bytes
// only ran out of time while the peer was still taking bytes.
func progressed(n int64, err error) bool {
	return n > 0 && errors.Is(err, os.ErrDeadlineExceeded)
}

// refreshDeadline sets the write deadline to now+timeout unless the one
// already set leaves at least 90 % of it: setting a deadline updates a
// runtime timer, which cost 8–9 % of server CPU in fan-out when done for
// every batch. Every write still gets at least 0.9 × timeout.
func (g *writer) refreshDeadline() {
	now, t := time.Now().UnixNano(), g.cfg.writeTimeout
	if g.deadline-now >= t*9/10 {
		return
	}
	g.deadline = now + t
	_ = g.conn.SetWriteDeadline(time.Unix(0, g.deadline))
}
