// The typed client against our Go server (cmd/allspark) and the conformance
// fixture, in Node with npm `ws` as the WebSocket implementation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Primus, WebSocket, build, startAllspark, startFixture, cleanup, record } from './helpers.mjs';

let allspark, fixtureExe, echo, fixture;
const clients = [];
const make = (url, opts = {}) => {
  const c = new Primus(url, { WebSocket, ...opts });
  clients.push(c);
  return c;
};

before(async () => {
  allspark = build('./cmd/allspark', 'allspark');
  fixtureExe = build('./test/conformance/fixture', 'fixture');
  echo = await startAllspark(allspark, ['--echo', '--addr', '127.0.0.1:0', '--ping-interval', '200ms']);
  fixture = await startFixture(fixtureExe);
});

after(async () => {
  for (const c of clients) c.destroy();
  await cleanup();
});

test('opens, echoes JSON values exactly and reports readyState', async () => {
  const c = make(echo.base);
  const ev = record(c);
  assert.equal(c.readyState, Primus.CLOSED); // opens on the next tick, as Primus
  await ev.wait('open');
  assert.equal(c.readyState, Primus.OPEN);
  const values = [0, 'wörld 🚀', { a: [1, null, { b: true }] }, '\u2028', -1.5];
  for (const v of values) c.write(v);
  for (let i = 1; i <= values.length; i++) await ev.wait('data', i);
  assert.deepEqual(ev.log.filter((e) => e.name === 'data').map((e) => e.args[0]), values);
});

test('writes made before open are flushed in order on open', async () => {
  const c = make(echo.base);
  const ev = record(c);
  for (let i = 0; i < 20; i++) c.write(i);
  await ev.wait('data', 20);
  assert.deepEqual(ev.log.filter((e) => e.name === 'data').map((e) => e.args[0]), [...Array(20).keys()]);
});

test('id() round-trips primus::id:: (callback and promise)', async () => {
  const c = make(echo.base);
  let fromCallback;
  const id = await c.id((v) => { fromCallback = v; });
  assert.match(id, /^[A-Za-z0-9_-]{20}$/);
  assert.equal(fromCallback, id);
});

test('answers server pings, so the connection outlives many ping intervals', async () => {
  const c = make(echo.base, { pingTimeout: 1000 });
  const ev = record(c);
  await ev.wait('open');
  await new Promise((r) => setTimeout(r, 1200)); // 6 server ping intervals
  assert.equal(c.readyState, Primus.OPEN);
  assert.ok(!ev.names().includes('close'));
});

test('server restart: close, reconnect scheduled inside the back-off bounds, reconnected, queued writes flushed', async () => {
  const srv = await startAllspark(allspark, ['--echo', '--addr', '127.0.0.1:0']);
  const c = make(srv.base, { reconnect: { min: 100, retries: 50 } });
  const ev = record(c);
  await ev.wait('open');
  await srv.stop();
  const [first] = await ev.wait('reconnect scheduled');
  assert.equal(first.attempt, 1);
  assert.equal(first.scheduled, 100); // attempt 1 waits exactly min, as Primus
  c.write('while down');
  const [second] = await ev.wait('reconnect scheduled', 2);
  assert.ok(second.scheduled >= 200 && second.scheduled <= 400, `attempt 2 delay ${second.scheduled}`);
  const again = await startAllspark(allspark, ['--echo', '--addr', `127.0.0.1:${srv.port}`]);
  await ev.wait('reconnected', 1, 10000);
  const [data] = await ev.wait('data');
  assert.equal(data, 'while down');
  const order = ev.names().filter((n) => n !== 'data' && n !== 'reconnect scheduled' && n !== 'reconnect' && n !== 'error');
  assert.deepEqual(order, ['open', 'close', 'reconnected', 'open']);
  await again.stop();
});

test('a failed reconnect attempt\'s time limit does not outlive it and cut the connection that opens later', async () => {
  const srv = await startAllspark(allspark, ['--echo', '--addr', '127.0.0.1:0']);
  const c = make(srv.base, { reconnect: { min: 20, max: 40, retries: 100, 'reconnect timeout': 600 } });
  const ev = record(c);
  await ev.wait('open');
  await srv.stop();
  await ev.wait('reconnect scheduled', 4); // three attempts failed, each with its own time limit
  const again = await startAllspark(allspark, ['--echo', '--addr', `127.0.0.1:${srv.port}`]);
  await ev.wait('reconnected', 1, 10000);
  await new Promise((r) => setTimeout(r, 800)); // past every earlier attempt's limit
  assert.equal(c.readyState, Primus.OPEN);
  assert.ok(!ev.names().includes('reconnect timeout'), ev.names().join(','));
  c.end();
  await again.stop();
});

test('retries exhausted: end, then reconnect failed', async () => {
  const srv = await startAllspark(allspark, ['--echo', '--addr', '127.0.0.1:0']);
  const c = make(srv.base, { reconnect: { min: 10, max: 20, retries: 2 } });
  const ev = record(c);
  await ev.wait('open');
  await srv.stop();
  await ev.wait('reconnect failed', 1, 10000);
  const names = ev.names();
  assert.deepEqual(names.slice(-2), ['end', 'reconnect failed']);
  assert.equal(names.filter((n) => n === 'reconnect scheduled').length, 2);
  assert.equal(c.readyState, Primus.CLOSED);
});

test('strategy false: a drop ends the client without reconnecting', async () => {
  const srv = await startAllspark(allspark, ['--echo', '--addr', '127.0.0.1:0']);
  const c = make(srv.base, { strategy: false });
  const ev = record(c);
  await ev.wait('open');
  await srv.stop();
  await ev.wait('end');
  assert.ok(!ev.names().includes('reconnect scheduled'));
});

test('the watchdog cuts a connection whose server stopped pinging', async () => {
  const srv = await startAllspark(allspark, ['--echo', '--addr', '127.0.0.1:0', '--ping-interval', '0']);
  const c = make(srv.base, { pingTimeout: 150, reconnect: { min: 5000 } });
  const ev = record(c);
  await ev.wait('open');
  await ev.wait('reconnect scheduled', 1, 3000);
  assert.deepEqual(ev.names().slice(0, 3), ['open', 'close', 'reconnect scheduled']);
  c.end();
  await srv.stop();
});

test('connect timeout: a server that never answers the handshake → timeout event', async () => {
  const sockets = [];
  const silent = net.createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
  await new Promise((r) => silent.once('listening', r));
  const c = make(`http://127.0.0.1:${silent.address().port}`, { timeout: 100, strategy: false });
  const ev = record(c);
  await ev.wait('end');
  assert.deepEqual(ev.names().slice(0, 1), ['timeout']);
  for (const s of sockets) s.destroy();
  silent.close();
});

test('queueSize: writes while not open drop the oldest and report it', async () => {
  const c = make(echo.base, { manual: true, queueSize: 2 });
  const ev = record(c);
  c.write('a'); c.write('b'); c.write('c');
  assert.deepEqual(ev.log.filter((e) => e.name === 'drop').map((e) => e.args[0]), ['a']);
  c.open();
  await ev.wait('data', 2);
  assert.deepEqual(ev.log.filter((e) => e.name === 'data').map((e) => e.args[0]), ['b', 'c']);
});

test('authorization failure: AuthorizationError with status and message, no reconnect loop', async () => {
  const c = make(fixture.base, { pathname: '/auth', reconnect: { min: 10 } });
  const ev = record(c);
  const [err] = await ev.wait('error');
  await ev.wait('end');
  assert.equal(err.name, 'AuthorizationError');
  assert.equal(err.status, 401);
  assert.equal(err.message, 'authentication required');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!ev.names().includes('reconnect scheduled'), ev.names().join(','));
  const ok = make(fixture.base + '/?token=ok', { pathname: '/auth' });
  await record(ok).wait('open');
});

test('server-side End without reconnect: close, end and no reconnect', async () => {
  const c = make(fixture.base, { pathname: '/control', reconnect: { min: 10 } });
  const ev = record(c);
  await ev.wait('open');
  c.write({ cmd: 'end' });
  await ev.wait('end');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(ev.names().filter((n) => n !== 'data'), ['open', 'close', 'end']);
});

test('a library baked for a non-JSON server parser refuses to connect with a clear error', async () => {
  class MsgpackServerClient extends Primus {
    static defaults = { ...Primus.defaults, parser: 'msgpack' };
  }
  const c = new MsgpackServerClient(echo.base, { WebSocket });
  clients.push(c);
  const ev = record(c);
  const [err] = await ev.wait('error');
  await ev.wait('end');
  assert.match(err.message, /"msgpack" parser; this client speaks JSON only/);
  assert.ok(!ev.names().includes('open'));
});
