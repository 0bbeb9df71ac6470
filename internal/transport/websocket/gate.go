package websocket

import (
	"errors"
	"net"
	"time"
)

// ErrProtocol is reported to Handler.OnClose when the peer sent a frame the
// engine refuses before it reaches the WebSocket library (the connection is
// closed with 1002).
var ErrProtocol = errors.New("websocket: protocol error")

// gateConfig is what every gate of one engine shares; immutable after NewGWS.
type gateConfig struct {
	maxPayload   uint64 // largest frame payload the engine accepts
	hold         uint64 // frames declaring more are held until complete (holdThreshold)
	writeTimeout int64  // ns a write may make no progress before it fails
}

// gate is a net.Conn between the socket and gws that owns every read and
// write of one connection. gws cannot be told how to read or when to stop
// writing, so the gate enforces it on the bytes:
//
//   - Reads (gate_read.go): the client→server stream is scanned frame by
//     frame. A large frame is held back until its payload has arrived, so
//     gws, which allocates a frame's declared length as soon as it parses the
//     header, only ever allocates for bytes that are here. A Close frame is
//     held until everything before it was delivered and Handler.OnPeerClose
//     returned.
//   - Writes (gate_write.go): gws's frames and our batches go through one
//     mutex; after a Close frame nothing more is written. The gate owns the
//     write deadline and renews it while the peer makes progress.
//
// One per connection, so it holds no buffer while idle.
type gate struct {
	writer         // the write side (writer.go); owns conn and cfg
	h      Handler // set before the read loop starts; receives OnPeerClose

	// Read side: touched only by the goroutine reading the connection.
	pre  []byte // bytes the HTTP server had buffered before the hijack
	buf  []byte // held bytes; nil when nothing is held
	r    int    // buf[r:rel] is released: gws may read it
	rel  int
	want int   // len(buf) at which the held frame is complete
	rerr error // sticky error of the raw connection, returned once buf drains
	sc   scanner
	mode readMode
}

func newGate(conn net.Conn, cfg *gateConfig) *gate {
	return &gate{writer: writer{conn: conn, cfg: cfg}}
}

// Close closes the socket. It takes no lock: it must interrupt a write that
// is blocked on a peer that stopped reading.
func (g *gate) Close() error { return g.conn.Close() }

func (g *gate) LocalAddr() net.Addr  { return g.conn.LocalAddr() }
func (g *gate) RemoteAddr() net.Addr { return g.conn.RemoteAddr() }

// SetDeadline sets only the read deadline: the write deadline belongs to the
// gate (gws sets one around the handshake response).
func (g *gate) SetDeadline(t time.Time) error { return g.conn.SetReadDeadline(t) }

func (g *gate) SetReadDeadline(t time.Time) error { return g.conn.SetReadDeadline(t) }

// SetWriteDeadline is a no-op: the gate sets the write deadline itself before
// every write and renews it on progress, so a deadline chosen by gws (or left
// over from an earlier write) can neither cut a healthy peer nor outlive the
// write timeout.
func (g *gate) SetWriteDeadline(time.Time) error { return nil }
