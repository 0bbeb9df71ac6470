'use strict';
// The benchmark's Primus server: stock primus 8 with the websockets
// transformer (npm ws) at its defaults. Rooms come from the connection URL
// (?rooms=a,b) and are kept as a Set of sparks per room, which is how Primus
// itself does it (primus-rooms is a plugin over the same idea):
// {"publish":"<room>","data":x} writes x to every spark of the room; any other
// message is written back to its sender.
//
//   node primus-server.js <port> [workers]
//
// With workers > 1 it runs as a Node cluster; serve.js prints READY when
// listening and exits when stdin closes.
const serve = require('./serve');

serve((server) => {
  const Primus = require('primus');
  require('./primus-rooms')(new Primus(server, { transformer: 'websockets' }));
});
