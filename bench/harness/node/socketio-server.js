'use strict';
// The benchmark's Socket.IO server: socket.io 4 at its defaults, WebSocket
// transport only. Rooms come from the handshake query (?rooms=a,b) and are
// joined with socket.join; 'publish' (room, data) emits 'm' data to the room
// with io.to(room).emit (encoded once by socket.io); 'echo' data is emitted
// back to the sender.
//
//   node socketio-server.js <port> [workers]
//
// With workers > 1 it forks a Node cluster (Node 20 has no reusePort); rooms
// are then per worker (only the idle scenario uses several workers). Prints
// READY when listening; exits when stdin closes.
const cluster = require('cluster');
const http = require('http');

const port = Number(process.argv[2]);
const workers = Number(process.argv[3] || 1);

if (workers > 1 && cluster.isPrimary) {
  let listening = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === workers) process.stdout.write('READY\n');
  });
  process.stdin.on('end', () => {
    for (const w of Object.values(cluster.workers)) w.kill();
    process.exit(0);
  });
  process.stdin.resume();
} else {
  const { Server } = require('socket.io');
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], serveClient: false });

  io.on('connection', (socket) => {
    const names = String(socket.handshake.query.rooms || '').split(',').filter(Boolean);
    if (names.length) socket.join(names);
    socket.on('echo', (data) => socket.emit('echo', data));
    socket.on('publish', (room, data) => io.to(room).emit('m', data));
  });

  server.listen(port, '127.0.0.1', () => {
    if (!cluster.isWorker) process.stdout.write('READY\n');
  });
  if (!cluster.isWorker) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  }
}
