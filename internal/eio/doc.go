// Package eio is the Engine.IO protocol version 4 codec: packets, polling
// payloads, the open (handshake) packet and the JSON error answers of the
// reference server (npm engine.io / engine.io-parser 5.x).
//
// It is groundwork for issue 12 (one server, many wires): the Engine.IO
// server that will sit on it — sessions, the held GET and the POSTs of
// long-polling, the polling → WebSocket upgrade, heartbeats — is not built
// yet. This package does no I/O and keeps no state, so that server, its
// tests and its fuzzers can use it without a network.
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
