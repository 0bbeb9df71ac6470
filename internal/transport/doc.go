// Package transport is the seam between a spark and the bytes of its
// client: whatever the wire (a WebSocket, an Engine.IO session that polls
// and later upgrades, a streaming response), a spark writes to a Session
// and hears from it through a Handler, and nothing above this package
// knows which wire it is.
//
// The split follows DESIGN.md §1:
//
//   - A transport moves one session's bytes. It implements Session: it
//     takes encoded messages in order, frames them for its wire (a
//     WebSocket frame header, an Engine.IO "4" packet in a polling
//     payload), owns its write deadlines and reports the peer's messages,
//     heartbeats and close to the Handler. Sub-packages hold the shared
//     transports (websocket); the wire packages (eio) build sessions on
//     top of them.
//   - A protocol turns messages into frames for one kind of client
//     (Protocol). Primus framing is the identity: the frame is the
//     parser's encoding. Protocols that wrap the encoding (Socket.IO's
//     `42["message",…]`) frame a shared message once for all their
//     receivers (Shared), so a broadcast stays one queue push per
//     receiver.
//
// The contract a Session keeps is written on the interface; the
// transports' own tests check it.
package transport
