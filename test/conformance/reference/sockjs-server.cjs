'use strict';
// The reference for the SockJS suite (SOCKJS_SERVER=reference): stock
// sockjs 0.3.24 in Node at /sockjs, behaving like the plain SockJS path of
// `cmd/allspark --echo` (internal/app/echo.go):
//
//   - every message is written back to its sender;
//   - a connection whose URL has ?room=NAME joins NAME;
//
// and answering the few routes of the binary's HTTP API the suite uses
// (any bearer token is accepted):
//
//   - GET /api/rooms/NAME → {"name": NAME, "members": [{"id": …}]};
//   - POST /api/publish {"rooms": [NAME], "data": X} → X (a string as it
//     is, anything else as its JSON) written to every member, {"delivered": N};
//   - DELETE /api/sparks/ID → the connection closed with 3000 "Go away!"
//     (what Allspark's plain path sends for spark.End(nil, false)).
//
//   node sockjs-server.cjs [--sockjs-path /sockjs] [--sockjs-response-limit N] [--sockjs-heartbeat D]
//                          [--sockjs-disconnect-delay D] [--sockjs-websocket=false] [--max-length N] [--api-token T]
//
// Prints LISTEN 127.0.0.1:<port>, exits when stdin closes.
const http = require('node:http');
const { createRequire } = require('node:module');
const path = require('node:path');
const { parse, listen } = require('./args.cjs');

const requireRoot = createRequire(path.resolve(__dirname, '..', '..', '..', 'package.json'));
const sockjs = requireRoot('sockjs');

const flags = parse(process.argv.slice(2), {
  'sockjs-path': 'string',
  'sockjs-response-limit': 'int',
  'sockjs-heartbeat': 'duration',
  'sockjs-disconnect-delay': 'duration',
  'sockjs-websocket': 'bool',
  'max-length': 'int',
  'api-token': 'string',
  echo: 'bool',
  addr: 'string',
});

const prefix = flags['sockjs-path'] || '/sockjs';
const service = sockjs.createServer({
  prefix,
  log: () => {},
  websocket: flags['sockjs-websocket'] !== false,
  ...(flags['sockjs-response-limit'] !== undefined && { response_limit: flags['sockjs-response-limit'] }),
  ...(flags['sockjs-heartbeat'] !== undefined && { heartbeat_delay: flags['sockjs-heartbeat'] }),
  ...(flags['sockjs-disconnect-delay'] !== undefined && { disconnect_delay: flags['sockjs-disconnect-delay'] }),
  ...(flags['max-length'] !== undefined && { faye_server_options: { maxLength: flags['max-length'] } }),
});

const rooms = new Map(); // name → Set of connections
const byID = new Map();

service.on('connection', (conn) => {
  byID.set(conn.id, conn);
  const room = new URL(conn.url, 'http://x').searchParams.get('room');
  if (room) {
    if (!rooms.has(room)) rooms.set(room, new Set());
    rooms.get(room).add(conn);
  }
  conn.on('data', (m) => conn.write(m));
  conn.on('close', () => {
    byID.delete(conn.id);
    if (room) rooms.get(room)?.delete(conn);
  });
});

function json(res, status, v) {
  const body = JSON.stringify(v);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let m;
  if (req.method === 'GET' && (m = /^\/api\/rooms\/(.+)$/.exec(url.pathname))) {
    const name = decodeURIComponent(m[1]);
    const members = [...(rooms.get(name) ?? [])].map((c) => ({ id: c.id }));
    if (members.length === 0) return json(res, 404, { error: `room "${name}" has no members`, code: 'not_found' });
    return json(res, 200, { name, members });
  }
  if (req.method === 'DELETE' && (m = /^\/api\/sparks\/(.+)$/.exec(url.pathname))) {
    const conn = byID.get(decodeURIComponent(m[1]));
    if (!conn) return json(res, 404, { error: 'no such spark', code: 'not_found' });
    conn.close(3000, 'Go away!');
    return json(res, 200, { disconnected: conn.id });
  }
  if (req.method === 'POST' && url.pathname === '/api/publish') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const p = JSON.parse(body);
      const text = typeof p.data === 'string' ? p.data : JSON.stringify(p.data);
      let delivered = 0;
      for (const name of p.rooms ?? []) {
        for (const c of rooms.get(name) ?? []) {
          c.write(text);
          delivered++;
        }
      }
      json(res, 200, { delivered });
    });
    return;
  }
  res.writeHead(404);
  res.end();
});
service.installHandlers(server);

listen(server);
