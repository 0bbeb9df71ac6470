// The Engine.IO session's ordering rules, driven by hand: a scripted fetch
// (each request answered when the test says) and a scripted WebSocket, so the
// moments a loopback server makes too short to hit are hit every time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Primus, record } from './helpers.mjs';

/** Replaces global fetch; every request waits in reqs until answered. */
function scriptedFetch() {
  const reqs = [];
  const wakers = [];
  globalThis.fetch = (url, init = {}) => new Promise((resolve, reject) => {
    const r = {
      url: new URL(url), method: init.method ?? 'GET', body: init.body,
      answer: (text, status = 200) => resolve(new Response(text, { status })),
      fail: () => reject(new TypeError('fetch failed')),
    };
    init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    reqs.push(r);
    for (const w of wakers.splice(0)) w();
  });
  return {
    reqs,
    /** Resolves with the n-th request (1-based) once made. */
    async nth(n) {
      while (reqs.length < n) await new Promise((r) => wakers.push(r));
      return reqs[n - 1];
    },
  };
}

class ScriptedWS {
  static last = null;
  constructor(url) {
    this.url = new URL(url);
    this.sent = [];
    this.binaryType = '';
    ScriptedWS.last = this;
  }
  send(d) { this.sent.push(d); }
  close() { this.closed = true; }
}

const open = JSON.stringify({ sid: 'S1', upgrades: ['websocket'], pingInterval: 10000, pingTimeout: 5000, maxPayload: 100 });
const tick = () => new Promise((r) => setImmediate(r));

test('upgrade: writes wait while the probe is answered; 5 goes only after the held GET and the POST under way have returned', async () => {
  const http = scriptedFetch();
  const c = new Primus('http://127.0.0.1:1', { transports: ['polling', 'websocket'], WebSocket: ScriptedWS, pingTimeout: false });
  const ev = record(c);
  const hs = await http.nth(1);
  assert.equal(hs.url.pathname, '/primus/');
  assert.equal(hs.url.searchParams.get('EIO'), '4');
  assert.equal(hs.url.searchParams.get('transport'), 'polling');
  hs.answer('0' + open);
  await ev.wait('open');
  assert.equal(c.transport, 'polling');
  const get = await http.nth(2);
  assert.equal(get.method, 'GET');
  assert.equal(get.url.searchParams.get('sid'), 'S1');
  const ws = ScriptedWS.last;
  assert.equal(ws.url.protocol, 'ws:');
  assert.equal(ws.url.searchParams.get('transport'), 'websocket');
  assert.equal(ws.url.searchParams.get('sid'), 'S1');

  c.write('a');
  const post = await http.nth(3);
  assert.deepEqual([post.method, post.body], ['POST', '4"a"']);
  ws.onopen();
  assert.deepEqual(ws.sent, ['2probe']);
  ws.onmessage({ data: '3probe' });
  c.write('b'); // paused: neither a POST nor the WebSocket may carry it yet
  c.write('c');
  await tick();
  assert.equal(http.reqs.length, 3);
  assert.deepEqual(ws.sent, ['2probe']);
  get.answer('6'); // the server releases the held GET with a noop
  await tick();
  assert.deepEqual(ws.sent, ['2probe'], 'the POST under way has not returned');
  assert.equal(http.reqs.length, 3, 'no GET after the pause');
  post.answer('ok');
  await tick();
  assert.deepEqual(ws.sent, ['2probe', '5', '4"b"', '4"c"']);
  assert.equal(c.transport, 'websocket');
  ws.onmessage({ data: '2' });
  ws.onmessage({ data: '4"on ws"' });
  assert.deepEqual(ws.sent.slice(-1), ['3']);
  assert.equal((await ev.wait('data'))[0], 'on ws');
  c.end('bye');
  assert.deepEqual(ws.sent.slice(-2), ['4"bye"', '1']);
  assert.equal(http.reqs.length, 3);
});

test('polling: one POST at a time, batches within maxPayload, a ping answered after the writes queued before it', async () => {
  const http = scriptedFetch();
  const c = new Primus('http://127.0.0.1:1', { transports: ['polling'], pingTimeout: false });
  const ev = record(c);
  (await http.nth(1)).answer('0' + open + '\x1e4"hello"');
  await ev.wait('open');
  assert.equal((await ev.wait('data'))[0], 'hello');
  const get = await http.nth(2);
  const big = 'x'.repeat(95);
  c.write(big); // 98 bytes as a packet: alone within maxPayload (100)
  const p1 = await http.nth(3);
  c.write(1);
  c.write(big);
  c.write(2);
  get.answer('2\x1e4"srv"'); // a ping, and data
  await tick();
  assert.equal(http.reqs.filter((r) => r.method === 'POST').length, 1, 'one POST under way at a time');
  p1.answer('ok');
  const p2 = await http.nth(5); // 4 is the next GET
  assert.equal(p2.method, 'POST');
  assert.equal(p2.body, '41', 'the next packet would pass maxPayload (100)');
  p2.answer('ok');
  const p3 = await http.nth(6);
  assert.equal(p3.body, `4"${big}"`);
  p3.answer('ok');
  const p4 = await http.nth(7);
  assert.equal(p4.body, '42\x1e3', 'the pong after the writes queued before the ping');
  assert.equal(http.reqs[3].method, 'GET');
  // A GET that fails ends the session: close, then a reconnect.
  http.reqs[3].fail();
  await ev.wait('close');
  await ev.wait('reconnect scheduled');
  c.end();
});

test('polling: a 401 handshake is an AuthorizationError from its body, with no extra request', async () => {
  const http = scriptedFetch();
  const c = new Primus('http://127.0.0.1:1', { transports: ['polling'] });
  const ev = record(c);
  (await http.nth(1)).answer(JSON.stringify({ error: 'nope' }), 401);
  const [err] = await ev.wait('error');
  assert.deepEqual([err.name, err.status, err.message], ['AuthorizationError', 401, 'nope']);
  await ev.wait('end');
  assert.equal(http.reqs.length, 1);
});
