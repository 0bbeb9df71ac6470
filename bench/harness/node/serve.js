'use strict';
// Process plumbing shared by the Node servers under test: an optional Node
// cluster (Node 20 has no reusePort, so the primary hands connections to
// workers), "READY" on stdout once listening, exit when stdin closes.
//
//   serve(attach): attach(httpServer) installs the framework on the server;
//   when it returns a promise (a cluster adapter connecting to its broker),
//   the server listens, and says READY, only once it resolves.
const cluster = require('cluster');
const http = require('http');

module.exports = function serve(attach) {
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
    return;
  }
  const server = http.createServer();
  Promise.resolve(attach(server)).then(() => {
    server.listen(port, '127.0.0.1', () => {
      if (!cluster.isWorker) process.stdout.write('READY\n');
    });
  }, (err) => {
    process.stderr.write(`attach: ${err && err.stack || err}\n`);
    process.exit(1);
  });
  if (!cluster.isWorker) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  }
};
