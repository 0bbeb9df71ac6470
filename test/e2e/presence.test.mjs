// End-to-end test of cluster-wide presence in the chat demo: two
// `cmd/allspark` processes on one Redis (a redis-server of the test's own,
// on a free port), pages in headless Chromium on both. The member list is
// one entry per user across the nodes (a user with two tabs is listed once),
// and when one node is killed with SIGKILL its users leave the other node's
// list once the cluster forgets it (NodeTTL), with a "left" notice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { chromium } = createRequire(join(root, 'package.json'))('playwright-core');
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const bin = mkdtempSync(join(tmpdir(), 'allspark-e2e-presence-'));
const exe = join(bin, 'allspark');
const children = new Set();
let browser;
const pageErrors = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Spawns cmd and resolves once its output matches ready. */
function spawnUntil(cmd, args, ready, what) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let log = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${what} not ready: ${log}`)); }, 15000);
    const onData = (chunk) => {
      log += chunk;
      const m = ready.exec(log);
      if (m && !child.resolved) {
        child.resolved = true;
        clearTimeout(timer);
        resolve({ child, m });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); if (!child.resolved) reject(new Error(`${what} exited ${code}: ${log}`)); });
  });
}

function stop(child, signal) {
  return new Promise((resolve) => {
    children.delete(child);
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const kill = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.once('exit', (code) => { clearTimeout(kill); resolve(code); });
    child.kill(signal);
  });
}

async function startNode(redisURL, node) {
  const { child, m } = await spawnUntil(exe, ['--addr', '127.0.0.1:0', '--broker', redisURL, '--node-id', node],
    /allspark listening.*?addr=(127\.0\.0\.1:\d+)/, `allspark ${node}`);
  return { base: `http://${m[1]}`, child };
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run does)`);
  execFileSync('go', ['build', '-o', exe, './cmd/allspark'], { cwd: root, stdio: 'inherit' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

after(async () => {
  await browser?.close();
  await Promise.all([...children].map((c) => stop(c, 'SIGKILL')));
  rmSync(bin, { recursive: true, force: true });
});

const texts = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent));
const until = (page, fn, arg, ms = 15000) => page.waitForFunction(fn, arg, { timeout: ms });

async function openChat(context, base, name) {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  await page.goto(`${base}/?name=${encodeURIComponent(name)}`);
  await until(page, () => document.querySelector('#status').dataset.state === 'open');
  await until(page, (n) => [...document.querySelectorAll('#members li')].some((li) => li.textContent === n), name);
  return page;
}

test('presence: the member list spans two nodes on Redis, one entry per user; a SIGKILLed node\'s users leave', async () => {
  const port = await freePort();
  await spawnUntil('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    /Ready to accept connections/, 'redis-server');
  const redisURL = `redis://127.0.0.1:${port}/0?prefix=e2e-presence`;
  const n1 = await startNode(redisURL, 'n1');
  const n2 = await startNode(redisURL, 'n2');
  const context = await browser.newContext();
  const alice = await openChat(context, n1.base, 'alice');
  const bob = await openChat(context, n2.base, 'bob');
  const bobTab2 = await openChat(context, n2.base, 'bob');

  // Both nodes' users, each once, on both nodes' pages.
  for (const page of [alice, bob, bobTab2]) {
    await until(page, () => document.querySelectorAll('#members li').length === 2);
    assert.deepEqual(await texts(page, '#members li'), ['alice', 'bob']);
  }
  assert.equal(await alice.textContent('#members-title'), 'Online in #lobby (2)');
  await until(alice, () => [...document.querySelectorAll('#messages .notice')].some((e) => e.textContent.includes('bob joined')));

  // One of bob's tabs closes: bob is still there.
  await bobTab2.close();
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await texts(alice, '#members li'), ['alice', 'bob']);

  // n2 dies without a word: alice's node forgets it after NodeTTL (6 s by
  // default) and bob leaves her list.
  const killed = Date.now();
  await stop(n2.child, 'SIGKILL');
  await until(alice, () => document.querySelectorAll('#members li').length === 1, undefined, 20000);
  assert.deepEqual(await texts(alice, '#members li'), ['alice']);
  await until(alice, () => [...document.querySelectorAll('#messages .notice')].some((e) => e.textContent.includes('bob left')));
  const took = Date.now() - killed;
  console.log(`bob left alice's list ${took} ms after n2 was killed`);
  assert.ok(took < 15000, `took ${took} ms`);
  assert.deepEqual(pageErrors, []);
  await context.close();
});
