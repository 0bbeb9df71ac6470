package sio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/allspark/allspark/internal/eio"
	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/transport"
)

// conn is one Socket.IO client connection: the Handler of an Engine.IO
// session. The session calls OnMessage from one goroutine at a time, so
// the decoding state (pending) needs no lock.
//
// Lock order: writeMu, then mu. writeMu serializes every write to the
// Engine.IO session (the session takes one writer at a time; each
// namespace socket's spark has its own writer); mu guards the namespace
// table and the close state. Neither is held while a spark's handler runs.
type conn struct {
	srv  *Server
	sess transport.Session
	req  *http.Request

	writeMu sync.Mutex

	mu     sync.Mutex
	nsps   map[string]*socket
	closed bool
	// reason overrides the one derived from the session's end error: a
	// parse error, a forced close, a shutdown.
	reason Reason
	timer  *time.Timer // connectTimeout, until the first namespace joins

	// pending is a binary packet waiting for its attachments.
	pending     *Packet
	pendingAtts [][]byte
	pendingSize int
	// failed: a malformed packet closed the connection; what the client
	// sent after it is ignored.
	failed bool

	// Guarded by mu: packets the connection answers itself (CONNECT
	// replies, CONNECT_ERROR), written by a writer goroutine that runs
	// while there are some, never by the read path.
	control        []controlPacket
	controlRunning bool
	// controlSpace is closed (and cleared) when the writer took the
	// queued answers: a reader waiting at the bound may look again.
	controlSpace chan struct{}
}

// controlPacket is a packet the connection writes itself: a socket's
// CONNECT reply (sock set; skipped if the socket's own writer wrote it
// first) or a ready payload.
type controlPacket struct {
	sock    *socket
	payload []byte
}

// maxPendingControl bounds the answers a connection holds for a client
// that sends CONNECTs faster than it reads them: at the bound the read
// path waits for the control writer (back-pressure, as any reader at a
// full inbound queue). Below it the read path never waits for a write: a
// polling client that is upgrading sends no GET until its POST is
// answered, and no client has a thousand CONNECTs in flight.
const maxPendingControl = 1024

// queueControl queues p for the control writer, starting it if idle.
func (c *conn) queueControl(p controlPacket) {
	c.mu.Lock()
	for len(c.control) >= maxPendingControl && !c.closed {
		if c.controlSpace == nil {
			c.controlSpace = make(chan struct{})
		}
		wait := c.controlSpace
		c.mu.Unlock()
		<-wait
		c.mu.Lock()
	}
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.control = append(c.control, p)
	start := !c.controlRunning
	c.controlRunning = true
	c.mu.Unlock()
	if start {
		go c.writeControl()
	}
}

// wakeControlLocked lets a reader waiting for room in control look again.
func (c *conn) wakeControlLocked() {
	if c.controlSpace != nil {
		close(c.controlSpace)
		c.controlSpace = nil
	}
}

// writeControl writes the queued control packets, in order, until none is
// left or the session is gone.
func (c *conn) writeControl() {
	var out []transport.Message
	for {
		c.mu.Lock()
		batch := c.control
		c.control = nil
		c.wakeControlLocked()
		if len(batch) == 0 || c.closed {
			c.controlRunning = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.writeMu.Lock()
		out = out[:0]
		for _, p := range batch {
			if p.sock == nil {
				out = append(out, transport.Message{Payload: p.payload})
			} else if !p.sock.replied {
				p.sock.replied = true
				out = append(out, transport.Message{Payload: p.sock.connectReply()})
			}
		}
		var err error
		if len(out) > 0 {
			_, _, err = c.sess.WriteBatch(out)
		}
		c.writeMu.Unlock()
		if err != nil {
			c.mu.Lock()
			c.control = nil
			c.controlRunning = false
			c.closed = true // the session is gone; OnClose follows
			c.wakeControlLocked()
			c.mu.Unlock()
			return
		}
	}
}

func newConn(srv *Server, sess transport.Session, r *http.Request) *conn {
	c := &conn{srv: srv, sess: sess, req: r, nsps: make(map[string]*socket)}
	c.timer = time.AfterFunc(srv.cfg.ConnectTimeout, c.connectTimeout)
	return c
}

// connectTimeout closes a connection that joined no namespace in time, as
// the reference does.
func (c *conn) connectTimeout() {
	c.mu.Lock()
	idle := len(c.nsps) == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.srv.cfg.Logger.Debug("socket.io connect timeout")
		c.setReason(ReasonForcedServerClose)
		_ = c.sess.Close(1000, "connect timeout")
	}
}

func (c *conn) setReason(r Reason) {
	c.mu.Lock()
	if c.reason == "" {
		c.reason = r
	}
	c.mu.Unlock()
}

// fail ends the connection on a malformed packet: the reference closes
// the Engine.IO session with reason "parse error".
func (c *conn) fail(err error) {
	c.failed = true
	c.pending, c.pendingAtts = nil, nil
	c.srv.cfg.Logger.Debug("socket.io parse error", "err", err)
	c.setReason(ReasonParseError)
	// Not on the read path: on polling, Close waits for a GET to carry the
	// close packet, and the client may be waiting for this POST's answer.
	// Once per connection (failed stops the reading).
	go func() { _ = c.sess.Close(1000, "parse error") }()
}

// OnMessage implements transport.Handler: one Engine.IO message, a packet
// or an attachment of the packet before it.
func (c *conn) OnMessage(binary bool, payload []byte) {
	if c.failed {
		return
	}
	if c.pending != nil {
		if !binary {
			c.fail(ErrUnexpectedText)
			return
		}
		c.pendingSize += len(payload)
		if c.pendingSize > c.srv.cfg.MaxMessage {
			c.pending, c.pendingAtts = nil, nil
			c.fail(ErrAttachmentsTooLarge)
			return
		}
		c.pendingAtts = append(c.pendingAtts, append([]byte(nil), payload...))
		if len(c.pendingAtts) < c.pending.Attachments {
			return
		}
		p, atts, size := *c.pending, c.pendingAtts, c.pendingSize
		c.pending, c.pendingAtts, c.pendingSize = nil, nil, 0
		c.handle(p, atts, size)
		return
	}
	if binary {
		c.fail(ErrUnexpectedBinary)
		return
	}
	p, err := Decode(payload, c.srv.cfg.MaxAttachments)
	if err != nil {
		c.fail(err)
		return
	}
	if p.Attachments > 0 {
		p.Data = append([]byte(nil), p.Data...) // payload is only valid during the call
		c.pending, c.pendingSize = &p, len(payload)
		c.pendingAtts = make([][]byte, 0, p.Attachments)
		return
	}
	c.handle(p, nil, len(payload))
}

// handle acts on one complete packet; size counts its bytes with the
// attachments, for the spark's inbound bounds.
func (c *conn) handle(p Packet, atts [][]byte, size int) {
	switch p.Type {
	case Connect:
		c.connect(p)
	case Disconnect:
		if s := c.take(p.Namespace); s != nil {
			s.gone(ReasonClientDisconnect)
		}
	case Event, BinaryEvent:
		c.event(p, atts, size)
	case Ack, BinaryAck:
		c.ack(p, atts, size)
	default: // CONNECT_ERROR is the server's to send
		c.fail(ErrBadPayload)
	}
}

func (c *conn) socket(nsp string) *socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nsps[nsp]
}

// take removes and returns the namespace's socket.
func (c *conn) take(nsp string) *socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.nsps[nsp]
	if s != nil {
		delete(c.nsps, nsp)
	}
	return s
}

// remove forgets s if it is still the namespace's socket.
func (c *conn) remove(s *socket) {
	c.mu.Lock()
	if c.nsps[s.nsp] == s {
		delete(c.nsps, s.nsp)
	}
	c.mu.Unlock()
}

// connect admits a CONNECT and opens the namespace's spark. A CONNECT for
// a namespace already joined on this connection is ignored.
func (c *conn) connect(p Packet) {
	var auth any
	if p.Data != nil {
		if err := json.Unmarshal(p.Data, &auth); err != nil {
			c.fail(ErrBadJSON)
			return
		}
		if _, ok := auth.(map[string]any); !ok {
			c.fail(ErrBadPayload)
			return
		}
	}
	if c.socket(p.Namespace) != nil {
		return
	}
	if err := c.srv.host.Admit(c.req, p.Namespace, auth); err != nil {
		c.refuse(p.Namespace, err)
		return
	}
	s := newSocket(c, p.Namespace, auth, c.srv.cfg.NewID())
	err := c.srv.host.Accept(c.req, func(attach transport.Attach) error {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return transport.ErrShuttingDown
		}
		if c.nsps[s.nsp] != nil {
			c.mu.Unlock()
			return errDuplicateConnect
		}
		c.nsps[s.nsp] = s
		c.timer.Stop()
		c.mu.Unlock()
		h := attach(s)
		s.mu.Lock()
		s.h = h
		late := s.ended
		s.mu.Unlock()
		if late {
			// The connection ended while the spark was being created.
			h.OnClose(ReasonTransportClose)
			return transport.ErrShuttingDown
		}
		// The CONNECT reply goes out before anything the spark writes:
		// whichever writes first for this socket (the control writer or
		// the spark's own writer, in writeFrames) writes it, under
		// writeMu. It is not written here: on polling a write waits for
		// the client's next GET, which a client upgrading to WebSocket
		// does not send until this POST is answered.
		c.queueControl(controlPacket{sock: s})
		return nil
	})
	switch {
	case err == nil:
	case errors.Is(err, transport.ErrShuttingDown):
		c.refuse(p.Namespace, err)
	case errors.Is(err, errDuplicateConnect):
	default:
		// The session broke while the reply was written: the spark
		// hears it from OnClose.
	}
}

var errDuplicateConnect = errors.New("sio: namespace already joined")

// refuse answers a CONNECT with CONNECT_ERROR.
func (c *conn) refuse(nsp string, err error) {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{Message: err.Error()}
	if errors.Is(err, ErrUnknownNamespace) {
		body.Message = "Invalid namespace"
	}
	var withData interface{ ConnectErrorData() any }
	if errors.As(err, &withData) {
		body.Data = withData.ConnectErrorData()
	}
	data, jerr := json.Marshal(body)
	if jerr != nil {
		data, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{body.Message})
	}
	c.queueControl(controlPacket{payload: append(AppendHeader(nil, ConnectError, 0, nsp, 0, false), data...)})
}

// event hands an EVENT to its socket's spark: the "message" event with one
// argument and no ack is data (Socket.IO's send), anything else an event
// envelope, the shape the server's event machinery reads for every client.
func (c *conn) event(p Packet, atts [][]byte, size int) {
	s := c.socket(p.Namespace)
	if s == nil {
		return // no socket for that namespace: dropped, as the reference does
	}
	args, err := decodeArgs(p.Data, atts)
	if err != nil {
		c.fail(err)
		return
	}
	if len(args) == 0 {
		c.fail(ErrBadPayload)
		return
	}
	name, ok := args[0].(string)
	if !ok || reservedEvent(name) {
		c.fail(ErrBadPayload)
		return
	}
	vh, ok := s.h.(transport.ValueHandler)
	if !ok {
		return
	}
	if name == MessageEvent && len(args) == 2 && !p.HasID {
		vh.OnValue(args[1], size)
		return
	}
	env := map[string]any{events.Key: float64(events.Version), "event": name, "args": args[1:]}
	if p.HasID {
		env["id"] = float64(p.ID + 1) // see clientAckID
	}
	vh.OnValue(env, size)
}

// ack hands a client's reply to the server's request to its spark.
func (c *conn) ack(p Packet, atts [][]byte, size int) {
	if !p.HasID {
		c.fail(ErrBadPayload)
		return
	}
	s := c.socket(p.Namespace)
	if s == nil {
		return
	}
	args, err := decodeArgs(p.Data, atts)
	if err != nil {
		c.fail(err)
		return
	}
	if vh, ok := s.h.(transport.ValueHandler); ok && p.ID > 0 {
		// Server requests are numbered from 1; an ack for 0 names none.
		vh.OnValue(map[string]any{events.Key: float64(events.Version), "ack": float64(p.ID), "args": args}, size)
	}
}

// decodeArgs reads an EVENT's or ACK's data: a JSON array, with its
// placeholders replaced by the attachments.
func decodeArgs(data []byte, atts [][]byte) ([]any, error) {
	if data == nil {
		return nil, ErrBadPayload
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, ErrBadJSON
	}
	if len(atts) > 0 {
		var err error
		if v, err = reconstruct(v, atts); err != nil {
			return nil, err
		}
	}
	args, ok := v.([]any)
	if !ok {
		return nil, ErrBadPayload
	}
	return args, nil
}

// reservedEvent: the names the reference's parser refuses in an EVENT
// (socket.io-parser RESERVED_EVENTS); they would collide with the
// socket's own events.
func reservedEvent(name string) bool {
	switch name {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

// OnPing implements transport.Handler; Engine.IO keeps the connection
// alive itself.
func (c *conn) OnPing() {}

// OnPeerClose implements transport.Handler: the client closes the whole
// connection. Nothing is flushed to it: a Socket.IO client closing its
// manager has disconnected its namespaces already.
func (c *conn) OnPeerClose() { c.setReason(ReasonTransportClose) }

// OnClose implements transport.Handler: the Engine.IO session is gone, and
// so is every socket on it.
func (c *conn) OnClose(err error) {
	c.timer.Stop()
	c.mu.Lock()
	c.closed = true
	c.wakeControlLocked()
	reason := c.reason
	socks := make([]*socket, 0, len(c.nsps))
	for _, s := range c.nsps {
		socks = append(socks, s)
	}
	clear(c.nsps)
	c.mu.Unlock()
	if reason == "" {
		reason = reasonFor(err)
	}
	c.srv.forget(c)
	for _, s := range socks {
		s.gone(reason)
	}
}

// reasonFor names the end of an Engine.IO session.
func reasonFor(err error) Reason {
	switch {
	case err == nil:
		return ReasonTransportClose
	case errors.Is(err, eio.ErrPingTimeout):
		return ReasonPingTimeout
	case errors.Is(err, transport.ErrShuttingDown):
		return ReasonServerShutdown
	}
	return ReasonTransportError
}

func randomID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
