'use strict';
// The reference for test/conformance/socketio.test.mjs (SIO_SERVER=reference):
// stock npm socket.io 4.8.4 at /socket.io/ and stock primus 8.0.9 (websockets
// transformer, heartbeats off) at /primus on one HTTP server, implementing the
// test app that test/conformance/siofixture (the Allspark side) implements with
// the public Go API. The app, in one place (the fixture's doc comment says the
// same in Go terms):
//
// Every Socket.IO CONNECT (any namespace) with auth.token "bad" is refused:
// connect_error "forbidden", data {reason: "bad token"} (Allspark: Authorize).
//
// Namespace "/" (and, where marked [admin], "/admin" with its own rooms):
//
//	whoami()                       [admin] ack {id, nsp}
//	echo(...args)                  [admin] ack ...args
//	types(...args)                 ack the type of each arg, recursively (describe below)
//	sendBytes(n)                   emit bytes(buf, {inner: buf}) with buf = [0, 1, ... n-1], then ack buf
//	tell(event, ...args)           emit event(...args) to the sender; ack nothing
//	ask(ms, event, ...args)        ask the sender event(...args) with a timeout of ms; ack
//	                               {ok: true, args: [...reply]} or {ok: false, timeout: true}
//	slow(ms, ...args)              ack ...args after ms
//	join(...rooms)                 [admin] join; ack own rooms (sorted, without the socket id)
//	leave(...rooms)                leave; ack own rooms
//	rooms()                        ack own rooms
//	publish(room, data)            [admin] write data (event "message") to every member of room,
//	                               Primus clients of "/" included; ack nothing
//	say(room, text)                write {from: id, text} to the other members of room; ack nothing
//	target(spec, op, ...args)      run op on the target spec = {nsp, rooms, to, except, volatile}
//	                               (see runTarget); ack its result
//	kick(reconnect)                server-side disconnect: false → namespace DISCONNECT (the client
//	                               does not reconnect), true → close the Engine.IO connection
//	anyLog()                       ack the events this socket sent, as onAny saw them: [{event, args}]
//	send(x) / "message"            one arg, no ack: write {got: x} back (event "message")
//
// "/admin": middleware refuses auth.token other than "admin": connect_error "unauthorized", data
// {need: "admin"}. Any other namespace: the stock "Invalid namespace".
//
// Hooks: members of room "watchers" of "/" get event gone({id, nsp, phase, reason, rooms}) when
// any Socket.IO socket is disconnecting (phase "disconnecting", rooms still joined) and when it
// has disconnected (phase "disconnect", rooms []).
//
// Primus clients at /primus, data messages: {join: room} → join, answer {joined: room};
// {say: room, text} and {publish: room, data} as above; {whoami: true} → {id}. Rooms of "/"
// hold Socket.IO sockets and Primus sparks alike (Allspark shares them; here this script
// bridges the two servers).
//
//	node socketio-server.cjs [--port N]
//
// Prints LISTEN 127.0.0.1:<port>, exits when stdin closes.
const http = require('node:http');
const { createRequire } = require('node:module');
const path = require('node:path');
const { parse, listen } = require('./args.cjs');

const requireRoot = createRequire(path.resolve(__dirname, '..', '..', '..', 'package.json'));
const { Server } = requireRoot('socket.io');
const Primus = requireRoot('primus');

const flags = parse(process.argv.slice(2), { port: 'int' });

const server = http.createServer();
const io = new Server(server, { destroyUpgrade: false });
const primus = new Primus(server, { transformer: 'websockets', pathname: '/primus', pingInterval: false });

/** Primus sparks by room name (the "/" rooms they share with Socket.IO sockets). */
const primusRooms = new Map();

/** describe(v) names v's type: bytes, string, number, boolean, null, [..] or {k: ..}. */
function describe(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return 'bytes';
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return v.map(describe);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, describe(x)]));
  return typeof v;
}

/** The socket's rooms, sorted, without its own id (Socket.IO's private room). */
function roomsOf(socket) {
  return [...socket.rooms].filter((r) => r !== socket.id).sort();
}

/** Splits a handler's arguments into the event args and the ack callback (a no-op without one). */
function split(args) {
  const cb = typeof args[args.length - 1] === 'function' ? args.pop() : () => {};
  return [args, cb];
}

const bytes = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i % 256));

/** Writes data as event "message" to the members of room in "/", Socket.IO and Primus, except the ids. */
function writeRoom(room, data, except = []) {
  let op = io.to(room);
  if (except.length) op = op.except(except);
  op.emit('message', data);
  for (const spark of primusRooms.get(room) ?? []) {
    if (!except.includes(spark.id)) spark.write(data);
  }
}

/** Refuses every CONNECT whose auth token is "bad" (Allspark: Server.Authorize). */
function authorize(socket, next) {
  if (socket.handshake.auth?.token === 'bad') {
    const err = new Error('forbidden');
    err.data = { reason: 'bad token' };
    return next(err);
  }
  return next();
}

/**
 * runTarget applies op to the sockets the spec selects, in namespace spec.nsp
 * (default "/"): rooms (io.to), to (socket ids), except (ids), volatile.
 *
 *	emit(event, ...args)         → null
 *	burst(n, event)              emit event(i) for i in 0..n-1 → null
 *	emitWithAck(ms, event, ...args) → {replies: [{from, args}], missing, total, timedOut}
 *	                               (from: the answering socket id; the reference cannot tell, so null)
 *	join(...rooms), leave(...rooms) → how many sockets were selected
 *	disconnect(reconnect)        → how many sockets were selected (see below)
 *	sparks()                     → [{id, rooms}] sorted by id
 */
async function runTarget(spec, op, args) {
  const nsp = io.of(spec.nsp || '/');
  let target = nsp;
  const rooms = [...(spec.rooms ?? []), ...(spec.to ?? [])];
  if (rooms.length) target = target.to(rooms);
  if (spec.except?.length) target = target.except(spec.except);
  if (spec.volatile) target = target.volatile;
  const selected = () => target.fetchSockets().then((s) => s.length);
  switch (op) {
    case 'emit':
      target.emit(...args);
      return null;
    case 'burst': {
      const [n, event] = args;
      for (let i = 0; i < n; i++) target.emit(event, i);
      return null;
    }
    case 'emitWithAck': {
      const [ms, event, ...rest] = args;
      const total = await selected();
      return new Promise((resolve) => {
        target.timeout(ms).emit(event, ...rest, (err, responses) => {
          resolve({
            replies: responses.map((r) => ({ from: null, args: [r] })),
            missing: total - responses.length,
            total,
            timedOut: Boolean(err),
          });
        });
      });
    }
    case 'join': {
      const n = await selected();
      target.socketsJoin(args);
      return n;
    }
    case 'leave': {
      const n = await selected();
      target.socketsLeave(args);
      return n;
    }
    case 'disconnect': {
      // Allspark's Target.Disconnect(reconnect): false is disconnectSockets()
      // (a DISCONNECT packet: the client stays away); true closes each Engine.IO
      // connection without one, so the client reconnects. (disconnectSockets(true)
      // sends DISCONNECT before closing: its clients do not reconnect either.)
      const sockets = await target.fetchSockets();
      if (args[0]) for (const s of sockets) s.conn.close();
      else target.disconnectSockets();
      return sockets.length;
    }
    case 'sparks': {
      const sockets = await target.fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].filter((r) => r !== s.id).sort() }))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    }
    default:
      throw new Error(`unknown target op ${op}`);
  }
}

/** Announces a disconnecting/disconnected socket to the "watchers" room of "/". */
function watchLifecycle(socket) {
  socket.on('disconnecting', (reason) => {
    io.to('watchers').emit('gone', { id: socket.id, nsp: socket.nsp.name, phase: 'disconnecting', reason, rooms: roomsOf(socket) });
  });
  socket.on('disconnect', (reason) => {
    io.to('watchers').emit('gone', { id: socket.id, nsp: socket.nsp.name, phase: 'disconnect', reason, rooms: [] });
  });
}

/** The handlers both namespaces have. */
function common(socket) {
  socket.on('whoami', (...a) => split(a)[1]({ id: socket.id, nsp: socket.nsp.name }));
  socket.on('echo', (...a) => {
    const [args, cb] = split(a);
    cb(...args);
  });
  socket.on('join', (...a) => {
    const [rooms, cb] = split(a);
    socket.join(rooms);
    cb(roomsOf(socket));
  });
  socket.on('publish', (...a) => {
    const [[room, data], cb] = split(a);
    if (socket.nsp.name === '/') writeRoom(room, data);
    else socket.nsp.to(room).emit('message', data);
    cb();
  });
}

io.use(authorize);
io.on('connection', (socket) => {
  watchLifecycle(socket);
  common(socket);
  const anyLog = [];
  socket.onAny((event, ...args) => {
    anyLog.push({ event, args: args.filter((x) => typeof x !== 'function') });
  });
  socket.on('anyLog', (...a) => split(a)[1](anyLog));
  socket.on('types', (...a) => {
    const [args, cb] = split(a);
    cb(args.map(describe));
  });
  socket.on('sendBytes', (...a) => {
    const [[n], cb] = split(a);
    socket.emit('bytes', bytes(n), { inner: bytes(n) });
    cb(bytes(n));
  });
  socket.on('tell', (...a) => {
    const [[event, ...args], cb] = split(a);
    socket.emit(event, ...args);
    cb();
  });
  socket.on('ask', (...a) => {
    const [[ms, event, ...args], cb] = split(a);
    socket.timeout(ms).emit(event, ...args, (err, ...reply) => {
      cb(err ? { ok: false, timeout: true } : { ok: true, args: reply });
    });
  });
  socket.on('slow', (...a) => {
    const [[ms, ...args], cb] = split(a);
    setTimeout(() => cb(...args), ms);
  });
  socket.on('leave', (...a) => {
    const [rooms, cb] = split(a);
    for (const r of rooms) socket.leave(r);
    cb(roomsOf(socket));
  });
  socket.on('rooms', (...a) => split(a)[1](roomsOf(socket)));
  socket.on('say', (...a) => {
    const [[room, text], cb] = split(a);
    writeRoom(room, { from: socket.id, text }, [socket.id]);
    cb();
  });
  socket.on('target', (...a) => {
    const [[spec, op, ...args], cb] = split(a);
    runTarget(spec ?? {}, op, args).then(cb, (err) => cb({ error: err.message }));
  });
  socket.on('kick', (...a) => {
    const [[reconnect]] = split(a);
    if (reconnect) socket.conn.close();
    else socket.disconnect();
  });
  socket.on('message', (...a) => {
    if (a.length === 1 && typeof a[0] !== 'function') socket.send({ got: a[0] });
  });
});

const admin = io.of('/admin');
admin.use(authorize);
admin.use((socket, next) => {
  if (socket.handshake.auth?.token === 'admin') return next();
  const err = new Error('unauthorized');
  err.data = { need: 'admin' };
  return next(err);
});
admin.on('connection', (socket) => {
  watchLifecycle(socket);
  common(socket);
});

primus.on('connection', (spark) => {
  const joined = new Set();
  spark.on('data', (data) => {
    if (!data || typeof data !== 'object') return;
    if (typeof data.join === 'string') {
      if (!primusRooms.has(data.join)) primusRooms.set(data.join, new Set());
      primusRooms.get(data.join).add(spark);
      joined.add(data.join);
      spark.write({ joined: data.join });
    } else if (typeof data.say === 'string') {
      writeRoom(data.say, { from: spark.id, text: data.text }, [spark.id]);
    } else if (typeof data.publish === 'string') {
      writeRoom(data.publish, data.data);
    } else if (data.whoami) {
      spark.write({ id: spark.id });
    }
  });
  spark.on('end', () => {
    for (const r of joined) primusRooms.get(r)?.delete(spark);
  });
});

listen(server, flags.port ?? 0);
