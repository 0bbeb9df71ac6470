package websocket

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// The read side of the poller engine: how a readiness event becomes a
// reader, what the reader holds, and how it gives the connection back.
//
// A reader is a goroutine started by the poller (pollConn.ready) when an
// idle connection becomes readable. It reads into a pooled buffer until the
// socket has nothing more, delivering as it goes. Then one of two things:
//
//   - A quiet connection (its last reader started more than lingerFor ago)
//     is given back at once: the buffer returns to the pool, the
//     descriptor is re-armed, the goroutine ends. An idle connection costs
//     its pollConn and nothing else.
//   - A busy one (read again within lingerFor) keeps its reader, parked on
//     the runtime's netpoller as a gws reader would be, until it has been
//     quiet for lingerFor. It holds no buffer while parked. A connection
//     that keeps sending is then read the way a goroutine-per-connection
//     engine reads it, with no readiness event, no re-arm and no new
//     goroutine per message; only while it is busy does it cost a
//     goroutine.

// lingerFor is how long a busy connection's reader waits for more bytes
// before giving the connection back, and how close together two readers
// must start for the connection to count as busy. Heartbeats (every 25-30
// s) never make a connection busy; an echo at 10 messages a second does.
const lingerFor = 250 * time.Millisecond

// readBufSize is the pooled buffer a readable connection reads into. Frames
// whole within one read are delivered from it without a copy.
const readBufSize = 16 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// drainer is a reader's scratch state, pooled. Its RawConn.Read callback is
// bound once, so a read costs no allocation, and it takes a buffer only
// when there are bytes: a parked reader holds none.
type drainer struct {
	buf  *[]byte // nil while there is nothing to hold
	n    int
	err  error
	wait bool // on EAGAIN, park on the netpoller (linger) instead of returning
	fn   func(fd uintptr) bool

	// The re-arm's RawConn.Control callback, bound once like fn.
	c     *pollConn
	first bool
	aerr  error
	armFn func(fd uintptr)
}

var drainers = sync.Pool{New: func() any {
	d := &drainer{}
	d.fn = func(fd uintptr) bool {
		if d.buf == nil {
			d.buf = readBufs.Get().(*[]byte)
		}
		d.n, d.err = syscall.Read(int(fd), *d.buf)
		if d.n <= 0 && d.err == syscall.EAGAIN && d.wait {
			d.putBuf()
			return false
		}
		return true
	}
	d.armFn = func(fd uintptr) { d.aerr = d.c.p.arm(int(fd), d.first) }
	return d
}}

func (d *drainer) putBuf() {
	if d.buf != nil {
		readBufs.Put(d.buf)
		d.buf = nil
	}
}

func (d *drainer) done() {
	d.putBuf()
	d.wait, d.err, d.c = false, nil, nil
	drainers.Put(d)
}

// Reader states of a pollConn.
const (
	connIdle    uint32 = iota // no reader runs; the descriptor is armed (or about to be)
	connBusy                  // a reader runs, or the connection is being finished
	connPending               // a reader runs and an event came for it: it reads once more
)

// start begins reading c, which Upgrade made busy: through a poller when
// the socket allows it.
func (c *pollConn) start(sock net.Conn) {
	if c.raw = rawConnOf(sock); c.raw != nil {
		_ = c.raw.Control(func(fd uintptr) { c.fd = int(fd) })
	}
	if c.raw == nil || c.fd < 0 || !c.eng.register(c) {
		go c.readLoop() // stays busy: the loop is the reader for good
		return
	}
	c.p.add(c.fd, c)
	if c.pre != nil {
		go c.drain() // bytes behind the request: read them first
		return
	}
	d := drainers.Get().(*drainer)
	released := c.release(d)
	d.done()
	if !released {
		go c.drain() // an event already
	}
}

// ready is the poller's readiness event. The descriptor is armed one shot
// at a time and only while c is idle, so an event for a busy c is a stale
// one for an earlier connection under the same number; it costs one more
// read, which finds nothing.
func (c *pollConn) ready() {
	for {
		switch c.state.Load() {
		case connIdle:
			if c.state.CompareAndSwap(connIdle, connBusy) {
				go c.drain()
				return
			}
		case connBusy:
			if c.state.CompareAndSwap(connBusy, connPending) {
				return
			}
		default:
			return // pending already
		}
	}
}

// drain is a reader: it reads what the socket has, decodes and delivers it,
// lingers if c is busy, then gives c back to the poller.
func (c *pollConn) drain() {
	if !c.decodePre() {
		return
	}
	d := drainers.Get().(*drainer)
	now := time.Now().UnixNano()
	busy := now-c.lastDrain < int64(lingerFor)
	c.lastDrain = now
	var until int64 // while lingering: the read deadline
	for {
		d.n, d.err = 0, nil
		if err := c.raw.Read(d.fn); err != nil {
			if d.wait && errors.Is(err, os.ErrDeadlineExceeded) {
				c.stopLinger(d) // quiet for at least lingerFor/2
				if !c.release(d) {
					continue // an event came: read again
				}
				d.done()
				return
			}
			d.done()
			c.finish(c.readEnd(err)) // closed under us (Abort, Close)
			return
		}
		n, err := d.n, d.err
		if n > 0 {
			if d.wait {
				until = c.extendLinger(until)
			}
			if !c.decode((*d.buf)[:n]) {
				d.done()
				return
			}
		}
		if n == readBufSize || err == syscall.EINTR {
			continue // there may be more
		}
		if n <= 0 && err != syscall.EAGAIN { // EOF, or an error (n is -1)
			d.done()
			if err == nil {
				err = io.EOF
			}
			c.finish(c.readEnd(err))
			return
		}
		// Drained (after a short read the next read says EAGAIN, or the
		// re-arm reports anything newer).
		d.putBuf()
		if d.wait {
			continue // lingering: park until more comes or the deadline
		}
		if busy {
			if until = c.extendLinger(0); until != 0 {
				d.wait = true
				continue
			}
		}
		if c.release(d) {
			d.done()
			return
		}
	}
}

// extendLinger keeps a lingering reader's deadline between lingerFor/2
// and lingerFor ahead of the last bytes it read. Moving a deadline is a
// timer change, not a wake-up, and happens at most once per lingerFor/2, so
// a reader that keeps getting bytes is never woken by its deadline. It
// returns the deadline, or 0 if none could be set.
func (c *pollConn) extendLinger(until int64) int64 {
	now := time.Now().UnixNano()
	if until-now >= int64(lingerFor/2) {
		return until
	}
	until = now + int64(lingerFor)
	if c.w.conn.SetReadDeadline(time.Unix(0, until)) != nil {
		return 0
	}
	return until
}

// stopLinger ends a reader's lingering, clearing the deadline so the next
// reader's reads do not fail at once.
func (c *pollConn) stopLinger(d *drainer) {
	_ = c.w.conn.SetReadDeadline(time.Time{})
	d.wait = false
}

// release gives c back to the poller and re-arms its descriptor, through
// d's bound callback (no allocation). False means an event came since the
// last read, and the caller (still c's reader) must read again. A socket
// closed meanwhile cannot be armed: then c is finished by whoever claims
// it (a Close or Abort that found c busy left finishing it to the reader).
func (c *pollConn) release(d *drainer) bool {
	// armed is written before the CAS that lets c go: the next reader,
	// which starts by a CAS from idle, reads it.
	first := !c.armed
	c.armed = true
	if !c.state.CompareAndSwap(connBusy, connIdle) {
		c.armed = !first
		c.state.Store(connBusy) // from pending: one more read
		return false
	}
	d.c, d.first, d.aerr = c, first, nil
	err := c.raw.Control(d.armFn)
	if err == nil {
		err = d.aerr
	}
	d.aerr = nil
	if err != nil {
		c.claimFinish(err)
	}
	return true
}

// readLoop is the reader of a connection no poller watches: a goroutine
// with the same decoder, blocked in Read while idle.
func (c *pollConn) readLoop() {
	if !c.decodePre() {
		return
	}
	b := make([]byte, 4<<10)
	for {
		n, err := c.w.conn.Read(b)
		if n > 0 && !c.decode(b[:n]) {
			return
		}
		if err != nil {
			c.finish(c.readEnd(err))
			return
		}
	}
}
