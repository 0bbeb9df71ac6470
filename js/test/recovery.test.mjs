// Recovery, the client's side (docs/recovery.md's wire for our clients),
// against a scripted npm ws server (helpers.mjs startPeer) that sends the
// session envelope, stamped messages and announcements by hand and reads
// the query of every reconnect; and the polling handshake's query with a
// scripted fetch.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Primus, WebSocket, startPeer, record } from './helpers.mjs';

const test = (name, fn) => nodeTest(name, { timeout: 15000 }, fn);

let peer;
const clients = [];
const EXTRA = ['session', 'unrecovered'];

before(async () => { peer = await startPeer(); });
after(async () => {
  for (const c of clients) c.destroy();
  await peer.close();
});

/** A client of the peer (no watchdog: the peer never pings; quick back-off) and its first server-side connection. */
async function pair(opts = {}) {
  const n = peer.count() + 1;
  const c = new Primus(peer.base, { WebSocket, pingTimeout: false, reconnect: { min: 20, max: 50 }, ...opts });
  clients.push(c);
  const ev = record(c, EXTRA);
  await ev.wait('open');
  return { c, ev, conn: await peer.connection(n), n };
}

const session = (conn, s = {}) => conn.send({
  allspark: 1,
  session: { id: 'spark1', token: 'spark1.secret', restored: false, recovered: false, reason: 'new', ...s },
});
const stamp = (conn, room, offset, epoch, data) => conn.send({ allspark: 1, room, offset, epoch, data });
const announce = (conn, room, offset, epoch) => conn.send({ allspark: 1, room, offset, epoch });

/** Resolves after the client processed everything the peer sent before. */
async function settled(conn, ev) {
  const marker = `marker-${Math.random()}`;
  conn.send(marker);
  for (let i = 1; ; i++) {
    const [d] = await ev.wait('data', i);
    if (d === marker) return;
  }
}

const dataOf = (ev) => ev.log.filter((e) => e.name === 'data').map((e) => e.args[0]).filter((d) => !String(d).startsWith('marker-'));
const errorsOf = (ev) => ev.log.filter((e) => e.name === 'error').map((e) => e.args[0]);
const since = (conn) => JSON.parse(conn.url.searchParams.get('_since'));

test('first connect asks with _recover=1; the session envelope sets recovered/restored and emits session, not unrecovered', async () => {
  const { c, ev, conn } = await pair();
  assert.equal(conn.url.searchParams.get('_recover'), '1');
  assert.equal(conn.url.searchParams.get('_session'), null);
  assert.equal(conn.url.searchParams.get('_since'), null);
  assert.deepEqual([c.recovered, c.restored], [false, false]);
  session(conn);
  const [info] = await ev.wait('session');
  assert.deepEqual(info, { id: 'spark1', restored: false, recovered: false, reason: 'new' });
  await settled(conn, ev);
  assert.ok(!ev.names().includes('unrecovered'));
  assert.deepEqual(dataOf(ev), [], 'the session envelope is not data');
});

test('stamped messages are unwrapped: plain data to data, an event envelope to its handler, with a working ack', async () => {
  const { c, ev, conn } = await pair();
  session(conn);
  const got = [];
  c.on('chat', (text) => { got.push(text); return text.toUpperCase(); });
  stamp(conn, 'room', 1, 'E1', { hello: 'world' });
  stamp(conn, 'room', 2, 'E1', { allspark: 1, event: 'chat', args: ['hi'] });
  stamp(conn, 'room', 3, 'E1', { allspark: 1, event: 'chat', args: ['ask'], id: 7 });
  stamp(conn, 'room', 4, 'E1', 'primus::ping::1'); // inner data is data, never a control message
  assert.deepEqual(await conn.next(), { allspark: 1, ack: 7, args: ['ASK'] });
  await settled(conn, ev);
  assert.deepEqual(dataOf(ev), [{ hello: 'world' }, 'primus::ping::1']);
  assert.deepEqual(got, ['hi', 'ask']);
  assert.deepEqual(errorsOf(ev), []);
});

test('duplicates (offset at or below the position) are dropped silently; the stream goes on', async () => {
  const { ev, conn } = await pair();
  session(conn);
  for (const o of [1, 2, 2, 1, 3]) stamp(conn, 'r', o, 'E', o);
  stamp(conn, 'other', 5, 'X', 'o5'); // first message of a room: delivered whatever its offset
  stamp(conn, 'other', 5, 'X', 'o5 again');
  await settled(conn, ev);
  assert.deepEqual(dataOf(ev), [1, 2, 3, 'o5']);
  assert.ok(!ev.names().includes('close'));
});

test('a gap is not delivered: the client reconnects at once with _session and the positions of its rooms in _since', async () => {
  const { c, ev, conn, n } = await pair();
  session(conn, { token: 'spark1.tok' });
  stamp(conn, 'a', 1, 'EA', 'a1');
  stamp(conn, 'a', 2, 'EA', 'a2');
  announce(conn, 'b', 5, 'EB');
  stamp(conn, 'a', 4, 'EA', 'a4'); // 3 is missing
  stamp(conn, 'a', 5, 'EA', 'a5'); // after the gap: nothing more of this connection
  const [attempt] = await ev.wait('reconnect scheduled');
  assert.equal(attempt.scheduled, 0, 'the first resync reconnects without back-off');
  const conn2 = await peer.connection(n + 1);
  assert.equal(conn2.url.searchParams.get('_session'), 'spark1.tok');
  assert.equal(conn2.url.searchParams.get('_recover'), null);
  assert.deepEqual(since(conn2), { a: [2, 'EA'], b: [5, 'EB'] });
  await ev.wait('open', 2);
  assert.deepEqual(dataOf(ev), ['a1', 'a2']);
  // The replay follows: the missing messages, once each.
  session(conn2, { token: 'spark1.tok', restored: true, recovered: true, reason: '' });
  for (const o of [3, 4, 5]) stamp(conn2, 'a', o, 'EA', `a${o}`);
  await settled(conn2, ev);
  assert.deepEqual(dataOf(ev), ['a1', 'a2', 'a3', 'a4', 'a5']);
  assert.deepEqual([c.recovered, c.restored], [true, true]);
  assert.ok(!ev.names().includes('unrecovered'));
  assert.deepEqual(ev.names().filter((x) => !['data', 'session'].includes(x)), ['open', 'close', 'reconnect scheduled', 'reconnect', 'reconnected', 'open']);
});

test('an epoch change is not delivered: the client reconnects and sends the old epoch', async () => {
  const { ev, conn, n } = await pair();
  session(conn);
  stamp(conn, 'a', 1, 'OLD', 'a1');
  stamp(conn, 'a', 2, 'NEW', 'new2');
  await ev.wait('reconnect scheduled');
  const conn2 = await peer.connection(n + 1);
  assert.deepEqual(since(conn2), { a: [1, 'OLD'] });
  assert.equal(conn2.url.searchParams.get('_session'), 'spark1.secret');
  await ev.wait('open', 2);
  assert.deepEqual(dataOf(ev), ['a1']);
});

test('announcements move the position and deliver nothing; an older one in the same epoch is ignored', async () => {
  const { ev, conn, n } = await pair();
  session(conn);
  announce(conn, 'a', 7, 'E');
  stamp(conn, 'a', 7, 'E', 'dup'); // already there
  stamp(conn, 'a', 8, 'E', 'a8');
  announce(conn, 'a', 3, 'E'); // behind: ignored
  stamp(conn, 'a', 9, 'E', 'a9');
  announce(conn, 'a', 2, 'F'); // another epoch: taken
  stamp(conn, 'a', 3, 'F', 'f3');
  announce(conn, 'c', 0, 'C'); // joined a room without messages yet
  stamp(conn, 'c', 1, 'C', 'c1');
  await settled(conn, ev);
  assert.deepEqual(dataOf(ev), ['a8', 'a9', 'f3', 'c1']);
  assert.deepEqual(errorsOf(ev), []);
  conn.drop();
  const conn2 = await peer.connection(n + 1);
  assert.deepEqual(since(conn2), { a: [3, 'F'], c: [1, 'C'] });
});

test('recovered:false on a reconnect forgets every old position and emits unrecovered with the reason', async () => {
  const { c, ev, conn, n } = await pair();
  session(conn);
  stamp(conn, 'a', 1, 'E', 'a1');
  announce(conn, 'b', 9, 'E');
  await settled(conn, ev);
  conn.drop();
  const conn2 = await peer.connection(n + 1);
  assert.deepEqual(since(conn2), { a: [1, 'E'], b: [9, 'E'] });
  session(conn2, { restored: true, recovered: false, reason: 'truncated' });
  const [reason] = await ev.wait('unrecovered');
  assert.equal(reason, 'truncated');
  assert.deepEqual([c.recovered, c.restored], [false, true]);
  stamp(conn2, 'a', 50, 'E', 'a50'); // no position any more: delivered, not a gap
  await settled(conn2, ev);
  assert.deepEqual(dataOf(ev), ['a1', 'a50']);
  conn2.drop();
  const conn3 = await peer.connection(n + 2);
  assert.deepEqual(since(conn3), { a: [50, 'E'] }, 'b was forgotten');
  const [info] = await ev.wait('session', 2);
  assert.deepEqual(info, { id: 'spark1', restored: true, recovered: false, reason: 'truncated' });
});

test('bounds: 64 rooms kept (the most recently updated), long room names, epochs and tokens refused with an error event', async () => {
  const { c, ev, conn, n } = await pair();
  session(conn, { token: 'good.token' });
  for (let i = 0; i < 100; i++) announce(conn, `room${i}`, i + 1, 'E');
  stamp(conn, 'room10', 12, 'E', 'r10'); // room10 updated last: kept
  stamp(conn, 'x'.repeat(257), 1, 'E', 'long room');
  stamp(conn, 'y', 1, 'e'.repeat(65), 'long epoch');
  stamp(conn, 'z', 0, 'E', 'offset 0');
  stamp(conn, 'z', 2 ** 53, 'E', 'offset too big');
  stamp(conn, 'z', 1.5, 'E', 'offset not whole');
  conn.send({ allspark: 1, room: 'z', offset: 1, epoch: 5 });
  conn.send({ allspark: 1, room: 7, offset: 1, epoch: 'E', data: 'x' });
  session(conn, { token: 't'.repeat(257) });
  conn.send({ allspark: 1, session: 'nope' });
  conn.send({ allspark: 1, session: { id: 'x', token: 'y', restored: 'yes', recovered: true } });
  stamp(conn, 'x'.repeat(256), 1, 'e'.repeat(64), 'at the limits');
  await settled(conn, ev);
  assert.deepEqual(dataOf(ev), ['r10', 'at the limits']);
  const errs = errorsOf(ev);
  assert.equal(errs.length, 10, errs.map(String).join('\n'));
  for (const e of errs) assert.equal(e.code, 'bad_envelope');
  assert.equal(c.readyState, Primus.OPEN, 'malformed envelopes do not cost the connection');
  conn.drop();
  const conn2 = await peer.connection(n + 1);
  assert.equal(conn2.url.searchParams.get('_session'), 'good.token', 'the overlong token was not taken');
  const s = since(conn2);
  assert.equal(Object.keys(s).length, 64);
  const want = { room10: [12, 'E'], ['x'.repeat(256)]: [1, 'e'.repeat(64)] };
  for (let i = 38; i < 100; i++) want[`room${i}`] = [i + 1, 'E'];
  assert.deepEqual(s, want);
});

test('recover: false asks for nothing and keeps nothing; a stamped message is still unwrapped', async () => {
  const { c, ev, conn, n } = await pair({ recover: false });
  assert.equal(conn.url.searchParams.get('_recover'), null);
  session(conn, { recovered: true });
  stamp(conn, 'a', 1, 'E', 'a1');
  stamp(conn, 'a', 5, 'E', 'a5'); // no rules without recover
  await settled(conn, ev);
  assert.deepEqual(dataOf(ev), ['a1', 'a5']);
  assert.equal(c.recovered, false);
  assert.ok(!ev.names().includes('session'));
  conn.drop();
  const conn2 = await peer.connection(n + 1);
  assert.deepEqual([...conn2.url.searchParams.keys()], ['_primuscb']);
});

test('end() forgets the session: open() again is a first connect', async () => {
  const { c, ev, conn, n } = await pair();
  session(conn);
  stamp(conn, 'a', 1, 'E', 'a1');
  await settled(conn, ev);
  c.end();
  await ev.wait('end');
  c.open();
  const conn2 = await peer.connection(n + 1);
  assert.equal(conn2.url.searchParams.get('_recover'), '1');
  assert.equal(conn2.url.searchParams.get('_session'), null);
  assert.equal(conn2.url.searchParams.get('_since'), null);
});

test('resyncs in quick succession back off after the first', async () => {
  const { ev, conn, n } = await pair();
  session(conn);
  stamp(conn, 'a', 1, 'E', 'a1');
  stamp(conn, 'a', 3, 'E', 'gap');
  const conn2 = await peer.connection(n + 1);
  await ev.wait('open', 2);
  stamp(conn2, 'a', 3, 'E', 'gap again');
  const [, second] = [await ev.wait('reconnect scheduled', 1), await ev.wait('reconnect scheduled', 2)];
  assert.equal(ev.log.filter((e) => e.name === 'reconnect scheduled')[0].args[0].scheduled, 0);
  assert.ok(second[0].scheduled >= 20, `second resync waited ${second[0].scheduled} ms`);
  await peer.connection(n + 2);
});

test('polling: the Engine.IO handshake carries the recovery query, later requests do not', async () => {
  const realFetch = globalThis.fetch;
  const reqs = [];
  let wake = () => {};
  globalThis.fetch = (url, init = {}) => new Promise((resolve, reject) => {
    reqs.push({
      url: new URL(url), method: init.method ?? 'GET',
      answer: (text, status = 200) => resolve(new Response(text, { status })),
      fail: () => reject(new TypeError('fetch failed')),
    });
    init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    wake();
  });
  const nth = async (k) => {
    while (reqs.length < k) await new Promise((r) => { wake = r; });
    return reqs[k - 1];
  };
  const c = new Primus('http://127.0.0.1:1', { transports: ['polling'], pingTimeout: false, reconnect: { min: 10 } });
  clients.push(c);
  try {
    const ev = record(c, EXTRA);
    const hs = await nth(1);
    assert.equal(hs.url.searchParams.get('_recover'), '1');
    const open = JSON.stringify({ sid: 'S1', upgrades: [], pingInterval: 10000, pingTimeout: 5000 });
    const env = JSON.stringify({ allspark: 1, session: { id: 'p1', token: 'p1.tok', restored: false, recovered: false, reason: 'new' } });
    const st = JSON.stringify({ allspark: 1, room: 'a', offset: 4, epoch: 'E', data: 'a4' });
    hs.answer(`0${open}\x1e4${env}\x1e4${st}`);
    await ev.wait('data');
    assert.deepEqual(dataOf(ev), ['a4']);
    const get = await nth(2);
    assert.equal(get.url.searchParams.get('sid'), 'S1');
    for (const k of ['_recover', '_session', '_since']) assert.equal(get.url.searchParams.get(k), null, k);
    get.fail(); // the session is gone: reconnect
    let hs2;
    for (let k = 3; ; k++) {
      hs2 = await nth(k);
      if (!hs2.url.searchParams.get('sid')) break;
    }
    assert.equal(hs2.url.searchParams.get('_session'), 'p1.tok');
    assert.deepEqual(JSON.parse(hs2.url.searchParams.get('_since')), { a: [4, 'E'] });
    assert.equal(hs2.url.searchParams.get('_recover'), null);
    c.end();
  } finally {
    globalThis.fetch = realFetch;
  }
});
