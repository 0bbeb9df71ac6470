package load

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/allspark/allspark/bench/harness/internal/proto"
	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

// conn is one client connection: a reader goroutine and serialized writes.
type conn struct {
	nc    net.Conn
	p     proto.Protocol
	mask  [4]byte
	wmu   sync.Mutex
	wbuf  []byte
	ready chan struct{} // closed once the hello replies have arrived

	need    int
	replies int
	closed  atomic.Bool
}

// onMessage is called by the reader for every data message.
type onMessage func(msg []byte)

// client is one load-generator connection, whatever its transport: a
// WebSocket (conn) or an Engine.IO polling session (pollClient).
type client interface {
	// send queues or writes one text message.
	send(msg []byte) error
	// close ends the connection; its reader goroutine then returns.
	close()
	// isClosed reports whether the reader goroutine has ended.
	isClosed() bool
	// readyChan is closed once the connection is ready (hello replies in).
	readyChan() <-chan struct{}
}

func dial(ctx context.Context, addr string, local *net.TCPAddr, p proto.Protocol, rooms []string, id uint32) (*conn, *bufio.Reader, error) {
	nc, br, err := wsframe.Dial(ctx, wsframe.DialOptions{Addr: addr, Path: p.Path(rooms), Local: local, Deflate: proto.OffersDeflate(p)})
	if err != nil {
		return nil, nil, err
	}
	c := &conn{nc: nc, p: p, ready: make(chan struct{}), need: p.HelloReplies(rooms)}
	c.mask = [4]byte{byte(id), byte(id >> 8), byte(id >> 16), 0x5a}
	if c.need == 0 {
		close(c.ready)
	}
	for _, m := range p.Hello(rooms) {
		if err := c.send(m); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	return c, br, nil
}

// send writes one text message.
func (c *conn) send(msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = wsframe.AppendFrame(c.wbuf[:0], wsframe.OpText, msg, &c.mask)
	_, err := c.nc.Write(c.wbuf)
	return err
}

func (c *conn) sendControl(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = wsframe.AppendFrame(c.wbuf[:0], op, payload, &c.mask)
	_, err := c.nc.Write(c.wbuf)
	return err
}

// read runs until the connection fails or is closed, answering heartbeats
// and handing data messages to fn once the connection is ready.
func (c *conn) read(br *bufio.Reader, fn onMessage) {
	defer c.closed.Store(true)
	rd := &wsframe.Reader{R: br, Limit: 16 << 20, Deflate: proto.OffersDeflate(c.p), OnControl: func(op byte, p []byte) error {
		if op == wsframe.OpPing {
			return c.sendControl(wsframe.OpPong, p)
		}
		return nil
	}}
	for {
		_, msg, err := rd.ReadMessage()
		if err != nil {
			return
		}
		if hb := c.p.Heartbeat(msg); hb != nil {
			if err := c.send(hb); err != nil {
				return
			}
			continue
		}
		if c.replies < c.need {
			c.replies += c.p.Replies(msg)
			if c.replies >= c.need {
				close(c.ready)
			}
		}
		if fn != nil {
			fn(msg)
		}
	}
}

func (c *conn) close()                     { _ = c.nc.Close() }
func (c *conn) isClosed() bool             { return c.closed.Load() }
func (c *conn) readyChan() <-chan struct{} { return c.ready }

var errNotReady = errors.New("load: connection did not become ready")
