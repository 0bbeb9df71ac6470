package websocket

import (
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// pollConn is one connection of the poller engine. While idle it is this
// struct and the socket, nothing more: no goroutine, no buffer.
//
// Exactly one goroutine reads at a time: whoever moves state from idle to
// busy (the poller on a readiness event, Close or Abort to finish). How a
// reader runs, lingers and gives the connection back is poll_reader.go.
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
	armed bool        // the descriptor is in the epoll set; reader-owned

	// lastDrain is when the last reader started (Unix ns; reader-owned):
	// a connection read again within lingerFor lingers (poll_reader.go).
	lastDrain int64

	// closing is set once we sent a Close frame: data frames are no
	// longer delivered, and the peer's Close (or EOF) ends the connection.
	closing atomic.Bool
	endErr  error // what OnClose receives after a Close frame; reader-owned
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
