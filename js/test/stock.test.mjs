// The typed client against a stock Node Primus server (npm primus@8.0.9,
// websockets transformer): proof that it speaks the protocol, not our dialect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Primus, WebSocket, require, record } from './helpers.mjs';

const StockPrimus = require('primus');
let server, primus, base;
const clients = [];

before(async () => {
  server = http.createServer();
  primus = new StockPrimus(server, { transformer: 'websockets', pingInterval: 100 });
  primus.on('connection', (spark) => {
    spark.on('data', (data) => {
      if (data && data.cmd === 'end') spark.end();
      else spark.write(data);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  for (const c of clients) c.destroy();
  primus.destroy({ timeout: 0 });
  await new Promise((r) => setTimeout(r, 50));
});

test('stock Primus server: echo, ping/pong across intervals, id', async () => {
  const c = new Primus(base, { WebSocket, pingTimeout: 300 });
  clients.push(c);
  const ev = record(c);
  await ev.wait('open');
  c.write({ hello: 'stock' });
  const [data] = await ev.wait('data');
  assert.deepEqual(data, { hello: 'stock' });
  const id = await c.id();
  assert.ok(primus.spark(id), 'the stock server knows the id we got');
  await new Promise((r) => setTimeout(r, 500)); // 5 ping intervals; pongs keep the spark alive
  assert.equal(c.readyState, Primus.OPEN);
  assert.ok(primus.spark(id), 'still the same spark');
});

test('stock Primus server: spark.end() → close, end, no reconnect', async () => {
  const c = new Primus(base, { WebSocket, reconnect: { min: 10 } });
  clients.push(c);
  const ev = record(c);
  await ev.wait('open');
  c.write({ cmd: 'end' });
  await ev.wait('end');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(ev.names(), ['open', 'close', 'end']);
});
