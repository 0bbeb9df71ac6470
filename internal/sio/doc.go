// Package sio is the Socket.IO v5 wire over Engine.IO v4, as the stock
// socket.io-client 4.x speaks it.
//
// An Engine.IO session (package eio, opened under the Socket.IO path) is
// one Socket.IO client connection (conn.go): it multiplexes namespaces,
// each joined with a CONNECT packet and each a spark of its own
// (socket.go). The package follows the cut of Socket.IO's monorepo:
//
//   - packet.go: the packet codec (socket.io-parser's text format):
//     type digit, attachment count, namespace, ack id, JSON data;
//   - binary.go: binary attachments: placeholders in the JSON data
//     replaced by the binary Engine.IO messages that follow, and back;
//   - protocol.go: the transport.Protocol that frames the server's
//     canonical encoding (a data write, an event envelope, an ack) as a
//     Socket.IO packet, once per broadcast for every receiver;
//   - conn.go: one client connection: CONNECT and authorization per
//     namespace, connectTimeout, decoding the client's packets into the
//     values a spark handles (events become the server's event
//     envelopes, so handlers, acks and transforms see one shape whatever
//     the client);
//   - socket.go: a namespace socket, the transport.Session of its spark:
//     writes go out as packets on the shared Engine.IO session;
//   - server.go: the Socket.IO server: an Engine.IO server whose sessions
//     become conns.
//
// How a room write reaches a Socket.IO client: target.go → fanout.go →
// sendqueue.go (root) → sio/socket.go WriteBatch, which frames the message
// with protocol.go (cached on the message for every Socket.IO receiver) →
// eio/session.go WriteBatch → eio/polling.go or the WebSocket.
//
// Connection state recovery (Socket.IO ≥ 4.6: a private id in the CONNECT
// reply and an offset per event) belongs to the recovery work; a socket's
// id and its namespace are what it will key on, and the CONNECT reply is
// written in one place (conn.connected) so the pid can be added there.
package sio
