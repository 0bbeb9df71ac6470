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
export function startFixture(exe) {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, [], { stdio: ['pipe', 'pipe', 'inherit'] });
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

/** Records every event of a client, in order, and lets tests await one. */
export function record(client) {
  const names = ['open', 'data', 'error', 'reconnect scheduled', 'reconnect', 'reconnected', 'reconnect timeout',
    'reconnect failed', 'timeout', 'end', 'close', 'drop', 'online', 'offline'];
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
