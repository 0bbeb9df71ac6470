'use strict';
// The benchmark's Socket.IO server: socket.io 4 at its defaults, WebSocket
// transport only. Rooms come from the handshake query (?rooms=a,b), or from
// the CONNECT auth payload ({rooms: 'a,b'}), and are joined with socket.join;
// 'publish' (room, data) emits 'm' data to the room with io.to(room).emit
// (encoded once by socket.io); 'echo' data with an ack callback
// (42<id>["echo",x]) is acknowledged with data (43<id>[x]), without one it is
// emitted back to the sender.
//
//   node socketio-server.js <port> [workers]
//
// With workers > 1 it runs as a Node cluster; serve.js prints READY when
// listening and exits when stdin closes. Rooms are per worker then (only the idle
// scenario uses several workers).
const serve = require('./serve');

serve((server) => {
  const { Server } = require('socket.io');
  const io = new Server(server, { transports: ['websocket'], serveClient: false });

  io.on('connection', (socket) => {
    const auth = socket.handshake.auth || {};
    const list = socket.handshake.query.rooms || auth.rooms || '';
    const names = String(list).split(',').filter(Boolean);
    if (names.length) socket.join(names);
    socket.on('echo', (data, ack) => {
      if (typeof ack === 'function') ack(data);
      else socket.emit('echo', data);
    });
    socket.on('publish', (room, data) => io.to(room).emit('m', data));
  });
});
