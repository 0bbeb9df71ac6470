// Helpers for socketio.test.mjs: picking and starting the Socket.IO server
// under test (SIO_SERVER=allspark|reference), stock socket.io-client sockets
// in one of three transport modes, and waiting for their events.
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach } from 'node:test';
import { ROOT, startGoMain, startReference } from './helpers.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));

/** The stock socket.io-client 4.8.4: io() and Manager. */
export const { io, Manager } = require('socket.io-client');

/**
 * Which server the suite drives: `allspark` (test/conformance/siofixture, the
 * default) or `reference` (npm socket.io 4.8.4 and primus 8.0.9,
 * reference/socketio-server.cjs). Both implement the same test app; see the
 * reference script's header.
 */
export const SERVER = process.env.SIO_SERVER || 'allspark';
if (!['allspark', 'reference'].includes(SERVER)) throw new Error(`SIO_SERVER must be allspark or reference, not ${SERVER}`);

/** Skip reason (or false) for checks of Allspark-only behaviour (e.g. Reply.From). */
export const ALLSPARK_ONLY = SERVER === 'reference' && "Allspark's own behaviour; the reference cannot report it";

/**
 * The client's transport modes: polling only, WebSocket only, and the default
 * (polling first, then the upgrade to WebSocket).
 */
export const MODES = {
  polling: { transports: ['polling'] },
  websocket: { transports: ['websocket'] },
  upgrade: {},
};

/** The client's reconnection delay (ms); negative checks wait 7× this. */
export const RECONNECT_DELAY = 100;

/**
 * Starts the server under test, on port (0: a random one). Resolves to
 * { child, addr, base, port }.
 */
export async function startSio(port = 0) {
  const server = SERVER === 'reference'
    ? await startReference('socketio-server.cjs', ['--port', String(port)])
    : await startGoMain('./test/conformance/siofixture', ['-addr', `127.0.0.1:${port}`]);
  server.port = Number(server.addr.split(':').pop());
  return server;
}

/** Kills a server started by startSio (SIGKILL: its connections drop at once) and waits for its exit. */
export function killServer(server) {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const sockets = new Set();

/** Closes every client socket the finished test created. */
afterEach(() => {
  for (const s of sockets) {
    s.io.reconnection(false);
    s.disconnect();
    s.io.engine?.close();
  }
  sockets.clear();
});

/** Client options shared by every socket: fast reconnection, no randomization. */
const BASE_OPTIONS = {
  reconnectionDelay: RECONNECT_DELAY,
  reconnectionDelayMax: 2 * RECONNECT_DELAY,
  randomizationFactor: 0,
  timeout: 5000,
};

/**
 * Creates a stock socket.io-client socket for namespace nsp of server, in
 * mode (polling, websocket or upgrade), with its own Manager. options go to
 * io() (e.g. auth). The socket records (see track) what it sees.
 */
export function sioClient(server, nsp = '/', mode = 'upgrade', options = {}) {
  const socket = io(`${server.base}${nsp}`, { forceNew: true, ...BASE_OPTIONS, ...MODES[mode], ...options });
  return track(socket);
}

/** A Manager for server in mode; manager.socket(nsp, {auth}) multiplexes namespaces over one connection. */
export function sioManager(server, mode = 'upgrade', options = {}) {
  return new Manager(server.base, { ...BASE_OPTIONS, ...MODES[mode], ...options });
}

/**
 * Registers socket for cleanup and records its lifecycle: socket.firstTransport
 * (the Engine.IO transport it started on), socket.lifecycle (['connect',
 * 'disconnect:<reason>', 'connect_error:<message>', ...] in order), and readers
 * socket.connects (ids), socket.disconnects (reasons), socket.connectErrors
 * (errors), socket.messages (args of "message" events).
 */
export function track(socket) {
  sockets.add(socket);
  socket.firstTransport = socket.io.engine?.transport?.name;
  socket.lifecycle = [];
  socket.connects = argsReader(socket, 'connect', () => socket.id);
  socket.disconnects = argsReader(socket, 'disconnect', (reason) => reason);
  socket.connectErrors = argsReader(socket, 'connect_error', (err) => err);
  socket.messages = argsReader(socket, 'message', (x) => x);
  socket.on('connect', () => socket.lifecycle.push('connect'));
  socket.on('disconnect', (reason) => socket.lifecycle.push(`disconnect:${reason}`));
  socket.on('connect_error', (err) => socket.lifecycle.push(`connect_error:${err.message}`));
  return socket;
}

/**
 * A queue over an emitter's event, keeping every argument: next(ms) resolves
 * with map(...args) of the next one (waiting for it), all() returns what
 * arrived so far. Without map the value is the array of arguments.
 */
export function argsReader(emitter, event, map = (...args) => args) {
  const queue = [];
  const waiters = [];
  const seen = [];
  emitter.on(event, (...args) => {
    const value = map(...args);
    seen.push(value);
    const w = waiters.shift();
    if (w) w(value);
    else queue.push(value);
  });
  return {
    next(ms = 5000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const w = (v) => { clearTimeout(t); resolve(v); };
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

/** Resolves with socket.id once socket is connected (now or later). */
export async function connected(socket, ms = 5000) {
  if (socket.connected) return socket.id;
  let timer;
  const refused = new Promise((_, reject) => {
    socket.once('connect_error', (err) => reject(new Error(`connect_error: ${err.message}`)));
    timer = setTimeout(() => reject(new Error(`not connected within ${ms} ms (${socket.nsp})`)), ms);
  });
  try {
    return await Promise.race([socket.connects.next(ms + 1000), refused]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Emits event(...args) asking for an ack; resolves with every argument of
 * the reply (emitWithAck keeps only the first), rejects after ms.
 */
export function ack(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(5000).emit(event, ...args, (err, ...reply) => (err ? reject(err) : resolve(reply)));
  });
}

/** Resolves once socket's Engine.IO connection runs on WebSocket (after the upgrade). */
export function upgraded(socket, ms = 5000) {
  const engine = socket.io.engine;
  if (engine.transport.name === 'websocket') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no upgrade within ${ms} ms (transport ${engine.transport.name})`)), ms);
    engine.once('upgrade', () => { clearTimeout(t); resolve(); });
  });
}

/** Bytes 0, 1, ... n-1 (mod 256), as the test app's sendBytes makes them. */
export const bytes = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i % 256));

let tagCounter = 0;
/** A unique room name for one test. */
export const uniqueRoom = (prefix = 'room') => `${prefix}-${process.pid}-${++tagCounter}`;
