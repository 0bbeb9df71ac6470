'use strict';
// The reference for emitter.test.mjs (EMITTER_SERVER=reference): stock
// primus 8.0.9 with the primus-emitter 3.1.1 server plugin, at pathname
// /emitter, behaving like the /emitter server of test/conformance/pluginfixture:
//
//   - ?room=NAME joins room NAME;
//   - event echo(...args, ack): ack(...args);
//   - event ask(question, ack): the server sends event "question" with the
//     question and its own ack callback to the client; ack(answer) with the
//     client's answer;
//   - event tell(name, ...args): the server sends event name(...args);
//   - event broadcast(room, name, ...args, ack): event name(...args) to every
//     member of room; ack(members);
//   - plain data X (anything that is not an emitter packet) is answered with
//     the plain data {"got": X}.
//
//   node emitter-server.cjs [--transformer websockets|engine.io]
//
// Prints LISTEN 127.0.0.1:<port>, exits when stdin closes.
const http = require('node:http');
const { createRequire } = require('node:module');
const path = require('node:path');
const { parse, listen } = require('./args.cjs');

const requireRoot = createRequire(path.resolve(__dirname, '..', '..', '..', 'package.json'));
const Primus = requireRoot('primus');
const emitter = requireRoot('primus-emitter');

const flags = parse(process.argv.slice(2), { transformer: 'string' });

const server = http.createServer();
const primus = new Primus(server, { transformer: flags.transformer || 'websockets', pathname: '/emitter' });
primus.plugin('emitter', emitter);

const rooms = new Map();

/** What primus-emitter itself takes for a packet (its ondata), so it is not also plain data. */
function isPacket(d) {
  return d !== null && typeof d === 'object' && Array.isArray(d.data) && (d.type === 0 || d.type === 1);
}

/** Splits an event's arguments from the ack callback primus-emitter appends when the sender asked for one. */
function split(args) {
  const ack = typeof args[args.length - 1] === 'function' ? args.pop() : () => {};
  return [args, ack];
}

primus.on('connection', (spark) => {
  const room = spark.query.room;
  if (room) {
    if (!rooms.has(room)) rooms.set(room, new Set());
    rooms.get(room).add(spark);
  }
  spark.on('echo', (...raw) => {
    const [args, ack] = split(raw);
    ack(...args);
  });
  spark.on('ask', (...raw) => {
    const [[question], ack] = split(raw);
    spark.send('question', question, (answer) => ack(answer));
  });
  spark.on('tell', (...raw) => {
    const [[name, ...args]] = split(raw);
    spark.send(name, ...args);
  });
  spark.on('broadcast', (...raw) => {
    const [[name, event, ...args], ack] = split(raw);
    const members = rooms.get(name) ?? new Set();
    for (const member of members) member.send(event, ...args);
    ack(members.size);
  });
  spark.on('data', (data) => {
    if (!isPacket(data)) spark.write({ got: data });
  });
  spark.on('end', () => {
    if (room) rooms.get(room)?.delete(spark);
  });
});

listen(server);
