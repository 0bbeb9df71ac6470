'use strict';
// The reference for the Primus conformance suite (PRIMUS_SERVER=reference):
// stock primus 8.0.9 in Node, with the transformer the client uses, behaving
// like `cmd/allspark --echo` (internal/app/echo.go):
//
//   - every data message is written back to its sender;
//   - ?room=NAME joins NAME; an empty name or one over 256 bytes ends the
//     connection (Primus writes "primus::server::close");
//   - {"publish": NAME, "data": X}, exactly those two keys, writes X to every
//     member of NAME instead of being echoed.
//
//   node primus-server.cjs [--transformer websockets|engine.io|sockjs] [--compression] [--max-length N] [--ping-interval D]
//
// Prints LISTEN 127.0.0.1:<port>, exits when stdin closes.
const http = require('node:http');
const { createRequire } = require('node:module');
const path = require('node:path');
const { parse, listen } = require('./args.cjs');

const requireRoot = createRequire(path.resolve(__dirname, '..', '..', '..', 'package.json'));
const Primus = requireRoot('primus');

const flags = parse(process.argv.slice(2), {
  transformer: 'string',
  compression: 'bool',
  'max-length': 'int',
  'ping-interval': 'duration',
});

const server = http.createServer();
const primus = new Primus(server, {
  transformer: flags.transformer || 'websockets',
  // The sockjs transformer's compression needs npm permessage-deflate,
  // which is not installed; the compression scenarios are WebSocket-only
  // and skipped in that mode anyway.
  compression: Boolean(flags.compression) && flags.transformer !== 'sockjs',
  ...(flags['max-length'] !== undefined && { maxLength: flags['max-length'] }),
  ...(flags['ping-interval'] !== undefined && { pingInterval: flags['ping-interval'] || false }),
});

const rooms = new Map();

/** {"publish": NAME, "data": X} exactly, with a non-empty string NAME. */
function publishRequest(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const keys = Object.keys(data);
  if (keys.length !== 2 || typeof data.publish !== 'string' || data.publish === '' || !('data' in data)) return undefined;
  return data;
}

primus.on('connection', (spark) => {
  const room = spark.query.room;
  if (room !== undefined) {
    if (room === '' || Buffer.byteLength(String(room)) > 256) {
      spark.end();
      return;
    }
    if (!rooms.has(room)) rooms.set(room, new Set());
    rooms.get(room).add(spark);
  }
  spark.on('data', (data) => {
    const pub = publishRequest(data);
    if (pub) {
      for (const member of rooms.get(pub.publish) ?? []) member.write(pub.data);
      return;
    }
    spark.write(data);
  });
  spark.on('end', () => {
    if (room !== undefined) rooms.get(room)?.delete(spark);
  });
});

listen(server);
