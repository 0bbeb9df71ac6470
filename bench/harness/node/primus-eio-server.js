'use strict';
// The benchmark's Primus engine.io server: stock primus 8 with the engine.io
// transformer (npm engine.io) at its defaults, so clients reach it by
// Engine.IO v4 long-polling at /primus/ (the poll-fanout scenario) or by
// WebSocket after an upgrade. The room logic is the same as
// primus-server.js: rooms from the handshake URL (?rooms=a,b) as a Set of
// sparks per room; {"publish":"<room>","data":x} writes x to every spark of
// the room; any other message is written back to its sender.
//
//   node primus-eio-server.js <port> [workers]
//
// Polling needs sticky sessions, so a Node cluster (workers > 1) would send a
// session's requests to random workers: the harness runs this peer as one
// process. serve.js prints READY when listening and exits when stdin closes.
const serve = require('./serve');

if (Number(process.argv[3] || 1) > 1) {
  process.stderr.write('primus-eio: long-polling needs sticky sessions; run one process\n');
  process.exit(2);
}

serve((server) => {
  const Primus = require('primus');
  require('./primus-rooms')(new Primus(server, { transformer: 'engine.io' }));
});
