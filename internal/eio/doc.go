// Package eio is Engine.IO protocol version 4: the codec (packets, polling
// payloads, the open packet and the JSON error answers of the reference
// server, npm engine.io / engine.io-parser) and the server that carries
// Allspark sessions over it — long-polling, WebSocket, and the upgrade
// between them.
//
// # Server
//
// [Server] serves every request with an EIO, transport or sid query
// parameter under the pathname (the root's handler_eio.go routes them
// here). A handshake opens a session through the transport.Acceptor, so a
// session is a spark like any other; the session is its
// transport.Session. How a message reaches a polling client: the spark's
// writer calls WriteBatch (session.go), which waits for the client's held
// GET and writes the batch as its response (polling.go, answerPoll: each
// message "4"+payload from where it lies, joined by 0x1e). On a WebSocket
// (direct, or after the upgrade in upgrade.go) WriteBatch writes the same
// messages as text frames with the "4" inside the frame, in one writev
// (websocket.go, through websocket.Conn.WriteBatchPrefixed). heartbeat.go
// is the ping/pong timer of each session.
//
// Everything a client can fill is bounded: one held GET and one POST per
// session (a second is a protocol error that ends the session), POST bodies
// by MaxPayload (413) and MaxPackets, message size by MaxMessage, sessions
// by MaxSessions (503), a vanished client by PingInterval + PingTimeout, a
// probe that never confirms by UpgradeTimeout. Outbound data waits in the
// spark's bounded send queue, not here.
//
// # Wire format
//
// A packet is a type digit (0 open, 1 close, 2 ping, 3 pong, 4 message,
// 5 upgrade, 6 noop) followed by its data, so "4hello" is the message
// "hello" and "2probe" is the probe ping of an upgrade. A binary message
// travels as a raw binary WebSocket frame, or on polling as "b" followed by
// its standard, padded base64 ("bAQIDBA==" is the bytes 1 2 3 4). A polling
// payload (a GET response or a POST body) is packets joined with the record
// separator 0x1e: "4hello\x1e2\x1e4world".
//
// # Allocation
//
// Decoders never copy packet data: a decoded [Packet]'s Data aliases the
// input. A binary ("b") packet is base64-decoded in place, overwriting its
// text in the input (decoded bytes are never longer than their text), so
// callers that need the input unchanged decode a copy. [PayloadScanner]
// allocates nothing; [DecodePayload] allocates at most the slice of packet
// headers, and only when the caller's slice is too small. The number of
// packets and the payload size are bounded by the caller through [Limits]
// before anything is decoded.
package eio
