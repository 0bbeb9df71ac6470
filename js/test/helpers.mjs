// Shared helpers for the JS client tests: build and start Go servers, collect events.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const require = createRequire(join(root, 'package.json'));
export const WebSocket = require('ws');
export const { Primus, backoffDelay } = await import(join(root, 'clientlib', 'dist', 'allspark.esm.mjs'));

const bin = mkdtempSync(join(tmpdir(), 'allspark-js-'));
const children = new Set();

export function build(pkg, name) {
  const out = join(bin, name);
  execFileSync('go', ['build', '-o', out, pkg], { cwd: root, stdio: 'inherit' });
  return out;
}

/** Starts cmd/allspark with args; resolves { base, port, stop } once it listens. */
export function startAllspark(exe, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    let log = '';
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /addr=(127\.0\.0\.1:\d+)/.exec(log);
      if (m && !child.resolved) {
        child.resolved = true;
        resolve({ base: `http://${m[1]}`, port: Number(m[1].split(':')[1]), stop: () => stop(child) });
      }
    });
    child.on('exit', (code) => { if (!child.resolved) reject(new Error(`allspark exited ${code}: ${log}`)); });
  });
}

/** Starts the conformance fixture (many servers under one address). */
export function startFixture(exe, args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /LISTEN (\S+)/.exec(out);
      if (m && !child.resolved) {
        child.resolved = true;
        resolve({ base: `http://${m[1]}`, stop: () => stop(child) });
      }
    });
    child.on('exit', (code) => { if (!child.resolved) reject(new Error(`fixture exited ${code}`)); });
  });
}

function stop(child) {
  for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
    children.delete(child);
  });
}

export async function cleanup() {
  await Promise.all([...children].map(stop));
  rmSync(bin, { recursive: true, force: true });
}

/** Records every event of a client (and the extra names), in order, and lets tests await one. */
export function record(client, extra = []) {
  const names = ['open', 'data', 'error', 'reconnect scheduled', 'reconnect', 'reconnected', 'reconnect timeout',
    'reconnect failed', 'timeout', 'end', 'close', 'drop', 'online', 'offline', ...extra];
  const log = [];
  const waiters = [];
  for (const name of names) {
    client.on(name, (...args) => {
      log.push({ name, args });
      for (const w of waiters.slice()) {
        if (w.name === name && log.filter((e) => e.name === name).length >= w.count) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(args);
        }
      }
    });
  }
  return {
    log,
    names: () => log.map((e) => e.name),
    /** resolves when `name` has happened `count` times in total */
    wait(name, count = 1, ms = 5000) {
      if (log.filter((e) => e.name === name).length >= count) return Promise.resolve(log.filter((e) => e.name === name)[count - 1].args);
      return new Promise((resolve, reject) => {
        const w = { name, count, resolve };
        waiters.push(w);
        setTimeout(() => reject(new Error(`timed out waiting for ${name} #${count}; saw ${log.map((e) => e.name).join(',')}`)), ms).unref();
      });
    },
  };
}

/**
 * A scripted server speaking the Primus websockets wire format with npm ws:
 * each connection records what the client sent (JSON-decoded) and the test
 * answers by hand, so both sides of the envelope protocol can be driven
 * exactly, including what a real server would never send.
 */
export async function startPeer() {
  const wss = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const conns = [];
  const waiters = [];
  wss.on('connection', (ws, req) => {
    conns.push(new PeerConn(ws, req));
    for (const w of waiters.splice(0)) w();
  });
  return {
    base: `http://127.0.0.1:${wss.address().port}`,
    /** resolves with the n-th connection (1-based) */
    async connection(n = 1, ms = 5000) {
      const deadline = Date.now() + ms;
      while (conns.length < n) {
        if (Date.now() > deadline) throw new Error(`no connection #${n}`);
        await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 50).unref(); });
      }
      return conns[n - 1];
    },
    count: () => conns.length,
    close() {
      for (const c of conns) c.ws.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

class PeerConn {
  constructor(ws, req) {
    this.ws = ws;
    /** the upgrade request's URL (its query: _primuscb, _recover, _session, _since ...) */
    this.url = new URL(req.url, 'http://peer');
    this.received = [];
    this.read = 0;
    this.wake = null;
    ws.on('message', (raw) => {
      this.received.push(JSON.parse(raw.toString()));
      this.wake?.();
    });
  }

  /** Sends one value as a JSON text frame. */
  send(value) { this.ws.send(JSON.stringify(value)); }

  /** Sends raw text. */
  sendText(text) { this.ws.send(text); }

  /** Resolves with the next value the client sent. */
  async next(ms = 5000) {
    const deadline = Date.now() + ms;
    while (this.read >= this.received.length) {
      if (Date.now() > deadline) throw new Error(`peer: nothing received after ${JSON.stringify(this.received)}`);
      await new Promise((resolve) => { this.wake = resolve; setTimeout(resolve, 50).unref(); });
    }
    return this.received[this.read++];
  }

  /** Cuts the TCP connection without a close handshake (a crash). */
  drop() { this.ws.terminate(); }
}
