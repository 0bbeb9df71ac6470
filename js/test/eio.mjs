// The servers the HTTP-fallback tests run against, and a proxy that can
// refuse WebSocket upgrades.
//
// ALLSPARK_JS_SERVER picks the server under test:
//   ours (default)  cmd/allspark --echo and the conformance fixture (/control,
//                   /events, /auth); the tests that need its Engine.IO server
//                   skip, with a reason, while GET /primus/?EIO=4&transport=polling
//                   is not answered with a handshake.
//   reference       a stock Node Primus 8 server with the engine.io transformer
//                   (npm primus + engine.io 6): the wire the fallback speaks.
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { root, build, startAllspark, startFixture } from './helpers.mjs';

export const which = process.env.ALLSPARK_JS_SERVER ?? 'ours';
if (which !== 'ours' && which !== 'reference') throw new Error(`ALLSPARK_JS_SERVER=${which}: want "ours" or "reference"`);

/** Resolves once fn() is true, checking every 10 ms (a state, not an event, is awaited). */
export async function waitFor(fn, ms = 5000, what = String(fn)) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A stock Primus server (engine.io transformer) at /primus on 127.0.0.1:port
 * (0: any), in a child process (reference-server.mjs says what it does), so
 * that stop() is a crash and leaves no engine.io timer in the test process.
 */
export function startReference({ port = 0, pingInterval = 25000, pingTimeout = 20000, page } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'js', 'test', 'reference-server.mjs'), JSON.stringify({ port, pingInterval, pingTimeout, page })],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /LISTEN (\d+)/.exec(out);
      if (m && !child.resolved) {
        child.resolved = true;
        const p = Number(m[1]);
        resolve({
          base: `http://127.0.0.1:${p}`,
          port: p,
          stop: () => new Promise((r) => {
            if (child.exitCode !== null || child.signalCode !== null) return r();
            child.once('exit', () => r());
            child.kill('SIGKILL');
          }),
        });
      }
    });
    child.on('exit', (code) => { if (!child.resolved) reject(new Error(`reference server exited ${code}`)); });
  });
}

/**
 * The server under test as the tests see it: where echo, control ({cmd:'end'}),
 * events ("add") and a refusing authorization live, and how to start it again.
 * eio: null when the server speaks Engine.IO, else why the tests needing it skip.
 */
export async function startTarget({ pingInterval } = {}) {
  if (which === 'reference') {
    const opts = pingInterval ? { pingInterval, pingTimeout: pingInterval } : {};
    const ref = await startReference(opts);
    const at = (base) => ({ base, pathname: '/primus' });
    return {
      eio: null,
      echo: at(ref.base), control: at(ref.base), events: at(ref.base), auth: at(`${ref.base}/?token=deny`),
      /** A server of its own (for restarts), on port (0: any). */
      own: async (port = 0) => {
        const r = await startReference({ port, ...opts });
        return { base: r.base, port: r.port, stop: r.stop, pathname: '/primus' };
      },
      stop: ref.stop,
    };
  }
  const exe = build('./cmd/allspark', 'allspark-eio');
  const args = (addr) => ['--echo', '--addr', addr, ...(pingInterval ? ['--ping-interval', `${pingInterval}ms`] : [])];
  const echo = await startAllspark(exe, args('127.0.0.1:0'));
  const fixture = await startFixture(build('./test/conformance/fixture', 'fixture-eio'));
  const res = await fetch(`${echo.base}/primus/?EIO=4&transport=polling`);
  const body = await res.text();
  const eio = res.status === 200 && body.startsWith('0{') ? null
    : `needs Allspark's Engine.IO server: GET /primus/?EIO=4&transport=polling answered ${res.status}`;
  return {
    eio,
    echo: { base: echo.base, pathname: '/primus' },
    control: { base: fixture.base, pathname: '/control' },
    events: { base: fixture.base, pathname: '/events' },
    auth: { base: fixture.base, pathname: '/auth' },
    own: async (port = 0) => {
      const s = await startAllspark(exe, args(`127.0.0.1:${port}`));
      return { ...s, pathname: '/primus' };
    },
    stop: async () => { await echo.stop(); await fixture.stop(); },
  };
}

/**
 * An HTTP proxy to 127.0.0.1:port that passes plain HTTP through and, while
 * refuse is a status (403, 502 ...), answers every Upgrade request with it,
 * as a proxy that does not carry WebSockets does. Counts what it refused
 * and passed.
 */
export async function startProxy(port, refuse = 403) {
  const state = { refuse, refused: 0, passed: 0 };
  const sockets = new Set();
  const track = (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); };
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502).end(); else res.destroy(); });
    res.on('close', () => up.destroy()); // a client that gave up a held GET: so does the proxy
    req.pipe(up);
  });
  server.on('connection', track);
  server.on('upgrade', (req, socket, head) => {
    if (state.refuse) {
      state.refused++;
      socket.end(`HTTP/1.1 ${state.refuse} ${http.STATUS_CODES[state.refuse]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    state.passed++;
    const up = net.connect(port, '127.0.0.1', () => {
      let head1 = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) head1 += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(head1 + '\r\n');
      if (head.length) up.write(head);
      socket.pipe(up).pipe(socket);
    });
    track(up);
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
    socket.on('close', () => up.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const p = server.address().port;
  return {
    state,
    base: `http://127.0.0.1:${p}`,
    port: p,
    /** Cuts every connection through it (a proxy reload), and keeps listening. */
    drop() {
      for (const s of sockets) s.destroy();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
