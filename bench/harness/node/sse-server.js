'use strict';
// The benchmark's Node SSE peer: what a plain Node http server doing the
// same work as Allspark's event streams costs. GET /primus/sse?rooms=a,b
// answers text/event-stream with Allspark's headers, 2 KiB padding prelude
// and retry field, and joins the rooms; every stream numbers its events
// (id: <stream>:<n>) and gets a ":" heartbeat every 25 s. Publishers are
// WebSocket clients (npm ws) at /primus sending the Primus JSON frame
// {"publish":"<room>","data":x}: x is JSON-encoded once and written to every
// stream of the room.
//
//   node sse-server.js <port>
//
// serve.js prints READY when listening and exits when stdin closes.
const crypto = require('crypto');
const serve = require('./serve');

const PRELUDE = ':' + ' '.repeat(2048) + '\nretry: 2000\n';
const HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-store, no-transform, must-revalidate, max-age=0',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
};

serve((server) => {
  const { WebSocketServer } = require('ws');
  const rooms = new Map(); // name → Set of streams
  const streams = new Set();

  server.on('request', (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method !== 'GET' || url.pathname !== '/primus/sse') {
      res.writeHead(404).end();
      return;
    }
    const stream = { res, id: crypto.randomBytes(15).toString('base64url'), seq: 0, names: [] };
    stream.names = String(url.searchParams.get('rooms') || '').split(',').filter(Boolean);
    for (const r of stream.names) {
      let set = rooms.get(r);
      if (!set) rooms.set(r, (set = new Set()));
      set.add(stream);
    }
    streams.add(stream);
    res.writeHead(200, HEADERS);
    res.write(PRELUDE);
    req.on('close', () => {
      streams.delete(stream);
      for (const r of stream.names) rooms.get(r)?.delete(stream);
    });
  });

  setInterval(() => {
    for (const s of streams) s.res.write(':\n');
  }, 25000).unref();

  const wss = new WebSocketServer({ server, path: '/primus' });
  wss.on('connection', (ws) => {
    ws.on('message', (raw) => {
      let msg;
      try { msg = JSON.parse(raw); } catch { return; }
      if (!msg || typeof msg.publish !== 'string') return;
      const set = rooms.get(msg.publish);
      if (!set) return;
      const frame = 'data: ' + JSON.stringify(msg.data) + '\n\n'; // encoded once
      for (const s of set) s.res.write('id: ' + s.id + ':' + (++s.seq) + '\n' + frame);
    });
  });
});
