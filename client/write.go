package client

import (
	"errors"

	"github.com/lxzan/gws"

	"github.com/allspark/allspark/internal/primus"
)

// Write sends data to the server, encoded by the parser.
//
// While the client is open, Write returns once the frame is handed to the
// socket, so it blocks while the socket's send buffer is full. Otherwise the
// frame is queued (see Options.QueueSize) and sent, in order, as soon as a
// connection opens, before any later Write. A frame the socket refuses
// because the connection just broke is queued the same way. nil therefore
// means "sent or queued".
//
// Write returns ErrReserved for strings starting with "primus::", a
// *parser.Error when the value cannot be encoded, ErrClosed after End and
// ErrDestroyed after Destroy.
func (c *Client) Write(data any) error {
	if s, ok := data.(string); ok && primus.IsReserved(s) {
		return ErrReserved
	}
	payload, binary, err := c.opts.Parser.Encode(data)
	if err != nil {
		return err
	}
	return c.send(frame{payload: payload, binary: binary, data: data})
}

// send writes f to the open connection, or queues it. mu is never held
// while waiting for wmu: a write stuck on a dead peer must not stop the
// watchdog, which needs mu to cut that peer.
func (c *Client) send(f frame) error {
	for {
		c.mu.Lock()
		switch {
		case c.destroyed:
			c.mu.Unlock()
			return ErrDestroyed
		case c.ended:
			c.mu.Unlock()
			return ErrClosed
		case c.state != Open:
			c.qmu.Lock()
			dropped := c.queue.push(f, c.opts.QueueSize)
			c.qmu.Unlock()
			c.reportDropsLocked(dropped)
			c.unlock()
			return nil
		}
		ws := c.ws
		c.mu.Unlock()

		// A connection that opened before we got here holds wmu until it
		// has flushed the queue, so this write follows the queued ones.
		c.wmu.Lock()
		err := writeFrame(ws, f)
		c.wmu.Unlock()
		if err == nil || permanent(err) {
			return err
		}
		// The connection broke under us. Unless a newer one is already open
		// (then try that), the frame is queued for the next one.
		c.mu.Lock()
		if c.state == Open && c.ws != ws {
			c.mu.Unlock()
			continue
		}
		if !c.destroyed {
			c.qmu.Lock()
			dropped := c.queue.push(f, c.opts.QueueSize)
			c.qmu.Unlock()
			c.reportDropsLocked(dropped)
		}
		c.unlock()
		return nil
	}
}

// flush writes the frames queued while the client was not open, then the
// id request if ID is waiting. The caller holds wmu; flush releases it.
func (c *Client) flush(ws *gws.Conn, askID bool) {
	var dropped []frame
	c.qmu.Lock()
	fs := c.queue.take()
	c.qmu.Unlock()
	for i := range fs {
		err := writeFrame(ws, fs[i])
		if err == nil || permanent(err) {
			fs[i] = frame{}
			continue
		}
		c.qmu.Lock()
		dropped = c.queue.pushFront(fs[i:], c.opts.QueueSize)
		c.qmu.Unlock()
		askID = false
		break
	}
	if askID {
		_ = c.writeControl(ws, primus.IDRequest)
	}
	c.wmu.Unlock()
	c.reportDrops(dropped)
}

func writeFrame(ws *gws.Conn, f frame) error {
	op := gws.OpcodeText
	if f.binary {
		op = gws.OpcodeBinary
	}
	return ws.WriteMessage(op, f.payload)
}

// writeControl writes a protocol message, bypassing the queue, as Primus's
// _write does for pongs and id requests.
func (c *Client) writeControl(ws *gws.Conn, msg string) error {
	payload, binary, err := c.opts.Parser.Encode(msg)
	if err != nil {
		return err
	}
	return writeFrame(ws, frame{payload: payload, binary: binary})
}

// permanent reports write errors that no connection would fix; such a frame
// is not queued again.
func permanent(err error) bool {
	return errors.Is(err, gws.ErrMessageTooLarge) || errors.Is(err, gws.ErrTextEncoding)
}

func (c *Client) reportDrops(dropped []frame) {
	if len(dropped) == 0 {
		return
	}
	c.mu.Lock()
	c.reportDropsLocked(dropped)
	c.unlock()
}

func (c *Client) reportDropsLocked(dropped []frame) {
	for _, f := range dropped {
		c.emit(Event{Kind: EventDrop, Data: f.data, Err: ErrQueueFull})
	}
}
