// Socket.IO connection state recovery with the stock socket.io-client 4.8.4
// (docs/recovery.md, "Socket.IO"), black box: test/conformance/recoveryfixture
// is an allspark.Server with SocketIOOptions.Recovery on and history kept for
// the rooms "chat:*". A socket joins a room, receives some "msg" events, loses
// its transport (socket.io.engine.close()), misses messages, and reconnects:
// socket.recovered must be true and every missed message delivered exactly
// once, in order — or, when that cannot be (history too short, too many to
// replay, a clean disconnect), recovered is false and none is delivered.
//
// While a socket is down its reconnect is held (reconnection off, then
// socket.connect() once the missed messages are published): that is what the
// Manager's own reconnect does, at a moment the test chooses.
//
// The scenarios run in three transport modes (polling, websocket, upgrade) on
// the MemoryBroker; the main one again on Redis (127.0.0.1:6379, a prefix of
// its own), single node and across two nodes of which the first is
// SIGKILLed. The Redis scenarios are skipped, with the fixture's reason, while
// broker/redis keeps no history or sessions.
//
//   node --test test/conformance/socketio-recovery.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { delay, startGoMain, until } from './helpers.mjs';
import { REDIS, cleanRedis, publish, range, runPrefix, sparkInfo } from './recovery-helpers.mjs';
import { MODES, ack, connected, killServer, sioClient, uniqueRoom, upgraded } from './socketio-helpers.mjs';


const opts = { timeout: 20_000 };

/** How long a negative check ("nothing more arrives") waits. */
const SETTLE = 300;

/** The Redis server of the machine, and this run's key prefix there. */
const PREFIX = runPrefix('sio-recovery');
const REDIS_URL = `redis://${REDIS}/?prefix=${PREFIX}`;

// ---------------------------------------------------------------------------
// The fixture

/**
 * Starts recoveryfixture with args. Resolves to the server handle, or to
 * { skip: reason } when the fixture exits saying its broker keeps no history
 * (status 3, "NO_HISTORY_BROKER <what is missing>").
 */
async function startRecovery(args = []) {
  try {
    const server = await startGoMain('./test/conformance/recoveryfixture', ['-addr', '127.0.0.1:0', ...args]);
    server.port = Number(server.addr.split(':').pop());
    return server;
  } catch (err) {
    const m = /NO_HISTORY_BROKER (.*)/.exec(err.message);
    if (m) return { skip: `broker/redis keeps no history yet (${m[1]}); the broker must implement allspark.HistoryBroker and SessionStore` };
    throw err;
  }
}



// ---------------------------------------------------------------------------
// Sockets

/**
 * Connects a stock client in mode (after the upgrade, in mode upgrade) and
 * records its "msg" events in socket.msgs (each event's arguments).
 */
async function open(server, mode, options = {}) {
  const s = sioClient(server, '/', mode, options);
  s.msgs = [];
  s.on('msg', (...args) => s.msgs.push(args));
  await connected(s);
  if (mode === 'upgrade') await upgraded(s);
  return s;
}

/** Opens a socket in mode and joins it to a fresh "chat:*" room; resolves to [socket, room]. */
async function joined(server, mode) {
  const s = await open(server, mode);
  const room = `chat:${uniqueRoom(mode)}`;
  const rooms = await ack(s, 'join', room);
  assert.ok(rooms[0].includes(room), `joined ${room}: ${JSON.stringify(rooms)}`);
  return [s, room];
}

/** Closes the socket's transport (not a clean disconnect) and holds its reconnect; resolves once it is down. */
async function dropTransport(s) {
  s.io.reconnection(false);
  const down = new Promise((resolve) => s.once('disconnect', resolve));
  s.io.engine.close();
  await down;
}

/** Lets the socket reconnect (as its Manager would); resolves once connected, with socket.recovered. */
async function reconnect(s, mode) {
  const up = new Promise((resolve) => s.once('connect', resolve));
  s.io.reconnection(true);
  s.connect();
  await up;
  if (mode === 'upgrade') await upgraded(s);
  return s.recovered;
}

/** The integers the socket's "msg" events carried, in arrival order. */
const ints = (s) => s.msgs.map((args) => args[0]);

/** [from, ..., to]. */

/**
 * Waits until the socket received n "msg" events, then a little longer, and
 * asserts that it received exactly from..to since its first `skip` events,
 * each carrying its offset string as its last argument.
 */
async function expectMsgs(s, skip, from, to) {
  const n = skip + to - from + 1;
  await until(() => s.msgs.length >= n, 10_000).catch(() => {
    assert.fail(`${s.msgs.length - skip} of ${n - skip} msgs arrived (last: ${ints(s).at(-1)})`);
  });
  await delay(SETTLE);
  assert.deepEqual(ints(s).slice(skip), range(from, to), 'every message exactly once, in order');
  for (const args of s.msgs.slice(skip)) {
    assert.equal(args.length, 2, 'the integer, then the offset');
    assert.equal(typeof args[1], 'string', 'the last argument is the offset string');
  }
}

/** Asserts that the socket got no "msg" event past its first n. */
async function expectNoMore(s, n) {
  await delay(SETTLE);
  assert.deepEqual(ints(s).slice(n), [], 'nothing more delivered');
}

// ---------------------------------------------------------------------------
// Scenarios, shared by the memory and the Redis runs

/**
 * The main scenario: join, receive 3, lose the transport, miss `missed`
 * messages, reconnect: recovered, every missed message once and in order,
 * the same socket id and pid, and the spark still in the room without a
 * re-join. `drop` loses the transport (default: socket.io.engine.close());
 * `rest` is the server reached after it (default: the same one), where the
 * missed messages are published and the spark is looked up;
 * `beforeReconnect` runs just before the reconnect.
 */
async function mainScenario(server, mode, { missed = 1000, drop = dropTransport, rest = server, beforeReconnect } = {}) {
  const [s, room] = await joined(server, mode);
  await publish(server, room, 1, 3);
  await expectMsgs(s, 0, 1, 3);
  const { id } = s;
  const pid = s._pid;
  assert.ok(pid, 'the CONNECT reply carried a pid');

  await drop(s);
  await publish(rest, room, 4, 3 + missed);
  await beforeReconnect?.();
  assert.equal(await reconnect(s, mode), true, 'socket.recovered');
  assert.equal(s.id, id, 'the same socket id');
  assert.equal(s._pid, pid, 'the same pid');
  await expectMsgs(s, 3, 4, 3 + missed);

  const info = await sparkInfo(rest, id);
  assert.ok(info, 'the spark is live on the server');
  assert.ok(info.rooms.includes(room), `still in ${room} without a re-join: ${JSON.stringify(info.rooms)}`);
  assert.deepEqual({ restored: info.restored, recovered: info.recovered, reason: info.reason },
    { restored: true, recovered: true, reason: '' });

  // Live traffic goes on after the replay.
  await publish(rest, room, 4 + missed, 4 + missed);
  await expectMsgs(s, 3, 4, 4 + missed);
  return s;
}

// ---------------------------------------------------------------------------
// MemoryBroker

describe('MemoryBroker', () => {
  let server; // history of 2,000 per room, MaxReplay 1,000 (the default)
  let short; // history of 50 per room
  let limited; // MaxReplay 100
  let idle; // history TTL 1 s
  before(async () => {
    [server, short, limited, idle] = await Promise.all([
      startRecovery(),
      startRecovery(['-history-size', '50']),
      startRecovery(['-max-replay', '100']),
      startRecovery(['-history-ttl', '1s']),
    ]);
  });

  for (const mode of Object.keys(MODES)) {
    describe(`mode ${mode}`, () => {
      test('transport close, 1,000 missed: recovered, all delivered once and in order, same id, still in the room', opts, async () => {
        await mainScenario(server, mode);
      });

      test('nothing received before the transport close: recovered, the 10 missed delivered', opts, async () => {
        const [s, room] = await joined(server, mode);
        await dropTransport(s);
        await publish(server, room, 1, 10);
        assert.equal(await reconnect(s, mode), true, 'socket.recovered');
        await expectMsgs(s, 0, 1, 10);
      });

      test('recovering twice in a row: the second replays only what was missed since the first', opts, async () => {
        const [s, room] = await joined(server, mode);
        await publish(server, room, 1, 2);
        await expectMsgs(s, 0, 1, 2);

        await dropTransport(s);
        await publish(server, room, 3, 12);
        assert.equal(await reconnect(s, mode), true, 'first recovery');
        await expectMsgs(s, 2, 3, 12);

        await dropTransport(s);
        await publish(server, room, 13, 17);
        assert.equal(await reconnect(s, mode), true, 'second recovery');
        await expectMsgs(s, 12, 13, 17);

        await dropTransport(s);
        assert.equal(await reconnect(s, mode), true, 'third recovery, nothing missed');
        await expectNoMore(s, 17);
      });

      test('two history rooms: the one offset of the last event recovers both, twice', opts, async () => {
        const [s, a] = await joined(server, mode);
        const b = `chat:${uniqueRoom(mode)}`;
        await ack(s, 'join', b);
        // Room a carries 1, 2, ...; room b 1001, 1002, ...
        await publish(server, a, 1, 2);
        await publish(server, b, 1001, 1002);
        await until(() => s.msgs.length >= 4);
        assert.deepEqual(ints(s), [1, 2, 1001, 1002]);
        const inA = (n) => n < 1000;

        await dropTransport(s);
        await publish(server, a, 3, 5);
        await publish(server, b, 1003, 1004);
        assert.equal(await reconnect(s, mode), true, 'socket.recovered');
        await until(() => s.msgs.length >= 9, 10_000);
        await delay(SETTLE);
        const got = ints(s);
        assert.deepEqual(got.filter(inA), [1, 2, 3, 4, 5], 'room a: every message once, in order');
        assert.deepEqual(got.filter((n) => !inA(n)), [1001, 1002, 1003, 1004], 'room b: every message once, in order');

        // The last replayed event was room b's; its offset still names
        // room a's position.
        await dropTransport(s);
        await publish(server, a, 6, 7);
        assert.equal(await reconnect(s, mode), true, 'second recovery');
        await until(() => s.msgs.length >= 11, 10_000);
        await delay(SETTLE);
        assert.deepEqual(ints(s).slice(9), [6, 7], 'only what was missed since the first recovery');
      });

      test('transport closed right after connecting, before any event, and reconnected at once: recovered', opts, async () => {
        // The fixture joins the room of the CONNECT auth in its connection
        // hook, which runs after the CONNECT reply: the close waits for the
        // join to show (a socket closed while the hooks still run is a new
        // one when it comes back; TestSessionOfASparkEndedDuringItsHooksIsNotKept).
        const room = `chat:${uniqueRoom(mode)}`;
        const s = sioClient(server, '/', mode, { auth: { rooms: [room] } });
        s.msgs = [];
        s.on('msg', (...args) => s.msgs.push(args));
        const id = await connected(s);
        await until(async () => (await sparkInfo(server, id))?.rooms.includes(room));
        await dropTransport(s);
        await publish(server, room, 1, 5);
        assert.equal(await reconnect(s, mode), true, 'socket.recovered');
        assert.equal(s.id, id, 'the same socket id');
        await expectMsgs(s, 0, 1, 5);

        // Closed and reconnected in one go: the server has not seen the
        // close yet, so it takes the live spark over.
        s.io.reconnection(false);
        s.io.engine.close();
        assert.equal(await reconnect(s, mode), true, 'recovered at once');
        assert.equal(s.id, id, 'the same socket id');
        await publish(server, room, 6, 8);
        await expectMsgs(s, 0, 1, 8);
        assert.ok((await sparkInfo(server, s.id)).rooms.includes(room), 'still in the room');
      });

      test('in no room with history: the same socket back, but not recovered (nothing says what it missed)', opts, async () => {
        const s = await open(server, mode);
        const { id } = s;
        await dropTransport(s);
        assert.equal(await reconnect(s, mode), false, 'socket.recovered');
        assert.equal(s.id, id, 'the same socket id');
        assert.deepEqual(await sparkInfo(server, id), { rooms: [], restored: true, recovered: false, reason: 'no_history' });
      });

      test('idle past the history TTL: recovered (nothing was missed), then what is missed after it', opts, async () => {
        const [s, room] = await joined(idle, mode);
        await publish(idle, room, 1, 3);
        await expectMsgs(s, 0, 1, 3);
        await delay(1500); // the TTL (1 s) of messages 1..3 runs out while the socket idles

        await dropTransport(s);
        assert.equal(await reconnect(s, mode), true, 'recovered after idling, nothing missed');
        await expectNoMore(s, 3);

        await dropTransport(s);
        await publish(idle, room, 4, 8);
        assert.equal(await reconnect(s, mode), true, 'recovered the messages after the idle time');
        await expectMsgs(s, 3, 4, 8);
      });

      for (const [what, which, missed, reason] of [
        ['past the history size (50)', () => short, 100, 'truncated'],
        ['past MaxReplay (100)', () => limited, 101, 'limit'],
      ]) {
        test(`${what}: not recovered, none of the missed delivered, a new pid; the next recovery works`, opts, async () => {
          const srv = which();
          const [s, room] = await joined(srv, mode);
          await publish(srv, room, 1, 2);
          await expectMsgs(s, 0, 1, 2);
          const pid = s._pid;

          await dropTransport(s);
          await publish(srv, room, 3, 2 + missed);
          assert.equal(await reconnect(s, mode), false, 'socket.recovered');
          assert.notEqual(s._pid, pid, 'a new pid');
          await expectNoMore(s, 2);
          const info = await sparkInfo(srv, s.id);
          assert.deepEqual({ recovered: info.recovered, reason: info.reason }, { recovered: false, reason });

          // The app reloads its state; what is published from now on
          // arrives, and the new session recovers, even before the socket
          // received anything in it.
          await dropTransport(s);
          await publish(srv, room, 3 + missed, 5 + missed);
          assert.equal(await reconnect(s, mode), true, 'the next recovery, with nothing received since');
          await expectMsgs(s, 2, 3 + missed, 5 + missed);
        });
      }

      test('a clean disconnect() then connect(): a new session, not recovered, out of the room', opts, async () => {
        const [s, room] = await joined(server, mode);
        await publish(server, room, 1, 2);
        await expectMsgs(s, 0, 1, 2);
        const { id } = s;
        const down = new Promise((resolve) => s.once('disconnect', resolve));
        s.disconnect();
        assert.equal(await down, 'io client disconnect');
        await until(async () => (await sparkInfo(server, id)) === null);
        await publish(server, room, 3, 5);
        assert.equal(await reconnect(s, mode), false, 'socket.recovered');
        assert.notEqual(s.id, id, 'a new socket id');
        await expectNoMore(s, 2);
        const info = await sparkInfo(server, s.id);
        assert.deepEqual(info, { rooms: [], restored: false, recovered: false, reason: 'expired' });
      });
    });
  }
});

// ---------------------------------------------------------------------------
// Redis

/** A TCP proxy on a random port that sends each new connection to its current backend. */
async function tcpProxy(backend) {
  const conns = new Set();
  const proxy = net.createServer((c) => {
    const up = net.connect(proxy.backend.port, '127.0.0.1');
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    up.on('close', () => c.destroy());
  });
  proxy.backend = backend;
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address();
  proxy.handle = { base: `http://127.0.0.1:${port}`, port };
  proxy.shut = () => {
    for (const c of conns) c.destroy();
    return new Promise((resolve) => proxy.close(resolve));
  };
  return proxy;
}

describe('Redis', () => {
  let node; // single-node scenarios
  let survivor; // the node that takes over the sockets of the killed ones
  let skip = false;
  before(async () => {
    node = await startRecovery(['-broker', REDIS_URL, '-node', 'node-1']);
    if (node.skip) {
      skip = node.skip;
      return;
    }
    survivor = await startRecovery(['-broker', REDIS_URL, '-node', 'survivor']);
  });
  after(async () => {
    if (skip || !node) return;
    // The streams and sessions of this run, wherever the broker keeps them
    // under its prefix.
    await cleanRedis(PREFIX);
  });

  for (const mode of Object.keys(MODES)) {
    describe(`mode ${mode}`, () => {
      test('transport close, 1,000 missed: recovered from Redis', opts, async (t) => {
        if (skip) return t.skip(skip);
        await mainScenario(node, mode);
      });

      test('two nodes, its node SIGKILLed: it reconnects to the other and recovers from Redis', opts, async (t) => {
        if (skip) return t.skip(skip);
        const victim = await startRecovery(['-broker', REDIS_URL, '-node', `victim-${mode}`]);
        const proxy = await tcpProxy(victim);
        try {
          await mainScenario(proxy.handle, mode, {
            missed: 200,
            rest: survivor,
            drop: async (s) => {
              s.io.reconnection(false);
              const down = new Promise((resolve) => s.once('disconnect', resolve));
              await killServer(victim);
              await down;
            },
            beforeReconnect: () => {
              proxy.backend = survivor;
            },
          });
        } finally {
          await proxy.shut();
        }
      });
    });
  }
});
