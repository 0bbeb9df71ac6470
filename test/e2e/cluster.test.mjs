// End-to-end test of a cluster: three `cmd/allspark` nodes on one Redis (a
// redis-server of its own, started here on a free port), each serving the
// chat demo. Alice's Chromium page runs our JS client on node 1, bob is the
// stock Primus client (Node, primus-emitter plugin) on node 2, carol's
// Chromium page runs the stock socket.io-client on node 3. They chat in one
// room across the nodes, see each other in the member list, the HTTP API of
// any node publishes to all of them and lists the room cluster-wide, and a
// node killed with SIGKILL drops out of the member list within the cluster's
// TTL.
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
const require = createRequire(join(root, 'package.json'));
const { chromium } = require('playwright-core');
const Primus = require('primus');
const emitter = require('primus-emitter');
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'e2e-token';

const bin = mkdtempSync(join(tmpdir(), 'allspark-cluster-'));
const exe = join(bin, 'allspark');
const children = new Set();
let browser;
let redisURL;
const pageErrors = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Spawns cmd and resolves once a stderr/stdout line matches re. */
function startProcess(cmd, args, re, what) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let log = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${what} did not start: ${log}`)); }, 20000);
    const onData = (chunk) => {
      log += chunk;
      const m = re.exec(log);
      if (m && !child.resolved) {
        child.resolved = true;
        clearTimeout(timer);
        resolve({ child, m, log: () => log });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); children.delete(child); if (!child.resolved) reject(new Error(`${what} exited ${code}: ${log}`)); });
  });
}

async function startNode(id) {
  const { child, m, log } = await startProcess(exe, ['--addr', '127.0.0.1:0', '--api-token', TOKEN, '--broker', redisURL, '--node-id', id],
    /allspark listening.*?addr=(127\.0\.0\.1:\d+)/, `node ${id}`);
  return { id, child, base: `http://${m[1]}`, log };
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run does)`);
  const port = await freePort();
  await startProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    /Ready to accept connections/, 'redis-server');
  redisURL = `redis://127.0.0.1:${port}/0?prefix=e2e${Date.now()}`;
  execFileSync('go', ['build', '-o', exe, './cmd/allspark'], { cwd: root, stdio: 'inherit' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

after(async () => {
  await browser?.close();
  for (const c of children) c.kill('SIGKILL');
  rmSync(bin, { recursive: true, force: true });
});

const texts = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent));
const until = (page, fn, arg, ms = 20000) => page.waitForFunction(fn, arg, { timeout: ms });
const has = (page, text) => until(page, (t) => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === t), text);

async function openChat(context, base, name, query = '') {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  await page.goto(`${base}/${query}`);
  await page.fill('#name', name);
  await page.click('#login-form button');
  await until(page, () => document.querySelector('#status').dataset.state === 'open');
  return page;
}

/** The stock Primus client with primus-emitter, as the demo user name. */
async function stockPrimus(base, name) {
  const Socket = Primus.createSocket({ transformer: 'websockets', pathname: '/primus', plugin: { emitter } });
  const c = new Socket(`${base}/primus?name=${encodeURIComponent(name)}`, { strategy: false });
  c.messages = [];
  c.on('message', (m) => c.messages.push(JSON.parse(JSON.stringify(m))));
  await new Promise((resolve, reject) => { c.once('open', resolve); c.once('error', reject); });
  return c;
}

function call(c, event, ...args) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ack for ${event}`)), 10000);
    c.send(event, ...args, (...reply) => { clearTimeout(t); resolve(JSON.parse(JSON.stringify(reply))); });
  });
}

async function waitFor(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const api = async (node, path, init = {}) => {
  const res = await fetch(`${node.base}${path}`, { ...init, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' } });
  return { status: res.status, body: await res.json() };
};

test('cluster: our JS client, stock Primus and stock Socket.IO on three nodes chat in one room', async () => {
  const nodes = await Promise.all(['n1', 'n2', 'n3'].map(startNode));
  const [n1, n2, n3] = nodes;
  const context = await browser.newContext({ viewport: { width: 1040, height: 640 } });
  const alice = await openChat(context, n1.base, 'alice');
  const bob = await stockPrimus(n2.base, 'bob');
  const [joined] = await call(bob, 'join', { room: 'lobby' });
  assert.equal(joined.room, 'lobby');
  const carol = await openChat(context, n3.base, 'carol', '?client=socketio');

  // Every page lists the members of every node.
  for (const page of [alice, carol]) {
    await until(page, () => document.querySelectorAll('#members li').length === 3);
    assert.deepEqual(await texts(page, '#members li'), ['alice', 'bob', 'carol']);
  }

  // Node 1 → nodes 2 and 3; node 2 → 1 and 3; node 3 → 1 and 2.
  await alice.fill('#text', 'hello from n1');
  await alice.press('#text', 'Enter');
  await has(carol, 'hello from n1');
  await waitFor('bob gets alice', () => bob.messages.some((m) => m.text === 'hello from n1' && m.name === 'alice'));
  const [sent] = await call(bob, 'message', { room: 'lobby', text: 'stock primus on n2' });
  assert.equal(sent.text, 'stock primus on n2');
  await has(alice, 'stock primus on n2');
  await has(carol, 'stock primus on n2');
  await carol.fill('#text', 'socket.io on n3');
  await carol.press('#text', 'Enter');
  await has(alice, 'socket.io on n3');
  await waitFor('bob gets carol', () => bob.messages.some((m) => m.text === 'socket.io on n3'));

  // The HTTP API of one node reaches the sparks of all three and lists the
  // room cluster-wide, with the node of each member.
  const pub = await api(n2, '/api/publish', { method: 'POST', body: JSON.stringify({ rooms: ['lobby'], event: 'message', data: { room: 'lobby', name: 'deploy-bot', text: 'to every node' } }) });
  assert.equal(pub.status, 200);
  for (const page of [alice, carol]) {
    await until(page, () => [...document.querySelectorAll('#messages li.api .text')].some((e) => e.textContent === 'to every node'));
  }
  await waitFor('bob gets the API message', () => bob.messages.some((m) => m.text === 'to every node'));
  const rooms = await api(n1, '/api/rooms');
  assert.deepEqual(rooms.body, { rooms: [{ name: 'lobby', members: 3 }] });
  const lobby = await api(n3, '/api/rooms/lobby');
  assert.deepEqual(lobby.body.members.map((m) => `${m.name}@${m.node}`), ['alice@n1', 'bob@n2', 'carol@n3']);

  // SIGKILL node 2: its member leaves everyone's list within the TTL, and
  // the other nodes keep chatting.
  n2.child.kill('SIGKILL');
  bob.destroy();
  for (const page of [alice, carol]) {
    await until(page, () => document.querySelectorAll('#members li').length === 2, undefined, 30000);
    assert.deepEqual(await texts(page, '#members li'), ['alice', 'carol']);
  }
  await alice.fill('#text', 'still here');
  await alice.press('#text', 'Enter');
  await has(carol, 'still here');
  await waitFor('the room listing forgets n2', async () => {
    const r = await api(n1, '/api/rooms');
    return r.body.rooms.length === 1 && r.body.rooms[0].members === 2 && !r.body.missing_nodes;
  }, 30000);

  await context.close();
  assert.deepEqual(pageErrors, []);
});
