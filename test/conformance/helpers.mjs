// Shared helpers for the conformance suite: building and starting the Go
// servers, creating stock Primus clients and raw `ws` sockets, and waiting for
// events without sleeps.
//
// Each *.test.mjs file runs in its own Node process (node --test), so each
// builds (Go's build cache makes that a link step) and starts its own servers
// and kills them in its after() hook.

import { spawn, execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, afterEach } from 'node:test';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(ROOT, 'package.json'));

/** The stock Primus module (primus@8) and the ws module, from the repository's node_modules. */
export const Primus = require('primus');
export const WebSocket = require('ws');

// ---------------------------------------------------------------------------
// Modes: which transformer the stock client uses, and which server it drives.

/** The Primus transformer of the stock client: PRIMUS_TRANSFORMER=websockets (default) or engine.io. */
export const TRANSFORMER = process.env.PRIMUS_TRANSFORMER || 'websockets';
if (!['websockets', 'engine.io'].includes(TRANSFORMER)) {
  throw new Error(`PRIMUS_TRANSFORMER must be websockets or engine.io, not ${TRANSFORMER}`);
}

/**
 * PRIMUS_WEBSOCKETS=false gives the client Primus's `websockets: false`: with
 * the engine.io transformer it then polls only (transports ['polling']);
 * otherwise it starts polling and upgrades to WebSocket.
 */
export const WEBSOCKETS = process.env.PRIMUS_WEBSOCKETS !== 'false';

/** The mode's name: websockets, engine.io-polling or engine.io-upgrade. */
export const MODE = TRANSFORMER === 'websockets' ? 'websockets' : `engine.io-${WEBSOCKETS ? 'upgrade' : 'polling'}`;

/**
 * The server behind startEchoServer: PRIMUS_SERVER=allspark (cmd/allspark
 * --echo, the default) or reference (stock Primus 8 in Node with TRANSFORMER,
 * test/conformance/reference/primus-server.cjs).
 */
export const PRIMUS_SERVER = process.env.PRIMUS_SERVER || 'allspark';
if (!['allspark', 'reference'].includes(PRIMUS_SERVER)) {
  throw new Error(`PRIMUS_SERVER must be allspark or reference, not ${PRIMUS_SERVER}`);
}

/** Skip reason (or false) for scenarios about the WebSocket transformer itself: raw ws frames, the upgrade handshake. */
export const WS_SPECIFIC = TRANSFORMER !== 'websockets'
  && `WebSocket-transformer specific (raw ws frames or handshake); not run in mode ${MODE}`;

/** Skip reason (or false) for scenarios that need the Go fixture, which has no reference counterpart. */
export const NEEDS_FIXTURE = PRIMUS_SERVER === 'reference'
  && 'needs test/conformance/fixture (Go); the reference is an echo server only';

/** Skip reason (or false) for scenarios about Allspark's own answers (HTTP, binary frames), where Primus answers otherwise. */
export const ALLSPARK_ONLY = PRIMUS_SERVER === 'reference'
  && "Allspark's own behaviour (Primus's differs); not run against the reference";

/** Default per-test timeout (ms). */
export const TEST_TIMEOUT = 10_000;

const children = new Set();
let tmpDir;

function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  if (tmpDir) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = undefined;
  }
}
process.on('exit', killAll);

const builds = new Map();

/** Builds a Go main package of the module once per process; resolves to the binary path. */
function goBuild(pkg, name) {
  if (!builds.has(pkg)) {
    tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'allspark-conformance-'));
    const out = path.join(tmpDir, name);
    builds.set(pkg, promisify(execFile)('go', ['build', '-o', out, pkg], { cwd: ROOT }).then(() => out));
  }
  return builds.get(pkg);
}

/** Spawns cmd, registers it for cleanup and resolves with the first match of re on the given stream. */
function spawnAndMatch(cmd, args, stream, re) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let buf = '';
    let log = '';
    const timer = setTimeout(() => fail(new Error(`${cmd} did not report its address in time:\n${log}`)), 20_000);
    function fail(err) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`${cmd} exited with ${code}:\n${log}`)));
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => { log += d; });
    child.stdout.on('data', (d) => { log += d; });
    child[stream].on('data', function onData(d) {
      buf += d;
      const m = re.exec(buf);
      if (!m) return;
      clearTimeout(timer);
      child[stream].off('data', onData);
      child.removeAllListeners('exit');
      // Keep draining output so the child never blocks on a full pipe.
      child.stdout.resume();
      child.stderr.resume();
      resolve({ child, addr: m[1] });
    });
  });
}

/**
 * Starts `cmd/allspark --echo` on a random port; resolves to a server handle
 * { base: 'http://127.0.0.1:N', addr }. The address comes from the log line
 * `msg="allspark listening" addr=127.0.0.1:N` on stderr.
 */
export async function startEchoServer(extraArgs = []) {
  if (PRIMUS_SERVER === 'reference') {
    return startReference('primus-server.cjs', ['--transformer', TRANSFORMER, ...extraArgs]);
  }
  return startAllsparkEcho(extraArgs);
}

/** Starts `cmd/allspark --echo` whatever PRIMUS_SERVER says (see startEchoServer). */
export async function startAllsparkEcho(extraArgs = []) {
  const bin = await goBuild('./cmd/allspark', 'allspark');
  const { child, addr } = await spawnAndMatch(bin, ['--echo', '--addr', '127.0.0.1:0', ...extraArgs], 'stderr',
    /allspark listening.*?addr=(127\.0\.0\.1:\d+)/);
  return { child, addr, base: `http://${addr}` };
}

const helpTexts = new Map();

/**
 * The flags `cmd/allspark --help` lists (names without dashes), so tests that
 * need a flag another change adds can skip with a reason until it exists.
 */
export async function allsparkFlags() {
  const bin = await goBuild('./cmd/allspark', 'allspark');
  if (!helpTexts.has(bin)) {
    helpTexts.set(bin, promisify(execFile)(bin, ['--help']).then(
      ({ stdout, stderr }) => stdout + stderr,
      (err) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
    ).then((text) => new Set([...text.matchAll(/^\s*--?([a-z][a-z0-9-]*)/gm)].map((m) => m[1]))));
  }
  return helpTexts.get(bin);
}

/**
 * Starts a Node reference server, test/conformance/reference/<script>, with
 * args; it prints `LISTEN <addr>` and exits when its stdin closes. Resolves to
 * { child, addr, base }.
 */
export async function startReference(script, args = []) {
  const file = path.join(ROOT, 'test', 'conformance', 'reference', script);
  const { child, addr } = await spawnAndMatch(process.execPath, [file, ...args], 'stdout', /^LISTEN (\S+)\n/);
  return { child, addr, base: `http://${addr}` };
}

/**
 * Starts test/conformance/fixture (see its doc comment for the pathnames);
 * resolves to { base, addr }.
 */
export async function startFixture() {
  // Against the reference every fixture scenario is skipped (NEEDS_FIXTURE).
  if (NEEDS_FIXTURE) return { skip: NEEDS_FIXTURE };
  const bin = await goBuild('./test/conformance/fixture', 'fixture');
  const { child, addr } = await spawnAndMatch(bin, ['-addr', '127.0.0.1:0'], 'stdout', /^LISTEN (\S+)\n/);
  return { child, addr, base: `http://${addr}` };
}

/**
 * Builds the Go main package pkg (e.g. './test/conformance/siofixture') once
 * per process and starts it with args; it must print `LISTEN <addr>` as its
 * first stdout line. Resolves to { child, addr, base }.
 */
export async function startGoMain(pkg, args = []) {
  const bin = await goBuild(pkg, path.basename(pkg));
  const { child, addr } = await spawnAndMatch(bin, args, 'stdout', /^LISTEN (\S+)\n/);
  return { child, addr, base: `http://${addr}` };
}

after(killAll);

// ---------------------------------------------------------------------------
// Clients

const sockets = new Set();

/** Destroys every Primus client and raw socket created by the finished test. */
afterEach(() => {
  for (const s of sockets) {
    try {
      if (s instanceof WebSocket) s.terminate();
      else s.destroy();
    } catch { /* already gone */ }
  }
  sockets.clear();
});

const socketClasses = new Map();

/** Primus.createSocket for the mode's TRANSFORMER, cached per option set. */
export function socketClass(pathname, extra = {}) {
  const key = JSON.stringify([pathname, extra]);
  if (!socketClasses.has(key)) {
    socketClasses.set(key, Primus.createSocket({ transformer: TRANSFORMER, pathname, ...extra }));
  }
  return socketClasses.get(key);
}

/** The client options the mode adds (websockets: false for engine.io polling only). */
const modeOptions = TRANSFORMER === 'engine.io' && !WEBSOCKETS ? { websockets: false } : {};

/**
 * Creates a stock Primus client for url (e.g. http://127.0.0.1:N?x=1) and
 * pathname. options go to the client constructor; createOptions to
 * Primus.createSocket. The client records its events (see record) and its
 * data (see reader).
 */
export function connect(url, pathname, options = {}, createOptions = {}) {
  const Socket = socketClass(pathname, createOptions);
  const client = new Socket(url, { ...modeOptions, ...options });
  sockets.add(client);
  record(client);
  client.data = reader(client, 'data', normalize);
  return client;
}

/**
 * The client library runs in its own VM context, so the objects it decodes
 * have foreign prototypes; re-create them here so deepStrictEqual works.
 */
function normalize(v) {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

/** Client readyState values (Primus.OPENING etc. live on the client class). */
export const STATE = { OPENING: 1, CLOSED: 2, OPEN: 3 };

/** Events recorded, in order, into client.events (names) and client.errors. */
export const RECORDED = ['open', 'close', 'end', 'reconnect scheduled', 'reconnect', 'reconnected',
  'reconnect failed', 'reconnect timeout', 'timeout', 'error', 'offline', 'online'];

function record(client) {
  client.events = [];
  client.errors = [];
  client.states = [];
  for (const name of RECORDED) {
    client.on(name, (arg) => {
      client.events.push(name);
      if (name === 'error') client.errors.push(arg);
    });
  }
  client.on('readyStateChange', (s) => client.states.push(s));
}

/**
 * A queue over an emitter's event: next(ms) resolves with the next argument
 * (waiting for it), all() returns everything received so far.
 */
export function reader(emitter, event, map = (v) => v) {
  const queue = [];
  const waiters = [];
  const seen = [];
  emitter.on(event, (raw) => {
    const value = map(raw);
    seen.push(value);
    const w = waiters.shift();
    if (w) w.resolve(value);
    else queue.push(value);
  });
  return {
    next(ms = 5000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const w = { resolve: (v) => { clearTimeout(t); resolve(v); } };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no '${event}' within ${ms} ms`));
        }, ms);
        waiters.push(w);
      });
    },
    all: () => seen.slice(),
    pending: () => queue.length,
  };
}

/** Resolves with the first argument of the next `event`, or rejects after ms. */
export function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      emitter.removeListener(event, on);
      reject(new Error(`no '${event}' within ${ms} ms`));
    }, ms);
    function on(...args) {
      clearTimeout(t);
      emitter.removeListener(event, on);
      resolve(args[0]);
    }
    emitter.on(event, on);
  });
}

/**
 * Resolves once the client's Engine.IO socket runs on the WebSocket transport
 * (after its upgrade); rejects after ms. Only meaningful in engine.io-upgrade.
 */
export async function upgraded(client, ms = 5000) {
  const eio = client.socket;
  if (!eio || !eio.transport) throw new Error('client has no engine.io socket');
  if (eio.transport.name === 'websocket') return;
  await once(eio, 'upgrade', ms);
}

/** Resolves once the client has recorded event (now or later). */
export function seen(client, event, ms = 5000) {
  if (client.events.includes(event)) return Promise.resolve();
  return once(client, event, ms);
}

/** Waits ms milliseconds; only for negative assertions ("nothing more happens"). */
export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value (or throws after ms). */
export async function until(fn, ms = 5000, every = 20) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms: ${fn}`);
    await delay(every);
  }
}

// ---------------------------------------------------------------------------
// Raw sockets and HTTP

/**
 * Opens a raw ws socket to url (ws://...); resolves once open. The socket gets
 * .messages (a reader of { data, text, binary }) and .closed (a promise of
 * { code, reason, frames }).
 */
export function rawConnect(url, options = {}) {
  const ws = new WebSocket(url, options);
  sockets.add(ws);
  ws.frames = [];
  ws.messages = reader(ws, 'frame');
  ws.on('message', (data, isBinary) => {
    const frame = { binary: isBinary, data, text: isBinary ? undefined : data.toString('utf8') };
    ws.frames.push(frame);
    ws.emit('frame', frame);
  });
  ws.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

/** ws:// URL for a server handle and pathname, with an optional query string. */
export function wsURL(server, pathname, query = '') {
  return `ws://${server.addr}${pathname}${query}`;
}

/**
 * Attempts a WebSocket upgrade that the server refuses; resolves to
 * { status, headers, body } read from ws's 'unexpected-response'.
 */
export function refusedUpgrade(url, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    sockets.add(ws);
    ws.on('open', () => reject(new Error('upgrade unexpectedly succeeded')));
    ws.on('error', () => {});
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        resolve({ status: res.statusCode, headers: res.headers, body });
        req.destroy();
      });
    });
  });
}

/** A plain HTTP request; resolves to { status, headers, body }. */
export function request(base, pathname, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(pathname, base), { method, headers, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The fixture's admin endpoints. */
export const admin = {
  async attempts(fixture, pathname, tag) {
    const r = await request(fixture.base, `/admin/attempts?path=${encodeURIComponent(pathname)}&tag=${encodeURIComponent(tag)}`);
    return JSON.parse(r.body).attempts;
  },
  async spawn(fixture) {
    const r = await request(fixture.base, '/admin/spawn', { method: 'POST' });
    return JSON.parse(r.body).pathname;
  },
  async shutdown(fixture, pathname, reconnect) {
    const r = await request(fixture.base, `/admin/shutdown?path=${encodeURIComponent(pathname)}&reconnect=${reconnect ? 1 : 0}`, { method: 'POST' });
    return JSON.parse(r.body);
  },
};

let tagCounter = 0;
/** A unique tag for counting one test's connection attempts at the fixture. */
export const uniqueTag = () => `t${process.pid}-${++tagCounter}`;

/** Test options for a WebSocket-specific scenario: skipped (WS_SPECIFIC) outside the websockets mode. */
export function wsOnly(options) {
  return { ...options, skip: options.skip || WS_SPECIFIC };
}

/** Test options for a scenario about Allspark's own behaviour: skipped (ALLSPARK_ONLY) against the reference. */
export function allsparkOnly(options) {
  return { ...options, skip: options.skip || ALLSPARK_ONLY };
}

/**
 * Client transport options that send extra request headers (and an Origin):
 * ws takes `headers` and `origin`; engine.io-client takes `extraHeaders` for
 * its polling requests and its WebSocket alike.
 */
export function transportHeaders(headers = {}, origin) {
  if (TRANSFORMER === 'engine.io') return { transport: { extraHeaders: { ...headers, ...(origin && { Origin: origin }) } } };
  return { transport: { headers, ...(origin && { origin }) } };
}

/**
 * The text of a client error, where a refused handshake's status shows: ws
 * puts it in the message ("Unexpected server response: 401"), engine.io-client
 * in the description of its "xhr poll error".
 */
export function errorText(err) {
  return `${err?.message} ${err?.description ?? ''}`;
}
