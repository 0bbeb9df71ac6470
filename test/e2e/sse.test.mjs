// Server-Sent Events end to end in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core): a page with a plain
// `new EventSource(url)`, no library, receives room messages and named
// events published over the HTTP API of `cmd/allspark`; when the server
// ends its spark for good it gets "end" and the browser's reconnect is told
// 204, so the EventSource closes; from another origin the stream is refused
// unless --origins lists the page, and then the browser's own CORS check
// lets the events through.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import http from 'node:http';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { chromium } = createRequire(join(root, 'package.json'))('playwright-core');
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'e2e-sse-token';

const bin = mkdtempSync(join(tmpdir(), 'allspark-e2e-sse-'));
const exe = join(bin, 'allspark');
const children = new Set();
let browser;
const pageErrors = [];

/** Starts the binary with the API on and a short retry; resolves { base, stop } once it logs its address. */
function startServer(extra = []) {
  const args = ['--addr', '127.0.0.1:0', '--api-token', TOKEN, '--sse-retry', '200ms', '--demo=false', ...extra];
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    let log = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listening line: ${log}`)); }, 15000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /allspark listening.*?addr=(127\.0\.0\.1:\d+)/.exec(log);
      if (m && !child.resolved) {
        child.resolved = true;
        clearTimeout(timer);
        resolve({ base: `http://${m[1]}`, stop: () => stop(child) });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); if (!child.resolved) reject(new Error(`allspark exited ${code}: ${log}`)); });
  });
}

function stop(child) {
  return new Promise((resolve) => {
    children.delete(child);
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run does)`);
  execFileSync('go', ['build', '-o', exe, './cmd/allspark'], { cwd: root, stdio: 'inherit' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

after(async () => {
  await browser?.close();
  await Promise.all([...children].map((c) => stop(c)));
  rmSync(bin, { recursive: true, force: true });
});

/**
 * The page under test: nothing but an EventSource on streamURL, listing
 * what it gets in window.got ({type, data, id}) and its state changes in
 * window.states.
 */
const PAGE = (streamURL) => `<!doctype html><meta charset="utf-8"><title>SSE</title><ul id="got"></ul>
<script>
  window.got = [];
  window.states = [];
  const es = new EventSource(${JSON.stringify(streamURL)});
  window.es = es;
  const show = (e) => {
    window.got.push({ type: e.type, data: e.data, id: e.lastEventId });
    const li = document.createElement('li');
    li.textContent = e.type + ': ' + e.data;
    document.getElementById('got').append(li);
  };
  es.onmessage = show;
  es.addEventListener('chat', show);
  es.addEventListener('end', show);
  es.onopen = () => window.states.push('open');
  es.onerror = () => window.states.push(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
</script>`;

/** Opens PAGE at url, served by the test itself (page.route), so the page has url's origin. */
async function openPage(url, streamURL) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.route(url, (route) => route.fulfill({ contentType: 'text/html', body: PAGE(streamURL) }));
  await page.goto(url);
  return { page, close: () => context.close() };
}

/**
 * A plain loopback HTTP server for pages of another origin (a routed page
 * on a made-up host would be a public origin, whose requests to loopback
 * Chromium's Private Network Access blocks before CORS is even asked).
 */
function startPageServer() {
  return new Promise((resolve) => {
    const pages = new Map();
    const hs = http.createServer((req, res) => {
      const body = pages.get(req.url);
      res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html' }).end(body ?? '');
    });
    hs.listen(0, '127.0.0.1', () => resolve({
      origin: `http://127.0.0.1:${hs.address().port}`,
      serve: (path, streamURL) => pages.set(path, PAGE(streamURL)),
      close: () => new Promise((r) => { hs.closeAllConnections(); hs.close(r); }),
    }));
  });
}

async function openForeign(pages, path, streamURL) {
  pages.serve(path, streamURL);
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(pages.origin + path);
  return { page, close: () => context.close() };
}

async function api(base, method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const until = (page, fn, arg, ms = 15000) => page.waitForFunction(fn, arg, { timeout: ms });

test('browser: a plain EventSource receives room messages and named events published over the HTTP API; a server end closes it', { timeout: 60000 }, async () => {
  const srv = await startServer();
  const { page, close } = await openPage(`${srv.base}/sse.html`, '/primus/sse?rooms=lobby');
  try {
    await until(page, () => window.states.includes('open'));
    assert.equal((await api(srv.base, 'POST', '/api/publish', { rooms: ['lobby'], data: { text: 'hello browser' } })).body.delivered, 1);
    await api(srv.base, 'POST', '/api/publish', { rooms: ['lobby'], event: 'chat', data: { from: 'ops', text: 'deploy done' } });
    await api(srv.base, 'POST', '/api/publish', { rooms: ['elsewhere', 'lobby'], data: 'multi-line\nstays one message' });
    await until(page, () => window.got.length === 3);
    const got = await page.evaluate(() => window.got);
    assert.deepEqual(got.map((g) => g.type), ['message', 'chat', 'message']);
    assert.deepEqual(JSON.parse(got[0].data), { text: 'hello browser' });
    assert.deepEqual(JSON.parse(got[1].data), { from: 'ops', text: 'deploy done' });
    assert.equal(JSON.parse(got[2].data), 'multi-line\nstays one message');
    const spark = got[0].id.slice(0, got[0].id.lastIndexOf(':'));
    assert.deepEqual(got.map((g) => g.id), [`${spark}:1`, `${spark}:2`, `${spark}:3`]);
    assert.deepEqual((await api(srv.base, 'GET', '/api/rooms/lobby')).body.members.map((m) => m.id), [spark]);
    assert.match(await page.textContent('#got'), /chat: \{"from":"ops"/);

    // Ended for good: the page gets "end", the browser's reconnect (with the
    // end marker as its Last-Event-ID) is answered 204, and it gives up.
    assert.equal((await api(srv.base, 'DELETE', `/api/sparks/${spark}`)).status, 200);
    await until(page, () => window.states.includes('closed'));
    const after = await page.evaluate(() => ({ got: window.got, states: window.states, readyState: window.es.readyState }));
    assert.deepEqual(after.got.at(-1), { type: 'end', data: '', id: `${spark}:end` });
    assert.equal(after.readyState, 2);
    await page.waitForTimeout(1000); // five retry intervals: no new subscriber comes
    assert.equal((await api(srv.base, 'GET', '/api/rooms/lobby')).status, 404);
    assert.deepEqual(pageErrors, []);
  } finally {
    await close();
    await srv.stop();
  }
});

test('browser: from another origin the stream is refused, unless --origins lists the page', { timeout: 60000 }, async () => {
  const pages = await startPageServer();
  const closed = await startServer();
  const open = await startServer(['--origins', pages.origin]);
  const refused = await openForeign(pages, '/refused.html', `${closed.base}/primus/sse?rooms=x`);
  const allowed = await openForeign(pages, '/allowed.html', `${open.base}/primus/sse?rooms=x`);
  try {
    await until(refused.page, () => window.states.includes('closed'));
    assert.deepEqual(await refused.page.evaluate(() => window.states), ['closed'], 'refused (403) and not retried');
    assert.equal((await api(closed.base, 'GET', '/api/rooms/x')).status, 404);

    await until(allowed.page, () => window.states.includes('open'));
    await api(open.base, 'POST', '/api/publish', { rooms: ['x'], data: 'across origins' });
    await until(allowed.page, () => window.got.length === 1);
    assert.equal(JSON.parse(await allowed.page.evaluate(() => window.got[0].data)), 'across origins');
    assert.deepEqual(pageErrors, []);
  } finally {
    await refused.close();
    await allowed.close();
    await closed.stop();
    await open.stop();
    await pages.close();
  }
});
