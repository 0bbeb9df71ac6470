package websocket

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// readBufSize is the pooled buffer a readable connection reads into. Frames
// whole within one read are delivered from it without a copy.
const readBufSize = 16 << 10

// readBuf is one pooled read buffer with the RawConn.Read callback bound to
// it once, so a read costs no allocation.
type readBuf struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

var readBufs = sync.Pool{New: func() any {
	rb := &readBuf{b: make([]byte, readBufSize)}
	rb.fn = func(fd uintptr) bool {
		rb.n, rb.err = syscall.Read(int(fd), rb.b)
		return true
	}
	return rb
}}

// Reader states of a pollConn.
const (
	connIdle uint32 = iota // no reader runs; the descriptor is armed (or about to be)
	connBusy               // a reader runs, or the connection is being finished
)

// pollConn is one connection of the poller engine. While idle it is this
// struct and the socket, nothing more: no goroutine, no buffer.
//
// Exactly one goroutine reads at a time: whoever moves state from idle to
// busy (the poller on a readiness event, Close or Abort to finish). A reader
// gives the connection back by storing idle and then re-arming the
// descriptor, so an event can only start a new reader after the last one
// let go.
type pollConn struct {
	eng   *pollEngine
	p     *poller // nil when read by a goroutine of its own
	raw   syscall.RawConn
	h     Handler
	w     writer
	fr    frameReader
	pre   *[]byte // bytes the client sent behind its request, not yet decoded (rare: a pointer)
	fd    int
	state atomic.Uint32
	done  atomic.Bool // OnClose was called (or is being)
	armed bool        // the descriptor was added to the epoll set; reader-owned

	// closing is set once we sent a Close frame: data frames are no
	// longer delivered, and the peer's Close (or EOF) ends the connection.
	closing atomic.Bool
	endErr  error // what OnClose receives after a Close frame; reader-owned
}

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
		go c.drain() // busy already: the drain is the reader
		return
	}
	c.state.Store(connIdle)
	c.rearm()
}

// ready is the poller's readiness event.
func (c *pollConn) ready() {
	if c.state.CompareAndSwap(connIdle, connBusy) {
		go c.drain()
	}
}

// drain reads what the socket has, decodes and delivers it, then gives the
// connection back to the poller.
func (c *pollConn) drain() {
	rb := readBufs.Get().(*readBuf)
	if !c.decodePre() {
		readBufs.Put(rb)
		return
	}
	for {
		rb.n, rb.err = 0, nil
		if err := c.raw.Read(rb.fn); err != nil {
			readBufs.Put(rb)
			c.finish(c.readEnd(err)) // closed under us (Abort, Close)
			return
		}
		n, err := rb.n, rb.err
		if n > 0 {
			if !c.decode(rb.b[:n]) {
				readBufs.Put(rb)
				return
			}
		}
		if n == len(rb.b) || err == syscall.EINTR {
			continue // there may be more
		}
		if n > 0 || err == syscall.EAGAIN {
			break // drained (after a short read the re-arm reports anything newer)
		}
		readBufs.Put(rb)
		if err == nil {
			err = io.EOF
		}
		c.finish(c.readEnd(err))
		return
	}
	readBufs.Put(rb)
	c.state.Store(connIdle)
	c.rearm()
}

// rearm asks for the next readiness event. A socket closed meanwhile
// cannot be armed: then the connection is finished by whoever claims it.
func (c *pollConn) rearm() {
	first := !c.armed
	c.armed = true
	var aerr error
	err := c.raw.Control(func(fd uintptr) { aerr = c.p.arm(int(fd), first) })
	if err == nil {
		err = aerr
	}
	if err != nil {
		c.claimFinish(err)
	}
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

// decodePre decodes the bytes that came behind the upgrade request.
func (c *pollConn) decodePre() bool {
	if c.pre == nil {
		return true
	}
	pre := *c.pre
	c.pre = nil
	return c.decode(pre)
}

// decode feeds b to the frame reader; false means the connection ended
// (and was finished).
func (c *pollConn) decode(b []byte) bool {
	if f := c.fr.feed(b, c); f != nil {
		c.fail(f)
		return false
	}
	if c.fr.closed {
		c.finish(c.endErr)
		return false
	}
	return true
}

// readEnd is what OnClose hears when reading stopped on err: a peer that
// went away after our Close frame closed cleanly.
func (c *pollConn) readEnd(err error) error {
	if c.closing.Load() {
		return c.endErr
	}
	return err
}

// message is frameSink.message.
func (c *pollConn) message(binary bool, payload []byte) {
	if c.closing.Load() {
		return // we are closing: the application has said its last word
	}
	c.h.OnMessage(binary, payload)
}

// control is frameSink.control: pings are answered, a Close frame is
// checked, reported to OnPeerClose and answered.
func (c *pollConn) control(op byte, payload []byte) bool {
	switch op {
	case 0x9:
		_ = c.writeControl(0xA, payload)
		c.h.OnPing()
		return true
	case 0xA:
		return true
	}
	code, reason := uint16(0), payload
	if len(payload) >= 2 {
		code, reason = binary.BigEndian.Uint16(payload), payload[2:]
		if !validCloseCode(code) {
			c.fail(protocolFailure("invalid close code"))
			c.endErr = ErrProtocol
			return false
		}
		if !utf8.Valid(reason) {
			c.fail(&failure{code: 1007, reason: "invalid UTF-8", err: ErrInvalidUTF8})
			c.endErr = ErrInvalidUTF8
			return false
		}
	}
	if c.closing.Load() {
		c.w.conn.Close() // the answer to our Close: the handshake is over
		return false
	}
	c.h.OnPeerClose()
	var reply []byte
	if code != 0 {
		reply = binary.BigEndian.AppendUint16(make([]byte, 0, 2), code)
	}
	_ = c.writeControl(0x8, reply)
	c.w.conn.Close()
	return false
}

// inflate is frameSink.inflate.
func (c *pollConn) inflate(compressed []byte, limit int) ([]byte, error) {
	return inflateMessage(compressed, limit)
}

// fail closes the connection with f's code (the writer sends nothing after
// an earlier Close frame) and remembers f's error for OnClose.
func (c *pollConn) fail(f *failure) {
	c.endErr = f.err
	_ = c.writeControl(0x8, closePayloadOf(f.code, f.reason))
	c.finish(f.err)
}

func closePayloadOf(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), code), reason...)
}

// writeControl writes one control frame (payload ≤ 125 bytes).
func (c *pollConn) writeControl(op byte, payload []byte) error {
	var f [2 + 125]byte
	f[0], f[1] = 0x80|op, byte(len(payload))
	n := copy(f[2:], payload)
	_, err := c.w.Write(f[:2+n])
	return err
}

// finish ends c once: the socket closed, the poller told, OnClose called.
// Only the connection's current reader calls it (or whoever claimed it).
func (c *pollConn) finish(err error) {
	if !c.done.CompareAndSwap(false, true) {
		return
	}
	c.w.conn.Close()
	c.fr.msg, c.fr.ctl = nil, nil
	c.eng.unregister(c)
	c.h.OnClose(err)
}

// claimFinish finishes c from outside its reader: only when no reader runs
// (one that does finishes c itself, when its next read fails).
func (c *pollConn) claimFinish(err error) {
	if c.state.CompareAndSwap(connIdle, connBusy) {
		c.finish(err)
	}
}

// WriteBatch writes msgs with one vectored write (compressed one by one when
// permessage-deflate was negotiated).
func (c *pollConn) WriteBatch(msgs []Message) (n, bytes int, err error) {
	return c.WriteBatchPrefixed(0, msgs)
}

// WriteBatchPrefixed is Conn.WriteBatchPrefixed.
func (c *pollConn) WriteBatchPrefixed(prefix byte, msgs []Message) (n, bytes int, err error) {
	if c.fr.deflate {
		return writeDeflated(&c.w, msgs, prefix)
	}
	return writeFramed(&c.w, msgs, prefix)
}

// WriteMessage writes one data frame.
func (c *pollConn) WriteMessage(binary bool, payload []byte) error {
	var one [1]Message
	one[0] = Message{Payload: payload, Binary: binary}
	_, _, err := c.WriteBatch(one[:])
	return err
}

// closeWait bounds how long a Close frame of ours waits for the peer's
// reply before the socket is closed anyway.
const closeWait = 2 * time.Second

// Close sends a Close frame and half-closes the socket; the peer's reply
// (or its EOF, or closeWait) ends the connection. Reading on until then
// keeps unread bytes from turning the close into a reset, which could
// destroy what was just written.
func (c *pollConn) Close(code uint16, reason string) error {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	if !c.closing.CompareAndSwap(false, true) {
		return nil
	}
	err := c.writeControl(0x8, closePayloadOf(code, reason))
	if err != nil {
		c.w.conn.Close()
		c.claimFinish(nil)
		return err
	}
	if tc, ok := c.w.conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	time.AfterFunc(closeWait, func() {
		c.w.conn.Close()
		c.claimFinish(nil)
	})
	return nil
}

// Abort closes the socket without a Close frame.
func (c *pollConn) Abort() error {
	err := c.w.conn.Close()
	c.claimFinish(net.ErrClosed)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// RemoteAddr is the peer's address.
func (c *pollConn) RemoteAddr() net.Addr { return c.w.conn.RemoteAddr() }
