'use strict';
// The reference for test/conformance/sse.test.mjs: a plain Node http server
// with the event-stream contract `cmd/allspark` documents, so the suite's
// expectations about the stock `eventsource` client (reconnects, the
// Last-Event-ID it sends, 204, CORS failures) are checked against
// something other than the server under test.
//
//   GET  /primus/sse?rooms=a,b       text/event-stream: a 2 KiB comment, retry,
//                                     then "id: <stream>:<n>" + event/data per message;
//                                     a bad room name → 400; Last-Event-ID <stream>:end → 204
//   POST /api/publish                {"rooms":[…],"event":"e","data":x} (Bearer token)
//   GET  /api/rooms/<name>           {"name","members":[{"id"}]}, 404 when empty
//   DELETE /api/sparks/<id>          ends the stream with the end marker (no reconnect)
//   SIGTERM                          ends every stream plainly (clients reconnect), exits
//
//   node sse-server.cjs [--addr 127.0.0.1:PORT] [--api-token T] [--sse-retry D] [--origins O,…]
//
// Prints LISTEN 127.0.0.1:<port>, exits when stdin closes.
const http = require('node:http');
const crypto = require('node:crypto');
const { parse, listen } = require('./args.cjs');

const flags = parse(process.argv.slice(2), {
  addr: 'string', 'api-token': 'string', 'sse-retry': 'duration', origins: 'string', echo: 'bool',
});
const token = flags['api-token'] || '';
const retry = flags['sse-retry'] ?? 2000;
const origins = String(flags.origins || '').split(',').filter(Boolean);

const streams = new Map(); // id → { res, rooms, seq }

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Same-origin, listed, or no Origin at all; anything else is refused. */
function originAllowed(req) {
  const origin = req.headers.origin;
  if (!origin) return true;
  if (origins.includes('*') || origins.includes(origin)) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function send(stream, event, data) {
  let block = `id: ${stream.id}:${++stream.seq}\n`;
  if (event) block += `event: ${event}\n`;
  for (const line of JSON.stringify(data).split(/\r\n|\r|\n/)) block += `data: ${line}\n`;
  stream.res.write(block + '\n');
}

function openStream(req, res, url) {
  if (!originAllowed(req)) return json(res, 403, { error: 'origin not allowed' });
  const origin = req.headers.origin;
  const cors = origin ? { 'Access-Control-Allow-Origin': origins.length ? origin : '*', Vary: 'Origin' } : {};
  const last = String(req.headers['last-event-id'] || url.searchParams.get('lastEventId') || '');
  if (last.endsWith(':end')) {
    res.writeHead(204, cors);
    return res.end();
  }
  const rooms = [];
  for (const v of url.searchParams.getAll('rooms')) {
    for (const name of v.split(',')) {
      if (name === '' || Buffer.byteLength(name) > 256) return json(res, 400, { error: `invalid room name ${JSON.stringify(name)}` });
      if (!rooms.includes(name)) rooms.push(name);
    }
  }
  const stream = { id: crypto.randomBytes(15).toString('base64url'), res, rooms, seq: 0 };
  streams.set(stream.id, stream);
  res.writeHead(200, {
    ...cors,
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache, no-store, no-transform, must-revalidate, max-age=0',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  res.write(`:${' '.repeat(2048)}\nretry: ${retry}\n`);
  req.on('close', () => streams.delete(stream.id));
}

function readBody(req) {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => resolve(body));
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/primus/sse') {
    if (req.method === 'OPTIONS') {
      res.writeHead(200, { 'Access-Control-Allow-Origin': req.headers.origin || '*', 'Access-Control-Allow-Methods': 'GET' });
      return res.end();
    }
    return openStream(req, res, url);
  }
  if (!url.pathname.startsWith('/api/')) return json(res, 404, { error: 'not found' });
  if (!token || req.headers.authorization !== `Bearer ${token}`) return json(res, 401, { error: 'unauthorized', code: 'unauthorized' });
  if (req.method === 'POST' && url.pathname === '/api/publish') {
    const p = JSON.parse(await readBody(req));
    let delivered = 0;
    for (const s of streams.values()) {
      if (!s.rooms.some((r) => (p.rooms || []).includes(r))) continue;
      send(s, p.event, p.event ? (p.data === undefined ? [] : p.data) : p.data);
      delivered++;
    }
    return json(res, 200, { delivered });
  }
  let m = /^\/api\/rooms\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'GET' && m) {
    const name = decodeURIComponent(m[1]);
    const members = [...streams.values()].filter((s) => s.rooms.includes(name)).map((s) => ({ id: s.id }));
    if (!members.length) return json(res, 404, { error: `room ${JSON.stringify(name)} has no members`, code: 'not_found' });
    return json(res, 200, { name, members });
  }
  m = /^\/api\/sparks\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'DELETE' && m) {
    const s = streams.get(decodeURIComponent(m[1]));
    if (!s) return json(res, 404, { error: 'no such spark', code: 'not_found' });
    streams.delete(s.id);
    s.res.end(`id: ${s.id}:end\nevent: end\ndata: \n\n`);
    return json(res, 200, { disconnected: s.id });
  }
  return json(res, 404, { error: 'no API route', code: 'not_found' });
});

process.on('SIGTERM', () => {
  for (const s of streams.values()) s.res.end();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

listen(server, flags.addr ? Number(flags.addr.split(':').pop()) : 0);
