// Handshake-level scenarios against the fixture: authorization, CORS,
// query/headers/address seen by the server, x-forwarded-for, /spec.
import { test, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  TEST_TIMEOUT, TRANSFORMER, NEEDS_FIXTURE, wsOnly, withHeaders, transportHeaders, errorText, refusedWith, startFixture, connect, seen, delay, refusedUpgrade, rawConnect, wsURL, request, admin, uniqueTag,
} from './helpers.mjs';

let fx;
before(async () => { fx = await startFixture(); });

const opts = { timeout: TEST_TIMEOUT, skip: NEEDS_FIXTURE };
const BASIC_USER_PASS = `Basic ${Buffer.from('user:pass').toString('base64')}`;

/** Connects to a fixture server that writes {id, query, headers, address, port} first; resolves to [client, info]. */
async function infoFrom(pathname, { url = fx.base, options = {}, createOptions = {} } = {}) {
  const client = connect(url, pathname, options, createOptions);
  const info = await client.data.next();
  assert.ok(info && typeof info.id === 'string', `expected the info message, got ${JSON.stringify(info)}`);
  return [client, info];
}

describe('authorization', () => {
  test('refused upgrade: 401, WWW-Authenticate, Connection: close, JSON {"error"} body', wsOnly(opts), async () => {
    const res = await refusedUpgrade(wsURL(fx, '/auth'));
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="test"');
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(res.headers.connection, 'close');
    assert.deepEqual(JSON.parse(res.body), { error: 'authentication required' });
  });

  test('refused plain HTTP request: the same 401 answer', opts, async () => {
    const res = await request(fx.base, '/auth');
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="test"');
    assert.deepEqual(JSON.parse(res.body), { error: 'authentication required' });
  });

  test('<pathname>/spec stays public (spec middleware runs before authorization)', opts, async () => {
    const res = await request(fx.base, '/auth/spec');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).pathname, '/auth');
  });

  test('403 from an AuthError: no WWW-Authenticate, JSON body', wsOnly(opts), async () => {
    const res = await refusedUpgrade(wsURL(fx, '/forbidden'));
    assert.equal(res.status, 403);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(res.headers.connection, 'close');
    assert.deepEqual(JSON.parse(res.body), { error: 'forbidden' });
  });

  test('stock client built with authorization: error, end, and no reconnect loop', opts, async () => {
    const tag = uniqueTag();
    const client = connect(`${fx.base}?tag=${tag}`, '/auth', { reconnect: { min: 20, max: 20, retries: 5 } },
      { authorization: true });
    await seen(client, 'end');
    assert.match(errorText(client.errors[0]), refusedWith(401));
    await delay(300); // > 10 × the reconnect delay: a retry would have happened
    assert.deepEqual(client.events, ['error', 'close', 'end']);
    assert.equal(await admin.attempts(fx, '/auth', tag), 1);
  });

  test('stock client without the authorization flag retries (Primus "timeout" strategy) until reconnect failed', opts, async () => {
    // createSocket() only drops the timeout strategy when told the server
    // authorizes; otherwise Primus treats a refused handshake like a
    // timeout and backs off. The server must simply refuse every attempt.
    const tag = uniqueTag();
    const client = connect(`${fx.base}?tag=${tag}`, '/auth', { reconnect: { min: 20, max: 40, retries: 2 } });
    await seen(client, 'reconnect failed');
    assert.ok(!client.events.includes('open'));
    assert.deepEqual(client.events.slice(-2), ['end', 'reconnect failed']);
    assert.equal(client.events.filter((e) => e === 'reconnect').length, 2);
    assert.equal(await admin.attempts(fx, '/auth', tag), 3);
  });

  test('userinfo in the URL becomes a Basic Authorization header and is accepted', {
    ...opts,
    skip: opts.skip || (TRANSFORMER === 'engine.io' && 'engine.io-client drops URL userinfo (no Authorization header; stock Primus too)')
      || (TRANSFORMER === 'sockjs' && 'sockjs-client drops URL userinfo (no Authorization header)'),
  }, async () => {
    const [client, info] = await infoFrom('/auth', { url: `http://user:pass@${fx.addr}` });
    assert.equal(info.headers.authorization, BASIC_USER_PASS);
    await seen(client, 'open');
  });

  test('a custom header from transport options authorizes the upgrade', withHeaders(opts), async () => {
    const [, info] = await infoFrom('/auth', { options: transportHeaders({ 'X-Token': 'ok' }) });
    assert.equal(info.headers['x-token'], 'ok');
  });

  test('a query parameter authorizes the upgrade, and data flows', opts, async () => {
    const [client, info] = await infoFrom('/auth', { url: `${fx.base}?token=ok` });
    assert.deepEqual(info.query.token, ['ok']);
    client.write({ after: 'auth' });
    assert.deepEqual(await client.data.next(), { after: 'auth' });
  });
});

describe('connection details', () => {
  test('query string reaches the spark (UTF-8, _primuscb added by the client)', opts, async () => {
    const [, info] = await infoFrom('/info', { url: `${fx.base}?foo=bar&emoji=%F0%9F%98%80&empty=` });
    assert.deepEqual(info.query.foo, ['bar']);
    assert.deepEqual(info.query.emoji, ['😀']);
    assert.deepEqual(info.query.empty, ['']);
    assert.equal(info.query._primuscb.length, 1);
  });

  test('raw ws: repeated query keys all reach the spark', wsOnly(opts), async () => {
    // (The stock client's querystring parser keeps only the first of repeated keys.)
    const ws = await rawConnect(wsURL(fx, '/info', '?multi=1&multi=2'));
    const info = JSON.parse((await ws.messages.next()).text);
    assert.deepEqual(info.query, { multi: ['1', '2'] });
  });

  test('request headers reach the spark', withHeaders(opts), async () => {
    const [, info] = await infoFrom('/info', { options: transportHeaders({ 'X-Custom': 'value 1' }) });
    assert.equal(info.headers['x-custom'], 'value 1');
    // With engine.io the spark is made on the polling handshake: no Upgrade header.
    if (TRANSFORMER === 'websockets') assert.equal(info.headers.upgrade.toLowerCase(), 'websocket');
  });

  test('client id() equals the server-side spark id', opts, async () => {
    const [client, info] = await infoFrom('/info');
    const id = await new Promise((r) => client.id(r));
    assert.equal(id, info.id);
  });

  test('address and port are the TCP peer', opts, async () => {
    const [client, info] = await infoFrom('/info');
    assert.equal(info.address, '127.0.0.1');
    if (TRANSFORMER === 'websockets') assert.equal(info.port, client.socket._socket.localPort);
    else assert.ok(Number.isInteger(info.port) && info.port > 0, `port ${info.port}`); // the handshake request's, not visible to the client
  });

  test('x-forwarded-for from an untrusted peer is ignored', withHeaders(opts), async () => {
    const headers = { 'X-Forwarded-For': '203.0.113.7', 'X-Real-IP': '203.0.113.8' };
    const [, info] = await infoFrom('/info', { options: transportHeaders(headers) });
    assert.equal(info.address, '127.0.0.1');
    assert.equal(info.headers['x-forwarded-for'], '203.0.113.7');
  });

  test('x-forwarded-for from a trusted proxy gives the client address', withHeaders(opts), async () => {
    const [, info] = await infoFrom('/trusted', { options: transportHeaders({ 'X-Forwarded-For': '203.0.113.7' }) });
    assert.equal(info.address, '203.0.113.7');
    assert.equal(info.port, 0);
  });

  test('trusted proxy: the right-most untrusted hop of the x-forwarded-for chain wins', withHeaders(opts), async () => {
    const xff = '198.51.100.1, 203.0.113.7, 127.0.0.1';
    const [, info] = await infoFrom('/trusted', { options: transportHeaders({ 'X-Forwarded-For': xff }) });
    assert.equal(info.address, '203.0.113.7');
  });

  test('trusted proxy: x-real-ip is used when there is no x-forwarded-for', withHeaders(opts), async () => {
    const [, info] = await infoFrom('/trusted', { options: transportHeaders({ 'X-Real-IP': '192.0.2.44' }) });
    assert.equal(info.address, '192.0.2.44');
  });
});

describe('spec', () => {
  test('/spec reports the configured ping interval in ms, or false when off', opts, async () => {
    const ping = JSON.parse((await request(fx.base, '/ping/spec')).body);
    assert.deepEqual(ping, { ...ping, pingInterval: 150, pathname: '/ping', transformer: 'websockets', parser: 'json' });
    const noping = JSON.parse((await request(fx.base, '/noping/spec')).body);
    assert.equal(noping.pingInterval, false);
    assert.equal(noping.pathname, '/noping');
  });
});

describe('CORS', () => {
  test('preflight from an allowed origin: 200 with the Access-Control headers', opts, async () => {
    const res = await request(fx.base, '/cors/spec', {
      method: 'OPTIONS',
      headers: { Origin: 'http://good.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-foo' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], 'http://good.example');
    assert.match(res.headers['access-control-allow-methods'], /\bGET\b/);
    assert.equal(res.headers['access-control-allow-headers'], 'x-foo');
    assert.ok(Number(res.headers['access-control-max-age']) > 0);
    assert.match(res.headers.vary, /Origin/);
  });

  test('plain request from an allowed origin gets Access-Control-Allow-Origin', opts, async () => {
    const res = await request(fx.base, '/cors/spec', { headers: { Origin: 'http://good.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], 'http://good.example');
  });

  test('request from another origin: 403 with a JSON error', opts, async () => {
    for (const method of ['GET', 'OPTIONS']) {
      const res = await request(fx.base, '/cors/spec', {
        method, headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET' },
      });
      assert.equal(res.status, 403, method);
      assert.equal(res.headers['access-control-allow-origin'], undefined, method);
      assert.ok(JSON.parse(res.body).error, method);
    }
  });

  test('stock client from another origin is refused (403) and ends; from the allowed origin it connects', withHeaders(opts), async () => {
    const evil = connect(fx.base, '/cors', { ...transportHeaders({}, 'http://evil.example'), reconnect: { min: 20, max: 20 } },
      { authorization: true });
    await seen(evil, 'end');
    assert.match(errorText(evil.errors[0]), refusedWith(403));
    assert.ok(!evil.events.includes('open'));

    const good = connect(fx.base, '/cors', transportHeaders({}, 'http://good.example'));
    good.write('from good origin');
    assert.equal(await good.data.next(), 'from good origin');
  });

  test('default: stock client sending a foreign Origin is refused (403); its own origin or none connects', withHeaders(opts), async () => {
    // The default guards against cross-site WebSocket hijacking: only the
    // server's own origin (or no Origin, as Node clients send) may upgrade.
    const evil = connect(fx.base, '/echo', { ...transportHeaders({}, 'http://evil.example'), reconnect: { min: 20, max: 20 } },
      { authorization: true });
    await seen(evil, 'end');
    assert.match(errorText(evil.errors[0]), refusedWith(403));
    assert.ok(!evil.events.includes('open'));

    for (const origin of [fx.base, undefined]) {
      const ok = connect(fx.base, '/echo', origin ? transportHeaders({}, origin) : {});
      ok.write(`from ${origin ?? 'no origin'}`);
      assert.equal(await ok.data.next(), `from ${origin ?? 'no origin'}`);
    }
  });
});
