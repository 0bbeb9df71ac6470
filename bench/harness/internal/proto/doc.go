// Package proto holds the client side of each protocol under test, reduced to
// what the benchmark does: open (with room membership), the messages to send
// after opening, an echo message, a publish message, and the answer to the
// server's application-level heartbeat.
//
// Every message the load generator sends carries a payload made by
// AppendPayload: a JSON-safe string "#<seq>:<unix-nanos>:xxx…". Each server
// writes that string back (echo) or to a room (publish) inside its own
// framing, and the client finds each delivery by its '#' marker with Scan, so
// counting and latency work the same way for every protocol, including
// servers that batch several messages into one frame (centrifuge).
//
// Contracts each server under test implements (see bench/harness/cmd/srv-* and
// bench/harness/node):
//
//   - allspark, primus: URL /primus?rooms=a,b; echo = a JSON string written
//     back; publish = {"publish":"<room>","data":"<payload>"}, the server
//     writes data to every member of the room.
//   - allspark, primus-eio over Engine.IO v4 long-polling (poll-fanout):
//     handshake GET /primus/?EIO=4&transport=polling&rooms=a,b, then held
//     GETs and POSTs with &sid=…; every Primus message above rides in an EIO
//     "4" packet (eio.go), EIO pings "2" are answered with "3".
//   - socketio (Node socket.io), zishang (github.com/zishang520/socket.io),
//     allspark-sio (Allspark's Socket.IO server): Engine.IO v4 / Socket.IO
//     v5 over WebSocket only, /socket.io/?EIO=4&transport=websocket&rooms=a,b;
//     the client sends "40" to join the main namespace; echo = an event with
//     an ack, 42<id>["echo",p], answered by the ack 43<id>[p]; publish =
//     42["publish","<room>",p], delivered as 42["m",p].
//   - centrifuge: JSON client protocol at /connection/websocket; connect and
//     subscribe commands after opening; echo = {"send":{"data":p}} answered
//     by a message push; publish = a publish command into the channel.
//   - raw: /raw?rooms=a,b; echo = any frame not starting with 'P', written
//     back; publish = "P<room>\n<data>", data written to the room pre-framed.
package proto
