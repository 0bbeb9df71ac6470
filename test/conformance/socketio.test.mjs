// Socket.IO v5 conformance: the stock socket.io-client 4.8.4 (and, for the
// shared rooms, the stock Primus 8 client) against the test app of
// reference/socketio-server.cjs, served by Allspark (test/conformance/siofixture,
// the default) or by npm socket.io 4.8.4 itself:
//
//   SIO_SERVER=reference node --test test/conformance/socketio.test.mjs
//   node --test test/conformance/socketio.test.mjs
//
// Scenarios where the transport matters run three times: polling only,
// WebSocket only, and the default (polling, then the upgrade, which is
// asserted). The rest run once, in the default mode.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_TIMEOUT, connect as primusConnect, delay, until } from './helpers.mjs';
import {
  ALLSPARK_ONLY, MODES, RECONNECT_DELAY, SERVER, ack, argsReader, bytes, connected, killServer, sioClient,
  sioManager, startSio, track, uniqueRoom, upgraded,
} from './socketio-helpers.mjs';

const opts = { timeout: TEST_TIMEOUT };

/** Long enough to see that a client does not reconnect: 7× its reconnection delay. */
const NO_RECONNECT_WAIT = 7 * RECONNECT_DELAY;

let server;
before(async () => {
  server = await startSio();
});

/** Connects a client of "/" in mode and waits for its CONNECT. */
async function open(mode, options = {}, nsp = '/') {
  const s = sioClient(server, nsp, mode, options);
  await connected(s);
  return s;
}

/** A client that joins the "watchers" room and records the app's gone({...}) events by socket id. */
async function watcher() {
  const w = await open('websocket');
  w.gone = argsReader(w, 'gone', (g) => g);
  await ack(w, 'join', 'watchers');
  return w;
}

/** The gone events about socket id (disconnecting, then disconnect), waiting for both. */
async function goneOf(w, id) {
  await until(() => w.gone.all().filter((g) => g.id === id).length >= 2);
  return w.gone.all().filter((g) => g.id === id);
}

// ---------------------------------------------------------------------------
// Per transport mode

for (const mode of Object.keys(MODES)) {
  describe(`mode ${mode}`, () => {
    test('connect on "/": socket.id equals the server-side spark id; the transport is the mode\'s', opts, async () => {
      const s = await open(mode);
      const [me] = await ack(s, 'whoami');
      assert.deepEqual(me, { id: s.id, nsp: '/' });
      if (mode === 'upgrade') {
        assert.equal(s.firstTransport, 'polling');
        await upgraded(s);
        assert.equal(s.io.engine.transport.name, 'websocket');
        assert.deepEqual(await ack(s, 'whoami'), [me], 'the same socket after the upgrade');
      } else {
        assert.equal(s.firstTransport, mode);
        assert.equal(s.io.engine.transport.name, mode);
      }
    });

    test('emit/echo: several args of every JSON kind come back in the ack unchanged', opts, async () => {
      const s = await open(mode);
      const args = ['text', 42, -1.5, 1e21, true, false, null, { nested: { a: [1, 'two', null] } }, [1, [2, [3]]],
        'ünïcødé 🚀 \u2028', '', {}];
      assert.deepEqual(await ack(s, 'echo', ...args), args);
      assert.deepEqual(await ack(s, 'echo'), [], 'no args: an empty ack');
    });

    test('emit from the server: several args reach the client handler', opts, async () => {
      const s = await open(mode);
      const told = argsReader(s, 'told');
      await ack(s, 'tell', 'told', 'a', 2, { three: [3] }, null);
      assert.deepEqual(await told.next(), ['a', 2, { three: [3] }, null]);
    });

    test('acks both ways: emitWithAck to a server handler; the server\'s EmitWithAck answered by a client callback', opts, async () => {
      const s = await open(mode);
      assert.equal(await s.emitWithAck('echo', 'first', 'second'), 'first');
      s.on('question', (a, b, cb) => cb(a + b, 'second', { ok: true }));
      assert.deepEqual(await ack(s, 'ask', 2000, 'question', 2, 3), [{ ok: true, args: [5, 'second', { ok: true }] }]);
    });

    test('ack timeouts both ways: client socket.timeout().emitWithAck rejects; the server reports its own timeout', opts, async () => {
      const s = await open(mode);
      const started = Date.now();
      await assert.rejects(s.timeout(150).emitWithAck('slow', 400, 'late'), /operation has timed out/);
      assert.ok(Date.now() - started < 400, 'rejected at the client timeout, not at the answer');
      s.on('mute', () => {}); // never calls back
      assert.deepEqual(await ack(s, 'ask', 200, 'mute', 'x'), [{ ok: false, timeout: true }]);
      assert.deepEqual(await ack(s, 'echo', 'still'), ['still'], 'the late answer to the timed-out ack did no harm');
    });

    test('binary both ways: Buffer args reach the server as bytes, bytes come back as Buffers', opts, async () => {
      const s = await open(mode);
      const [types] = await ack(s, 'types', Buffer.from([1, 2, 3]), 'str', 7, { file: Buffer.from('hi'), list: [Buffer.alloc(0), 1] },
        null, true);
      assert.deepEqual(types, ['bytes', 'string', 'number', { file: 'bytes', list: ['bytes', 'number'] }, 'null', 'boolean']);

      const payload = [Buffer.from([0, 1, 2, 255]), { b: Buffer.from('x'), n: 1 }, 'text'];
      const echoed = await ack(s, 'echo', ...payload);
      assert.deepEqual(echoed, payload);
      assert.ok(Buffer.isBuffer(echoed[0]));

      const got = argsReader(s, 'bytes');
      assert.deepEqual(await ack(s, 'sendBytes', 300), [bytes(300)], 'a binary ack');
      const [buf, { inner }] = await got.next();
      assert.ok(Buffer.isBuffer(buf) && Buffer.isBuffer(inner));
      assert.deepEqual(buf, bytes(300));
      assert.deepEqual(inner, bytes(300));

      const big = Buffer.alloc(200_000, 7);
      const [bigBack] = await ack(s, 'echo', big);
      assert.ok(bigBack.equals(big), '200 kB of binary round trip');
    });

    test('send/message: client send(x) reaches OnData; Write reaches the client as "message"', opts, async () => {
      const s = await open(mode);
      s.send('hello');
      assert.deepEqual(await s.messages.next(), { got: 'hello' });
      s.emit('message', { a: [1] });
      assert.deepEqual(await s.messages.next(), { got: { a: [1] } });
    });

    test('server-side disconnect without reconnect: "io server disconnect", the client stays away', opts, async () => {
      const s = await open(mode);
      s.emit('kick', false);
      assert.equal(await s.disconnects.next(), 'io server disconnect');
      assert.equal(s.active, false);
      await delay(NO_RECONNECT_WAIT);
      assert.deepEqual(s.lifecycle, ['connect', 'disconnect:io server disconnect']);
    });

    test('server-side disconnect with reconnect: the connection closes, the client reconnects as a new socket', opts, async () => {
      const s = await open(mode);
      const first = s.id;
      s.emit('kick', true);
      assert.equal(await s.disconnects.next(), 'transport close');
      const second = await s.connects.next();
      assert.notEqual(second, first);
      assert.deepEqual(await ack(s, 'whoami'), [{ id: second, nsp: '/' }]);
    });

    test('disconnect reasons on the server, and the disconnecting hook sees the rooms still joined', opts, async () => {
      const w = await watcher();
      const cases = [
        ['client namespace disconnect', (s) => s.disconnect()],
        ['transport close', (s) => s.io.engine.close()],
        ['server namespace disconnect', (s) => s.emit('kick', false)],
      ];
      for (const [reason, cause] of cases) {
        const s = await open(mode);
        const room = uniqueRoom('reason');
        await ack(s, 'join', room);
        const { id } = s;
        cause(s);
        const gone = await goneOf(w, id);
        assert.deepEqual(gone, [
          { id, nsp: '/', phase: 'disconnecting', reason, rooms: [room] },
          { id, nsp: '/', phase: 'disconnect', reason, rooms: [] },
        ], reason);
      }
    });

    test('reconnection after a server restart on the same port', { timeout: 20_000 }, async () => {
      const own = await startSio();
      try {
        const s = sioClient(own, '/', mode);
        const first = await connected(s);
        await killServer(own);
        const reason = await s.disconnects.next();
        assert.ok(['transport close', 'transport error'].includes(reason), reason);
        const restarted = await startSio(own.port);
        Object.assign(own, restarted);
        const second = await s.connects.next(10_000);
        assert.notEqual(second, first);
        assert.deepEqual(await ack(s, 'echo', 'after restart'), ['after restart']);
      } finally {
        await killServer(own);
      }
    });

    test('Volatile: an idle client gets it; a burst is thinned out while a plain burst arrives whole', opts, async () => {
      const s = await open(mode);
      const vol = argsReader(s, 'vol', (i) => i);
      const all = argsReader(s, 'all', (i) => i);
      await delay(100); // let a polling client's next GET reach the server
      await ack(s, 'target', { to: [s.id], volatile: true }, 'emit', 'vol', -1);
      assert.equal(await vol.next(), -1, 'an idle client gets a volatile emit');

      // Below Allspark's default QueueSize (1024): a plain burst past it is a
      // slow consumer (see the scenario after this loop).
      const n = 1000;
      await ack(s, 'target', { to: [s.id], volatile: true }, 'burst', n, 'vol');
      await ack(s, 'target', { to: [s.id] }, 'burst', n, 'all');
      await until(() => all.all().length === n);
      assert.deepEqual(all.all(), [...Array(n).keys()], 'every plain emit, in order');
      const got = vol.all().slice(1);
      assert.ok(got.length < n, `volatile dropped some of the burst (${got.length} of ${n} arrived)`);
      assert.deepEqual(got, [...got].sort((a, b) => a - b), 'what arrived is in order');
    });
  });
}

test('a burst past QueueSize ends a polling client as a slow consumer; it reconnects (Allspark bounds, the reference buffers)',
  { ...opts, skip: ALLSPARK_ONLY }, async () => {
    const s = await open('polling');
    const first = s.id;
    s.emit('target', { to: [s.id] }, 'burst', 5000, 'flood');
    assert.equal(await s.disconnects.next(), 'transport close');
    assert.notEqual(await s.connects.next(), first);
    assert.deepEqual(await ack(s, 'echo', 'back'), ['back']);
  });

// Ack errors: a Node handler decides what its ack carries, and an event no
// handler listens to is never answered (the caller times out). Allspark
// answers both, so a caller never waits for nothing: a Go handler's error is
// the ack argument {error: {code, message, event}}, an unknown event with an
// ack gets code "unknown_event", and one without an ack is reported as the
// event "allspark:error" (which the stock client ignores unless listened to).
test('an event nobody handles: the reference never answers; Allspark answers an ack error or reports "allspark:error"', opts, async () => {
  const s = await open('upgrade');
  if (SERVER === 'reference') {
    await assert.rejects(s.timeout(300).emitWithAck('nobody', 1), /operation has timed out/);
    return;
  }
  const [reply] = await ack(s, 'nobody', 1);
  assert.deepEqual(reply, { error: { code: 'unknown_event', message: 'no handler for event', event: 'nobody' } });
  const reports = argsReader(s, 'allspark:error', (e) => e);
  s.emit('nobody', 2);
  assert.deepEqual(await reports.next(), { code: 'unknown_event', message: 'no handler for event', event: 'nobody' });
});

test('a Go handler\'s error reaches the client as the ack {error: {code, message}}', { ...opts, skip: ALLSPARK_ONLY }, async () => {
  const s = await open('upgrade');
  const [reply] = await ack(s, 'fail', 'not_found', 'no such thing');
  assert.deepEqual(reply, { error: { code: 'not_found', message: 'no such thing', event: 'fail' } });
});

// ---------------------------------------------------------------------------
// Namespaces and authorization

test('namespaces: /admin with its token connects, with its own socket id', opts, async () => {
  const s = await open('upgrade', { auth: { token: 'admin' } }, '/admin');
  assert.deepEqual(await ack(s, 'whoami'), [{ id: s.id, nsp: '/admin' }]);
  assert.deepEqual(await ack(s, 'echo', 1, 'two'), [1, 'two']);
});

test('namespaces: /admin middleware refuses another token: connect_error "unauthorized" with data, no retry', opts, async () => {
  for (const auth of [{}, { token: 'nope' }]) {
    const s = sioClient(server, '/admin', 'upgrade', { auth });
    const err = await s.connectErrors.next();
    assert.equal(err.message, 'unauthorized');
    assert.deepEqual(err.data, { need: 'admin' });
    assert.equal(s.active, false, 'a middleware refusal is not retried');
    await delay(NO_RECONNECT_WAIT);
    assert.deepEqual(s.lifecycle, ['connect_error:unauthorized']);
  }
});

test('namespaces: "/" and "/admin" multiplexed on one connection; room "lobby" of each is its own', opts, async () => {
  const manager = sioManager(server);
  const root = track(manager.socket('/'));
  const adm = track(manager.socket('/admin', { auth: { token: 'admin' } }));
  await Promise.all([connected(root), connected(adm)]);
  assert.notEqual(root.id, adm.id);
  assert.equal(root.io, adm.io, 'one Manager, one Engine.IO connection');
  const lobby = uniqueRoom('lobby');
  assert.deepEqual(await ack(root, 'join', lobby), [[lobby]]);
  assert.deepEqual(await ack(adm, 'join', lobby), [[lobby]]);

  await ack(root, 'publish', lobby, { from: 'root' });
  await ack(adm, 'publish', lobby, { from: 'admin' });
  assert.deepEqual(await root.messages.next(), { from: 'root' });
  assert.deepEqual(await adm.messages.next(), { from: 'admin' });
  // Everything travels in order on the one connection: a stray message
  // would have arrived before these acks.
  await ack(root, 'echo');
  await ack(adm, 'echo');
  assert.deepEqual(root.messages.all(), [{ from: 'root' }]);
  assert.deepEqual(adm.messages.all(), [{ from: 'admin' }]);
});

test('namespaces: 40 multiplexed connections ("/" and "/admin", polling then upgrade), one after another, all connect both', opts, async () => {
  // One at a time: in parallel the upgrades lag behind the CONNECT replies
  // and the race above does not show.
  for (let i = 0; i < 40; i++) {
    const m = sioManager(server, 'upgrade', { reconnection: false });
    const root = track(m.socket('/'));
    const adm = track(m.socket('/admin', { auth: { token: 'admin' } }));
    await connected(root);
    await assert.doesNotReject(connected(adm, 1000), `connection ${i}: the /admin socket stalled`);
    root.disconnect();
    adm.disconnect();
  }
});

test('unknown namespace: connect_error "Invalid namespace"', opts, async () => {
  const s = sioClient(server, '/nope');
  const err = await s.connectErrors.next();
  assert.equal(err.message, 'Invalid namespace');
  assert.equal(s.active, false);
});

test('server Authorize refusal (auth.token "bad"): connect_error with the message and data', opts, async () => {
  const s = sioClient(server, '/', 'upgrade', { auth: { token: 'bad' } });
  const err = await s.connectErrors.next();
  assert.equal(err.message, 'forbidden');
  assert.deepEqual(err.data, { reason: 'bad token' });
  assert.equal(s.active, false);
  const ok = await open('upgrade', { auth: { token: 'good' } });
  assert.ok(ok.connected, 'another token connects');
});

// ---------------------------------------------------------------------------
// Rooms shared with Primus

test('rooms of "/" are shared with a stock Primus client: a publish reaches both, each sends into the room', opts, async () => {
  const room = uniqueRoom('shared');
  const p = primusConnect(server.base, '/primus');
  p.write({ join: room });
  assert.deepEqual(await p.data.next(), { joined: room });
  p.write({ whoami: true });
  const { id: primusID } = await p.data.next();

  const s = await open('upgrade');
  await ack(s, 'join', room);

  await ack(s, 'publish', room, { hello: 1 });
  assert.deepEqual(await s.messages.next(), { hello: 1 });
  assert.deepEqual(await p.data.next(), { hello: 1 });

  await ack(s, 'say', room, 'from socket.io');
  assert.deepEqual(await p.data.next(), { from: s.id, text: 'from socket.io' });

  p.write({ say: room, text: 'from primus' });
  assert.deepEqual(await s.messages.next(), { from: primusID, text: 'from primus' });

  p.write({ publish: room, data: [1, 'two'] });
  assert.deepEqual(await s.messages.next(), [1, 'two']);
  assert.deepEqual(await p.data.next(), [1, 'two']);
  assert.equal(s.messages.pending(), 0, 'say excluded its sender');
});

// ---------------------------------------------------------------------------
// Target operations

/** n clients of "/" (default mode) in a fresh room; resolves to { room, clients }. */
async function roomOf(n) {
  const room = uniqueRoom('target');
  const clients = await Promise.all(Array.from({ length: n }, () => open('upgrade')));
  for (const c of clients) await ack(c, 'join', room);
  return { room, clients };
}

test('target Except and To: the excepted member misses the emit; To reaches one socket', opts, async () => {
  const { room, clients: [a, b, c] } = await roomOf(3);
  const pings = [a, b, c].map((x) => argsReader(x, 'ping', (v) => v));
  await ack(a, 'target', { rooms: [room], except: [b.id] }, 'emit', 'ping', 1);
  await ack(a, 'target', { rooms: [room] }, 'emit', 'ping', 2);
  await ack(a, 'target', { to: [c.id] }, 'emit', 'ping', 3);
  assert.deepEqual(await pings[0].next(), 1);
  assert.deepEqual(await pings[0].next(), 2);
  assert.deepEqual(await pings[1].next(), 2, 'b first gets the second emit: it missed the first');
  assert.deepEqual([await pings[2].next(), await pings[2].next(), await pings[2].next()], [1, 2, 3]);
  await ack(a, 'echo');
  assert.equal(pings[0].pending(), 0, 'To(c) reached c only');
});

test('target EmitWithAck with a timeout: the replies so far and the count of missing ones', opts, async () => {
  const { room, clients: [a, b, c] } = await roomOf(3);
  for (const x of [a, b]) x.on('poll', (q, cb) => cb({ me: x.id, q }));
  c.on('poll', () => {}); // never answers

  const started = Date.now();
  const [res] = await ack(a, 'target', { rooms: [room] }, 'emitWithAck', 300, 'poll', 'q1');
  assert.ok(Date.now() - started >= 250, 'waited for the timeout');
  assert.equal(res.timedOut, true);
  assert.equal(res.total, 3);
  assert.equal(res.missing, 1);
  const answers = res.replies.map((r) => r.args[0]).sort((x, y) => (x.me < y.me ? -1 : 1));
  assert.deepEqual(answers, [{ me: a.id, q: 'q1' }, { me: b.id, q: 'q1' }].sort((x, y) => (x.me < y.me ? -1 : 1)));

  const [all] = await ack(a, 'target', { rooms: [room], except: [c.id] }, 'emitWithAck', 3000, 'poll', 'q2');
  assert.equal(all.timedOut, false, 'every receiver answered: no timeout');
  assert.equal(all.missing, 0);
  assert.equal(all.total, 2);
});

test('target EmitWithAck: Reply.From names the spark that answered', { ...opts, skip: ALLSPARK_ONLY }, async () => {
  const { room, clients } = await roomOf(2);
  for (const x of clients) x.on('poll', (q, cb) => cb({ me: x.id }));
  const [res] = await ack(clients[0], 'target', { rooms: [room] }, 'emitWithAck', 3000, 'poll', 'q');
  assert.equal(res.replies.length, 2);
  for (const r of res.replies) assert.equal(r.from, r.args[0].me);
});

test('target Join/Leave (socketsJoin/socketsLeave) and Sparks (fetchSockets: ids and rooms)', opts, async () => {
  const { room, clients: [a, b, c] } = await roomOf(3);
  const extra = uniqueRoom('extra');
  const sorted = (ids) => [...ids].sort();
  const sparks = async (spec) => (await ack(a, 'target', spec, 'sparks'))[0];

  assert.deepEqual(await sparks({ rooms: [room] }), sorted([a.id, b.id, c.id]).map((id) => ({ id, rooms: [room] })));
  assert.deepEqual(await ack(a, 'target', { rooms: [room], except: [c.id] }, 'join', extra), [2]);
  assert.deepEqual(await sparks({ rooms: [extra] }), sorted([a.id, b.id]).map((id) => ({ id, rooms: sorted([room, extra]) })));
  assert.deepEqual(await ack(b, 'rooms'), [sorted([room, extra])], 'the socket sees its new room');

  const hits = argsReader(b, 'hit', (v) => v);
  await ack(a, 'target', { rooms: [extra] }, 'emit', 'hit', 'x');
  assert.equal(await hits.next(), 'x', 'an emit to the joined room reaches b');

  assert.deepEqual(await ack(a, 'target', { to: [a.id] }, 'leave', room, extra), [1]);
  assert.deepEqual(await sparks({ rooms: [room] }), sorted([b.id, c.id]).map((id) => ({ id, rooms: id === b.id ? sorted([room, extra]) : [room] })));
  assert.deepEqual(await sparks({ to: [c.id] }), [{ id: c.id, rooms: [room] }]);
});

test('target Disconnect(false) (disconnectSockets()): "io server disconnect", no reconnect', opts, async () => {
  const { room, clients: [a, b, c] } = await roomOf(3);
  assert.deepEqual(await ack(a, 'target', { rooms: [room], except: [a.id] }, 'disconnect', false), [2]);
  assert.equal(await b.disconnects.next(), 'io server disconnect');
  assert.equal(await c.disconnects.next(), 'io server disconnect');
  await delay(NO_RECONNECT_WAIT);
  assert.equal(b.connected || c.connected, false);
  assert.ok(a.connected, 'the excepted socket stays');
});

test('target Disconnect(true): the connections close without DISCONNECT, the clients reconnect', opts, async () => {
  const { room, clients: [a, b, c] } = await roomOf(3);
  const ids = [b.id, c.id];
  assert.deepEqual(await ack(a, 'target', { rooms: [room], except: [a.id] }, 'disconnect', true), [2]);
  for (const x of [b, c]) {
    assert.equal(await x.disconnects.next(), 'transport close');
    const id = await x.connects.next();
    assert.ok(!ids.includes(id), 'reconnected as a new socket');
    assert.deepEqual(await ack(x, 'echo', 'back'), ['back']);
  }
  assert.ok(a.connected, 'the excepted socket stays');
});

test('OnAny sees every incoming named event with its args, before the handler', opts, async () => {
  const s = await open('upgrade');
  s.emit('whatever', 1, 'a', { b: null });
  await ack(s, 'echo', 'z');
  assert.deepEqual(await ack(s, 'anyLog'), [[
    { event: 'whatever', args: [1, 'a', { b: null }] },
    { event: 'echo', args: ['z'] },
    { event: 'anyLog', args: [] },
  ]]);
});

test('disconnecting hook in /admin: rooms still visible, then the disconnect', opts, async () => {
  const w = await watcher();
  const s = await open('websocket', { auth: { token: 'admin' } }, '/admin');
  const room = uniqueRoom('admin-room');
  await ack(s, 'join', room);
  const { id } = s;
  s.disconnect();
  assert.deepEqual(await goneOf(w, id), [
    { id, nsp: '/admin', phase: 'disconnecting', reason: 'client namespace disconnect', rooms: [room] },
    { id, nsp: '/admin', phase: 'disconnect', reason: 'client namespace disconnect', rooms: [] },
  ]);
});
