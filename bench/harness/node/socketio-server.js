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
//
// With REDIS_URL set (the cluster scenario: several separate processes on
// separate ports, one Redis) rooms span the processes through
// @socket.io/redis-adapter 8.3.0 on ioredis 6.0.0 at their defaults: a pub and
// a sub connection per process; io.to(room).emit publishes to Redis and every
// process delivers to its own members. The process listens once both
// connections are up.
const serve = require('./serve');

serve((server) => {
  const { Server } = require('socket.io');
  const io = new Server(server, { transports: ['websocket'], serveClient: false });
  const ready = process.env.REDIS_URL ? redisAdapter(io, process.env.REDIS_URL) : undefined;

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
  return ready;
});

// redisAdapter installs the Redis adapter and resolves once its pub and sub
// connections are ready (no retries beyond ioredis's defaults: the harness
// gives the process 30 s to say READY).
function redisAdapter(io, url) {
  const { Redis } = require('ioredis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pub = new Redis(url);
  const sub = pub.duplicate();
  const up = (c) => new Promise((resolve, reject) => {
    if (c.status === 'ready') return resolve();
    c.once('ready', resolve);
    c.once('end', () => reject(new Error('redis connection ended')));
  });
  for (const c of [pub, sub]) c.on('error', (err) => process.stderr.write(`redis: ${err.message}\n`));
  return Promise.all([up(pub), up(sub)]).then(() => {
    io.adapter(createAdapter(pub, sub));
  });
}
