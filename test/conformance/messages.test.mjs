// Message-level scenarios against the fixture: heartbeat (exact ping frame,
// missing pong, ws-level pings), maxLength, and transforms.
import { test, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  TEST_TIMEOUT, NEEDS_FIXTURE, MODE, wsOnly, startFixture, connect, seen, once, rawConnect, wsURL,
} from './helpers.mjs';

let fx;
before(async () => { fx = await startFixture(); });

const opts = { timeout: TEST_TIMEOUT, skip: NEEDS_FIXTURE };
const PING_RE = /^"primus::ping::(\d+)"$/;
const PING_INTERVAL = 150; // the fixture's /ping server
const MAX_LENGTH = 1000; // the fixture's /maxlen server

async function open(pathname, options = {}) {
  const client = connect(fx.base, pathname, options);
  await seen(client, 'open');
  return client;
}

describe('heartbeat', () => {
  test('the ping frame is exactly the JSON string "primus::ping::<ms since epoch>"', wsOnly(opts), async () => {
    const ws = await rawConnect(wsURL(fx, '/ping'));
    const frame = await ws.messages.next();
    assert.equal(frame.binary, false);
    const m = PING_RE.exec(frame.text);
    assert.ok(m, `unexpected frame ${frame.text}`);
    assert.ok(Math.abs(Number(m[1]) - Date.now()) < 5000, `ping time ${m[1]} is not now`);
  });

  test('answering every ping with "primus::pong::<ms>" keeps the connection open', wsOnly(opts), async () => {
    const ws = await rawConnect(wsURL(fx, '/ping'));
    let last = 0;
    for (let i = 0; i < 5; i++) {
      const { text } = await ws.messages.next();
      const ms = Number(PING_RE.exec(text)[1]);
      assert.ok(ms >= last, 'ping times go forward');
      last = ms;
      ws.send(JSON.stringify(`primus::pong::${ms}`));
    }
    ws.send('"still open"');
    // Skip any ping that raced with the echo.
    let frame;
    do frame = await ws.messages.next(); while (PING_RE.test(frame.text));
    assert.equal(frame.text, '"still open"');
    assert.equal(ws.readyState, ws.OPEN);
  });

  test('a peer that never answers is disconnected without "primus::server::close"', wsOnly(opts), async () => {
    const ws = await rawConnect(wsURL(fx, '/ping'));
    const started = Date.now();
    const { code } = await ws.closed;
    const elapsed = Date.now() - started;
    const texts = ws.frames.map((f) => f.text);
    // One ping, then the next tick finds no pong: the spark is ended with
    // reconnect, i.e. no server::close.
    assert.ok(texts.length >= 1, 'at least one ping before the disconnect');
    for (const t of texts) assert.match(t, PING_RE);
    assert.ok(!texts.includes('"primus::server::close"'));
    assert.ok(elapsed < 10 * PING_INTERVAL, `closed after ${elapsed} ms`);
    assert.notEqual(code, 1006, 'a close frame, not a cut connection');
  });

  test('WebSocket-level pings from the client count as pongs', wsOnly(opts), async () => {
    const ws = await rawConnect(wsURL(fx, '/ping'));
    const pinger = setInterval(() => ws.ping(), PING_INTERVAL / 5);
    try {
      // Six server pings without a single primus::pong: a silent peer is
      // cut at the second one.
      for (let i = 0; i < 6; i++) assert.match((await ws.messages.next()).text, PING_RE);
      assert.equal(ws.readyState, ws.OPEN);
    } finally {
      clearInterval(pinger);
    }
  });

  test('stock client answers pings and stays connected (watchdog on)', opts, async () => {
    const client = await open('/ping', { pingTimeout: PING_INTERVAL * 4 });
    const pongs = [];
    client.on('outgoing::pong', (ms) => pongs.push(ms));
    while (pongs.length < 5) await once(client, 'outgoing::pong');
    client.write('alive');
    assert.equal(await client.data.next(), 'alive');
    assert.deepEqual(client.events, ['open']);
  });
});

describe('maxLength', () => {
  test('a message of exactly MaxLength bytes is accepted', wsOnly(opts), async () => {
    const ws = await rawConnect(wsURL(fx, '/maxlen'));
    const payload = JSON.stringify('a'.repeat(MAX_LENGTH - 2));
    assert.equal(Buffer.byteLength(payload), MAX_LENGTH);
    ws.send(payload);
    assert.equal((await ws.messages.next()).text, payload);
  });

  test('a message one byte over MaxLength closes the connection with 1009', wsOnly(opts), async () => {
    const ws = await rawConnect(wsURL(fx, '/maxlen'));
    ws.send(JSON.stringify('a'.repeat(MAX_LENGTH - 1)));
    const { code } = await ws.closed;
    assert.equal(code, 1009);
    assert.deepEqual(ws.frames, []);
  });

  test('a fragmented message whose fragments together exceed MaxLength closes with 1009', wsOnly(opts), async () => {
    const ws = await rawConnect(wsURL(fx, '/maxlen'));
    const part = 'a'.repeat(400);
    ws.send(`"${part}`, { fin: false });
    ws.send(part, { fin: false });
    ws.send(`${part}"`, { fin: true });
    const { code } = await ws.closed;
    assert.equal(code, 1009);
    assert.deepEqual(ws.frames, []);
  });

  test('stock client: an oversize write drops the connection; the client reconnects and continues', opts, async () => {
    const client = await open('/maxlen', { reconnect: { min: 20, max: 40 } });
    client.write('x'.repeat(MAX_LENGTH * 2));
    await seen(client, 'reconnected');
    await seen(client, 'open');
    // On polling the oversize write is a POST answered 413, which
    // engine.io-client reports as an error before the close (as with
    // Primus's own engine.io server); on a WebSocket it is a 1009 close.
    const events = client.events.filter((e) => e !== 'error');
    if (MODE === 'engine.io-polling') assert.equal(client.events[1], 'error');
    assert.deepEqual(events.slice(0, 5), ['open', 'close', 'reconnect scheduled', 'reconnect', 'reconnected']);
    client.write('small');
    assert.equal(await client.data.next(), 'small');
    assert.deepEqual(client.data.all(), ['small']);
  });

  test('server Write over MaxLength returns ErrTooLarge and keeps the connection', opts, async () => {
    const client = await open('/maxlen');
    client.write({ cmd: 'big', size: MAX_LENGTH * 2 });
    assert.deepEqual(await client.data.next(), { bigError: 'allspark: message exceeds MaxLength', isErrTooLarge: true });
    client.write({ cmd: 'big', size: 10 });
    assert.equal(await client.data.next(), 'x'.repeat(10));
    assert.deepEqual(await client.data.next(), { bigError: '', isErrTooLarge: false });
  });
});

describe('transforms', () => {
  test('incoming: rewrite replaces the message', opts, async () => {
    const client = await open('/transform');
    client.write({ in: 'rewrite', seq: 1 });
    assert.deepEqual(await client.data.next(), { in: 'rewritten', seq: 1 });
  });

  test('incoming: swallow drops the message silently; the connection stays', opts, async () => {
    const client = await open('/transform');
    client.write({ in: 'swallow' });
    client.write('after');
    assert.equal(await client.data.next(), 'after');
  });

  test('incoming: failure is reported as a TransformError; the connection stays', opts, async () => {
    const client = await open('/transform');
    client.write({ in: 'fail' });
    client.write('after');
    assert.deepEqual(await client.data.next(),
      { error: 'allspark: incoming transform: in transform refused', isTransformError: true });
    assert.equal(await client.data.next(), 'after');
    assert.deepEqual(client.events, ['open']);
  });

  test('incoming: a blocking transform delays but keeps the order', opts, async () => {
    const client = await open('/transform');
    const msgs = [{ in: 'slow', seq: 1 }, { seq: 2 }, { in: 'slow', seq: 3 }, { seq: 4 }];
    for (const m of msgs) client.write(m);
    for (const m of msgs) assert.deepEqual(await client.data.next(), m);
  });

  test('outgoing: rewrite replaces the message', opts, async () => {
    const client = await open('/transform');
    client.write({ out: 'rewrite', seq: 2 });
    assert.deepEqual(await client.data.next(), { out: 'rewritten', seq: 2 });
  });

  test('outgoing: swallow drops the message silently', opts, async () => {
    const client = await open('/transform');
    client.write({ out: 'swallow' });
    client.write('after');
    assert.equal(await client.data.next(), 'after');
  });

  test('outgoing: failure is reported as a TransformError; the connection stays', opts, async () => {
    const client = await open('/transform');
    client.write({ out: 'fail' });
    client.write('after');
    assert.deepEqual(await client.data.next(),
      { error: 'allspark: outgoing transform: out transform refused', isTransformError: true });
    assert.equal(await client.data.next(), 'after');
  });

  test('control messages bypass transforms: id() still works', opts, async () => {
    const client = await open('/transform');
    const id = await new Promise((r) => client.id(r));
    assert.match(id, /^[^:]+$/);
  });
});
