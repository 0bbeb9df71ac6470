// End-to-end in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): a page loads <pathname>/primus.js from our server and
// uses the global Primus client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { require, build, startAllspark, startFixture, cleanup } from './helpers.mjs';

const { chromium } = require('playwright-core');
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let browser, allspark, fixture, pages, pageOrigin;

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run does)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  // Pages come from another port, so they are cross-origin to the servers,
  // which must list that origin (by default they refuse foreign pages).
  pages = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>allspark test page</title>');
  });
  await new Promise((r) => pages.listen(0, '127.0.0.1', r));
  pageOrigin = `http://127.0.0.1:${pages.address().port}`;
  allspark = build('./cmd/allspark', 'allspark-browser');
  fixture = await startFixture(build('./test/conformance/fixture', 'fixture-browser'), ['-origins', pageOrigin]);
});

after(async () => {
  await browser?.close();
  pages?.closeAllConnections();
  await new Promise((r) => (pages ? pages.close(r) : r()));
  await cleanup();
});

/** Opens a blank page served from pageOrigin (or another origin). */
async function blankPage(context, origin = pageOrigin) {
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  return page;
}

/** Starts cmd/allspark --echo, accepting pages from pageOrigin. */
const echoServer = (addr = '127.0.0.1:0') => startAllspark(allspark, ['--echo', '--addr', addr, '--origins', pageOrigin]);

/** Opens a page with the served library and a recorded client on window.c. */
async function clientPage(context, base, options = '{}') {
  const page = await blankPage(context);
  await page.addScriptTag({ url: `${base}/primus/primus.js` });
  await page.evaluate(({ base, options }) => {
    window.events = [];
    window.received = [];
    const opts = new Function(`return (${options})`)();
    window.c = new Primus(base, opts);
    for (const name of ['open', 'data', 'error', 'reconnect scheduled', 'reconnect', 'reconnected', 'close', 'end', 'offline', 'online', 'reconnect failed']) {
      window.c.on(name, (arg) => {
        window.events.push(name);
        if (name === 'data') window.received.push(arg);
        if (name === 'error') window.lastError = { name: arg.name, status: arg.status, message: arg.message };
      });
    }
  }, { base, options });
  return page;
}

const until = (page, expr, ms = 10000) => page.waitForFunction(expr, null, { timeout: ms });

test('browser: loads /primus/primus.js, connects and echoes', async () => {
  const srv = await echoServer();
  const context = await browser.newContext();
  const page = await clientPage(context, srv.base);
  await until(page, () => window.events.includes('open'));
  await page.evaluate(() => window.c.write({ hello: 'browser', n: 0 }));
  await until(page, () => window.received.length === 1);
  assert.deepEqual(await page.evaluate(() => window.received[0]), { hello: 'browser', n: 0 });
  assert.equal(await page.evaluate(() => window.c.readyState), 3);
  await context.close();
  await srv.stop();
});

test('browser: server restart → reconnects and flushes writes queued while down', async () => {
  const srv = await echoServer();
  const context = await browser.newContext();
  const page = await clientPage(context, srv.base, '{ reconnect: { min: 100, retries: 100 } }');
  await until(page, () => window.events.includes('open'));
  await srv.stop();
  await until(page, () => window.events.includes('reconnect scheduled'));
  await page.evaluate(() => { window.c.write('queued 1'); window.c.write('queued 2'); });
  const again = await echoServer(`127.0.0.1:${srv.port}`);
  await until(page, () => window.received.length === 2, 15000);
  assert.deepEqual(await page.evaluate(() => window.received), ['queued 1', 'queued 2']);
  const events = await page.evaluate(() => window.events);
  assert.ok(events.indexOf('reconnected') > events.indexOf('close'), events.join(','));
  await context.close();
  await again.stop();
});

test('browser: offline → close and wait; online → reconnect at once (online strategy)', async () => {
  const srv = await echoServer();
  const context = await browser.newContext();
  // A long back-off proves the reconnect comes from the online event, not a timer.
  const page = await clientPage(context, srv.base, '{ reconnect: { min: 60000 } }');
  await until(page, () => window.events.includes('open'));
  await context.setOffline(true);
  await until(page, () => window.events.includes('offline'));
  assert.equal(await page.evaluate(() => window.c.readyState), 2);
  await context.setOffline(false);
  await until(page, () => window.events.filter((e) => e === 'open').length === 2);
  const events = await page.evaluate(() => window.events);
  assert.deepEqual(events.slice(events.indexOf('offline')), ['offline', 'close', 'online', 'reconnect scheduled', 'reconnect', 'reconnected', 'open']);
  await page.evaluate(() => window.c.write('back'));
  await until(page, () => window.received.includes('back'));
  await context.close();
  await srv.stop();
});

test('browser: by default a page from another origin cannot connect; listed, it can', async () => {
  const plain = await startAllspark(allspark, ['--echo', '--addr', '127.0.0.1:0']); // no --origins
  const listed = await echoServer();
  const context = await browser.newContext();
  const open = async (base) => {
    const page = await blankPage(context);
    await page.addScriptTag({ url: `${base}/primus/primus.js` });
    return page.evaluate((base) => new Promise((resolve) => {
      const c = new Primus(base, { strategy: false });
      c.on('open', () => { resolve('open'); c.end(); });
      c.on('end', () => resolve('end'));
    }), base);
  };
  assert.equal(await open(plain.base), 'end');
  assert.equal(await open(listed.base), 'open');
  await context.close();
  await plain.stop();
  await listed.stop();
});

test('browser: authorization failure surfaces an error without a reconnect loop', async () => {
  const context = await browser.newContext();
  const page = await blankPage(context);
  // primus.js is served before the authorization middleware runs, as in Primus.
  await page.addScriptTag({ url: `${fixture.base}/auth/primus.js` });
  await page.evaluate((base) => {
    window.events = [];
    window.c = new Primus(base, { reconnect: { min: 10 } });
    for (const name of ['open', 'error', 'reconnect scheduled', 'end']) {
      window.c.on(name, (arg) => {
        window.events.push(name);
        if (name === 'error') window.lastError = { name: arg.name, status: arg.status, message: arg.message };
      });
    }
  }, fixture.base);
  await until(page, () => window.events.includes('end'));
  await page.waitForTimeout(200);
  assert.deepEqual(await page.evaluate(() => window.events), ['error', 'end']);
  assert.deepEqual(await page.evaluate(() => window.lastError), { name: 'AuthorizationError', status: 401, message: 'authentication required' });
  await context.close();
});

test('browser: named events and acks with the Go server, both directions', async () => {
  const context = await browser.newContext();
  const page = await blankPage(context);
  await page.addScriptTag({ url: `${fixture.base}/events/primus.js` }); // pathname /events baked in
  const result = await page.evaluate(async (base) => {
    const c = new Primus(base);
    c.on('double', (x) => x * 2);
    const sum = await c.emitWithAck('add', { A: 2, B: 3 });
    const asked = await c.emitWithAck('ask', 'double', 4);
    let failure;
    try {
      await c.timeout(5000).emitWithAck('add', { A: 'x', B: 1 });
    } catch (err) {
      failure = { isEventError: err instanceof Primus.EventError, code: err.code, event: err.event };
    }
    c.end();
    return { sum, asked, failure };
  }, fixture.base);
  assert.deepEqual(result, { sum: [5], asked: [8], failure: { isEventError: true, code: 'invalid_argument', event: 'add' } });
  await context.close();
});
