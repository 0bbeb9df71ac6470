// Recovery with OUR JS client (clientlib/dist/allspark.esm.mjs, the build of
// js/src, in Node with npm ws), black box (docs/recovery.md, "The guarantee,
// in one table"): test/conformance/recoveryfixture is an allspark.Server that
// keeps history for the rooms "chat:*", on the MemoryBroker or on Redis; the
// client connects to its Primus endpoint (/primus), joins a room with the
// fixture's "join" event, and records every "msg" event (the fixture's
// POST /admin/publish writes the integers from..to to a room, one event each).
//
// Outages are real: a TCP proxy in front of the server resets every
// connection and refuses new ones while the messages are published (the
// client keeps retrying on its own and gets through once the proxy lets it),
// the server process is stopped and started again on the same port, or one
// node of a three-node Redis cluster is SIGKILLed while publishers on the
// other nodes go on. Each test asserts what the client application sees: the
// `session` event ({id, restored, recovered, reason}), `unrecovered`, and the
// "msg" events, every one exactly once and in order — or none of the missed
// ones at all.
//
// The Redis cases use 127.0.0.1:6379 with a key prefix of their own (deleted
// afterwards) and are skipped, with the reason, when it is unreachable; the
// eviction case starts a private redis-server with maxmemory (skipped
// without the binary).
//
//   node --test test/conformance/recovery.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, delay, startGoMain, until } from './helpers.mjs';
import { REDIS, cleanRedis, publish, range, runPrefix, sparkInfo } from './recovery-helpers.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));
const WebSocket = require('ws');
const Redis = require('ioredis');
const { Primus: Client } = await import(path.join(ROOT, 'clientlib', 'dist', 'allspark.esm.mjs'));

const opts = { timeout: 30_000 };

/** How long a negative check ("nothing more arrives") waits. */
const SETTLE = 300;

/** The Redis server of the machine, and this run's key prefix there. */
const PREFIX = runPrefix('js-recovery');
const REDIS_URL = `redis://${REDIS}/?prefix=${PREFIX}`;

/** Why the Redis cases are skipped ('' when Redis answers). */
const redisSkip = await (async () => {
  const r = new Redis(`redis://${REDIS}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
    return '';
  } catch (err) {
    return `Redis at ${REDIS} is unreachable (${err.message})`;
  } finally {
    r.disconnect();
  }
})();

// ---------------------------------------------------------------------------
// The fixture

/** Starts recoveryfixture with args; resolves to { child, addr, base, port }. */
async function startNode(args = []) {
  const hasAddr = args.includes('-addr');
  const server = await startGoMain('./test/conformance/recoveryfixture', [...(hasAddr ? [] : ['-addr', '127.0.0.1:0']), ...args]);
  server.port = Number(server.addr.split(':').pop());
  server.args = args;
  return server;
}

/** Kills a fixture (SIGKILL: no goodbye to anyone) and waits for its exit; a no-op once it has exited. */
function killServer({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}



// ---------------------------------------------------------------------------
// A TCP proxy that can cut the network

/**
 * A TCP proxy on a random port in front of backend ({port}), or of several:
 * each new connection goes to the next of proxy.backends (round robin).
 *
 * proxy.cut() is a network cut: every client connection is reset and new
 * ones are refused (reset) until proxy.heal(). The server side is not told
 * (as in a real cut, it finds out when its writes fail or a reconnect takes
 * the spark over); what it still sends is lost. cut({serverToo: true})
 * resets the server's side as well; cut({stall: true}) stops reading it,
 * so the server's writes back up as on a dead link. proxy.cutAfter(n) heals,
 * and cuts the next connection (and the network) once n bytes went to its
 * client: the first n bytes, then a FIN, nothing past them.
 * proxy.handle is what clients and publish() are given.
 */
async function tcpProxy(...backends) {
  const pairs = new Set();
  let next = 0;
  let budgetNext;
  const proxy = net.createServer((c) => {
    if (proxy.down) {
      c.resetAndDestroy();
      return;
    }
    const backend = proxy.backends[next++ % proxy.backends.length];
    const up = net.connect(backend.port, '127.0.0.1');
    const pair = { c, up, budget: budgetNext };
    budgetNext = undefined;
    pairs.add(pair);
    c.pipe(up);
    up.on('data', (chunk) => {
      if (c.destroyed || c.writableEnded) return; // lost in the cut
      if (pair.budget !== undefined && chunk.length > pair.budget) {
        // The first bytes, then a FIN (after a reset the kernel may drop
        // them unread), and the network is down again.
        proxy.down = true;
        c.end(chunk.subarray(0, pair.budget));
        up.destroy();
        return;
      }
      if (pair.budget !== undefined) pair.budget -= chunk.length;
      c.write(chunk);
    });
    c.on('error', () => {});
    up.on('error', () => c.destroy());
    up.on('close', () => {
      if (!c.writableEnded) c.destroy();
      pairs.delete(pair);
    });
  });
  proxy.backends = backends;
  proxy.down = false;
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address();
  proxy.handle = { base: `http://127.0.0.1:${port}`, port };
  proxy.cut = ({ serverToo = false, stall = false } = {}) => {
    proxy.down = true;
    for (const { c, up } of pairs) {
      if (!c.destroyed) c.resetAndDestroy();
      if (serverToo && !up.destroyed) up.resetAndDestroy();
      if (stall) up.pause();
    }
  };
  proxy.heal = () => {
    proxy.down = false;
  };
  proxy.cutAfter = (n) => {
    budgetNext = n;
    proxy.heal();
  };
  proxy.shut = () => {
    for (const { c, up } of pairs) {
      c.destroy();
      up.destroy();
    }
    return new Promise((resolve) => proxy.close(resolve));
  };
  return proxy;
}

/** A free TCP port on 127.0.0.1 (the OS's pick; released at once). */
async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/**
 * Starts a private redis-server (no persistence) with args; resolves to
 * { port, url, stop } once it answers PING, or to { skip } when there is no
 * redis-server binary.
 */
async function privateRedis(args = []) {
  const { spawn } = await import('node:child_process');
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const failed = new Promise((resolve) => child.once('error', (err) => resolve(err)));
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
  const r = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  const ok = await Promise.race([
    until(async () => { try { await r.connect(); return (await r.ping()) === 'PONG'; } catch { r.disconnect(); return false; } }, 5000, 50).then(() => true, () => false),
    failed.then(() => false),
  ]);
  r.disconnect();
  if (!ok) {
    await stop();
    return { skip: 'no redis-server to start a private Redis with maxmemory' };
  }
  return { port, url: `redis://127.0.0.1:${port}`, stop };
}

// ---------------------------------------------------------------------------
// Our client

const clients = new Set();

/**
 * Opens our client to server (WebSocket only unless transports say
 * otherwise, fast reconnects that keep
 * trying through an outage of a few seconds), records its session and
 * unrecovered events and its "msg" integers, and joins room. Resolves to the
 * client, with c.msgs, c.sessions, c.unrecovered and c.sparkId (its first
 * session's id).
 */
async function joined(server, room, transports = ['websocket']) {
  const c = new Client(server.base, {
    WebSocket,
    transports,
    pingTimeout: false,
    reconnect: { min: 25, max: 250, retries: 200, factor: 2 },
  });
  clients.add(c);
  c.msgs = [];
  c.sessions = [];
  c.unrecovered = [];
  c.errors = [];
  c.closes = 0;
  c.on('close', () => c.closes++);
  // What a failed wait prints: the client's events, ms since it was made.
  c.trace = [];
  const born = Date.now();
  for (const ev of ['open', 'close', 'reconnect scheduled', 'reconnect', 'reconnected', 'session']) {
    c.on(ev, (...a) => c.trace.push(`${Date.now() - born} ms: ${ev}${ev === 'session' ? ` ${JSON.stringify(a[0])}` : ''} (msgs: ${c.msgs.length})`));
  }
  c.on('msg', (i) => c.msgs.push(i));
  c.on('session', (s) => c.sessions.push(s));
  c.on('unrecovered', (reason) => c.unrecovered.push(reason));
  c.on('error', (err) => c.errors.push(String(err)));
  await until(() => c.sessions.length === 1, 5000);
  assert.deepEqual(c.sessions[0], { id: c.sessions[0].id, restored: false, recovered: false, reason: 'new' });
  c.sparkId = c.sessions[0].id;
  const [rooms] = await c.emitWithAck('join', room);
  assert.ok(rooms.includes(room), `joined ${room}: ${JSON.stringify(rooms)}`);
  return c;
}

/** Resolves once the client has had n session events (n - 1 reconnects). */
async function sessions(c, n, ms = 10_000) {
  await until(() => c.sessions.length >= n, ms).catch(() => {
    assert.fail(`${c.sessions.length} of ${n} sessions (${JSON.stringify(c.sessions)}); errors: ${c.errors.join('; ')}\n${c.trace.join('\n')}`);
  });
  return c.sessions[n - 1];
}

/** [from, ..., to]. */

/**
 * Waits until the client received `count` "msg" events, then a little
 * longer, and asserts that they are exactly `want`.
 */
async function expectMsgs(c, want, ms = 15_000) {
  await until(() => c.msgs.length >= want.length, ms).catch(() => {
    assert.fail(`${c.msgs.length} of ${want.length} msgs arrived (last: ${c.msgs.at(-1)})`);
  });
  await delay(SETTLE);
  assert.deepEqual(c.msgs, want, 'every message exactly once, in order, nothing else');
}

let roomCounter = 0;
const uniqueRoom = () => `chat:js-${process.pid}-${++roomCounter}`;

after(() => {
  for (const c of clients) c.destroy();
});

// ---------------------------------------------------------------------------
// Scenarios, shared by the brokers

/**
 * Join, receive 3, lose the network (the proxy resets the connection and
 * refuses new ones) while 1,000 are published, get it back: the client
 * reconnects on its own, recovered, all 1,000 once and in order, the same
 * spark id, still in the room, and live messages go on.
 */
async function networkCut(server, transports, cut = {}) {
  const proxy = await tcpProxy(server);
  try {
    const room = uniqueRoom();
    const c = await joined(proxy.handle, room, transports);
    if (transports) assert.equal(c.transport, transports[0]);
    await publish(server, room, 1, 3);
    await expectMsgs(c, range(1, 3));

    proxy.cut(cut);
    if (cut.serverToo) await until(async () => (await sparkInfo(server, c.sparkId)) === null, 5000);
    await until(() => c.closes === 1, 5000);
    await publish(server, room, 4, 1003);
    await delay(100); // a few refused reconnects
    assert.deepEqual(c.msgs, range(1, 3), 'nothing arrives through a cut network');
    proxy.heal();

    assert.deepEqual(await sessions(c, 2), { id: c.sparkId, restored: true, recovered: true, reason: '' });
    await expectMsgs(c, range(1, 1003));
    assert.deepEqual([c.recovered, c.restored], [true, true]);
    assert.deepEqual(c.unrecovered, [], 'no unrecovered event');
    await stillInRoom(server, c, room);

    await publish(server, room, 1004, 1006);
    await expectMsgs(c, range(1, 1006));
    assert.deepEqual(c.errors, []);
  } finally {
    await proxy.shut();
  }
}

/**
 * The network cut again in the middle of the replay (after 20 KB of its
 * 500 messages), 100 more published: the second
 * reconnect replays the rest after what the client got, each once, in order.
 */
async function cutDuringReplay(server, t) {
  const proxy = await tcpProxy(server);
  try {
    const room = uniqueRoom();
    const c = await joined(proxy.handle, room);
    await publish(server, room, 1, 3);
    await expectMsgs(c, range(1, 3));

    proxy.cut();
    await publish(server, room, 4, 503);
    proxy.cutAfter(20_000); // a part of the 500 replayed messages

    assert.deepEqual(await sessions(c, 2), { id: c.sparkId, restored: true, recovered: true, reason: '' });
    await until(() => c.closes === 2, 5000);
    const before = c.msgs.length;
    await publish(server, room, 504, 603);
    proxy.heal();

    assert.deepEqual(await sessions(c, 3), { id: c.sparkId, restored: true, recovered: true, reason: '' });
    await expectMsgs(c, range(1, 603));
    assert.ok(before > 3 && before < 503, `the second cut came in the middle of the replay (${before} received)`);
    assert.deepEqual(c.unrecovered, []);
    t.diagnostic(`${before - 3} of the 500 replayed before the second cut`);
    await stillInRoom(server, c, room);
  } finally {
    await proxy.shut();
  }
}

/**
 * A publisher writes to the room all along, through the cut, the reconnect
 * and the replay: the replay and the live messages written meanwhile merge
 * by offset, every message once, in order, whatever the interleaving.
 */
async function liveDuringReplay(server, t) {
  const proxy = await tcpProxy(server);
  let stop = false;
  try {
    const room = uniqueRoom();
    const c = await joined(proxy.handle, room);
    let published = 0;
    const pub = (async () => {
      while (!stop) {
        await publish(server, room, published + 1, published + 10);
        published += 10;
        await delay(2);
      }
    })();
    await until(() => c.msgs.length >= 50, 10_000);
    proxy.cut();
    const from = published;
    await until(() => published - from >= 300, 10_000);
    proxy.heal();
    assert.deepEqual(await sessions(c, 2), { id: c.sparkId, restored: true, recovered: true, reason: '' });
    const at = published;
    await until(() => published - at >= 200, 10_000);
    stop = true;
    await pub;
    await expectMsgs(c, range(1, published));
    assert.equal(c.sessions.length, 2, 'no resync');
    t.diagnostic(`published ${published}, ${at - from} of them during the cut`);
  } finally {
    stop = true;
    await proxy.shut();
  }
}

/**
 * Away longer than the recovery window (server: -window 1s): a new spark,
 * reason expired, unrecovered fires, none of the missed delivered, out of
 * the room.
 */
async function pastWindow(server) {
  const proxy = await tcpProxy(server);
  try {
    const room = uniqueRoom();
    const c = await joined(proxy.handle, room);
    await publish(server, room, 1, 3);
    await expectMsgs(c, range(1, 3));

    // The server sees the connection go (the window runs from there).
    proxy.cut({ serverToo: true });
    await until(async () => (await sparkInfo(server, c.sparkId)) === null, 5000);
    await publish(server, room, 4, 10);
    await delay(1500); // past the 1 s window
    proxy.heal();
    const s = await sessions(c, 2);
    assert.notEqual(s.id, c.sparkId, 'a new spark id');
    assert.deepEqual({ ...s, id: '' }, { id: '', restored: false, recovered: false, reason: 'expired' });
    await until(() => c.unrecovered.length === 1, 5000);
    assert.deepEqual(c.unrecovered, ['expired']);
    assert.deepEqual((await sparkInfo(server, s.id)).rooms, [], 'a new spark, in no room');
    await publish(server, room, 11, 12);
    await delay(SETTLE);
    assert.deepEqual(c.msgs, range(1, 3), 'none of the missed delivered, and out of the room');
  } finally {
    await proxy.shut();
  }
}

/**
 * A dead link that does not reset: nothing is read from the server's side
 * any more, so its writes back up while 1,000 messages of the history room
 * and 20,000 of a room without history (at most once: none of them need
 * arrive) are published. The spark is stuck or ended by the slow-consumer
 * policy; either way the reconnect gets it back, recovered, with the history
 * room's messages once and in order.
 */
async function stalledLink(server, t) {
  const proxy = await tcpProxy(server);
  try {
    const room = uniqueRoom();
    const plain = `plain-${room}`;
    const c = await joined(proxy.handle, room);
    await c.emitWithAck('join', plain);
    await publish(server, room, 1, 3);
    await expectMsgs(c, range(1, 3));

    proxy.cut({ stall: true });
    await publish(server, room, 4, 503);
    for (let i = 0; i < 4; i++) await publish(server, plain, 10_000_001 + i * 5000, 10_000_000 + (i + 1) * 5000);
    await publish(server, room, 504, 1003);
    const info = await sparkInfo(server, c.sparkId);
    proxy.heal();

    assert.deepEqual(await sessions(c, 2), { id: c.sparkId, restored: true, recovered: true, reason: '' });
    await until(() => c.msgs.filter((v) => v < 10_000_000).length >= 1003, 15_000);
    await publish(server, room, 1004, 1005);
    await until(() => c.msgs.filter((v) => v < 10_000_000).length >= 1005, 5000);
    await delay(SETTLE);
    assert.deepEqual(c.msgs.filter((v) => v < 10_000_000), range(1, 1005), 'the history room: every message once, in order');
    const plainGot = c.msgs.filter((v) => v > 10_000_000);
    assert.ok(plainGot.every((v, i) => i === 0 || v > plainGot[i - 1]), 'the plain room: at most once, in order');
    assert.deepEqual(c.unrecovered, []);
    t.diagnostic(`the spark on the server before the reconnect: ${info ? 'still live (stuck)' : 'ended (slow consumer)'}; ${plainGot.length} of the plain room's 20,000 arrived`);
  } finally {
    await proxy.shut();
  }
}

/** Asserts the server's spark of c is restored and recovered, in room without a re-join. */
async function stillInRoom(server, c, room, recovered = true, reason = '') {
  const info = await sparkInfo(server, c.sparkId);
  assert.ok(info, 'the spark is live on the server');
  assert.ok(info.rooms.includes(room), `still in ${room} without a re-join: ${JSON.stringify(info.rooms)}`);
  assert.deepEqual({ restored: info.restored, recovered: info.recovered, reason: info.reason },
    { restored: true, recovered, reason });
}

/**
 * Past the history size (server: -history-size 50): 100 missed while the
 * network is cut → the same spark, recovered false, reason truncated, the
 * unrecovered event with that reason, none of the 100 delivered; the
 * messages published after the reconnect arrive.
 */
async function pastHistory(server) {
  const proxy = await tcpProxy(server);
  try {
    const room = uniqueRoom();
    const c = await joined(proxy.handle, room);
    await publish(server, room, 1, 3);
    await expectMsgs(c, range(1, 3));

    proxy.cut();
    await publish(server, room, 4, 103);
    proxy.heal();

    assert.deepEqual(await sessions(c, 2), { id: c.sparkId, restored: true, recovered: false, reason: 'truncated' });
    await until(() => c.unrecovered.length === 1, 5000);
    assert.deepEqual(c.unrecovered, ['truncated'], 'the app is told to reload, with the reason');
    assert.deepEqual([c.recovered, c.restored], [false, true]);
    await delay(SETTLE);
    assert.deepEqual(c.msgs, range(1, 3), 'not one of the missed messages delivered');
    await stillInRoom(server, c, room, false, 'truncated');

    await publish(server, room, 104, 110);
    await expectMsgs(c, [...range(1, 3), ...range(104, 110)]);
    assert.equal(c.sessions.length, 2, 'no further reconnect: the live messages follow the new position');
  } finally {
    await proxy.shut();
  }
}

// ---------------------------------------------------------------------------
// MemoryBroker

describe('MemoryBroker', () => {
  let server; // history of 2,000 per room
  let short; // history of 50 per room
  let windowed; // a recovery window of 1 s
  before(async () => {
    [server, short, windowed] = await Promise.all([startNode(), startNode(['-history-size', '50']), startNode(['-window', '1s'])]);
  });

  test('network cut while 1,000 are published: recovered, all once and in order, same spark, still in the room, then live', opts, async () => {
    await networkCut(server);
  });

  test('the same on the HTTP long-polling fallback (transports: [polling])', opts, async () => {
    await networkCut(server, ['polling']);
  });

  test('the same when the server sees the connection go too (its spark ended, the session stored)', opts, async () => {
    await networkCut(server, undefined, { serverToo: true });
  });

  test('a dead link that backs the server\'s writes up (20,000 more to a room without history): recovered, the history room once and in order', opts, async (t) => {
    await stalledLink(server, t);
  });

  test('the network cut again in the middle of the replay: the next reconnect replays the rest, once and in order', opts, async (t) => {
    await cutDuringReplay(server, t);
  });

  test('published to all along, through the cut and the replay: replay and live merge, every message once and in order', opts, async (t) => {
    await liveDuringReplay(server, t);
  });

  test('past the history size: recovered false (truncated), unrecovered fires, nothing replayed, live goes on', opts, async () => {
    await pastHistory(short);
  });

  test('away longer than the recovery window: a new spark (expired), unrecovered fires, nothing replayed', opts, async () => {
    await pastWindow(windowed);
  });

  test('server restarted on the same port: the sessions lived in its memory, so a new spark (expired), unrecovered fires', opts, async () => {
    const first = await startNode();
    let restarted;
    try {
      const room = uniqueRoom();
      const c = await joined(first, room);
      await publish(first, room, 1, 3);
      await expectMsgs(c, range(1, 3));
      await killServer(first);
      restarted = await startNode(['-addr', first.addr]);
      const s = await sessions(c, 2);
      assert.notEqual(s.id, c.sparkId, 'a new spark id');
      assert.deepEqual({ ...s, id: '' }, { id: '', restored: false, recovered: false, reason: 'expired' });
      await until(() => c.unrecovered.length === 1, 5000);
      assert.deepEqual(c.unrecovered, ['expired']);
      assert.deepEqual((await sparkInfo(restarted, s.id)).rooms, [], 'a new spark is in no room until it joins again');
      await publish(restarted, room, 4, 5);
      await delay(SETTLE);
      assert.deepEqual(c.msgs, range(1, 3), 'out of the room');
    } finally {
      await killServer(first);
      if (restarted) await killServer(restarted);
    }
  });
});

// ---------------------------------------------------------------------------
// Redis


describe('Redis', { skip: redisSkip || false }, () => {
  let node; // history of 2,000
  let short; // history of 50
  let windowed; // a recovery window of 1 s
  let redis;
  before(async () => {
    [node, short, windowed] = await Promise.all([
      startNode(['-broker', REDIS_URL, '-node', 'node-1']),
      startNode(['-broker', REDIS_URL, '-node', 'short', '-history-size', '50']),
      startNode(['-broker', REDIS_URL, '-node', 'windowed', '-window', '1s']),
    ]);
    redis = new Redis(`redis://${REDIS}`);
  });
  after(async () => {
    redis?.disconnect();
    await cleanRedis(PREFIX);
  });

  test('network cut while 1,000 are published: recovered from Redis, all once and in order, same spark, then live', opts, async () => {
    await networkCut(node);
  });

  test('the same when the server sees the connection go too (its spark ended, the session stored)', opts, async () => {
    await networkCut(node, undefined, { serverToo: true });
  });

  test('a dead link that backs the server\'s writes up (20,000 more to a room without history): recovered, the history room once and in order', opts, async (t) => {
    await stalledLink(node, t);
  });

  test('the network cut again in the middle of the replay: the next reconnect replays the rest, once and in order', opts, async (t) => {
    await cutDuringReplay(node, t);
  });

  test('published to all along, through the cut and the replay: replay and live merge, every message once and in order', opts, async (t) => {
    await liveDuringReplay(node, t);
  });

  test('past the history size: recovered false (truncated), unrecovered fires, nothing replayed, live goes on', opts, async () => {
    await pastHistory(short);
  });

  test('away longer than the recovery window: a new spark (expired), unrecovered fires, nothing replayed', opts, async () => {
    await pastWindow(windowed);
  });

  test('server restarted on the same port while 1,000 are published on another node: recovered from Redis', opts, async () => {
    const first = await startNode(['-broker', REDIS_URL, '-node', 'restarted']);
    let restarted;
    try {
      const room = uniqueRoom();
      const c = await joined(first, room);
      await publish(first, room, 1, 3);
      await expectMsgs(c, range(1, 3));

      // Stopped: its connections drop, its memory is gone; what it kept
      // lives in Redis only. The client keeps retrying (refused).
      await killServer(first);
      await publish(node, room, 4, 1003);
      assert.deepEqual(c.msgs, range(1, 3), 'nothing arrives while the server is down');
      restarted = await startNode(['-broker', REDIS_URL, '-node', 'restarted', '-addr', first.addr]);
      assert.equal(restarted.port, first.port, 'the same port');

      assert.deepEqual(await sessions(c, 2), { id: c.sparkId, restored: true, recovered: true, reason: '' });
      await expectMsgs(c, range(1, 1003));
      assert.deepEqual(c.unrecovered, []);
      await stillInRoom(restarted, c, room);

      await publish(restarted, room, 1004, 1005);
      await publish(node, room, 1006, 1007);
      await expectMsgs(c, range(1, 1007));
      assert.deepEqual(c.errors, []);
    } finally {
      await killServer(first);
      if (restarted) await killServer(restarted);
    }
  });

  test('network cut, reconnect to another node while the old connection is still open there: taken over across nodes, recovered', opts, async () => {
    const tag = `${process.pid}-${Date.now().toString(36)}`;
    const [a, b] = await Promise.all(['a', 'b'].map((n) => startNode(['-broker', REDIS_URL, '-node', `takeover-${n}-${tag}`])));
    const proxy = await tcpProxy(a);
    try {
      const room = uniqueRoom();
      const c = await joined(proxy.handle, room);
      await publish(a, room, 1, 3);
      await expectMsgs(c, range(1, 3));

      // The cut leaves a's side of the connection open: a still has the
      // spark, connected, when the client comes back through b.
      proxy.cut();
      assert.ok(await sparkInfo(a, c.sparkId), 'the spark is still live on a');
      await publish(b, room, 4, 203);
      proxy.backends = [b];
      proxy.heal();

      assert.deepEqual(await sessions(c, 2), { id: c.sparkId, restored: true, recovered: true, reason: '' });
      await expectMsgs(c, range(1, 203));
      await stillInRoom(b, c, room);
      await until(async () => (await sparkInfo(a, c.sparkId)) === null, 5000).catch(() => {
        assert.fail('the spark is still live on a: one spark id, two live sparks');
      });

      await publish(a, room, 204, 205);
      await publish(b, room, 206, 207);
      await expectMsgs(c, range(1, 207));
      assert.equal(c.sessions.length, 2);
      assert.deepEqual(c.unrecovered, []);
    } finally {
      await proxy.shut();
      await killServer(a);
      await killServer(b);
    }
  });

  test('its node SIGKILLed, restored on a node with no member of the room yet while a third publishes all along: every message once, in order', { timeout: 60_000 }, async (t) => {
    const tag = `${process.pid}-${Date.now().toString(36)}`;
    const [a, b, p] = await Promise.all(['a', 'b', 'p'].map((n) => startNode(['-broker', REDIS_URL, '-node', `cold-${n}-${tag}`, '-max-replay', '10000'])));
    const proxy = await tcpProxy(a);
    let stop = false;
    try {
      const room = uniqueRoom();
      const cs = [];
      for (let i = 0; i < 3; i++) cs.push(await joined(proxy.handle, room));
      let published = 0;
      const pub = (async () => {
        while (!stop) {
          await publish(p, room, published + 1, published + 10);
          published += 10;
          await delay(5);
        }
      })();
      await until(() => cs.every((cl) => cl.msgs.length >= 100), 10_000);
      proxy.cut();
      await killServer(a);
      const from = published;
      await until(() => published - from >= 100, 10_000);
      proxy.backends = [b];
      proxy.heal();
      for (const cl of cs) await sessions(cl, 2);
      const at = published;
      await until(() => published - at >= 300, 10_000);
      stop = true;
      await pub;
      await until(() => cs.every((cl) => cl.msgs.length >= published), 10_000).catch(() => {
        assert.fail(`published ${published}; received ${cs.map((cl) => cl.msgs.length).join(', ')}`);
      });
      await delay(SETTLE);
      for (const cl of cs) {
        assert.deepEqual(cl.msgs, range(1, published), 'every message exactly once, in order');
        for (const s of cl.sessions.slice(1)) assert.deepEqual(s, { id: cl.sparkId, restored: true, recovered: true, reason: '' });
      }
      t.diagnostic(`published ${published}; sessions per client: ${cs.map((cl) => cl.sessions.length).join(', ')}`);
    } finally {
      stop = true;
      await proxy.shut();
      for (const n of [a, b, p]) await killServer(n);
    }
  });

  test('3 nodes, publishers on two of them, the third SIGKILLed: its clients recover on the others, every message once and in order for every client', { timeout: 60_000 }, async (t) => {
    const tag = `${process.pid}-${Date.now().toString(36)}`;
    // MaxReplay 10,000: a client away for a second misses some 1,000 here;
    // what is measured is the failover, not the replay limit.
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => startNode(['-broker', REDIS_URL, '-node', `${n}-${tag}`, '-max-replay', '10000'])));
    const proxies = await Promise.all([a, b, c].map((n) => tcpProxy(n)));
    const [pa] = proxies;
    let stop = false;
    try {
      // Two rooms, each with its own publisher on its own node, running
      // all along: r1 carries 1, 2, ... (published on b), r2 1000001, ...
      // (published on c). Every client is in both, three clients per node.
      const r1 = uniqueRoom();
      const r2 = uniqueRoom();
      const PER_NODE = 3;
      const cs = [];
      for (const p of proxies) {
        for (let i = 0; i < PER_NODE; i++) {
          const cl = await joined(p.handle, r1);
          await cl.emitWithAck('join', r2);
          cl.proxy = p;
          cs.push(cl);
        }
      }
      const victims = cs.filter((cl) => cl.proxy === pa);

      const published = [0, 0];
      const publisher = async (server, room, base, k) => {
        while (!stop) {
          await publish(server, room, base + published[k] + 1, base + published[k] + 20);
          published[k] += 20;
          await delay(5);
        }
        return published[k];
      };
      const pubs = [publisher(b, r1, 0, 0), publisher(c, r2, 1_000_000, 1)];

      // Let traffic flow, then kill node a. Its clients stay away (a's
      // proxy refuses them) while the publishers write 200 more, then the
      // proxy sends their reconnects to b and c in turn.
      await until(() => cs.every((cl) => cl.msgs.length >= 200), 10_000);
      pa.cut();
      await killServer(a);
      const missedFrom = published[0] + published[1];
      await until(() => published[0] + published[1] - missedFrom >= 200, 10_000);
      const missed = published[0] + published[1] - missedFrom;
      pa.backends = [b, c];
      pa.heal();
      for (const cl of victims) await sessions(cl, 2);
      const atKill = Math.min(...cs.map((cl) => cl.msgs.length));
      await until(() => cs.every((cl) => cl.msgs.length >= atKill + 400), 15_000);
      stop = true;
      const [n1, n2] = await Promise.all(pubs);

      const want1 = range(1, n1);
      const want2 = range(1_000_001, 1_000_000 + n2);
      await until(() => cs.every((cl) => cl.msgs.length >= n1 + n2), 15_000).catch(() => {
        const late = cs.filter((cl) => cl.msgs.length < n1 + n2);
        assert.fail(`published ${n1} + ${n2}; received ${cs.map((cl) => cl.msgs.length).join(', ')}\n${late.map((cl) => `${cl.sparkId}:\n${cl.trace.join('\n')}`).join('\n')}`);
      });
      await delay(SETTLE);
      for (const [i, cl] of cs.entries()) {
        const who = `client ${i} (${cl.proxy === pa ? 'on the killed node' : 'on a surviving node'})`;
        assert.deepEqual(cl.msgs.filter((v) => v < 1_000_000), want1, `${who}: every message of r1 exactly once, in order`);
        assert.deepEqual(cl.msgs.filter((v) => v > 1_000_000), want2, `${who}: every message of r2 exactly once, in order`);
        assert.equal(cl.msgs.length, n1 + n2, `${who}: nothing else`);
        for (const s of cl.sessions.slice(1)) {
          assert.deepEqual(s, { id: cl.sparkId, restored: true, recovered: true, reason: '' }, `${who}: every reconnect recovered`);
        }
        assert.deepEqual(cl.unrecovered, [], `${who}: never unrecovered`);
        assert.deepEqual(cl.errors, [], `${who}: no error`);
      }
      // The killed node's sparks live on b or c now, in both rooms.
      for (const cl of victims) {
        const info = (await sparkInfo(b, cl.sparkId)) ?? (await sparkInfo(c, cl.sparkId));
        assert.ok(info, `spark ${cl.sparkId} is live on b or c`);
        assert.deepEqual([...info.rooms].sort(), [r1, r2].sort());
        assert.deepEqual([info.restored, info.recovered], [true, true]);
      }
      for (const cl of cs.filter((x) => x.sessions.length > (victims.includes(x) ? 2 : 1))) {
        t.diagnostic(`a resync of ${cl.sparkId}: ${cl.trace.join('; ')}`);
      }
      t.diagnostic(`published ${n1} + ${n2}, ${missed} of them while a's clients were surely away; sessions per client: ${cs.map((cl) => cl.sessions.length).join(', ')}`);
    } finally {
      stop = true;
      for (const p of proxies) await p.shut();
      for (const n of [a, b, c]) await killServer(n);
    }
  });

  test("the room's history keys deleted while the client is away: a new epoch, recovered false (epoch), nothing replayed", opts, async () => {
    const proxy = await tcpProxy(node);
    try {
      const room = uniqueRoom();
      const c = await joined(proxy.handle, room);
      await publish(node, room, 1, 3);
      await expectMsgs(c, range(1, 3));

      proxy.cut();
      await publish(node, room, 4, 8); // missed, in the old epoch
      const keys = [`${PREFIX}:h:${room}:s`, `${PREFIX}:h:${room}:m`];
      assert.equal(await redis.exists(...keys), 2, `the room's keys are ${keys.join(', ')}`);
      assert.equal(await redis.del(...keys), 2);
      await publish(node, room, 9, 12); // missed too: offsets 1..4 of a new epoch
      proxy.heal();

      assert.deepEqual(await sessions(c, 2), { id: c.sparkId, restored: true, recovered: false, reason: 'epoch' });
      await until(() => c.unrecovered.length === 1, 5000);
      assert.deepEqual(c.unrecovered, ['epoch']);
      await delay(SETTLE);
      assert.deepEqual(c.msgs, range(1, 3), 'nothing replayed, of either epoch');
      await stillInRoom(node, c, room, false, 'epoch');

      await publish(node, room, 13, 15);
      await expectMsgs(c, [...range(1, 3), ...range(13, 15)]);
      assert.equal(c.sessions.length, 2, 'the new epoch is taken as the position: no resync loop');
    } finally {
      await proxy.shut();
    }
  });
  test('a real eviction (private Redis, maxmemory + volatile-lru) of the room while the client is away: recovered false (epoch), nothing replayed', opts, async (t) => {
    const priv = await privateRedis(['--maxmemory', '8mb', '--maxmemory-policy', 'volatile-lru']);
    if (priv.skip) return t.skip(priv.skip);
    const prefix = 'evict';
    let server;
    let proxy;
    const r = new Redis(priv.url);
    try {
      server = await startNode(['-broker', `${priv.url}/?prefix=${prefix}`, '-node', 'evicted']);
      proxy = await tcpProxy(server);
      const room = uniqueRoom();
      const c = await joined(proxy.handle, room);
      await publish(server, room, 1, 3);
      await expectMsgs(c, range(1, 3));

      proxy.cut();
      await publish(server, room, 4, 8); // missed
      const roomKeys = [`${prefix}:h:${room}:s`, `${prefix}:h:${room}:m`];
      const sessionKey = `${prefix}:s:${c.sparkId}`;
      assert.equal(await r.exists(...roomKeys, sessionKey), 3, 'the room and the session are in Redis');

      // Fill Redis far past maxmemory with keys written later than the
      // room's (LRU clock ticks are 1 s, hence the wait), so eviction takes
      // the room's least recently used keys. Redis evicts sessions too (the
      // reason would then be "expired"); this case is the one where the
      // session is kept and the history is not, so the session key is made
      // persistent, which volatile-lru never evicts, while every other key
      // (the room's, the junk) has a TTL.
      assert.equal(await r.persist(sessionKey), 1);
      await delay(1100);
      const junk = 'x'.repeat(1024);
      let written = 0;
      while ((await r.exists(...roomKeys)) > 0) {
        assert.ok(written < 200_000, `the room's keys still there after ${written} KiB written`);
        const batch = r.pipeline();
        for (let i = 0; i < 500; i++) batch.set(`junk:${written++}`, junk, 'EX', 600);
        await batch.exec();
      }
      assert.equal(await r.exists(sessionKey), 1, 'the session survived the eviction');
      const info = await r.info('stats');
      const evicted = Number(/evicted_keys:(\d+)/.exec(info)[1]);
      t.diagnostic(`${written} KiB written, ${evicted} keys evicted`);
      proxy.heal();

      assert.deepEqual(await sessions(c, 2), { id: c.sparkId, restored: true, recovered: false, reason: 'epoch' });
      await until(() => c.unrecovered.length === 1, 5000);
      assert.deepEqual(c.unrecovered, ['epoch']);
      await delay(SETTLE);
      assert.deepEqual(c.msgs, range(1, 3), 'none of the missed messages replayed');
      await publish(server, room, 9, 11);
      await expectMsgs(c, [...range(1, 3), ...range(9, 11)]);
    } finally {
      r.disconnect();
      await proxy?.shut();
      if (server) await killServer(server);
      await priv.stop();
    }
  });
});
