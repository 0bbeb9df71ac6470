// Package websocket is the seam between Allspark and the WebSocket library that
// frames bytes on the wire. Everything above it (sparks, queues, heartbeats)
// sees only Conn and Handler, so the engine can be swapped after a measurement
// without touching server code. docs/decisions.md records why the current
// engine was chosen.
//
// # Contract for an engine
//
//   - Upgrade validates the handshake (GET, Upgrade/Connection tokens,
//     Sec-WebSocket-Version 13, a Sec-WebSocket-Key of 16 base64 bytes) and
//     answers a bad one itself with a plain-text 4xx that does not name the
//     library; the error matches ErrHandshake.
//   - It then delivers every data frame to Handler.OnMessage, one at a time,
//     on one goroutine per connection, in order; data passed to OnMessage is
//     valid only during the call. Frames the client sent right behind its
//     upgrade request are delivered too.
//   - Text frames are UTF-8 checked (RFC 6455 §8.1); a bad one closes the
//     connection with 1007.
//   - A message over MaxPayload — one frame, fragments together, or a
//     compressed message once inflated — closes the connection with 1009 and
//     Handler.OnClose receives an error matching ErrTooLarge. Nothing else
//     does: a peer that closes with code 1009 is an ordinary peer close.
//   - Memory grows with bytes that arrived, not with what a header declares:
//     a frame is buffered as its payload arrives, never allocated at its
//     declared size up front. A length RFC 6455 forbids closes with 1002
//     (ErrProtocol).
//   - When the peer's Close frame arrives, every data frame before it has
//     been delivered; then Handler.OnPeerClose runs (on the read goroutine,
//     holding no engine lock, so it may write and block to flush), and only
//     then is the Close answered.
//   - No data frame follows a Close frame (RFC 6455 §5.5.1), whoever sent it
//     (Conn.Close, or the engine failing the connection): later writes fail
//     and write nothing.
//   - The engine owns write deadlines. A write fails only when the peer has
//     accepted no bytes for Config.WriteTimeout (between 0.9× and 2× of it:
//     progress renews the deadline, and a timed-out write cannot tell when
//     its last byte left); a slow but steady reader is never cut. After a
//     failed write the connection takes no more writes.
//   - A client ping frame is answered with a pong and reported to OnPing.
//   - OnClose is called exactly once, after the last OnMessage.
//
// # The poller engine
//
// NewPoller, the default, reads on readiness (epoll, poller_linux.go): an
// idle connection is its pollConn and its socket, no goroutine and no read
// buffer. A readable connection gets a reader goroutine (poll_reader.go);
// a busy one keeps it, parked on the runtime's netpoller without a buffer,
// until it has been quiet for a quarter second, so a connection that keeps
// sending is read as cheaply as under gws. Frames are decoded by
// frameReader as bytes arrive, which keeps the points above itself; writes
// go through writer.go, shared with gws.
// docs/decisions.md says when to pick the goroutine engine instead.
//
// # The gws engine
//
// NewGWS wraps github.com/lxzan/gws. gws allocates a frame's declared length
// on its header, writes frames after a Close frame, and sets deadlines for
// whole writes, so the engine hijacks the connection itself and hands gws a
// gate (gate.go): a net.Conn that owns every read and write of the socket
// and enforces the points above on the bytes.
package websocket
