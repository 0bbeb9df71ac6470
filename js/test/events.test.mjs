// Named events and acks (docs/events.md) in the typed client, against a
// scripted npm ws server (helpers.mjs startPeer) that lets each test read
// the client's envelopes and answer them by hand.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Primus, WebSocket, startPeer, record } from './helpers.mjs';

// A hung request must fail its test, not stall the run.
const test = (name, fn) => nodeTest(name, { timeout: 15000 }, fn);

const { EventError, Args } = Primus;
let peer;
const clients = [];

/** A client of the peer, with the watchdog off (the peer never pings). */
function make(opts = {}) {
  const c = new Primus(peer.base, { WebSocket, pingTimeout: false, ...opts });
  clients.push(c);
  return c;
}

/** A connected client and its server-side connection. */
async function pair(opts) {
  const n = peer.count() + 1;
  const c = make(opts);
  const ev = record(c);
  await ev.wait('open');
  return { c, ev, conn: await peer.connection(n) };
}

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

before(async () => { peer = await startPeer(); });
after(async () => {
  for (const c of clients) c.destroy();
  await peer.close();
});

test('emit sends an event envelope without id; args may be empty', async () => {
  const { c, conn } = await pair();
  assert.equal(c.emit('chat', 'hi', { n: 1 }), true);
  c.emit('ping');
  assert.deepEqual(await conn.next(), { allspark: 1, event: 'chat', args: ['hi', { n: 1 }] });
  assert.deepEqual(await conn.next(), { allspark: 1, event: 'ping', args: [] });
});

test('emitWithAck numbers requests and resolves each with its own reply args, in any order', async () => {
  const { c, conn } = await pair();
  const p1 = c.emitWithAck('add', 1, 2);
  const p2 = c.emitWithAck('pair');
  const r1 = await conn.next();
  const r2 = await conn.next();
  assert.deepEqual(r1, { allspark: 1, event: 'add', args: [1, 2], id: r1.id });
  assert.ok(Number.isInteger(r1.id) && r1.id > 0 && r2.id !== r1.id, `ids ${r1.id} ${r2.id}`);
  conn.send({ allspark: 1, ack: r2.id, args: ['a', 2] });
  conn.send({ allspark: 1, ack: r1.id, args: [3] });
  assert.deepEqual(await p1, [3]);
  assert.deepEqual(await p2, ['a', 2]);
});

test('an ack error rejects with an EventError carrying code, message and event', async () => {
  const { c, conn } = await pair();
  const p = c.emitWithAck('add', 'x');
  const req = await conn.next();
  conn.send({ allspark: 1, ack: req.id, error: { code: 'invalid_argument', message: 'got string, want int' } });
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof EventError);
    assert.deepEqual([err.name, err.code, err.message, err.event], ['EventError', 'invalid_argument', 'got string, want int', 'add']);
    return true;
  });
});

test('timeout(ms): rejects with code timeout; the late reply is dropped quietly', async () => {
  const { c, ev, conn } = await pair();
  const started = Date.now();
  const p = c.timeout(80).emitWithAck('slow');
  const req = await conn.next();
  await assert.rejects(p, { name: 'EventError', code: 'timeout', event: 'slow' });
  assert.ok(Date.now() - started >= 75, `rejected after ${Date.now() - started} ms`);
  conn.send({ allspark: 1, ack: req.id, args: ['late'] });
  await settled(conn, ev);
  assert.deepEqual(dataOf(ev), []);
  assert.deepEqual(errorsOf(ev), []);
});

test('ackTimeout option is the default time limit', async () => {
  const { c, conn } = await pair({ ackTimeout: 50 });
  const p = c.emitWithAck('slow');
  await conn.next();
  await assert.rejects(p, { code: 'timeout' });
});

test('a connection lost before the reply rejects with disconnected; the request is not resent', async () => {
  const { c, ev, conn } = await pair({ reconnect: { min: 20 } });
  const p = c.emitWithAck('work', 1);
  await conn.next();
  const n = peer.count();
  conn.drop();
  await assert.rejects(p, { name: 'EventError', code: 'disconnected', event: 'work' });
  await ev.wait('reconnected');
  const again = await peer.connection(n + 1);
  c.emit('after');
  assert.deepEqual(await again.next(), { allspark: 1, event: 'after', args: [] }, 'the old request must not be resent');
});

test('end() rejects pending and queued requests with disconnected; emitWithAck after end rejects at once', async () => {
  const { c, conn } = await pair();
  const sent = c.emitWithAck('a');
  await conn.next();
  c.end();
  await assert.rejects(sent, { code: 'disconnected' });
  await assert.rejects(c.emitWithAck('b'), { code: 'disconnected' });
  assert.equal(c.emit('c'), false);
  const queued = make({ manual: true }).emitWithAck('never opened');
  clients.at(-1).end();
  await assert.rejects(queued, { code: 'disconnected' });
});

test('emits made while not open are queued with writes, in order, and acks work on the new connection', async () => {
  const n = peer.count();
  const c = make({ manual: true });
  c.write('w1');
  c.emit('e1', 1);
  const p = c.emitWithAck('q1');
  c.write('w2');
  c.open();
  const conn = await peer.connection(n + 1);
  assert.equal(await conn.next(), 'w1');
  assert.deepEqual(await conn.next(), { allspark: 1, event: 'e1', args: [1] });
  const req = await conn.next();
  assert.equal(req.event, 'q1');
  assert.equal(await conn.next(), 'w2');
  conn.send({ allspark: 1, ack: req.id, args: [true] });
  assert.deepEqual(await p, [true]);
});

test('queued while reconnecting: the request goes out on the next connection and its reply resolves it', async () => {
  const { c, ev, conn } = await pair({ reconnect: { min: 100 } });
  const n = peer.count();
  conn.drop();
  await ev.wait('reconnect scheduled');
  const p = c.emitWithAck('later', 'x');
  const again = await peer.connection(n + 1);
  const req = await again.next();
  assert.deepEqual(req, { allspark: 1, event: 'later', args: ['x'], id: req.id });
  again.send({ allspark: 1, ack: req.id, args: ['ok'] });
  assert.deepEqual(await p, ['ok']);
});

test('a request that timed out while queued is never sent', async () => {
  const n = peer.count();
  const c = make({ manual: true });
  await assert.rejects(c.timeout(20).emitWithAck('stale'), { code: 'timeout' });
  c.emit('fresh');
  c.open();
  const conn = await peer.connection(n + 1);
  assert.deepEqual(await conn.next(), { allspark: 1, event: 'fresh', args: [] });
});

test('queueSize: a dropped request rejects with disconnected and drop reports its envelope', async () => {
  const c = make({ manual: true, queueSize: 1 });
  const ev = record(c);
  const p = c.emitWithAck('first', 1);
  c.write('second');
  await assert.rejects(p, { code: 'disconnected' });
  const [dropped] = ev.log.find((e) => e.name === 'drop').args;
  assert.deepEqual({ event: dropped.event, args: dropped.args }, { event: 'first', args: [1] });
});

test('server events reach their handlers with their args, never the data listeners', async () => {
  const { c, ev, conn } = await pair();
  const got = [];
  c.on('chat', (...args) => { got.push(args); });
  conn.send({ allspark: 1, event: 'chat', args: ['hi', { from: 'srv' }] });
  conn.send({ allspark: 1, event: 'chat' }); // args absent = []
  conn.send({ allspark: 1, event: 'chat', args: null });
  conn.send({ plain: true }); // plain data is untouched
  conn.send({ event: 'chat', args: [] }); // no "allspark" key: plain data
  await settled(conn, ev);
  assert.deepEqual(got, [['hi', { from: 'srv' }], [], []]);
  assert.deepEqual(dataOf(ev), [{ plain: true }, { event: 'chat', args: [] }]);
  c.emit('next');
  assert.deepEqual(await conn.next(), { allspark: 1, event: 'next', args: [] }, 'an event without id gets no reply');
});

test('server asks: the handler result (awaited) is the ack reply', async () => {
  const { c, conn } = await pair();
  c.on('sum', (a, b) => a + b);
  c.on('later', async (x) => { await new Promise((r) => setTimeout(r, 20)); return { x }; });
  c.on('nothing', () => undefined);
  c.on('null', () => null);
  c.on('many', () => new Args(1, 'two', [3]));
  c.once('once', () => 'first');
  const asks = [['sum', [2, 3]], ['later', [7]], ['nothing', []], ['null', []], ['many', []], ['once', []], ['once', []]];
  asks.forEach(([event, args], i) => conn.send({ allspark: 1, event, args, id: 100 + i }));
  const replies = [];
  for (let i = 0; i < asks.length; i++) replies.push(await conn.next());
  replies.sort((a, b) => a.ack - b.ack);
  assert.deepEqual(replies, [
    { allspark: 1, ack: 100, args: [5] },
    { allspark: 1, ack: 101, args: [{ x: 7 }] },
    { allspark: 1, ack: 102, args: [] },
    { allspark: 1, ack: 103, args: [null] },
    { allspark: 1, ack: 104, args: [1, 'two', [3]] },
    { allspark: 1, ack: 105, args: ['first'] },
    { allspark: 1, ack: 106, error: { code: 'unknown_event', message: 'no handler for event "once"' } },
  ]);
});

test('a handler that throws or rejects answers handler_error, or the string code of the error', async () => {
  const { c, conn } = await pair();
  c.on('boom', () => { throw new Error('it broke'); });
  c.on('reject', () => Promise.reject(Object.assign(new Error('no such user'), { code: 'not_found' })));
  c.on('string', () => { throw 'plain string'; });
  c.on('unencodable', () => 10n);
  ['boom', 'reject', 'string', 'unencodable'].forEach((event, i) => conn.send({ allspark: 1, event, id: i + 1 }));
  const replies = [];
  for (let i = 0; i < 4; i++) replies.push(await conn.next());
  replies.sort((a, b) => a.ack - b.ack);
  assert.deepEqual(replies.slice(0, 3), [
    { allspark: 1, ack: 1, error: { code: 'handler_error', message: 'it broke' } },
    { allspark: 1, ack: 2, error: { code: 'not_found', message: 'no such user' } },
    { allspark: 1, ack: 3, error: { code: 'handler_error', message: 'plain string' } },
  ]);
  assert.equal(replies[3].error.code, 'handler_error');
  assert.match(replies[3].error.message, /^unencodable reply: /);
});

test('a handler error without id becomes a local error event', async () => {
  const { c, ev, conn } = await pair();
  c.on('boom', () => { throw new Error('it broke'); });
  conn.send({ allspark: 1, event: 'boom', args: [] });
  const [err] = await ev.wait('error');
  assert.ok(err instanceof EventError);
  assert.deepEqual([err.code, err.message, err.event], ['handler_error', 'it broke', 'boom']);
});

test('several handlers: all run in order, the first one answers, the others report errors locally', async () => {
  const { c, ev, conn } = await pair();
  const order = [];
  c.on('multi', (x) => { order.push('a'); return x * 2; });
  c.on('multi', () => { order.push('b'); throw new Error('second failed'); });
  c.on('multi', () => { order.push('c'); return 'ignored'; });
  conn.send({ allspark: 1, event: 'multi', args: [21], id: 5 });
  assert.deepEqual(await conn.next(), { allspark: 1, ack: 5, args: [42] });
  const [err] = await ev.wait('error');
  assert.deepEqual(order, ['a', 'b', 'c']);
  assert.equal(err.message, 'second failed');
  await settled(conn, ev);
  c.emit('next');
  assert.deepEqual(await conn.next(), { allspark: 1, event: 'next', args: [] }, 'one reply only');
});

test('unknown event: ack error unknown_event with id; a local error event without', async () => {
  const { c, ev, conn } = await pair();
  conn.send({ allspark: 1, event: 'mystery', args: [1], id: 9 });
  assert.deepEqual(await conn.next(), { allspark: 1, ack: 9, error: { code: 'unknown_event', message: 'no handler for event "mystery"' } });
  conn.send({ allspark: 1, event: 'mystery', args: [1] });
  const [err] = await ev.wait('error');
  assert.ok(err instanceof EventError);
  assert.deepEqual([err.code, err.event], ['unknown_event', 'mystery']);
  const handler = () => 1;
  c.on('gone', handler).off('gone', handler);
  conn.send({ allspark: 1, event: 'gone', id: 10 });
  assert.equal((await conn.next()).error.code, 'unknown_event');
  c.emit('next');
  assert.deepEqual(await conn.next(), { allspark: 1, event: 'next', args: [] }, 'no reply to an event without id');
});

test('a reserved name from the server is answered reserved_event and never emitted locally', async () => {
  const { c, ev, conn } = await pair();
  let opened = 0;
  c.on('open', () => opened++);
  conn.send({ allspark: 1, event: 'open', id: 3 });
  assert.deepEqual(await conn.next(), { allspark: 1, ack: 3, error: { code: 'reserved_event', message: '"open" is a reserved name' } });
  conn.send({ allspark: 1, event: 'primus::x' });
  const [err] = await ev.wait('error');
  assert.deepEqual([err.code, err.event], ['reserved_event', 'primus::x']);
  await settled(conn, ev);
  assert.equal(opened, 0);
});

test('error reports from the server become local EventErrors', async () => {
  const { ev, conn } = await pair();
  conn.send({ allspark: 1, error: { code: 'unknown_event', message: 'no handler for "nope"', event: 'nope' } });
  const [err] = await ev.wait('error');
  assert.ok(err instanceof EventError);
  assert.deepEqual([err.code, err.message, err.event], ['unknown_event', 'no handler for "nope"', 'nope']);
});

test('malformed envelopes: error events (or an ack error when the id is readable), nothing thrown, connection usable', async () => {
  const { c, ev, conn } = await pair();
  c.on('ok', () => 'fine');
  const bad = [
    { allspark: 2, event: 'ok' },
    { allspark: '1', event: 'ok' },
    { allspark: 1 },
    { allspark: 1, event: 'ok', ack: 1 },
    { allspark: 1, event: 5 },
    { allspark: 1, event: '' },
    { allspark: 1, event: 'é'.repeat(129) }, // 258 bytes
    { allspark: 1, event: 'ok', args: { 0: 1 } },
    { allspark: 1, event: 'ok', id: 0 },
    { allspark: 1, event: 'ok', id: -1 },
    { allspark: 1, event: 'ok', id: 1.5 },
    { allspark: 1, event: 'ok', id: 2 ** 53 },
    { allspark: 1, ack: 'x' },
    { allspark: 1, error: 'boom' },
    { allspark: 1, error: { message: 'no code' } },
    { allspark: 1, ack: 77, args: [] }, // a reply to nothing we asked: dropped
  ];
  for (const b of bad) conn.send(b);
  await settled(conn, ev);
  const errors = errorsOf(ev);
  assert.equal(errors.length, bad.length - 1, errors.map((e) => e.message).join('\n'));
  for (const e of errors) {
    assert.ok(e instanceof EventError);
    assert.equal(e.code, 'bad_envelope');
    assert.match(e.message, /^malformed event envelope: /);
  }
  assert.deepEqual(dataOf(ev), []);
  // with a readable id the server is answered instead
  conn.send({ allspark: 1, event: 'ok', args: 'nope', id: 4 });
  conn.send({ allspark: 1, event: 7, id: 5 });
  assert.deepEqual(await conn.next(), { allspark: 1, ack: 4, error: { code: 'bad_envelope', message: 'malformed event envelope: "args" is not an array' } });
  assert.deepEqual((await conn.next()).ack, 5);
  // a malformed reply to a pending request rejects it
  const p = c.emitWithAck('q');
  const req = await conn.next();
  conn.send({ allspark: 1, ack: req.id, args: 'not an array' });
  await assert.rejects(p, { code: 'bad_envelope', event: 'q' });
  // still usable
  conn.send({ allspark: 1, event: 'ok', id: 6 });
  assert.deepEqual(await conn.next(), { allspark: 1, ack: 6, args: ['fine'] });
  assert.equal(c.readyState, Primus.OPEN);
});

test('a second reply to the same request is dropped', async () => {
  const { c, ev, conn } = await pair();
  const p = c.emitWithAck('once');
  const req = await conn.next();
  conn.send({ allspark: 1, ack: req.id, args: [1] });
  conn.send({ allspark: 1, ack: req.id, error: { code: 'handler_error', message: 'late' } });
  assert.deepEqual(await p, [1]);
  await settled(conn, ev);
  assert.deepEqual(errorsOf(ev), []);
});

test('a reply is never sent on a later connection: the new spark never saw the request', async () => {
  const { c, ev, conn } = await pair({ reconnect: { min: 20 } });
  let release;
  c.on('slow', () => new Promise((r) => { release = r; }));
  conn.send({ allspark: 1, event: 'slow', id: 1 });
  await settled(conn, ev);
  const n = peer.count();
  conn.drop();
  await ev.wait('reconnected');
  const again = await peer.connection(n + 1);
  release('too late');
  await new Promise((r) => setTimeout(r, 20));
  c.emit('after');
  assert.deepEqual(await again.next(), { allspark: 1, event: 'after', args: [] });
});

test('reserved and invalid names: local meaning for emit/on, TypeError for emitWithAck and the wire', async () => {
  const c = make({ manual: true });
  const ev = record(c);
  let seen;
  c.on('data', (d) => { seen = d; });
  assert.equal(c.emit('data', 'local'), true); // local emitter, nothing queued
  assert.equal(seen, 'local');
  c.emit('reconnect timeout', new Error('x'), { attempt: 1 });
  assert.equal(ev.log.find((e) => e.name === 'reconnect timeout').args.length, 2);
  for (const name of ['open', 'data', 'drop', 'primus::id::', 'allspark::x', 'incoming::data', 'reconnect scheduled']) {
    assert.throws(() => c.emitWithAck(name), TypeError, name);
  }
  for (const name of ['', 'x'.repeat(257), 42]) {
    assert.throws(() => c.emit(name), TypeError, String(name));
    assert.throws(() => c.emitWithAck(name), TypeError, String(name));
    assert.throws(() => c.on(name, () => {}), TypeError, String(name));
  }
  assert.throws(() => c.emit('big', 10n), TypeError, 'args JSON cannot encode throw at the caller');
  c.emit('x'.repeat(256)); // the limit itself is fine
  c.on('constructor', () => 'a name like any other');
  const n = peer.count();
  c.open();
  const conn = await peer.connection(n + 1);
  assert.equal((await conn.next()).event, 'x'.repeat(256));
  conn.send({ allspark: 1, event: 'constructor', id: 1 });
  conn.send({ allspark: 1, event: '__proto__', id: 2 });
  const replies = [await conn.next(), await conn.next()].sort((a, b) => a.ack - b.ack);
  assert.deepEqual(replies[0], { allspark: 1, ack: 1, args: ['a name like any other'] });
  assert.equal(replies[1].error.code, 'unknown_event');
});
