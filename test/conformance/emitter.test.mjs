// primus-emitter conformance: the stock Primus 8 client with the stock
// primus-emitter 3.1.1 plugin (Primus.createSocket({plugin: {emitter}}))
// against the emitter app, served by Allspark (test/conformance/pluginfixture,
// /emitter, the default) or by stock Primus with the primus-emitter server
// plugin (reference/emitter-server.cjs):
//
//   EMITTER_SERVER=reference node --test test/conformance/emitter.test.mjs
//   node --test test/conformance/emitter.test.mjs
//
// Everything runs on the websockets transformer; the round trips also on
// engine.io and sockjs. Scenarios with our own envelope on the same server,
// and the answers primus-emitter has no packet for (unknown events), are
// Allspark's only.
import { test, describe, before, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, TEST_TIMEOUT, Primus, startGoMain, startReference, once, delay } from './helpers.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));
const emitter = require('primus-emitter');

/** EMITTER_SERVER=allspark (pluginfixture, the default) or reference (stock Primus + primus-emitter). */
const SERVER = process.env.EMITTER_SERVER || 'allspark';
if (!['allspark', 'reference'].includes(SERVER)) throw new Error(`EMITTER_SERVER must be allspark or reference, not ${SERVER}`);
const ALLSPARK_ONLY = SERVER === 'reference' && "Allspark's own envelopes and error answers; not run against the reference";

const TRANSFORMERS = ['websockets', 'engine.io', 'sockjs'];
const opts = { timeout: TEST_TIMEOUT };

/** transformer → server handle. Allspark serves every transformer on one server; the reference needs one each. */
const servers = {};
before(async () => {
  if (SERVER === 'allspark') {
    const s = await startGoMain('./test/conformance/pluginfixture');
    for (const t of TRANSFORMERS) servers[t] = s;
    return;
  }
  await Promise.all(TRANSFORMERS.map(async (t) => {
    servers[t] = await startReference('emitter-server.cjs', ['--transformer', t]);
  }));
});

const clients = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});

const classes = new Map();
/** The stock client class for a transformer, with the plugin or (plain) without. */
function socketClass(transformer, plain) {
  const key = `${transformer} ${plain}`;
  if (!classes.has(key)) {
    classes.set(key, Primus.createSocket({ transformer, pathname: '/emitter', ...(!plain && { plugin: { emitter } }) }));
  }
  return classes.get(key);
}

/** The client library runs in a VM context: re-create values here so deepEqual works. */
const normalize = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

/**
 * Opens a stock client (with primus-emitter unless plain) and waits for open.
 * The client gets .plain: the data events that are not emitter packets (the
 * stock client emits "data" for those too; the plugin listens to it).
 */
async function open({ transformer = 'websockets', query = '', plain = false } = {}) {
  const Socket = socketClass(transformer, plain);
  const c = new Socket(servers[transformer].base + query, { strategy: false });
  clients.push(c);
  c.plain = [];
  c.on('data', (d) => {
    const v = normalize(d);
    if (plain || !(v && Array.isArray(v.data) && (v.type === 0 || v.type === 1))) c.plain.push(v);
  });
  await once(c, 'open');
  return c;
}

/** c.send(event, ...args, callback) as a promise of the callback's arguments. */
function call(c, event, ...args) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ack for ${event}`)), 5000);
    c.send(event, ...args, (...reply) => {
      clearTimeout(t);
      resolve(reply.map(normalize));
    });
  });
}

/** Resolves with the arguments of the next `event` on c. */
function next(c, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms);
    c.once(event, (...args) => {
      clearTimeout(t);
      resolve(args.map(normalize));
    });
  });
}

/** Waits until c holds n plain data messages. */
async function plainData(c, n, ms = 5000) {
  const end = Date.now() + ms;
  while (c.plain.length < n) {
    if (Date.now() > end) throw new Error(`got ${JSON.stringify(c.plain)}, want ${n} plain messages`);
    await delay(10);
  }
  return c.plain.slice();
}

for (const transformer of TRANSFORMERS) {
  describe(`transformer ${transformer}`, () => {
    test('client events with acks: the callback gets the handler\'s answer', opts, async () => {
      const c = await open({ transformer });
      assert.deepEqual(await call(c, 'echo', 1, 'two', { three: [3] }, null), [1, 'two', { three: [3] }, null]);
      assert.deepEqual(await call(c, 'echo'), []);
      assert.deepEqual(await call(c, 'echo', 'ünïcödé \u2028 😀'), ['ünïcödé \u2028 😀']);
    });

    test('server events reach the client\'s listeners; the server asks and gets the client\'s ack', opts, async () => {
      const c = await open({ transformer });
      const news = next(c, 'news');
      c.send('tell', 'news', { x: 1 }, 'y');
      assert.deepEqual(await news, [{ x: 1 }, 'y']);
      c.on('question', (q, reply) => reply(`answer to ${q}`));
      assert.deepEqual(await call(c, 'ask', 'life?'), ['answer to life?']);
    });

    test('plain data still flows beside events, in order', opts, async () => {
      const c = await open({ transformer });
      c.write('before');
      assert.deepEqual(await call(c, 'echo', 'between'), ['between']);
      c.write({ after: true });
      assert.deepEqual(await plainData(c, 2), [{ got: 'before' }, { got: { after: true } }]);
    });
  });
}

test('many requests in flight complete, each with its own answer', opts, async () => {
  const c = await open();
  const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => call(c, 'echo', i)));
  assert.deepEqual(replies, Array.from({ length: 200 }, (_, i) => [i]));
});

test('a room broadcast reaches the members that speak the dialect, and no one else', opts, async () => {
  const a = await open({ query: '?room=lobby' });
  const b = await open({ query: '?room=lobby' });
  const outsider = await open();
  const got = [next(a, 'news'), next(b, 'news')];
  let outsiderNews = 0;
  outsider.on('news', () => { outsiderNews += 1; });
  assert.deepEqual(await call(a, 'echo'), []); // a has spoken the dialect (b below), then:
  assert.deepEqual(await call(b, 'echo'), []);
  assert.deepEqual(await call(a, 'broadcast', 'lobby', 'news', 'hi', { n: 1 }), [2]);
  assert.deepEqual(await Promise.all(got), [['hi', { n: 1 }], ['hi', { n: 1 }]]);
  assert.deepEqual(await call(outsider, 'echo'), []); // anything for it would have come before this
  assert.equal(outsiderNews, 0);
});

describe('beside our envelopes', () => {
  test('one room broadcast reaches an emitter client as an event and an envelope client as our envelope', { ...opts, skip: ALLSPARK_ONLY }, async () => {
    const em = await open({ query: '?room=mixed' });
    const env = await open({ query: '?room=mixed', plain: true });
    const news = next(em, 'news');
    assert.deepEqual(await call(em, 'broadcast', 'mixed', 'news', 'to both'), [2]);
    assert.deepEqual(await news, ['to both']);
    assert.deepEqual(await plainData(env, 1), [{ allspark: 1, event: 'news', args: ['to both'] }]);

    // The envelope client asks for the same broadcast in its own format.
    const again = next(em, 'news');
    env.write({ allspark: 1, event: 'broadcast', args: ['mixed', 'news', 'from envelopes'], id: 1 });
    assert.deepEqual(await again, ['from envelopes']);
    const seen = await plainData(env, 3);
    assert.deepEqual(new Set(seen.slice(1).map((m) => JSON.stringify(m))), new Set([
      JSON.stringify({ allspark: 1, event: 'news', args: ['from envelopes'] }),
      JSON.stringify({ allspark: 1, ack: 1, args: [2] }),
    ]));
  });

  test('the same client may speak both: each answer comes in the dialect it used last', { ...opts, skip: ALLSPARK_ONLY }, async () => {
    const c = await open();
    assert.deepEqual(await call(c, 'echo', 'emitter'), ['emitter']);
    c.write({ allspark: 1, event: 'echo', args: ['envelope'], id: 1 });
    assert.deepEqual(await plainData(c, 1), [{ allspark: 1, ack: 1, args: ['envelope'] }]);
    assert.deepEqual(await call(c, 'echo', 'emitter again'), ['emitter again']);
  });

  test('an event without a handler is answered: ack {error}, or the event allspark:error', { ...opts, skip: ALLSPARK_ONLY }, async () => {
    const c = await open();
    const [answer] = await call(c, 'no-such-event', 1);
    assert.equal(answer.error.code, 'unknown_event');
    assert.equal(answer.error.event, 'no-such-event');
    const report = next(c, 'allspark:error');
    c.send('no-such-event-either');
    const [body] = await report;
    assert.equal(body.code, 'unknown_event');
    assert.equal(body.event, 'no-such-event-either');
  });

  test('a value shaped almost like a packet stays plain data', { ...opts, skip: ALLSPARK_ONLY }, async () => {
    const c = await open();
    c.write({ type: 0, data: ['echo'], note: 'an extra key' });
    c.write({ type: 0, data: [42] });
    assert.deepEqual(await plainData(c, 2), [
      { got: { type: 0, data: ['echo'], note: 'an extra key' } },
      { got: { type: 0, data: [42] } },
    ]);
  });
});
