package websocket

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lxzan/gws"
)

const (
	defaultMaxPayload   = 10 << 20
	defaultWriteTimeout = 10 * time.Second
)

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
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	e := &gwsEngine{
		compression: cfg.Compression,
		readBuffer:  cfg.ReadBufferSize,
		gate:        &gateConfig{maxPayload: uint64(cfg.MaxPayload), hold: holdThreshold, writeTimeout: int64(cfg.WriteTimeout)},
	}
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
	gate        *gateConfig
	readBuffer  int
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

// Upgrade validates the handshake, hijacks the connection itself and hands
// gws a gate in place of the socket, so that every byte in either direction
// passes through the gate (gate.go).
func (e *gwsEngine) Upgrade(w http.ResponseWriter, r *http.Request, attach func(Conn) Handler) error {
	if err := checkHandshake(w, r); err != nil {
		return err
	}
	sock, pre, err := hijack(w)
	if err != nil {
		http.Error(w, "this connection cannot be upgraded", http.StatusInternalServerError)
		return fmt.Errorf("websocket: hijack: %w", err)
	}
	// The HTTP server may have left deadlines on the socket (its
	// ReadTimeout, WriteTimeout); from here on the gate owns them.
	_ = sock.SetDeadline(time.Time{})
	g := newGate(sock, e.gate)
	g.pre = pre
	c, err := e.up.UpgradeFromConn(g, bufio.NewReaderSize(g, e.readBuffer), r)
	if err != nil {
		return err // gws has closed the socket
	}
	g.open()
	// Without permessage-deflate a frame is header + payload, so batches can
	// be written as is; with it, gws must compress and keep its dictionary.
	raw := !e.compression || !offersDeflate(r)
	h := attach(gwsConn{c: c, g: g, raw: raw})
	g.h = h
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

// OnClose maps the end of the read loop to the Handler. Only our own read
// limit is ErrTooLarge: gws reports it as status 1009 (header over the limit,
// fragments adding up past it, or inflating past it); a peer that closes
// with code 1009 arrives as a *gws.CloseError and is just a peer close.
func (gwsEvents) OnClose(c *gws.Conn, err error) {
	if isTooLarge(err) {
		err = ErrTooLarge
	}
	handlerOf(c).OnClose(err)
}

// OnPing answers with a pong; the gate sets the write deadline for it.
func (gwsEvents) OnPing(c *gws.Conn, payload []byte) {
	_ = c.WritePong(payload)
	handlerOf(c).OnPing()
}

func (gwsEvents) OnPong(*gws.Conn, []byte) {}

func (gwsEvents) OnMessage(c *gws.Conn, m *gws.Message) {
	handlerOf(c).OnMessage(m.Opcode == gws.OpcodeBinary, m.Bytes())
	_ = m.Close()
}

// isTooLarge recognises gws's read-side limit error, which it reports as a
// status code value (its internal StatusCode type) rather than a sentinel.
// *gws.CloseError, what a peer's Close frame becomes, has no such method.
func isTooLarge(err error) bool {
	type coder interface{ Uint16() uint16 }
	var c coder
	return errors.As(err, &c) && c.Uint16() == 1009
}

type gwsConn struct {
	c   *gws.Conn
	g   *gate
	raw bool // no compression: WriteBatch frames and writes by itself
}

func (g gwsConn) WriteBatch(msgs []Message) (n, bytes int, err error) {
	return g.WriteBatchPrefixed(0, msgs)
}

func (g gwsConn) WriteBatchPrefixed(prefix byte, msgs []Message) (n, bytes int, err error) {
	if g.raw {
		return writeFramed(&g.g.writer, msgs, prefix)
	}
	var buf []byte
	for i := range msgs {
		payload := msgs[i].Payload
		if prefix != 0 && !msgs[i].Binary {
			// gws compresses a whole message, so the prefix must be in the
			// same buffer: a copy, on the compressed path only.
			buf = append(append(buf[:0], prefix), payload...)
			payload = buf
		}
		if err := g.WriteMessage(msgs[i].Binary, payload); err != nil {
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

func (g gwsConn) Abort() error         { return g.g.Close() }
func (g gwsConn) RemoteAddr() net.Addr { return g.g.RemoteAddr() }

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
