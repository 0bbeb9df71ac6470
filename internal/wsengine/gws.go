package wsengine

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lxzan/gws"
)

const defaultMaxPayload = 10 << 20

// NewGWS returns the engine built on github.com/lxzan/gws.
func NewGWS(cfg Config) Engine {
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = defaultMaxPayload
	}
	if cfg.ReadBufferSize <= 0 {
		// 1 KiB instead of gws's 4 KiB: 8.8 → 6.7 KB RSS per idle
		// connection at 10k with the same echo throughput (docs/decisions.md).
		cfg.ReadBufferSize = 1024
	}
	e := &gwsEngine{compression: cfg.Compression}
	opt := &gws.ServerOption{
		ReadMaxPayloadSize:  cfg.MaxPayload,
		WriteMaxPayloadSize: cfg.MaxPayload + 1024, // our own limit is checked above the seam
		ReadBufferSize:      cfg.ReadBufferSize,
		CheckUtf8Enabled:    true,
		NewSession:          func() gws.SessionStorage { return &slot{} },
		Logger:              quietLogger{},
	}
	if cfg.Compression {
		opt.PermessageDeflate = gws.PermessageDeflate{Enabled: true}
	}
	e.up = gws.NewUpgrader(gwsEvents{}, opt)
	return e
}

type gwsEngine struct {
	up          *gws.Upgrader
	compression bool
}

// offersDeflate reports whether the client offered permessage-deflate, which
// gws then accepts.
func offersDeflate(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Extensions") {
		if strings.Contains(strings.ToLower(v), "permessage-deflate") {
			return true
		}
	}
	return false
}

func (e *gwsEngine) Upgrade(w http.ResponseWriter, r *http.Request, attach func(Conn) Handler) error {
	c, err := e.up.Upgrade(w, r)
	if err != nil {
		return err
	}
	// Without permessage-deflate a frame is header + payload, so batches can
	// be written as is; with it, gws must compress and keep its dictionary.
	raw := !e.compression || !offersDeflate(r)
	h := attach(gwsConn{c: c, raw: raw})
	c.Session().Store("", h)
	go c.ReadLoop()
	return nil
}

// gwsEvents routes gws callbacks to the Handler stored in the session slot.
type gwsEvents struct{}

func handlerOf(c *gws.Conn) Handler {
	h, _ := c.Session().Load("")
	return h.(Handler)
}

func (gwsEvents) OnOpen(*gws.Conn) {}

func (gwsEvents) OnClose(c *gws.Conn, err error) {
	var ce *gws.CloseError
	if errors.Is(err, gws.ErrMessageTooLarge) || (errors.As(err, &ce) && ce.Code == 1009) || isTooLarge(err) {
		err = ErrTooLarge
	}
	handlerOf(c).OnClose(err)
}

// pongTimeout bounds the pong write. It must be set here: the socket's write
// deadline is otherwise whatever the last data write left, possibly long
// past on an idle connection, and the pong would fail and cut a healthy peer.
const pongTimeout = 10 * time.Second

func (gwsEvents) OnPing(c *gws.Conn, payload []byte) {
	_ = c.SetWriteDeadline(time.Now().Add(pongTimeout))
	_ = c.WritePong(payload)
	handlerOf(c).OnPing()
}

func (gwsEvents) OnPong(*gws.Conn, []byte) {}

func (gwsEvents) OnMessage(c *gws.Conn, m *gws.Message) {
	handlerOf(c).OnMessage(m.Opcode == gws.OpcodeBinary, m.Bytes())
	_ = m.Close()
}

// isTooLarge recognises gws's read-side limit error, which it reports as a
// status code value rather than a sentinel.
func isTooLarge(err error) bool {
	type coder interface{ Uint16() uint16 }
	var c coder
	return errors.As(err, &c) && c.Uint16() == 1009
}

type gwsConn struct {
	c   *gws.Conn
	raw bool // no compression: WriteBatch frames and writes by itself
}

func (g gwsConn) WriteBatch(msgs []Message) (n, bytes int, err error) {
	if g.raw {
		return writeFramed(g.c.NetConn(), msgs)
	}
	for i := range msgs {
		if err := g.WriteMessage(msgs[i].Binary, msgs[i].Payload); err != nil {
			return n, bytes, err
		}
		n++
		bytes += len(msgs[i].Payload)
	}
	return n, bytes, nil
}

func (g gwsConn) WriteMessage(binary bool, payload []byte) error {
	op := gws.OpcodeText
	if binary {
		op = gws.OpcodeBinary
	}
	return g.c.WriteMessage(op, payload)
}

func (g gwsConn) Close(code uint16, reason string) error {
	return g.c.WriteClose(code, []byte(reason))
}

func (g gwsConn) Abort() error                       { return g.c.NetConn().Close() }
func (g gwsConn) SetWriteDeadline(t time.Time) error { return g.c.SetWriteDeadline(t) }
func (g gwsConn) RemoteAddr() net.Addr               { return g.c.RemoteAddr() }

// slot is a one-entry gws.SessionStorage: gws's default allocates a map per
// connection, and we only ever store our Handler.
type slot struct{ v any }

func (s *slot) Len() int                { return 1 }
func (s *slot) Load(string) (any, bool) { return s.v, s.v != nil }
func (s *slot) Delete(string)           { s.v = nil }
func (s *slot) Store(_ string, v any)   { s.v = v }
func (s *slot) Range(f func(string, any) bool) {
	if s.v != nil {
		f("", s.v)
	}
}

type quietLogger struct{}

func (quietLogger) Error(...any) {}
