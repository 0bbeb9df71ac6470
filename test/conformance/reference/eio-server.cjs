'use strict';
// The reference for test/conformance/eio.test.mjs: stock npm engine.io 6.6.11
// attached to an HTTP server at /primus/, behaving like `cmd/allspark --echo`
// does for Engine.IO clients (Primus framing inside EIO message packets):
//
//   - a text message that is JSON is written back re-encoded (JSON.stringify
//     of JSON.parse, as the Primus JSON parser would); one that is not JSON is
//     dropped, as the Primus spark drops what its parser refuses;
//   - a binary message is written back as binary;
//   - a connection opened with ?room=NAME where NAME is empty or over 256
//     bytes is ended at once with "primus::server::close" (ours: the
//     OnConnection hook fails, the spark ends without reconnect).
//
//   node eio-server.cjs [--eio-ping-interval D] [--eio-ping-timeout D] [--eio-max-payload N]
//
// Prints LISTEN 127.0.0.1:<port>, exits when stdin closes.
const http = require('node:http');
const { createRequire } = require('node:module');
const path = require('node:path');
const { parse, listen } = require('./args.cjs');

const requireRoot = createRequire(path.resolve(__dirname, '..', '..', '..', 'package.json'));
const engine = requireRoot('engine.io');

const flags = parse(process.argv.slice(2), {
  'eio-ping-interval': 'duration',
  'eio-ping-timeout': 'duration',
  'eio-max-payload': 'int',
});

const server = http.createServer();
const eio = engine.attach(server, {
  path: '/primus/',
  ...(flags['eio-ping-interval'] !== undefined && { pingInterval: flags['eio-ping-interval'] }),
  ...(flags['eio-ping-timeout'] !== undefined && { pingTimeout: flags['eio-ping-timeout'] }),
  ...(flags['eio-max-payload'] !== undefined && { maxHttpBufferSize: flags['eio-max-payload'] }),
});

eio.on('connection', (socket) => {
  const room = socket.request._query.room;
  if (room !== undefined && (room === '' || Buffer.byteLength(room) > 256)) {
    socket.send(JSON.stringify('primus::server::close'));
    socket.close();
    return;
  }
  socket.on('message', (data) => {
    if (typeof data !== 'string') {
      socket.send(data);
      return;
    }
    let value;
    try {
      value = JSON.parse(data);
    } catch {
      return;
    }
    socket.send(JSON.stringify(value));
  });
});

listen(server);
