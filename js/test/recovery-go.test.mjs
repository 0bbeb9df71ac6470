// Recovery end to end: the typed client against our Go server, the
// conformance fixture's /recovery scenario (rooms with history; "cut" ends
// the spark for a reconnect and publishes while the server holds every new
// connection), in Node with npm ws.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Primus, WebSocket, build, startFixture, cleanup, record } from './helpers.mjs';

const test = (name, fn) => nodeTest(name, { timeout: 30000 }, fn);

let fixture;
const clients = [];

before(async () => {
  fixture = await startFixture(build('./test/conformance/fixture', 'fixture-recovery'));
});

after(async () => {
  for (const c of clients) c.destroy();
  await cleanup();
});

async function connect(room) {
  const c = new Primus(`${fixture.base}?room=${room}`, { WebSocket, pathname: '/recovery', pingTimeout: false, reconnect: { min: 20 } });
  clients.push(c);
  const ev = record(c, ['session', 'unrecovered']);
  const [s] = await ev.wait('session');
  assert.deepEqual([s.restored, s.recovered, s.reason], [false, false, 'new']);
  return { c, ev, id: s.id };
}

const dataOf = (ev) => ev.log.filter((e) => e.name === 'data').map((e) => e.args[0]);

/** Publishes a few messages live, then an outage during which n are published; resolves with the reconnect's session. */
async function outage(c, ev, room, n) {
  for (let i = 0; i < 3; i++) await c.emitWithAck('publish', { Room: room, Value: { pre: i } });
  await ev.wait('data', 3);
  c.emit('cut', { Room: room, N: n });
  await ev.wait('close');
  const [s] = await ev.wait('session', 2);
  return s;
}

test('go: 1,000 messages published during an outage arrive once each, in order, before live ones; same spark, still in its room', async () => {
  const { c, ev, id } = await connect('chat');
  const s = await outage(c, ev, 'chat', 1000);
  assert.deepEqual(s, { id, restored: true, recovered: true, reason: '' });
  assert.deepEqual([c.recovered, c.restored], [true, true]);
  await c.emitWithAck('publish', { Room: 'chat', Value: 'live' });
  await ev.wait('data', 3 + 1000 + 1, 20000);
  const want = [0, 1, 2].map((i) => ({ pre: i })).concat([...Array(1000).keys()], ['live']);
  assert.deepEqual(dataOf(ev), want);
  assert.equal(await c.id(), id);
  assert.deepEqual(await c.emitWithAck('rooms'), [['chat']]);
  assert.ok(!ev.names().includes('unrecovered'));
  assert.ok(!ev.names().includes('error'), ev.log.filter((e) => e.name === 'error').map((e) => String(e.args[0])).join('\n'));
});

test('go: past the history the spark still comes back, nothing is replayed, and unrecovered says truncated', async () => {
  const { c, ev, id } = await connect('small');
  const s = await outage(c, ev, 'small', 150);
  assert.deepEqual(s, { id, restored: true, recovered: false, reason: 'truncated' });
  const [reason] = await ev.wait('unrecovered');
  assert.equal(reason, 'truncated');
  assert.deepEqual([c.recovered, c.restored], [false, true]);
  await c.emitWithAck('publish', { Room: 'small', Value: 'live' });
  await ev.wait('data', 4);
  assert.deepEqual(dataOf(ev), [{ pre: 0 }, { pre: 1 }, { pre: 2 }, 'live']);
  assert.deepEqual(await c.emitWithAck('rooms'), [['small']]);
});
