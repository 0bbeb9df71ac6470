// The typed client's HTTP fallback (Engine.IO v4 long-polling, and the
// upgrade to a WebSocket) in Node, against the server ALLSPARK_JS_SERVER
// names (eio.mjs: ours by default, or the stock Node Primus engine.io server).
import { test as nodeTest, after } from 'node:test';
import assert from 'node:assert/strict';
import { Primus, WebSocket, cleanup, record } from './helpers.mjs';
import { which, startTarget, startProxy, waitFor } from './eio.mjs';

const target = await startTarget({ pingInterval: 150 });
const clients = [];
const make = (at, opts = {}) => {
  const c = new Primus(at.base, { WebSocket, pathname: at.pathname, ...opts });
  clients.push(c);
  return c;
};
const data = (ev) => ev.log.filter((e) => e.name === 'data').map((e) => e.args[0]);

// Every test here needs an Engine.IO server but the authorization one.
const test = (name, fn, skip = target.eio) => nodeTest(`${which}: ${name}`, { timeout: 20000, skip: skip ?? false }, fn);

after(async () => {
  for (const c of clients) c.destroy();
  await target.stop();
  await cleanup();
});

test('polling only: opens, echoes in order, id(), answers EIO pings across many intervals', async () => {
  const c = make(target.echo, { transports: ['polling'] });
  const ev = record(c);
  const values = [0, 'wörld 🚀', { a: [1, null, { b: true }] }, '\u2028', -1.5, 'x'.repeat(5000)];
  for (const v of values) c.write(v); // queued before open, sent in one POST
  await ev.wait('open');
  assert.equal(c.transport, 'polling');
  await ev.wait('data', values.length);
  assert.deepEqual(data(ev), values);
  assert.match(await c.id(), /\S+/);
  await new Promise((r) => setTimeout(r, 800)); // > 5 ping intervals (150 ms): pongs keep the session
  assert.equal(c.readyState, Primus.OPEN);
  assert.equal(c.transport, 'polling');
  assert.ok(!ev.names().includes('close'), ev.names().join(','));
  for (let i = 0; i < 300; i++) c.write(i); // many POSTs while others are under way
  await ev.wait('data', values.length + 300);
  assert.deepEqual(data(ev).slice(values.length), [...Array(300).keys()]);
});

test('polling: named events with acks', async () => {
  const c = make(target.events, { transports: ['polling'] });
  const sums = await Promise.all([...Array(10).keys()].map((i) => c.emitWithAck('add', { A: i, B: 1 })));
  assert.deepEqual(sums, [...Array(10).keys()].map((i) => [i + 1]));
  assert.equal(c.transport, 'polling');
});

test('polling: server end() → close, end, no reconnect', async () => {
  const c = make(target.control, { transports: ['polling'], reconnect: { min: 10 } });
  const ev = record(c);
  await ev.wait('open');
  c.write({ cmd: 'end' });
  await ev.wait('end');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(ev.names().filter((n) => n !== 'data'), ['open', 'close', 'end']);
});

test('authorization refused on the polling handshake: AuthorizationError, no reconnect loop', async () => {
  const c = make(target.auth, { transports: ['polling'], reconnect: { min: 10 } });
  const ev = record(c);
  const [err] = await ev.wait('error');
  await ev.wait('end');
  assert.equal(err.name, 'AuthorizationError');
  assert.equal(err.status, 401);
  assert.equal(err.message, 'authentication required');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!ev.names().includes('reconnect scheduled'), ev.names().join(','));
}, null);

test('fallback: a proxy answering upgrades with 403 → the client runs on polling', async () => {
  const proxy = await startProxy(new URL(target.echo.base).port, 403);
  const c = make({ ...target.echo, base: proxy.base }, { upgradeRetry: false });
  const ev = record(c);
  await ev.wait('open');
  assert.equal(c.transport, 'polling');
  c.write({ through: 'the proxy' });
  assert.deepEqual((await ev.wait('data'))[0], { through: 'the proxy' });
  assert.ok(proxy.state.refused >= 1, 'the WebSocket was tried first');
  assert.equal(proxy.state.passed, 0);
  c.end();
  await proxy.close();
});

test('fallback: a proxy answering 502, then allowing upgrades → the session upgrades, no write lost or reordered', async () => {
  const proxy = await startProxy(new URL(target.echo.base).port, 502);
  const c = make({ ...target.echo, base: proxy.base }, { upgradeRetry: 100 });
  const ev = record(c);
  await ev.wait('open');
  assert.equal(c.transport, 'polling');
  proxy.state.refuse = 0;
  // One write per macrotask until the upgrade is done, and some more after it;
  // big ones, so that a POST is under way when the probe is answered.
  const pad = 'x'.repeat(20000);
  let n = 0;
  let after = 0;
  while (after < 30) {
    c.write([n++, pad]);
    if (c.transport === 'websocket') after++;
    await new Promise((r) => setImmediate(r));
    if (n > 100000) throw new Error('no upgrade');
  }
  await ev.wait('data', n);
  assert.deepEqual(data(ev).map(([i]) => i), [...Array(n).keys()]);
  assert.ok(proxy.state.passed >= 1);
  assert.deepEqual(ev.names().filter((x) => x !== 'data'), ['open'], 'one connection throughout');
  c.end();
  await proxy.close();
});

test('upgrade: polling first, then the Engine.IO upgrade to a WebSocket; the session (spark) stays', async () => {
  const c = make(target.echo, { transports: ['polling', 'websocket'] });
  const ev = record(c);
  await ev.wait('open');
  const id = await c.id();
  await waitFor(() => c.transport === 'websocket', 5000, 'the upgrade');
  assert.equal(await c.id(), id, 'same spark after the upgrade');
  c.write('on the websocket');
  assert.equal((await ev.wait('data'))[0], 'on the websocket');
  await new Promise((r) => setTimeout(r, 500)); // EIO pings are answered on the WebSocket too
  assert.equal(c.readyState, Primus.OPEN);
  assert.deepEqual(ev.names().filter((x) => x !== 'data'), ['open']);
});

test('polling: server restart → reconnect scheduled, reconnected, queued writes flushed', async () => {
  const srv = await target.own();
  const c = make(srv, { transports: ['polling'], reconnect: { min: 100, retries: 50 } });
  const ev = record(c);
  await ev.wait('open');
  await srv.stop();
  await ev.wait('reconnect scheduled');
  c.write('while down');
  const again = await target.own(srv.port);
  await ev.wait('reconnected', 1, 10000);
  assert.equal((await ev.wait('data'))[0], 'while down');
  assert.equal(c.transport, 'polling');
  const order = ev.names().filter((x) => !['data', 'reconnect scheduled', 'reconnect', 'error'].includes(x));
  assert.deepEqual(order, ['open', 'close', 'reconnected', 'open']);
  c.end();
  await again.stop();
});

test('after a polling fallback, a reconnect starts on polling (no WebSocket refusal to wait for), then upgrades', async () => {
  const srv = await target.own();
  const proxy = await startProxy(srv.port, 403);
  const c = make({ ...srv, base: proxy.base }, { reconnect: { min: 50, retries: 50 }, upgradeRetry: false });
  const ev = record(c);
  await ev.wait('open');
  assert.equal(c.transport, 'polling');
  const refused = proxy.state.refused;
  proxy.state.refuse = 0;
  await srv.stop();
  await ev.wait('reconnect scheduled');
  const again = await target.own(srv.port);
  await ev.wait('reconnected', 1, 10000);
  await waitFor(() => c.transport === 'websocket', 5000, 'the upgrade after the reconnect');
  assert.equal(proxy.state.refused, refused);
  c.write('upgraded');
  assert.equal((await ev.wait('data'))[0], 'upgraded');
  c.end();
  await proxy.close();
  await again.stop();
});

test('a server without Engine.IO behind a proxy refusing upgrades: failed attempts (no polling to fall back to) until upgrades pass, then a plain WebSocket', async () => {
  const proxy = await startProxy(new URL(target.echo.base).port, 403);
  const c = make({ ...target.echo, base: proxy.base }, { reconnect: { min: 50, max: 100, retries: 100 } });
  const ev = record(c);
  await ev.wait('reconnect scheduled', 2);
  assert.ok(!ev.names().includes('open'));
  proxy.state.refuse = 0;
  await ev.wait('open', 1, 10000);
  assert.equal(c.transport, 'websocket');
  c.write('after all');
  assert.equal((await ev.wait('data'))[0], 'after all');
  c.end();
  await proxy.close();
}, target.eio ? null : 'the server speaks Engine.IO: the fallback tests above cover it');
