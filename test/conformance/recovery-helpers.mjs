// Helpers shared by the recovery suites (recovery.test.mjs with our JS
// client, socketio-recovery.test.mjs with the stock socket.io-client): the
// recoveryfixture's admin endpoints and this run's keys in Redis.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from './helpers.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));
const Redis = require('ioredis');

/** The Redis server of the machine. */
export const REDIS = '127.0.0.1:6379';

/** A key prefix of this run's own, named after the suite. */
export const runPrefix = (suite) => `${suite}-${process.pid}-${Date.now().toString(36)}`;

/** The integers from..to. */
export const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Publishes the integers from..to to room, one "msg" event each; resolves once all are written. */
export async function publish(server, room, from, to) {
  const q = new URLSearchParams({ room, from: String(from), to: String(to) });
  const res = await fetch(`${server.base}/admin/publish?${q}`, { method: 'POST' });
  assert.equal(res.status, 204, `publish: ${await res.text()}`);
}

/** The fixture's view of a live spark: { rooms, restored, recovered, reason }, or null when there is none. */
export async function sparkInfo(server, id) {
  const res = await fetch(`${server.base}/admin/spark?id=${encodeURIComponent(id)}`);
  if (res.status === 404) return null;
  assert.equal(res.status, 200);
  return res.json();
}

/** Deletes every key under prefix. */
export async function cleanRedis(prefix) {
  const redis = new Redis(`redis://${REDIS}`, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
