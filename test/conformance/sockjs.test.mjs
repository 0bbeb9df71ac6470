// The stock sockjs-client 1.6.1 against the plain SockJS path (/sockjs),
// forced to one transport at a time: websocket, xhr-streaming, eventsource,
// xhr-polling. Server: SOCKJS_SERVER=allspark (default: `cmd/allspark
// --echo`) or reference (npm sockjs 0.3.24, reference/sockjs-server.cjs,
// with the same echo, room and API behaviour).
//
// Both get the same flags: a 4 KiB streaming response limit (so streams
// end and reopen during the tests), a 1 MiB message limit, an API token.

import { createRequire } from 'node:module';
import http from 'node:http';
import path from 'node:path';
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, startAllsparkEcho, startReference, request, delay, TEST_TIMEOUT } from './helpers.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));
const SockJS = require('sockjs-client');

const SERVER = process.env.SOCKJS_SERVER || 'allspark';
if (!['allspark', 'reference'].includes(SERVER)) {
  throw new Error(`SOCKJS_SERVER must be allspark or reference, not ${SERVER}`);
}

const TOKEN = 'sockjs-suite';
const MAX_LENGTH = 1 << 20;
const FLAGS = ['--sockjs-response-limit', '4096', '--max-length', String(MAX_LENGTH), '--api-token', TOKEN];
const TRANSPORTS = ['websocket', 'xhr-streaming', 'eventsource', 'xhr-polling'];
const opts = { timeout: TEST_TIMEOUT };

let server;
before(async () => {
  server = SERVER === 'reference'
    ? await startReference('sockjs-server.cjs', FLAGS)
    : await startAllsparkEcho(FLAGS);
});

// Streaming requests the client made: sockjs-client's XHR driver and its
// EventSource both call http.request when they open one, so counting here
// shows streams ending and reopening. The tests of one file run one at a
// time.
let streams = 0;
const httpRequest = http.request;
http.request = function countingRequest(options, ...rest) {
  if (typeof options === 'object' && /\/(xhr_streaming|eventsource)(?:\?|$)/.test(options.path ?? '')) streams++;
  return httpRequest.call(this, options, ...rest);
};

const open = new Set();
let seq = 0;

/**
 * A sockjs-client forced to transport, with its messages queued:
 * next(ms) resolves with the next one; closed resolves with the close event.
 */
function connect(transport, query = '') {
  const sock = new SockJS(`${server.base}/sockjs${query}`, null, { transports: [transport], timeout: 5000 });
  open.add(sock);
  const queue = [];
  const waiters = [];
  sock.onmessage = (e) => {
    const w = waiters.shift();
    if (w) w(e.data);
    else queue.push(e.data);
  };
  sock.next = (ms = 5000) => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
    waiters.push((d) => { clearTimeout(t); resolve(d); });
  }));
  sock.opened = new Promise((resolve, reject) => {
    sock.onopen = resolve;
    sock.onclose = (e) => reject(new Error(`closed before open: ${e.code} ${e.reason}`));
  });
  sock.closed = sock.opened.then(() => new Promise((resolve) => {
    sock.onclose = (e) => { open.delete(sock); resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); };
  }));
  return sock;
}

async function echoed(sock, msg) {
  sock.send(msg);
  return sock.next();
}

async function api(method, p, body) {
  return request(server.base, p, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  });
}

/** The spark (server-side connection) id of the only member of room. */
async function memberOf(room) {
  for (let i = 0; i < 50; i++) {
    const r = await api('GET', `/api/rooms/${encodeURIComponent(room)}`);
    if (r.status === 200) {
      const { members } = JSON.parse(r.body);
      assert.equal(members.length, 1);
      return members[0].id;
    }
    await delay(20);
  }
  throw new Error(`room ${room} has no member`);
}

for (const transport of TRANSPORTS) {
  describe(`sockjs-client, ${transport} only (${SERVER})`, () => {
    test('open: onopen, readyState OPEN, the forced transport', opts, async () => {
      const sock = connect(transport);
      assert.equal(sock.readyState, SockJS.CONNECTING);
      await sock.opened;
      assert.equal(sock.readyState, SockJS.OPEN);
      assert.equal(sock.transport, transport);
      sock.close();
    });

    test('echo: a string comes back unchanged', opts, async () => {
      const sock = connect(transport);
      await sock.opened;
      assert.equal(await echoed(sock, 'hello'), 'hello');
      sock.close();
    });

    test('echo: UTF-8, astral characters, U+2028, quotes, backslashes, %, control characters, JSON text', opts, async () => {
      const sock = connect(transport);
      await sock.opened;
      for (const m of ['héllo wörld 漢字 Ελληνικά', '😀 𝄞 e\u0301', 'a\u2028b\u2029c', 'say "hi" \\o/',
        '100% sure %41 %zz', 'line\nbreak\r\ttab\u0000nul\u001f', '{"looks":"like JSON"}', '["array"]', '', ' ']) {
        assert.equal(await echoed(sock, m), m);
      }
      sock.close();
    });

    test('order: 500 messages arrive complete and in order', opts, async () => {
      const sock = connect(transport);
      await sock.opened;
      for (let i = 0; i < 500; i++) sock.send(`m${i}`);
      for (let i = 0; i < 500; i++) assert.equal(await sock.next(), `m${i}`);
      sock.close();
    });

    test('large: a message near the 1 MiB limit both ways', opts, async () => {
      const sock = connect(transport);
      await sock.opened;
      const big = 'x'.repeat(MAX_LENGTH - 4096) + '✓';
      assert.equal(await echoed(sock, big), big);
      sock.close();
    });

    test('40 KB through a 4 KiB response limit: streams end and reopen, no message lost', opts, async () => {
      const sock = connect(transport);
      await sock.opened;
      const before = streams;
      const chunk = 'k'.repeat(1000);
      // One at a time, so each frame carries one message (a server may
      // batch what is waiting into one frame, which then ends its response
      // alone).
      for (let i = 0; i < 40; i++) assert.equal(await echoed(sock, `${i}:${chunk}`), `${i}:${chunk}`);
      if (transport === 'xhr-streaming' || transport === 'eventsource') {
        // 40 KB of frames in 4 KiB responses: seven to ten of them (an
        // endless stream would be one).
        assert.ok(streams - before >= 5, `${streams - before} streaming requests`);
      }
      sock.close();
    });

    test('clean close from the client: onclose 1000 "Normal closure", wasClean', opts, async () => {
      const sock = connect(transport);
      await sock.opened;
      sock.close();
      assert.deepEqual(await sock.closed, { code: 1000, reason: 'Normal closure', wasClean: true });
      assert.equal(sock.readyState, SockJS.CLOSED);
    });

    test('a spark: ?room=NAME joins it, a publish reaches the client, a server close is 3000 "Go away!"', opts, async () => {
      const room = `r-${transport}-${process.pid}-${++seq}`;
      const sock = connect(transport, `?room=${room}`);
      await sock.opened;
      const id = await memberOf(room);
      let r = await api('POST', '/api/publish', { rooms: [room], data: 'from the API' });
      assert.equal(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body).delivered, 1);
      assert.equal(await sock.next(), 'from the API');
      r = await api('POST', '/api/publish', { rooms: [room], data: { n: 1 } });
      assert.equal(await sock.next(), '{"n":1}');
      r = await api('DELETE', `/api/sparks/${encodeURIComponent(id)}`);
      assert.equal(r.status, 200, r.body);
      const closed = await sock.closed;
      assert.equal(closed.code, 3000);
      assert.equal(closed.reason, 'Go away!');
    });
  });
}

describe(`SockJS HTTP answers (${SERVER})`, () => {
  test('greeting and /info', opts, async () => {
    let r = await request(server.base, '/sockjs');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'Welcome to SockJS!\n');
    r = await request(server.base, '/sockjs/info');
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'no-store, no-cache, no-transform, must-revalidate, max-age=0');
    const info = JSON.parse(r.body);
    assert.equal(info.websocket, true);
    assert.equal(info.cookie_needed, false);
    assert.deepEqual(info.origins, ['*:*']);
    assert.equal(typeof info.entropy, 'number');
  });

  test('xhr_send to an unknown session is 404; broken JSON and empty bodies are 500', opts, async () => {
    let r = await request(server.base, '/sockjs/000/nobody/xhr_send', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '["x"]' });
    assert.equal(r.status, 404);
    r = await request(server.base, '/sockjs/000/known/xhr', { method: 'POST' });
    assert.equal(r.body, 'o\n');
    r = await request(server.base, '/sockjs/000/known/xhr_send', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '["x"' });
    assert.deepEqual([r.status, r.body], [500, 'Broken JSON encoding.']);
    r = await request(server.base, '/sockjs/000/known/xhr_send', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '' });
    assert.deepEqual([r.status, r.body], [500, 'Payload expected.']);
    r = await request(server.base, '/sockjs/000/known/xhr_send', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '["x"]' });
    assert.equal(r.status, 204);
    r = await request(server.base, '/sockjs/000/known/xhr', { method: 'POST' });
    assert.equal(r.body, 'a["x"]\n');
  });

  test('a second receiver gets c[2010,"Another connection still open"]', opts, async () => {
    let r = await request(server.base, '/sockjs/000/twice/xhr', { method: 'POST' });
    assert.equal(r.body, 'o\n');
    const held = request(server.base, '/sockjs/000/twice/xhr', { method: 'POST' });
    await delay(100);
    r = await request(server.base, '/sockjs/000/twice/xhr', { method: 'POST' });
    assert.equal(r.body, 'c[2010,"Another connection still open"]\n');
    await request(server.base, '/sockjs/000/twice/xhr_send', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '["done"]' });
    assert.equal((await held).body, 'a["done"]\n');
  });
});
