// End-to-end test of the chat demo served by `cmd/allspark`, in headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core): two pages
// chat in a room, an HTTP publish reaches them, a server restart shows
// "reconnecting in N s" before the chat resumes, and the browser going
// offline shows "offline". It takes a screenshot of the chat; with
// ALLSPARK_SCREENSHOT=1 it saves it as docs/demo.png (the README's picture),
// otherwise in a temporary directory, so ordinary runs leave the tree clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { chromium } = createRequire(join(root, 'package.json'))('playwright-core');
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'e2e-token';

const bin = mkdtempSync(join(tmpdir(), 'allspark-e2e-'));
const exe = join(bin, 'allspark');
const children = new Set();
let browser;
const pageErrors = [];

/** Starts the binary; resolves { base, port, stop(signal) } once it logs its address. */
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
        resolve({ base: `http://${m[1]}`, port: Number(m[2]), log: () => log, stop: (signal = 'SIGTERM') => stop(child, signal) });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); if (!child.resolved) reject(new Error(`allspark exited ${code}: ${log}`)); });
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

async function openChat(context, base, name, query = '') {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  await page.goto(`${base}/${query}`);
  await page.fill('#name', name);
  await page.click('#login-form button');
  await until(page, () => document.querySelector('#status').dataset.state === 'open');
  await until(page, (n) => [...document.querySelectorAll('#members li')].some((li) => li.textContent === n), name);
  return page;
}

test('demo: two pages chat, an HTTP publish arrives, a restart reconnects', async () => {
  const args = ['--addr', '127.0.0.1:0', '--api-token', TOKEN];
  const srv = await startServer(args);
  const context = await browser.newContext({ viewport: { width: 1040, height: 640 } });
  const alice = await openChat(context, srv.base, 'alice');
  const bob = await openChat(context, srv.base, 'bob');

  // Presence: alice sees bob arrive in the lobby.
  await until(alice, () => document.querySelectorAll('#members li').length === 2);
  assert.deepEqual(await texts(alice, '#members li'), ['alice', 'bob']);
  assert.equal(await alice.textContent('#members-title'), 'Online in #lobby (2)');

  // Typing indicator, then the message itself.
  await bob.fill('#text', 'hello');
  await bob.type('#text', ' alice');
  await until(alice, () => document.querySelector('#typing').textContent === 'bob is typing…');
  await bob.press('#text', 'Enter');
  await until(alice, () => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === 'hello alice'));
  await until(alice, () => document.querySelector('#typing').textContent === '');
  // Bob's own line is confirmed by the server's ack.
  await until(bob, () => document.querySelector('#messages .mine:not(.pending) .text')?.textContent === 'hello alice');
  await alice.fill('#text', 'hi bob! try restarting the server');
  await alice.press('#text', 'Enter');
  await until(bob, () => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent.startsWith('hi bob!')));

  // A second room: only alice is in it; lobby traffic shows as unread there.
  await alice.fill('#room-input', 'ops');
  await alice.press('#room-input', 'Enter');
  await until(alice, () => document.querySelector('#room-title').textContent === '# ops');
  await until(alice, () => document.querySelector('#members-title').textContent === 'Online in #ops (1)');
  await bob.fill('#text', 'anyone?');
  await bob.press('#text', 'Enter');
  await until(alice, () => document.querySelector('#rooms li[data-room="lobby"] .unread').textContent === '1');
  assert.equal(await alice.$$eval('#messages .msg', (els) => els.length), 0);
  await alice.click('#rooms li[data-room="lobby"] a');
  await until(alice, () => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === 'anyone?'));
  assert.deepEqual(await texts(alice, '#rooms li a'), ['# lobby', '# ops']);

  // The HTTP publish API reaches both pages.
  const res = await fetch(`${srv.base}/api/publish`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ rooms: ['lobby'], event: 'message', data: { room: 'lobby', name: 'deploy-bot', text: 'v1.2.0 is live' } }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { delivered: 2 });
  for (const page of [alice, bob]) {
    await until(page, () => [...document.querySelectorAll('#messages li.api .text')].some((e) => e.textContent === 'v1.2.0 is live'));
  }
  await bob.fill('#text', 'typing…');
  await until(alice, () => document.querySelector('#typing').textContent === 'bob is typing…');
  const shot = process.env.ALLSPARK_SCREENSHOT === '1'
    ? join(root, 'docs', 'demo.png')
    : join(mkdtempSync(join(tmpdir(), 'allspark-demo-')), 'demo.png');
  await alice.screenshot({ path: shot });
  assert.ok(existsSync(shot), 'screenshot written');
  await bob.fill('#text', '');

  // Restart: SIGTERM shuts down gracefully, telling clients to reconnect.
  assert.equal(await srv.stop('SIGTERM'), 0);
  assert.match(srv.log(), /shutting down; clients will reconnect/);
  await until(alice, () => document.querySelector('#status').dataset.state === 'reconnecting');
  assert.match(await alice.textContent('#status'), /^reconnecting in \d+ s$/);
  assert.equal(await alice.isDisabled('#text'), true);
  const again = await startServer(['--addr', `127.0.0.1:${srv.port}`, '--api-token', TOKEN]);
  for (const page of [alice, bob]) {
    await until(page, () => document.querySelector('#status').dataset.state === 'open', undefined, 20000);
  }
  // Each page is a new spark: it joined the lobby again, so chat resumes.
  await until(alice, () => document.querySelectorAll('#members li').length === 2);
  await bob.fill('#text', 'back again');
  await bob.press('#text', 'Enter');
  await until(alice, () => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === 'back again'));
  // Nobody is told that they themselves left: the member list from before
  // the restart held each page's previous spark, which is gone.
  for (const [page, name] of [[alice, 'alice'], [bob, 'bob']]) {
    const notices = await texts(page, '#messages li.notice');
    assert.ok(!notices.includes(`${name} left`) && !notices.includes(`${name} joined`), `${name} saw ${JSON.stringify(notices)}`);
  }
  // Both rooms were joined again after the restart.
  const rooms = await (await fetch(`${again.base}/api/rooms`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
  assert.deepEqual(rooms, { rooms: [{ name: 'lobby', members: 2 }, { name: 'ops', members: 1 }] });
  // Leaving a room tells the server.
  await alice.click('#rooms li[data-room="ops"] button');
  await until(alice, () => !document.querySelector('#rooms li[data-room="ops"]'));
  const after = await (await fetch(`${again.base}/api/rooms`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
  assert.deepEqual(after, { rooms: [{ name: 'lobby', members: 2 }] });

  // The browser going offline shows as offline; back online, it reconnects at once.
  await context.setOffline(true);
  await until(alice, () => document.querySelector('#status').dataset.state === 'offline');
  assert.equal(await alice.textContent('#status'), 'offline');
  await context.setOffline(false);
  await until(alice, () => document.querySelector('#status').dataset.state === 'open');

  await context.close();
  assert.equal(await again.stop('SIGTERM'), 0);
  assert.deepEqual(pageErrors, []);
});

test('demo: a Socket.IO page (stock socket.io-client) and a Primus page chat in one room, both ways', async () => {
  const srv = await startServer(['--addr', '127.0.0.1:0', '--api-token', TOKEN]);
  const context = await browser.newContext({ viewport: { width: 1040, height: 640 } });
  const alice = await openChat(context, srv.base, 'alice');
  const carol = await openChat(context, srv.base, 'carol', '?client=socketio');
  const lines = (page) => texts(page, '#messages .msg .text');
  const has = (page, text) => until(page, (t) => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === t), text);

  // Carol's page runs the vendored stock client over Socket.IO, upgraded to
  // a WebSocket; alice's runs ours over Primus.
  assert.equal(await carol.textContent('#client-lib'), 'socket.io-client (/demo/vendor/socket.io.min.js)');
  assert.deepEqual(await carol.evaluate(() => [typeof io, typeof globalThis.client]), ['function', 'undefined']);
  await until(carol, () => socket.connected && socket.io.engine.transport.name === 'websocket');
  assert.equal(await alice.evaluate(() => typeof globalThis.socket), 'undefined');

  // Presence crosses the protocols.
  for (const page of [alice, carol]) {
    await until(page, () => document.querySelectorAll('#members li').length === 2);
    assert.deepEqual(await texts(page, '#members li'), ['alice', 'carol']);
  }

  // Socket.IO → Primus, acked to the sender; then Primus → Socket.IO.
  await carol.fill('#text', 'hello from socket.io');
  await carol.press('#text', 'Enter');
  await has(alice, 'hello from socket.io');
  await until(carol, () => document.querySelector('#messages .mine:not(.pending) .text')?.textContent === 'hello from socket.io');
  await alice.fill('#text', 'and back over primus');
  await alice.press('#text', 'Enter');
  await has(carol, 'and back over primus');
  await until(alice, () => document.querySelector('#messages .mine:not(.pending) .text')?.textContent === 'and back over primus');

  // Typing indicators both ways.
  await alice.type('#text', 'x');
  await until(carol, () => document.querySelector('#typing').textContent === 'alice is typing…');
  await alice.fill('#text', '');
  await carol.type('#text', 'y');
  await until(alice, () => document.querySelector('#typing').textContent === 'carol is typing…');
  await carol.fill('#text', '');

  // A room only the Socket.IO page is in: alice's lobby stays quiet.
  await carol.fill('#room-input', 'sio-only');
  await carol.press('#room-input', 'Enter');
  await until(carol, () => document.querySelector('#members-title').textContent === 'Online in #sio-only (1)');
  await carol.fill('#text', 'just me here');
  await carol.press('#text', 'Enter');
  await until(carol, () => document.querySelector('#messages .mine:not(.pending) .text')?.textContent === 'just me here');

  // The HTTP publish API reaches both kinds of page.
  const res = await fetch(`${srv.base}/api/publish`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ rooms: ['lobby'], event: 'message', data: { room: 'lobby', name: 'deploy-bot', text: 'both of you' } }),
  });
  assert.deepEqual(await res.json(), { delivered: 2 });
  await carol.click('#rooms li[data-room="lobby"] a');
  for (const page of [alice, carol]) {
    await until(page, () => [...document.querySelectorAll('#messages li.api .text')].some((e) => e.textContent === 'both of you'));
  }
  assert.ok(!(await lines(alice)).includes('just me here'), 'the sio-only room stayed apart');
  const rooms = await (await fetch(`${srv.base}/api/rooms`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
  assert.deepEqual(rooms, { rooms: [{ name: 'lobby', members: 2 }, { name: 'sio-only', members: 1 }] });

  await context.close();
  assert.equal(await srv.stop('SIGTERM'), 0);
  assert.deepEqual(pageErrors, []);
});
