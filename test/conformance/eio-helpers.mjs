// Helpers for eio.test.mjs: picking and starting the Engine.IO server under
// test (EIO_SERVER=allspark|reference), stock engine.io-client sockets, and a
// raw Engine.IO v4 client over plain HTTP and ws for the wire-level checks.
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach } from 'node:test';
import {
  ROOT, WebSocket, delay, reader, request, startAllsparkEcho, startReference, allsparkFlags, rawConnect,
} from './helpers.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));

/** The stock engine.io-client (6.6.8) Socket class. */
export const EioSocket = require('engine.io-client').Socket;

/** Which server the suite drives: `allspark` (cmd/allspark --echo, the default) or `reference` (npm engine.io). */
export const SERVER = process.env.EIO_SERVER || 'allspark';
if (!['allspark', 'reference'].includes(SERVER)) throw new Error(`EIO_SERVER must be allspark or reference, not ${SERVER}`);

/**
 * With EIO_STRICT=1 a cmd/allspark that does not speak Engine.IO fails the
 * suite instead of skipping it (set once the server has landed).
 */
const STRICT = process.env.EIO_STRICT === '1';

/** Engine.IO lives below the Primus pathname, with the trailing slash engine.io-client adds. */
export const EIO_PATH = '/primus/';

/**
 * The server settings some scenarios need, as flags of cmd/allspark (and of
 * test/conformance/reference/eio-server.cjs, which takes the same spelling).
 */
export const TUNED = { pingInterval: 300, pingTimeout: 200, maxPayload: 1000 };
const TUNED_FLAGS = {
  'eio-ping-interval': `${TUNED.pingInterval}ms`,
  'eio-ping-timeout': `${TUNED.pingTimeout}ms`,
  'eio-max-payload': String(TUNED.maxPayload),
};

/**
 * Starts the server under test with the given flags (a map of flag name →
 * value). Resolves to a server handle ({ base, addr }) or, when this server
 * cannot run the scenario yet, to { skip: reason }.
 */
export async function startEio(flags = {}) {
  const args = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]);
  if (SERVER === 'reference') return startReference('eio-server.cjs', args);

  const known = await allsparkFlags();
  const missing = Object.keys(flags).filter((f) => !known.has(f));
  if (missing.length) return { skip: `needs cmd/allspark ${missing.map((f) => `--${f}`).join(', ')}` };
  const server = await startAllsparkEcho(args);
  const probe = await request(server.base, `${EIO_PATH}?EIO=4&transport=polling`);
  if (probe.status === 426 && !STRICT) {
    server.child.kill('SIGKILL');
    return { skip: 'cmd/allspark does not serve Engine.IO yet (the handshake is answered 426)' };
  }
  return server;
}

/** Starts the server with TUNED's short heartbeat and small maxPayload. */
export const startTuned = () => startEio(TUNED_FLAGS);

/**
 * Marks the running test skipped when server (a startEio result) cannot run
 * it; returns true then, so the test can return at once.
 */
export function skipped(t, ...servers) {
  const why = servers.find((s) => s.skip)?.skip;
  if (!why) return false;
  t.skip(why);
  return true;
}

// ---------------------------------------------------------------------------
// Stock client

const clients = new Set();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
});

/**
 * A stock engine.io-client socket to server at EIO_PATH. The socket gets
 * .messages (a reader of 'message'), .closed (a promise of { reason,
 * description }) and .opened (a promise of the handshake data).
 */
export function eioClient(server, options = {}, query = '') {
  const socket = new EioSocket(`${server.base}/${query}`, { path: EIO_PATH, ...options });
  clients.add(socket);
  socket.messages = reader(socket, 'message');
  socket.closed = new Promise((resolve) => socket.on('close', (reason, description) => resolve({ reason, description })));
  socket.opened = new Promise((resolve, reject) => {
    socket.once('handshake', resolve);
    socket.once('close', (reason) => reject(new Error(`closed before open: ${reason}`)));
  });
  socket.opened.catch(() => {});
  return socket;
}

/** Binary data as received by engine.io-client (Buffer or ArrayBuffer) as a Buffer; anything else unchanged. */
export function asBuffer(data) {
  if (data instanceof ArrayBuffer) return Buffer.from(new Uint8Array(data));
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return data;
}

// ---------------------------------------------------------------------------
// Raw Engine.IO over HTTP and ws

/** The packet record separator of a v4 polling payload. */
export const SEP = '\x1e';

/** The path and query of a polling request, with optional sid and extra query text. */
export function pollPath(sid, extra = '') {
  return `${EIO_PATH}?EIO=4&transport=polling${sid ? `&sid=${encodeURIComponent(sid)}` : ''}${extra}`;
}

/**
 * A polling handshake; resolves to { sid, open, res } where open is the
 * decoded open packet and res the HTTP answer.
 */
export async function handshake(server, extra = '') {
  const res = await request(server.base, pollPath(undefined, extra));
  if (res.status !== 200 || res.body[0] !== '0') throw new Error(`handshake failed: ${res.status} ${res.body}`);
  const open = JSON.parse(res.body.slice(1));
  return { sid: open.sid, open, res };
}

/** A polling GET for sid; resolves to { status, headers, body, packets } (packets: the payload split at SEP). */
export async function poll(server, sid) {
  const res = await request(server.base, pollPath(sid));
  return { ...res, packets: res.status === 200 ? res.body.split(SEP) : [] };
}

/** A polling POST of payload for sid; resolves to { status, headers, body }. */
export function post(server, sid, payload, headers = {}) {
  return request(server.base, pollPath(sid), {
    method: 'POST', body: payload, headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
  });
}

/**
 * Polls sid until the server no longer knows it (400 with code 1), within ms;
 * the packets of every 200 answer on the way are returned in seen. A 400 with
 * another code (3, "Bad request": the session is alive on its WebSocket) is
 * retried after a short pause, since the server drops the session
 * asynchronously after its WebSocket closes.
 */
export async function pollUntilGone(server, sid, ms = 5000) {
  const end = Date.now() + ms;
  const seen = [];
  for (;;) {
    const res = await poll(server, sid);
    if (res.status === 400 && errorCode(res) === 1) return { last: res, seen };
    if (res.status === 200) seen.push(...res.packets);
    else if (res.status !== 400) throw new Error(`unexpected poll answer ${res.status} ${res.body}`);
    if (Date.now() > end) throw new Error(`session ${sid} still alive after ${ms} ms: ${res.status} ${seen.join(' ')}`);
    if (res.status === 400) await delay(20);
  }
}

/** The Engine.IO error code of a JSON error answer, or undefined. */
function errorCode(res) {
  try {
    return JSON.parse(res.body).code;
  } catch {
    return undefined;
  }
}

/** ws:// URL of the Engine.IO WebSocket transport, with an optional sid. */
export function eioWsURL(server, sid) {
  return `ws://${server.addr}${EIO_PATH}?EIO=4&transport=websocket${sid ? `&sid=${encodeURIComponent(sid)}` : ''}`;
}

/** Opens a raw ws to the Engine.IO WebSocket transport (see helpers.mjs rawConnect for .messages and .closed). */
export function rawEio(server, sid) {
  return rawConnect(eioWsURL(server, sid));
}

export { WebSocket };
