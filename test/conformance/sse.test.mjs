// Server-Sent Events conformance: the stock npm `eventsource` 4 client (the
// WHATWG EventSource, on fetch) and raw HTTP against the event stream at
// /primus/sse, fed by the HTTP publish API of the binary.
//
//   SSE_SERVER=reference node --test test/conformance/sse.test.mjs   # reference/sse-server.cjs
//   node --test test/conformance/sse.test.mjs                        # cmd/allspark --echo
//
// The reference is a plain Node http server with the same contract, so what
// these tests expect of the client (how it reconnects, the Last-Event-ID it
// sends, giving up on 204 and on refusals) is checked against something
// other than the server under test.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { EventSource } from 'eventsource';
import { TEST_TIMEOUT, startAllsparkEcho, startReference, request, delay, until } from './helpers.mjs';

const SERVER = process.env.SSE_SERVER === 'reference' ? 'reference' : 'allspark';
const TOKEN = 'sse-conformance';
const RETRY_MS = 150;
const opts = { timeout: TEST_TIMEOUT };

/** Starts the server under test with the API on and a short retry; extra flags as cmd/allspark spells them. */
function start(extra = []) {
  const args = ['--api-token', TOKEN, '--sse-retry', `${RETRY_MS}ms`, ...extra];
  return SERVER === 'reference' ? startReference('sse-server.cjs', args) : startAllsparkEcho(args);
}

/** Stops a server with SIGTERM (both servers end their streams so that clients reconnect) and waits for it to exit. */
function terminate(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', resolve);
    server.child.kill('SIGTERM');
  });
}

const sources = new Set();
after(() => { for (const es of sources) es.close(); });

/** A queue of one kind of event of an EventSource: next(ms) waits for the next one. */
function queue(es, type) {
  const items = [];
  const waiters = [];
  es.addEventListener(type, (e) => {
    const item = { type: e.type, data: e.data, lastEventId: e.lastEventId, code: e.code, readyState: es.readyState };
    const w = waiters.shift();
    if (w) w(item);
    else items.push(item);
  });
  return {
    next(ms = 5000) {
      if (items.length) return Promise.resolve(items.shift());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no '${type}' within ${ms} ms`)), ms);
        waiters.push((v) => { clearTimeout(t); resolve(v); });
      });
    },
    pending: () => items.length,
  };
}

/**
 * A stock EventSource for /primus/sse?<query>. Its fetch is wrapped to add
 * headers (an Origin) and to record every request it makes and the answer:
 * es.requests = [{ headers, status, response }].
 */
function subscribe(server, query = 'rooms=lobby', headers = {}) {
  const requests = [];
  const es = new EventSource(`${server.base}/primus/sse?${query}`, {
    fetch: async (input, init) => {
      const entry = { headers: { ...init.headers, ...headers } };
      requests.push(entry);
      const res = await fetch(input, { ...init, headers: entry.headers });
      entry.status = res.status;
      entry.response = Object.fromEntries(res.headers);
      return res;
    },
  });
  sources.add(es);
  es.requests = requests;
  es.opens = queue(es, 'open');
  es.messages = queue(es, 'message');
  es.errors = queue(es, 'error');
  return es;
}

function publish(server, body) {
  return request(server.base, '/api/publish', {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).then((r) => {
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body).delivered;
  });
}

function api(server, method, path) {
  return request(server.base, path, { method, headers: { Authorization: `Bearer ${TOKEN}` } });
}

/** The stream (spark) id of an event id "<stream>:<n>". */
const streamOf = (id) => id.slice(0, id.lastIndexOf(':'));

const server = await start();

test('open: text/event-stream with the no-buffer headers, a 2 KiB comment prelude, then retry', opts, async () => {
  const { res, start: head } = await new Promise((resolve, reject) => {
    const req = http.get(`${server.base}/primus/sse`, { headers: { Accept: 'text/event-stream' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
        if (/\nretry: \d+\n/.test(text)) {
          resolve({ res, start: text });
          req.destroy();
        }
      });
    });
    req.on('error', reject);
  });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'], /^text\/event-stream/);
  assert.match(res.headers['cache-control'], /no-cache/);
  assert.match(res.headers['cache-control'], /no-store/);
  assert.equal(res.headers['x-accel-buffering'], 'no');
  assert.equal(res.headers.connection, 'keep-alive');
  assert.equal(res.headers['content-length'], undefined);
  assert.equal(head, `:${' '.repeat(2048)}\nretry: ${RETRY_MS}\n`);
});

test('events: a message published to a room reaches its subscribers only, with ids naming each stream', opts, async () => {
  const a = subscribe(server, 'rooms=lobby');
  const b = subscribe(server, 'rooms=news,lobby');
  const other = subscribe(server, 'rooms=elsewhere');
  await Promise.all([a.opens.next(), b.opens.next(), other.opens.next()]);
  assert.equal(await publish(server, { rooms: ['lobby'], data: { text: 'hi', n: 1 } }), 2);
  assert.equal(await publish(server, { rooms: ['elsewhere'], data: 'second' }), 1);
  const [ma, mb, mo] = await Promise.all([a.messages.next(), b.messages.next(), other.messages.next()]);
  assert.deepEqual(JSON.parse(ma.data), { text: 'hi', n: 1 });
  assert.deepEqual(JSON.parse(mb.data), { text: 'hi', n: 1 });
  assert.equal(JSON.parse(mo.data), 'second', 'the other room got only its own message');
  for (const m of [ma, mb, mo]) assert.match(m.lastEventId, /^[A-Za-z0-9_-]+:1$/);
  assert.notEqual(streamOf(ma.lastEventId), streamOf(mb.lastEventId));
  const members = JSON.parse((await api(server, 'GET', '/api/rooms/lobby')).body).members.map((m) => m.id).sort();
  assert.deepEqual(members, [streamOf(ma.lastEventId), streamOf(mb.lastEventId)].sort(), 'the stream id is the spark id');
  for (const es of [a, b, other]) es.close();
});

test('named events: an event publish is dispatched under its name, not to message listeners', opts, async () => {
  const es = subscribe(server, 'rooms=named');
  const chats = queue(es, 'chat');
  await es.opens.next();
  await publish(server, { rooms: ['named'], event: 'chat', data: { text: 'hello' } });
  await publish(server, { rooms: ['named'], event: 'chat' });
  await publish(server, { rooms: ['named'], data: 'plain' });
  const first = await chats.next();
  assert.equal(first.type, 'chat');
  assert.deepEqual(JSON.parse(first.data), { text: 'hello' }, 'one argument: the argument itself');
  assert.deepEqual(JSON.parse((await chats.next()).data), [], 'no argument: an empty array');
  const plain = await es.messages.next();
  assert.equal(JSON.parse(plain.data), 'plain', 'the message listener saw only the plain message');
  assert.match(plain.lastEventId, /:3$/, 'events and messages share the stream\'s numbering');
  es.close();
});

test('order: 200 publications arrive complete and in order, ids counting up', opts, async () => {
  const es = subscribe(server, 'rooms=order');
  await es.opens.next();
  for (let i = 0; i < 200; i++) await publish(server, { rooms: ['order'], data: i });
  for (let i = 0; i < 200; i++) {
    const m = await es.messages.next();
    assert.equal(JSON.parse(m.data), i);
    assert.ok(m.lastEventId.endsWith(`:${i + 1}`), m.lastEventId);
  }
  es.close();
});

test('bad input: an invalid room name is refused with 400 and the EventSource does not retry', opts, async () => {
  const es = subscribe(server, 'rooms=a,,b');
  const err = await es.errors.next();
  assert.equal(err.code, 400);
  assert.equal(es.readyState, EventSource.CLOSED);
  await delay(RETRY_MS * 5);
  assert.equal(es.requests.length, 1);
});

test('204: a stream the server ends for good (DELETE /api/sparks/<id>) says end, and its reconnect is refused with 204', opts, async () => {
  const es = subscribe(server, 'rooms=doomed');
  const ends = queue(es, 'end');
  await es.opens.next();
  await publish(server, { rooms: ['doomed'], data: 'before' });
  const m = await es.messages.next();
  const id = streamOf(m.lastEventId);
  assert.equal((await api(server, 'DELETE', `/api/sparks/${id}`)).status, 200);
  const end = await ends.next();
  assert.equal(end.lastEventId, `${id}:end`, 'the end event carries the end marker as its id');
  assert.equal(end.data, '');
  assert.equal(es.messages.pending(), 0, 'the end is not a message');
  const err = await es.errors.next();
  // The first error may be the end of the stream (reconnecting); the 204 follows.
  const final = err.code === 204 ? err : await es.errors.next();
  assert.equal(final.code, 204);
  assert.equal(es.readyState, EventSource.CLOSED);
  assert.equal(es.requests.length, 2);
  assert.equal(es.requests[1].headers['Last-Event-ID'], `${id}:end`, 'the reconnect carried the end marker');
  assert.equal(es.requests[1].status, 204);
  await delay(RETRY_MS * 7);
  assert.equal(es.requests.length, 2, 'no further attempt');
  assert.equal((await api(server, 'GET', '/api/rooms/doomed')).status, 404, 'the refused reconnect made no subscriber');
});

test('CORS: a foreign Origin is refused (403) and not retried; a listed one gets the stream and Access-Control-Allow-Origin', opts, async () => {
  const cors = await start(['--origins', 'https://app.example']);
  try {
    const evil = subscribe(cors, 'rooms=c', { Origin: 'https://evil.example' });
    const err = await evil.errors.next();
    assert.equal(err.code, 403);
    assert.equal(evil.readyState, EventSource.CLOSED);
    const good = subscribe(cors, 'rooms=c', { Origin: 'https://app.example' });
    await good.opens.next();
    assert.equal(good.requests[0].response['access-control-allow-origin'], 'https://app.example');
    await publish(cors, { rooms: ['c'], data: 'cross-origin' });
    assert.equal(JSON.parse((await good.messages.next()).data), 'cross-origin');
    await delay(RETRY_MS * 3);
    assert.equal(evil.requests.length, 1);
    good.close();
  } finally {
    await terminate(cors);
  }
});

test('reconnect: after a restart the client comes back with Last-Event-ID and gets a new stream from now', opts, async () => {
  const first = await start();
  let second;
  try {
    const es = subscribe(first, 'rooms=deploy');
    await es.opens.next();
    await publish(first, { rooms: ['deploy'], data: 'one' });
    const m = await es.messages.next();
    await terminate(first);
    const gone = await es.errors.next();
    assert.equal(gone.readyState, EventSource.CONNECTING, 'a plain end (and the refused connections after it) make it reconnect');
    second = await start(['--addr', first.addr]);
    await es.opens.next(7000);
    const reconnect = es.requests.at(-1);
    assert.equal(reconnect.status, 200);
    assert.equal(reconnect.headers['Last-Event-ID'], m.lastEventId);
    await until(async () => (await api(second, 'GET', '/api/rooms/deploy')).status === 200);
    await publish(second, { rooms: ['deploy'], data: 'two' });
    const n = await es.messages.next();
    assert.equal(JSON.parse(n.data), 'two');
    assert.notEqual(streamOf(n.lastEventId), streamOf(m.lastEventId), 'a new stream (a new spark)');
    assert.match(n.lastEventId, /:1$/, 'that starts from now');
    es.close();
  } finally {
    await terminate(first);
    if (second) await terminate(second);
  }
});

after(() => terminate(server));
