// Named events and acks between the typed client and our Go server: the
// conformance fixture's /events scenario (test/conformance/fixture, see
// namedEvents there), in Node with npm ws.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Primus, WebSocket, build, startFixture, cleanup, record } from './helpers.mjs';

// A hung request must fail its test, not stall the run.
const test = (name, fn) => nodeTest(name, { timeout: 15000 }, fn);

const { EventError } = Primus;
let fixture;
const clients = [];

before(async () => {
  fixture = await startFixture(build('./test/conformance/fixture', 'fixture-events'));
});

after(async () => {
  for (const c of clients) c.destroy();
  await cleanup();
});

async function connect(opts = {}) {
  const c = new Primus(fixture.base, { WebSocket, pathname: '/events', ...opts });
  clients.push(c);
  const ev = record(c);
  await ev.wait('open');
  return { c, ev };
}

test('go: the client asks, the server answers with its handler result', async () => {
  const { c } = await connect();
  assert.deepEqual(await c.emitWithAck('echo', 1, 'two', { three: [3] }, null), [1, 'two', { three: [3] }, null]);
  assert.deepEqual(await c.emitWithAck('echo'), []);
  assert.deepEqual(await c.emitWithAck('add', { A: 2, B: 40 }), [42]);
  const many = await Promise.all([...Array(20).keys()].map((i) => c.emitWithAck('add', { A: i, B: i })));
  assert.deepEqual(many, [...Array(20).keys()].map((i) => [2 * i]));
});

test('go: a typed handler refuses bad arguments with an invalid_argument EventError', async () => {
  const { c } = await connect();
  const cases = [
    [[{ A: 1, B: 'x' }], /field "B"/],
    [[{ A: 1, B: 2, C: 3 }], /unknown field "C"/],
    [[1, 2], /takes 1 argument, got 2/],
    [[], /takes 1 argument, got 0/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(c.emitWithAck('add', ...args), (err) => {
      assert.ok(err instanceof EventError, String(err));
      assert.equal(err.code, 'invalid_argument');
      assert.equal(err.event, 'add');
      assert.match(err.message, message);
      return true;
    });
  }
});

test('go: a handler picks its error code (EventError in Go)', async () => {
  const { c } = await connect();
  await assert.rejects(c.emitWithAck('fail', 'not_found', 'no such room'), { name: 'EventError', code: 'not_found', message: 'no such room', event: 'fail' });
});

test('go: unknown events: ack error with an id, an error report (local error event) without', async () => {
  const { c, ev } = await connect();
  await assert.rejects(c.emitWithAck('nope', 1), { name: 'EventError', code: 'unknown_event', event: 'nope' });
  c.emit('nope', 2);
  const [err] = await ev.wait('error');
  assert.ok(err instanceof EventError);
  assert.deepEqual([err.code, err.event], ['unknown_event', 'nope']);
});

test('go: the server asks the client (EmitWithAck) and gets the handler result, sync or async', async () => {
  const { c } = await connect();
  c.on('double', (x) => x * 2);
  c.on('later', async (a, b) => { await new Promise((r) => setTimeout(r, 10)); return new Primus.Args(b, a); });
  assert.deepEqual(await c.emitWithAck('ask', 'double', 21), [42]);
  assert.deepEqual(await c.emitWithAck('ask', 'later', 'a', 'b'), ['b', 'a']);
});

test('go: client handler errors and missing handlers reach the server as ack errors', async () => {
  const { c } = await connect();
  c.on('deny', () => { throw Object.assign(new Error('not allowed'), { code: 'forbidden' }); });
  c.on('crash', async () => { throw new Error('client bug'); });
  await assert.rejects(c.emitWithAck('ask', 'deny'), { code: 'forbidden', message: 'not allowed' });
  await assert.rejects(c.emitWithAck('ask', 'crash'), { code: 'handler_error', message: 'client bug' });
  await assert.rejects(c.emitWithAck('ask', 'unhandled'), { code: 'unknown_event' });
});

test('go: server events without id reach their handler; data listeners see only plain data', async () => {
  const { c, ev } = await connect();
  const news = [];
  c.on('news', (...args) => { news.push(args); });
  assert.deepEqual(await c.emitWithAck('tell', 'news', 'headline', { n: 1 }), []);
  assert.deepEqual(await c.emitWithAck('write', { plain: 'data' }), []);
  await ev.wait('data');
  assert.deepEqual(news, [['headline', { n: 1 }]]);
  assert.deepEqual(ev.log.filter((e) => e.name === 'data').map((e) => e.args[0]), [{ plain: 'data' }]);
  await c.emitWithAck('tell', 'nobody-listens', 1);
  const [err] = await ev.wait('error');
  assert.deepEqual([err.code, err.event], ['unknown_event', 'nobody-listens']);
});

test('go: rooms: join, then say reaches the other members only', async () => {
  const [a, b, outsider] = await Promise.all([connect(), connect(), connect()]);
  const heard = { a: [], b: [], outsider: [] };
  a.c.on('said', (...args) => { heard.a.push(args); });
  b.c.on('said', (...args) => { heard.b.push(args); });
  outsider.c.on('said', (...args) => { heard.outsider.push(args); });
  assert.deepEqual(await a.c.emitWithAck('join', 'lobby'), [['lobby']]);
  assert.deepEqual(await b.c.emitWithAck('join', 'lobby'), [['lobby']]);
  await assert.rejects(b.c.emitWithAck('join', ''), { code: 'invalid_argument' });
  const aID = await a.c.id();
  assert.deepEqual(await a.c.emitWithAck('say', { Room: 'lobby', Text: 'hello' }), [1]);
  // b's handler has run once its own next reply arrives: events and replies share one ordered stream
  await b.c.emitWithAck('echo');
  await outsider.c.emitWithAck('echo');
  assert.deepEqual(heard, { a: [], b: [['hello', aID]], outsider: [] });
});

test('go: the server ends the connection before answering → disconnected; the client reconnects and asks again', async () => {
  const { c, ev } = await connect({ reconnect: { min: 20 } });
  await assert.rejects(c.emitWithAck('hangup'), { name: 'EventError', code: 'disconnected', event: 'hangup' });
  await ev.wait('reconnected');
  assert.deepEqual(await c.emitWithAck('add', { A: 1, B: 1 }), [2]);
});

test('go: plain writes still echo on a server with event handlers', async () => {
  const { c, ev } = await connect();
  c.write({ allsparkish: true });
  const [d] = await ev.wait('data');
  assert.deepEqual(d, { allsparkish: true });
});
