// Package wsengine is the seam between Allspark and the WebSocket library that
// frames bytes on the wire. Everything above it (sparks, queues, heartbeats)
// sees only Conn and Handler, so the engine can be swapped after a measurement
// without touching server code. docs/decisions.md records why the current
// engine was chosen.
//
// Contract for an engine:
//   - Upgrade answers the handshake and then delivers every data frame to
//     Handler.OnMessage, one at a time, on one goroutine per connection, in
//     order; data passed to OnMessage is valid only during the call.
//   - Text frames are UTF-8 checked (RFC 6455 §8.1); a bad one closes the
//     connection with 1007.
//   - A message over MaxPayload closes the connection with 1009 and
//     Handler.OnClose receives an error matching ErrTooLarge.
//   - A client ping frame is answered with a pong and reported to OnPing.
//   - OnClose is called exactly once, after the last OnMessage.
package wsengine
