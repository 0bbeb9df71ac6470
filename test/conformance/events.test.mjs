// The stock Primus client on a server that uses named events (docs/events.md):
// envelopes are ordinary data to it, so it keeps exchanging plain data on the
// same connection and can even speak the envelope format by hand.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_TIMEOUT, NEEDS_FIXTURE, startFixture, connect, seen } from './helpers.mjs';

let fx;
before(async () => { fx = await startFixture(); });

const opts = { timeout: TEST_TIMEOUT, skip: NEEDS_FIXTURE };

async function open() {
  const client = connect(fx.base, '/events');
  await seen(client, 'open');
  return client;
}

test('plain data still flows on a server with event handlers', opts, async () => {
  const c = await open();
  c.write({ hello: 'world' });
  c.write('text');
  assert.deepEqual(await c.data.next(), { hello: 'world' });
  assert.equal(await c.data.next(), 'text');
  c.end();
});

test('an envelope written by hand is answered with an ack envelope as data', opts, async () => {
  const c = await open();
  c.write({ allspark: 1, event: 'add', args: [{ A: 2, B: 3 }], id: 1 });
  assert.deepEqual(await c.data.next(), { allspark: 1, ack: 1, args: [5] });
  c.write({ allspark: 1, event: 'add', args: [{ A: 'x' }], id: 2 });
  const failed = await c.data.next();
  assert.equal(failed.ack, 2);
  assert.equal(failed.error.code, 'invalid_argument');
  c.end();
});

test('server events arrive as data objects, interleaved with plain data in order', opts, async () => {
  const c = await open();
  c.write({ allspark: 1, event: 'tell', args: ['news', 'extra'] });
  c.write('after');
  assert.deepEqual(await c.data.next(), { allspark: 1, event: 'news', args: ['extra'] });
  assert.equal(await c.data.next(), 'after');
  c.end();
});

test('an unknown event is reported back, and the connection stays usable', opts, async () => {
  const c = await open();
  c.write({ allspark: 1, event: 'no-such-event', args: [] });
  const report = await c.data.next();
  assert.equal(report.allspark, 1);
  assert.equal(report.error.code, 'unknown_event');
  assert.equal(report.error.event, 'no-such-event');
  c.write({ allspark: 2, event: 'echo' });
  assert.equal((await c.data.next()).error.code, 'bad_envelope');
  c.write(42);
  assert.equal(await c.data.next(), 42);
  assert.deepEqual(c.errors, []);
  c.end();
});
