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
// With workers > 1 it forks a Node cluster (Node 20 has no reusePort): the
// primary hands connections to the workers. Prints READY when listening;
// exits when stdin closes.
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
  const Primus = require('primus');
  const server = http.createServer();
  const primus = new Primus(server, { transformer: 'websockets' });
  const rooms = new Map();

  primus.on('connection', (spark) => {
    const names = String(spark.query.rooms || '').split(',').filter(Boolean);
    for (const r of names) {
      let set = rooms.get(r);
      if (!set) rooms.set(r, (set = new Set()));
      set.add(spark);
    }
    spark.on('data', (data) => {
      if (data && typeof data === 'object' && typeof data.publish === 'string') {
        const set = rooms.get(data.publish);
        if (set) for (const s of set) s.write(data.data);
        return;
      }
      spark.write(data);
    });
    spark.on('end', () => {
      for (const r of names) rooms.get(r)?.delete(spark);
    });
  });

  server.listen(port, '127.0.0.1', () => {
    if (!cluster.isWorker) process.stdout.write('READY\n');
  });
  if (!cluster.isWorker) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  }
}
