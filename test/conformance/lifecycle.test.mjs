// Connection lifecycle against the fixture: server-side end with and without
// reconnect, shutdown, connect timeouts, async connection hooks, lookup,
// broadcast and writing to a closed spark.
import { test, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  STATE, TEST_TIMEOUT, NEEDS_FIXTURE, startFixture, connect, seen, delay, until, admin, uniqueTag,
} from './helpers.mjs';

let fx;
before(async () => { fx = await startFixture(); });

const opts = { timeout: TEST_TIMEOUT, skip: NEEDS_FIXTURE };
/** Fast reconnects, so that "no reconnect happened" needs only a short wait. */
const FAST = { min: 20, max: 40, retries: 2 };

/** Opens a stock client on a fixture pathname and waits for 'open'. */
async function open(pathname, options = {}, createOptions = {}, url = fx.base) {
  const client = connect(url, pathname, options, createOptions);
  await seen(client, 'open');
  return client;
}

/** Asks the /control server for this client's spark id. */
async function sparkID(client) {
  client.write({ cmd: 'id' });
  return (await client.data.next()).id;
}

/** Events recorded after the first 'open'. */
const afterOpen = (client) => client.events.slice(client.events.indexOf('open') + 1);

describe('server-side end', () => {
  test('End(nil, false): client sees close, end and does not reconnect', opts, async () => {
    const client = await open('/control', { reconnect: FAST });
    client.write({ cmd: 'end' });
    await seen(client, 'end');
    assert.equal(client.readyState, STATE.CLOSED);
    await delay(300); // > 7 × the reconnect delay
    assert.deepEqual(afterOpen(client), ['close', 'end']);
  });

  test('End(data, false): the data arrives before end', opts, async () => {
    const client = await open('/control', { reconnect: FAST });
    let dataAtEnd;
    client.on('end', () => { dataAtEnd = client.data.all(); });
    client.write({ cmd: 'end-with', data: { bye: 'for now', n: 0 } });
    await seen(client, 'end');
    assert.deepEqual(dataAtEnd, [{ bye: 'for now', n: 0 }]);
    assert.deepEqual(afterOpen(client), ['close', 'end']);
  });

  test('End(nil, true): client reconnects (close, reconnect scheduled, reconnect, reconnected, open) as a new spark', opts, async () => {
    const client = await open('/control', { reconnect: FAST });
    const before = await sparkID(client);
    client.write({ cmd: 'end-reconnect' });
    await seen(client, 'reconnected');
    await until(() => client.events.filter((e) => e === 'open').length === 2);
    assert.deepEqual(afterOpen(client), ['close', 'reconnect scheduled', 'reconnect', 'reconnected', 'open']);
    assert.equal(client.readyState, STATE.OPEN);
    const after = await sparkID(client);
    assert.notEqual(after, before);
  });

  test('End(nil, true) with strategy false: close and end, no reconnect', opts, async () => {
    const client = await open('/control', { strategy: false, reconnect: FAST });
    client.write({ cmd: 'end-reconnect' });
    await seen(client, 'end');
    await delay(300);
    assert.deepEqual(afterOpen(client), ['close', 'end']);
  });

  test('End after a burst of writes: all of them arrive, in order, before end', opts, async () => {
    const client = await open('/control', { reconnect: FAST });
    const N = 500;
    let countAtEnd;
    client.on('end', () => { countAtEnd = client.data.all().length; });
    client.write({ cmd: 'burst-end', n: N });
    await seen(client, 'end');
    assert.equal(countAtEnd, N);
    assert.deepEqual(client.data.all(), Array.from({ length: N }, (_, i) => ({ burst: i })));
    assert.deepEqual(afterOpen(client), ['close', 'end']);
  });

  test('connection hook error: the spark is ended without reconnect', opts, async () => {
    const client = connect(fx.base, '/hookfail', { reconnect: FAST });
    await seen(client, 'end');
    await delay(300);
    assert.deepEqual(client.events, ['open', 'close', 'end']);
  });
});

describe('shutdown', () => {
  test('Shutdown with reconnect: client retries, refused each time, then end and reconnect failed (in that order)', opts, async () => {
    const pathname = await admin.spawn(fx);
    const tag = uniqueTag();
    const client = await open(pathname, { reconnect: FAST }, {}, `${fx.base}?tag=${tag}`);
    client.write('before shutdown');
    assert.equal(await client.data.next(), 'before shutdown');
    assert.deepEqual(await admin.shutdown(fx, pathname, true), { error: '' });
    await seen(client, 'reconnect failed');
    const events = afterOpen(client);
    assert.deepEqual(events.slice(0, 2), ['close', 'reconnect scheduled']);
    assert.deepEqual(events.slice(-2), ['end', 'reconnect failed']);
    assert.equal(events.filter((e) => e === 'reconnect').length, FAST.retries);
    assert.ok(!events.includes('open'));
    assert.equal(await admin.attempts(fx, pathname, tag), 1 + FAST.retries);
  });

  test('Shutdown without reconnect: client sees close, end and never reconnects', opts, async () => {
    const pathname = await admin.spawn(fx);
    const tag = uniqueTag();
    const client = await open(pathname, { reconnect: FAST }, {}, `${fx.base}?tag=${tag}`);
    assert.deepEqual(await admin.shutdown(fx, pathname, false), { error: '' });
    await seen(client, 'end');
    await delay(300);
    assert.deepEqual(afterOpen(client), ['close', 'end']);
    assert.equal(await admin.attempts(fx, pathname, tag), 1);
  });

  test('Shutdown while messages are in flight: what arrives is complete and in order, then end', opts, async () => {
    const pathname = await admin.spawn(fx);
    const client = await open(pathname, { reconnect: FAST });
    for (let i = 0; i < 200; i++) client.write(i);
    // Wait until the server has echoed the first one, so all 200 are in flight.
    assert.equal(await client.data.next(), 0);
    const shutdown = admin.shutdown(fx, pathname, false);
    await seen(client, 'end');
    await shutdown;
    const got = client.data.all();
    // Echoes queued before Shutdown are flushed; later writes get ErrClosed.
    // So the client sees an unbroken prefix 0, 1, 2, ... and then 'end'.
    assert.ok(got.length >= 1);
    assert.deepEqual(got, got.map((_, i) => i));
    assert.deepEqual(afterOpen(client), ['close', 'end']);
  });
});

describe('connect timeout', () => {
  test('slow middleware, strategy false: timeout then end, never open', opts, async () => {
    const tag = uniqueTag();
    const client = connect(`${fx.base}?tag=${tag}`, '/slow', { timeout: 200, strategy: false });
    await seen(client, 'end');
    assert.deepEqual(client.events, ['timeout', 'close', 'end']);
    assert.equal(await admin.attempts(fx, '/slow', tag), 1);
  });

  test('slow middleware, default strategy: timeout, reconnect attempts, then end and reconnect failed', opts, async () => {
    const tag = uniqueTag();
    const client = connect(`${fx.base}?tag=${tag}`, '/slow', {
      timeout: 200, reconnect: { min: 20, max: 20, retries: 1, 'reconnect timeout': 200 },
    });
    await seen(client, 'reconnect failed');
    assert.deepEqual(client.events,
      ['timeout', 'reconnect scheduled', 'reconnect', 'reconnect timeout', 'end', 'reconnect failed']);
    assert.equal(await admin.attempts(fx, '/slow', tag), 2);
  });
});

describe('async connection hooks', () => {
  test('data written during a 300 ms hook is delivered afterwards, complete and in order', opts, async () => {
    const started = Date.now(); // the hook starts after this, so no echo can come before started + 300 ms
    const client = connect(fx.base, '/async');
    const N = 50;
    for (let i = 0; i < N; i++) client.write({ i }); // buffered before open
    await seen(client, 'open');
    for (let i = 0; i < 10; i++) client.write({ late: i }); // sent while the hook sleeps
    const first = await client.data.next();
    const waited = Date.now() - started;
    assert.deepEqual(first, { i: 0 });
    assert.ok(waited >= 290, `first echo after ${waited} ms; the hook sleeps 300 ms`);
    for (let i = 1; i < N; i++) assert.deepEqual(await client.data.next(), { i });
    for (let i = 0; i < 10; i++) assert.deepEqual(await client.data.next(), { late: i });
  });

  test('the client is open (and can write) while the hook still runs', opts, async () => {
    const client = connect(fx.base, '/async');
    await seen(client, 'open');
    assert.equal(client.data.all().length, 0);
    client.write('during hook');
    assert.equal(await client.data.next(), 'during hook');
  });
});

describe('sparks', () => {
  test('lookup: a connected spark is found by id; after End it is not', opts, async () => {
    const a = await open('/control', { strategy: false });
    const b = await open('/control');
    const id = await sparkID(a);
    b.write({ cmd: 'lookup', id });
    assert.deepEqual(await b.data.next(), { lookup: id, found: true });
    a.write({ cmd: 'end' });
    await seen(a, 'end');
    b.write({ cmd: 'lookup', id });
    assert.deepEqual(await b.data.next(), { lookup: id, found: false });
  });

  test('client end(): the server drops the spark', opts, async () => {
    const a = await open('/control');
    const b = await open('/control');
    const id = await sparkID(a);
    a.end();
    await until(async () => {
      b.write({ cmd: 'lookup', id });
      return !(await b.data.next()).found;
    });
  });

  test('write to a closed spark returns ErrClosed and sends nothing', opts, async () => {
    const a = await open('/control', { strategy: false });
    const b = await open('/control');
    const reporter = await sparkID(b);
    a.write({ cmd: 'write-closed', report: reporter });
    const report = await b.data.next();
    assert.deepEqual(report, { writeClosed: 'allspark: spark closed', isErrClosed: true });
    await seen(a, 'end');
    assert.deepEqual(a.data.all(), []);
    assert.deepEqual(afterOpen(a), ['close', 'end']);
  });

  test('broadcast reaches every connected client', opts, async () => {
    const clients = await Promise.all([1, 2, 3].map(() => open('/control')));
    const tag = uniqueTag();
    clients[0].write({ cmd: 'broadcast', data: { bc: tag, text: 'ünï 😀' } });
    for (const c of clients) assert.deepEqual(await c.data.next(), { bc: tag, text: 'ünï 😀' });
    const reply = await clients[0].data.next();
    assert.ok(reply.broadcast >= 3, `broadcast count ${reply.broadcast}`);
    assert.equal(reply.error, '');
  });

  test('writing a reserved primus:: string returns ErrReserved and keeps the connection', opts, async () => {
    const client = await open('/control');
    client.write({ cmd: 'write-reserved' });
    const reply = await client.data.next();
    assert.equal(reply.isErrReserved, true);
    client.write('still open');
    assert.deepEqual(await client.data.next(), { got: 'still open' });
  });

  test('an unknown primus:: message from the client reaches the server as data', opts, async () => {
    const client = await open('/control');
    client.write('primus::foo::bar');
    assert.deepEqual(await client.data.next(), { got: 'primus::foo::bar' });
  });
});
