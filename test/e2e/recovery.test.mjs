// End-to-end test of recovery in the chat demo: `cmd/allspark` on Redis
// (127.0.0.1:6379, a key prefix of this run's own) with the demo's room
// history, two Chromium pages (our JS client) in its lobby. Node A, which
// the pages use, is stopped (SIGTERM, then in a second case SIGKILL) while
// node B, a second binary on the same Redis, keeps publishing to the lobby
// through its HTTP API; A comes back on the same port. Each page must show
// every message exactly once and in order, with the same spark and no
// join sent by the page or seen by the server. Then two cases where the
// missed messages cannot be replayed — more than the history keeps
// (truncated), the room's stream deleted (a new epoch) — where the page
// says so and reloads the room from the server's history. Last, the page
// on the stock socket.io-client with --socketio-recovery: the same socket
// back after a SIGKILL restart, every message once, no join.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'package.json'));
const { chromium } = require('playwright-core');
const Redis = require('ioredis');
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'e2e-token';
// The machine's Redis, as broker/redis's tests use it (and start it when nothing answers).
const REDIS = '127.0.0.1:6379';
// Every case has its own prefix under this one, so runs and cases never share a key.
const RUN = `e2e-recovery-${process.pid}-${Date.now()}`;

const bin = mkdtempSync(join(tmpdir(), 'allspark-recovery-'));
const exe = join(bin, 'allspark');
const children = new Set();
let browser;
let redis;
const pageErrors = [];

/** Starts the binary; resolves { base, port, log(), stop(signal) } once it logs its address. */
function startServer(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    let log = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listening line: ${log}`)); }, 15000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /allspark listening.*?addr=(127\.0\.0\.1:(\d+))/.exec(log);
      if (m && !child.resolved) {
        child.resolved = true;
        clearTimeout(timer);
        resolve({ base: `http://${m[1]}`, port: Number(m[2]), log: () => log, stop: (signal) => stop(child, signal) });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); children.delete(child); if (!child.resolved) reject(new Error(`allspark exited ${code}: ${log}`)); });
  });
}

/** Stops child with signal; resolves with its exit code (null when killed). */
function stop(child, signal) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const kill = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.once('exit', (code) => { clearTimeout(kill); resolve(code); });
    child.kill(signal);
  });
}

/** Node id's flags: the shared broker, the API, debug logs (the demo logs joins and restores at debug). */
const nodeArgs = (prefix, id, addr, history, ...extra) => ['--addr', addr, '--api-token', TOKEN, '--node-id', id,
  '--broker', `redis://${REDIS}/0?prefix=${prefix}`, '--log-level', 'debug',
  ...(history ? ['--history', history] : []), ...extra];

async function dropKeys(pattern) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run does)`);
  const [host, port] = REDIS.split(':');
  const connect = async () => {
    const r = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r.on('error', () => {});
    try { await r.connect(); return r; } catch { r.disconnect(); return null; }
  };
  redis = await connect();
  if (!redis) {
    // Left running for the next suite, as broker/redis's helper does.
    execFileSync('redis-server', ['--port', port, '--save', '', '--appendonly', 'no', '--daemonize', 'yes']);
    for (let i = 0; i < 50 && !redis; i++) {
      await new Promise((r) => setTimeout(r, 100));
      redis = await connect();
    }
    if (!redis) throw new Error(`no Redis at ${REDIS}, and redis-server did not start there`);
  }
  execFileSync('go', ['build', '-o', exe, './cmd/allspark'], { cwd: root, stdio: 'inherit' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

after(async () => {
  await browser?.close();
  await Promise.all([...children].map((c) => stop(c, 'SIGKILL')));
  if (redis) {
    await dropKeys(`${RUN}*`);
    redis.disconnect();
  }
  rmSync(bin, { recursive: true, force: true });
});

const until = (page, fn, arg, ms = 20000) => page.waitForFunction(fn, arg, { timeout: ms });
const lines = (page) => page.$$eval('#messages .msg .text', (els) => els.map((e) => e.textContent));
const demo = (page) => page.evaluate(() => JSON.parse(JSON.stringify(globalThis.demo)));

async function openChat(context, base, name) {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  await page.goto(`${base}/?name=${name}`);
  await until(page, () => document.querySelector('#status').dataset.state === 'open' && document.querySelector('#rooms li[data-room="lobby"]'));
  return page;
}

async function publish(node, text) {
  const res = await fetch(`${node.base}/api/publish`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ rooms: ['lobby'], event: 'message', data: { room: 'lobby', name: 'ops', text } }),
  });
  assert.equal(res.status, 200, `publish ${text}: ${await res.text()}`);
}

async function waitFor(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Node A (the pages') and node B on one prefix, the two pages on A in the
 * lobby, and the messages `before` shown on both.
 */
async function setUp(name, history) {
  const prefix = `${RUN}-${name}`;
  const a = await startServer(nodeArgs(prefix, 'a', '127.0.0.1:0', history));
  const b = await startServer(nodeArgs(prefix, 'b', '127.0.0.1:0', history));
  const context = await browser.newContext();
  const pages = [await openChat(context, a.base, 'alice'), await openChat(context, a.base, 'bob')];
  const ids = [];
  for (const page of pages) {
    const d = await demo(page);
    assert.equal(d.sessions.length, 1);
    assert.equal(d.joins, 1, 'a first connect joins the lobby');
    ids.push(d.sessions[0].id);
  }
  // Both are members cluster-wide (B answers): their session records hold the lobby.
  await waitFor('both members on every node', async () => {
    const res = await fetch(`${b.base}/api/rooms/lobby`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    return res.status === 200 && (await res.json()).members.length === 2;
  });
  const sent = ['before 1', 'before 2', 'before 3'];
  for (const t of sent) await publish(a, t);
  for (const page of pages) await until(page, (t) => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === t), sent.at(-1));
  return { prefix, a, b, context, pages, ids, sent };
}

/** Restarts A on its port after signal; resolves with the new A. */
async function restart(a, signal, prefix, history) {
  const code = await a.stop(signal);
  if (signal === 'SIGTERM') {
    assert.equal(code, 0);
    assert.match(a.log(), /shutting down; clients will reconnect/);
  }
  return startServer(nodeArgs(prefix, 'a', `127.0.0.1:${a.port}`, history));
}

/** Resolves once every page has had `n` session envelopes. */
const sessions = (pages, n) => Promise.all(pages.map((p) => until(p, (k) => globalThis.demo.sessions.length >= k, n)));

for (const signal of ['SIGTERM', 'SIGKILL']) {
  test(`recovery: the demo survives a ${signal} restart of its node with no lost message and no re-join`, async () => {
    const { prefix, a, b, context, pages, ids, sent } = await setUp(signal.toLowerCase());
    // B publishes, one message after the other, from before the stop until
    // after both pages are back.
    let publishing = true;
    let n = 0;
    const loop = (async () => {
      while (publishing) {
        const t = `during ${++n}`;
        await publish(b, t);
        sent.push(t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let a2;
    let down = 0;
    let up = 0;
    try {
      await waitFor('B publishing', () => n >= 5);
      const code = await a.stop(signal);
      if (signal === 'SIGTERM') {
        assert.equal(code, 0);
        assert.match(a.log(), /shutting down; clients will reconnect/);
      }
      // Messages published while A is down: the pages can only have them from the stream.
      down = n;
      await waitFor('B publishing while A is down', () => n >= down + 20);
      a2 = await startServer(nodeArgs(prefix, 'a', `127.0.0.1:${a.port}`));
      up = n;
      await sessions(pages, 2);
      const stopAt = n + 10;
      await waitFor('more publishing after the restore', () => n >= stopAt);
      publishing = false;
      await loop;
      for (const t of ['after 1', 'after 2']) { await publish(a2, t); sent.push(t); }

      for (const [i, page] of pages.entries()) {
        await until(page, (t) => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === t), sent.at(-1));
        assert.deepEqual(await lines(page), sent, `page ${i}: every message once, in order`);
        const d = await demo(page);
        assert.equal(d.sessions.length, 2);
        assert.deepEqual(d.sessions[1], { id: ids[i], restored: true, recovered: true, reason: '' }, `page ${i}: the same spark, recovered`);
        assert.equal(d.joins, 1, `page ${i}: no join sent after the restart`);
        assert.deepEqual(d.reloads, []);
        assert.equal(await page.textContent('#status'), 'connected · session restored');
        assert.equal(await page.$$eval('#messages .notice', (els) => els.filter((e) => e.textContent.startsWith('you joined')).length), 1);
      }
      // The restarted server restored both sparks with their lobby and joined nobody.
      for (const id of ids) assert.match(a2.log(), new RegExp(`msg="demo session restored" spark=${id} rooms=\\[lobby\\] recovered=true`));
      assert.doesNotMatch(a2.log(), /msg="demo join"/);
      const res = await fetch(`${a2.base}/api/rooms/lobby`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      assert.deepEqual((await res.json()).members.map((m) => [m.id, m.node]).sort(), ids.map((id) => [id, 'a']).sort());
    } finally {
      publishing = false; // a failed assertion must not leave B publishing
      await loop.catch(() => {});
    }
    console.log(`# ${signal}: ${sent.length} messages, ${up - down} of them while A was down`);
    await context.close();
    await Promise.all([a2.stop('SIGTERM'), b.stop('SIGTERM')]);
    assert.deepEqual(pageErrors, []);
  });
}

test('recovery: past the history size the page says so and reloads the room', async () => {
  const history = '*=5/10m';
  const { prefix, a, b, context, pages, ids, sent } = await setUp('truncated', history);
  await a.stop('SIGKILL');
  const missed = Array.from({ length: 10 }, (_, i) => `missed ${i + 1}`);
  for (const t of missed) await publish(b, t);
  const a2 = await restart(a, 'SIGKILL', prefix, history);
  await sessions(pages, 2);
  for (const [i, page] of pages.entries()) {
    await until(page, () => globalThis.demo.reloads.length === 1);
    const d = await demo(page);
    assert.deepEqual(d.sessions[1], { id: ids[i], restored: true, recovered: false, reason: 'truncated' });
    assert.deepEqual(d.reloads, [{ room: 'lobby', reason: 'truncated', messages: 5 }]);
    assert.equal(d.joins, 1, 'the restored spark is still in the lobby: no join');
    assert.equal(await page.textContent('#status'), 'connected · missed messages lost (truncated): reloaded #lobby');
    // What was shown stays; the history's last 5 follow the notice.
    assert.deepEqual(await lines(page), [...sent, ...missed.slice(-5)]);
    assert.match(await page.textContent('#messages .notice.reload'), /^reloaded #lobby \(truncated\): 5 of the last 5 messages were new$/);
  }
  // Live messages go on after the reload, once each.
  await publish(b, 'live after reload');
  for (const page of pages) {
    await until(page, () => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === 'live after reload'));
    assert.deepEqual(await lines(page), [...sent, ...missed.slice(-5), 'live after reload']);
  }
  assert.doesNotMatch(a2.log(), /msg="demo join"/);
  await context.close();
  await Promise.all([a2.stop('SIGTERM'), b.stop('SIGTERM')]);
  assert.deepEqual(pageErrors, []);
});

test('recovery: the room stream deleted (new epoch): the page says so and reloads the room', async () => {
  const { prefix, a, b, context, pages, ids, sent } = await setUp('epoch');
  await a.stop('SIGKILL');
  await dropKeys(`${prefix}:h:*`); // the lobby's stream and position: as an eviction would
  const fresh = ['new epoch 1', 'new epoch 2'];
  for (const t of fresh) await publish(b, t);
  const a2 = await restart(a, 'SIGKILL', prefix);
  await sessions(pages, 2);
  for (const [i, page] of pages.entries()) {
    await until(page, () => globalThis.demo.reloads.length === 1);
    const d = await demo(page);
    assert.deepEqual(d.sessions[1], { id: ids[i], restored: true, recovered: false, reason: 'epoch' });
    assert.deepEqual(d.reloads, [{ room: 'lobby', reason: 'epoch', messages: 2 }]);
    assert.equal(d.joins, 1);
    assert.equal(await page.textContent('#status'), 'connected · missed messages lost (epoch): reloaded #lobby');
    assert.deepEqual(await lines(page), [...sent, ...fresh]);
  }
  await publish(a2, 'live in the new epoch');
  for (const page of pages) {
    await until(page, () => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === 'live in the new epoch'));
    assert.deepEqual(await lines(page), [...sent, ...fresh, 'live in the new epoch']);
  }
  await context.close();
  await Promise.all([a2.stop('SIGTERM'), b.stop('SIGTERM')]);
  assert.deepEqual(pageErrors, []);
});

test('recovery: a Socket.IO page (stock socket.io-client, --socketio-recovery) survives a SIGKILL restart without re-joining', async () => {
  const prefix = `${RUN}-socketio`;
  const a = await startServer(nodeArgs(prefix, 'a', '127.0.0.1:0', '', '--socketio-recovery'));
  const b = await startServer(nodeArgs(prefix, 'b', '127.0.0.1:0', '', '--socketio-recovery'));
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`carol: ${err.message}`));
  await page.goto(`${a.base}/?client=socketio&name=carol`);
  await until(page, () => document.querySelector('#status').dataset.state === 'open' && document.querySelector('#rooms li[data-room="lobby"]'));
  const id = await page.evaluate(() => globalThis.socket.id);
  await waitFor('carol in the lobby on every node', async () => {
    const res = await fetch(`${b.base}/api/rooms/lobby`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    return res.status === 200 && (await res.json()).members.length === 1;
  });
  const sent = ['before 1', 'before 2'];
  for (const t of sent) await publish(a, t);
  await until(page, (t) => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === t), sent.at(-1));

  await a.stop('SIGKILL');
  for (let i = 1; i <= 10; i++) { await publish(b, `missed ${i}`); sent.push(`missed ${i}`); }
  const a2 = await startServer(nodeArgs(prefix, 'a', `127.0.0.1:${a.port}`, '', '--socketio-recovery'));
  await until(page, () => globalThis.socket.connected && globalThis.socket.recovered);
  for (const t of ['after 1', 'after 2']) { await publish(a2, t); sent.push(t); }
  await until(page, (t) => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === t), sent.at(-1));
  assert.deepEqual(await lines(page), sent, 'every message once, in order');
  assert.equal(await page.evaluate(() => globalThis.socket.id), id, 'the same socket id');
  assert.equal((await demo(page)).joins, 1, 'no join sent after the restart');
  assert.equal(await page.textContent('#status'), 'connected · session restored');
  assert.match(a2.log(), new RegExp(`msg="demo session restored" spark=${id} rooms=\\[lobby\\] recovered=true`));
  assert.doesNotMatch(a2.log(), /msg="demo join"/);
  await context.close();
  await Promise.all([a2.stop('SIGTERM'), b.stop('SIGTERM')]);
  assert.deepEqual(pageErrors, []);
});
