'use strict';
// A stock Primus 8 server (websockets transformer) for the Go client's
// conformance tests. Usage: node primus-server.js <pingInterval ms, 0 = off>
// It listens on 127.0.0.1, port 0, and prints the port on the first line of
// stdout. Each spark echoes what it receives, except:
//   {"cmd": "end"}  -> spark.end()          (primus::server::close, no reconnect)
//   {"cmd": "id"}   -> writes {"id": spark.id}
// With ?beats=1 in the connection URL, every pong the server receives
// (spark 'heartbeat') is announced to the client as {"heartbeat": n}.
// The process exits when its stdin closes, so it never outlives the test.

const http = require('http');
const Primus = require('primus');

const ms = Number(process.argv[2] || 0);
const server = http.createServer();
const primus = new Primus(server, {
  transformer: 'websockets',
  pingInterval: ms > 0 ? ms : false,
});

primus.on('connection', (spark) => {
  let beats = 0;
  if (spark.query.beats) {
    spark.on('heartbeat', () => spark.write({ heartbeat: ++beats }));
  }
  spark.on('data', (data) => {
    if (data && data.cmd === 'end') return spark.end();
    if (data && data.cmd === 'id') return spark.write({ id: spark.id });
    spark.write(data);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
