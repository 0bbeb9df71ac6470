// The reference server for the HTTP-fallback tests (started by eio.mjs's
// startReference, one process each): stock Primus 8 with the engine.io
// transformer at /primus. Data is echoed, except {cmd:'end'} (spark.end())
// and the named event "add" ({A, B} → ack A+B, the fixture's /events wire);
// ?token=deny is refused with 401 "authentication required". GET / is a
// page (blank, or the one given) and GET /allspark.js our bundle, for
// browser tests (Primus owns /primus/primus.js with the stock library).
//
//   node reference-server.mjs '{"port":0,"pingInterval":25000,"pingTimeout":20000}'
//
// It prints LISTEN <port> and runs until killed.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

// node --test runs every .mjs under a test/ directory: started without its
// argument (so by the runner, not by startReference), it does nothing.
if (process.argv[2] === undefined) process.exit(0);

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const Primus = createRequire(join(root, 'package.json'))('primus');
const { port, pingInterval, pingTimeout, page } = JSON.parse(process.argv[2] ?? '{}');

const server = http.createServer((req, res) => {
  if (req.url === '/allspark.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
    res.end(readFileSync(join(root, 'clientlib', 'dist', 'primus.min.js')));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(page ?? '<!doctype html><title>reference</title>');
});
const primus = new Primus(server, { transformer: 'engine.io', pathname: '/primus', transport: { pingInterval, pingTimeout } });
primus.authorize((req, done) => {
  if (new URL(req.url, 'http://x').searchParams.get('token') === 'deny') done({ statusCode: 401, message: 'authentication required' });
  else done();
});
primus.on('connection', (spark) => {
  spark.on('data', (data) => {
    if (data?.cmd === 'end') return spark.end();
    if (data?.allspark === 1 && data.event === 'add' && data.id) {
      const [{ A, B }] = data.args;
      return spark.write({ allspark: 1, ack: data.id, args: [A + B] });
    }
    spark.write(data);
  });
});
server.listen(port ?? 0, '127.0.0.1', () => process.stdout.write(`LISTEN ${server.address().port}\n`));
