// The HTTP fallback end to end in headless Chromium (Debian's /usr/bin/chromium
// driven by playwright-core): a test proxy in front of the server refuses
// every WebSocket upgrade (403/502) and passes plain HTTP through; the page's
// client runs on Engine.IO long-polling, then the proxy lets upgrades through
// and the client ends up on a WebSocket, messages flowing all along.
//
// The server under test is ALLSPARK_JS_SERVER (js/test/eio.mjs): ours by
// default (the chat demo of cmd/allspark, and cmd/allspark --echo), or the
// stock Node Primus engine.io server (a page loading our bundle). Against
// ours the tests skip, with the reason, until it answers the Engine.IO handshake.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { require, build, startAllspark, cleanup } from '../../js/test/helpers.mjs';
import { which, startTarget, startReference, startProxy } from '../../js/test/eio.mjs';

const { chromium } = require('playwright-core');
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const target = await startTarget();
const test = (name, fn, skip = target.eio) => nodeTest(`${which}: ${name}`, { timeout: 120000, skip: skip ?? false }, fn);
let browser;
const pageErrors = [];

before(async () => {
  if (target.eio && which === 'ours') return; // every test skips
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run does)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

after(async () => {
  await browser?.close();
  await target.stop();
  await cleanup();
});

const until = (page, fn, arg, ms = 15000) => page.waitForFunction(fn, arg, { timeout: ms });

test('browser: WebSockets refused by a proxy → polling; upgrades allowed → WebSocket, no message lost or reordered', async () => {
  // The page and the library come through the proxy too: same origin, as behind a real one.
  let srv, script;
  if (which === 'reference') {
    srv = await startReference();
    script = '/allspark.js';
  } else {
    srv = await target.own();
    script = '/primus/primus.js';
  }
  const proxy = await startProxy(srv.port, 403);
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${proxy.base}/`);
  await page.addScriptTag({ url: script });
  await page.evaluate(() => {
    window.events = [];
    window.received = [];
    window.c = new Primus(location.origin, { upgradeRetry: 200 });
    for (const name of ['open', 'close', 'reconnect scheduled', 'end', 'error']) window.c.on(name, () => window.events.push(name));
    window.c.on('data', (d) => window.received.push(d));
  });
  await until(page, () => window.events.includes('open'));
  assert.equal(await page.evaluate(() => window.c.transport), 'polling');
  await page.evaluate(() => { for (let i = 0; i < 50; i++) window.c.write({ n: i }); });
  await until(page, () => window.received.length === 50);
  assert.ok(proxy.state.refused >= 2, `the plain WebSocket and the upgrade were refused (${proxy.state.refused})`);

  proxy.state.refuse = 0;
  // Writes every 5 ms straddle the upgrade; 40 more once on the WebSocket.
  await page.evaluate(() => new Promise((resolve) => {
    let n = 50;
    let after = 0;
    const t = setInterval(() => {
      window.c.write({ n: n++ });
      if (window.c.transport === 'websocket' && ++after === 40) { clearInterval(t); window.sent = n; resolve(); }
    }, 5);
  }));
  await until(page, () => window.received.length === window.sent);
  const got = await page.evaluate(() => window.received.map((d) => d.n));
  assert.deepEqual(got, [...Array(got.length).keys()]);
  assert.deepEqual(await page.evaluate(() => window.events), ['open'], 'one connection throughout');
  assert.ok(proxy.state.passed >= 1);
  await context.close();
  await proxy.close();
  await srv.stop();
  assert.deepEqual(pageErrors, []);
});

async function openChat(context, base, name) {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  await page.goto(`${base}/`);
  await page.fill('#name', name);
  await page.click('#login-form button');
  await until(page, () => document.querySelector('#status').dataset.state === 'open');
  await until(page, (n) => [...document.querySelectorAll('#members li')].some((li) => li.textContent === n), name);
  return page;
}

const says = (page, text) => until(page, (t) => [...document.querySelectorAll('#messages .msg .text')].some((e) => e.textContent === t), text);

test('demo: chat behind a proxy that refuses WebSockets (polling), then on WebSockets after the proxy reloads', async () => {
  const srv = await startAllspark(build('./cmd/allspark', 'allspark-demo-fallback'), ['--addr', '127.0.0.1:0']);
  const proxy = await startProxy(srv.port, 502);
  const context = await browser.newContext();
  const alice = await openChat(context, proxy.base, 'alice');
  const bob = await openChat(context, proxy.base, 'bob');
  for (const page of [alice, bob]) assert.equal(await page.evaluate(() => client.transport), 'polling');
  await until(alice, () => document.querySelectorAll('#members li').length === 2);
  await bob.fill('#text', 'over long-polling');
  await bob.press('#text', 'Enter');
  await says(alice, 'over long-polling');
  await until(bob, () => document.querySelector('#messages .mine:not(.pending) .text')?.textContent === 'over long-polling');

  // The proxy now carries WebSockets and reloads (cuts every connection):
  // each page reconnects (polling first, as last time) and upgrades at once.
  proxy.state.refuse = 0;
  proxy.drop();
  for (const page of [alice, bob]) {
    // A probe that fails under load is retried after the client's
    // upgradeRetry (30 s), so allow for one retry.
    await until(page, () => client.transport === 'websocket', undefined, 45000);
    await until(page, () => document.querySelector('#status').dataset.state === 'open');
  }
  await until(alice, () => document.querySelectorAll('#members li').length === 2);
  await alice.fill('#text', 'over a websocket');
  await alice.press('#text', 'Enter');
  await says(bob, 'over a websocket');
  assert.ok(proxy.state.passed >= 2);
  await context.close();
  await proxy.close();
  await srv.stop();
  assert.deepEqual(pageErrors, []);
}, target.eio ?? (which === 'reference' ? 'the chat demo needs its Go server (cmd/allspark), not the reference' : null));
