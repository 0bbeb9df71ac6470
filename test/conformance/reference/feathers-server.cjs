'use strict';
// The reference for feathers.test.mjs (FEATHERS_SERVER=reference): the
// Feathers app of test/conformance/pluginfixture written with Feathers
// itself, served twice on one HTTP server:
//
//   - Feathers v5 (@feathersjs/feathers 5.0.50 with its transport-commons
//     socket layer) over npm socket.io 4.8.4 at /socket.io/, for the v5
//     socketio-client;
//   - Feathers v4 (feathers4 = @feathersjs/feathers 4.5.15, transport-commons
//     4.5.21) over stock Primus 8 with the primus-emitter server plugin at
//     /primus, for the v4 primus-client.
//
// The glue between Feathers' socket layer and the two servers is what
// @feathersjs/socketio 5 and @feathersjs/primus 4 do (neither is installed):
// each connection gets a params object (provider, headers) that Feathers
// calls the connection, and the dispatcher finds the socket back from it.
// The two apps are separate (their own records and channels); on Allspark
// one server serves both wires.
//
// Services: messages (find with query.userId, get, create with text
// required, update, patch with id null for all, remove), announcements
// (create only), authentication (create({token}): alice-token, bob-token).
// Channels: anonymous on connection; a login leaves it for authenticated and
// user/<id>. Publishing: messages events to user/<userId> when the record
// names one, else authenticated; announcements to everyone; authentication
// to nobody.
//
//   node feathers-server.cjs
//
// Prints LISTEN 127.0.0.1:<port>, exits when stdin closes.
const http = require('node:http');
const { createRequire } = require('node:module');
const path = require('node:path');
const { parse, listen } = require('./args.cjs');

const requireRoot = createRequire(path.resolve(__dirname, '..', '..', '..', 'package.json'));
// The v5 socket layer and errors are the ones @feathersjs/socketio-client depends on.
const require5 = createRequire(requireRoot.resolve('@feathersjs/socketio-client'));
const { feathers } = requireRoot('@feathersjs/feathers');
const socket5 = require5('@feathersjs/transport-commons').socket;
const errors5 = require5('@feathersjs/errors');
const { Server: IOServer } = requireRoot('socket.io');
const feathers4 = requireRoot('feathers4');
const socket4 = requireRoot('@feathersjs/transport-commons').socket;
const errors4 = requireRoot('@feathersjs/errors');
const Primus = requireRoot('primus');
const emitter = requireRoot('primus-emitter');

parse(process.argv.slice(2), {});

const users = { 'alice-token': { id: 'alice', roles: ['admin'] }, 'bob-token': { id: 'bob', roles: [] } };

function messages(errors) {
  const store = new Map();
  let next = 0;
  const byId = (a, b) => a.id - b.id;
  const lookup = (id) => {
    const m = store.get(Number(id));
    if (!m) throw new errors.NotFound(`No record found for id '${id}'`, { id });
    return m;
  };
  return {
    async find(params) {
      const q = params.query || {};
      return [...store.values()].filter((m) => !('userId' in q) || m.userId === q.userId).sort(byId);
    },
    async get(id) {
      return lookup(id);
    },
    async create(data) {
      if (!data || typeof data.text !== 'string' || data.text === '') {
        throw new errors.BadRequest('text is required', { errors: { text: 'required' } });
      }
      const m = { id: ++next, text: data.text, ...(data.userId && { userId: data.userId }) };
      store.set(m.id, m);
      return m;
    },
    async update(id, data) {
      const old = lookup(id);
      const m = { id: old.id, text: data.text, ...(data.userId && { userId: data.userId }) };
      store.set(m.id, m);
      return m;
    },
    async patch(id, data) {
      const apply = (m) => {
        if (typeof data.text === 'string') m.text = data.text;
        return { ...m };
      };
      if (id === null) return [...store.values()].sort(byId).map(apply);
      return apply(lookup(id));
    },
    async remove(id) {
      const m = lookup(id);
      store.delete(m.id);
      return m;
    },
  };
}

/** Services, channels and publishing, the same on both apps. */
function configure(app, errors) {
  app.use('messages', messages(errors));
  app.use('announcements', { async create(data) { return { text: data.text }; } });
  app.use('authentication', {
    async create(data, params) {
      const user = users[data && data.token];
      if (!user) throw new errors.NotAuthenticated('Invalid login');
      const { connection } = params;
      app.channel('anonymous').leave(connection);
      app.channel('authenticated').join(connection);
      app.channel(`user/${user.id}`).join(connection);
      for (const r of user.roles) app.channel(`role/${r}`).join(connection);
      return { accessToken: data.token, user: { id: user.id } };
    },
  });
  app.on('connection', (connection) => app.channel('anonymous').join(connection));
  app.publish((data) => (data && data.userId ? app.channel(`user/${data.userId}`) : app.channel('authenticated')));
  app.service('announcements').publish(() => [app.channel('anonymous'), app.channel('authenticated')]);
  app.service('authentication').publish(() => null);
}

const server = http.createServer();

// Feathers v5 on Socket.IO.
const io = new IOServer(server, { path: '/socket.io/' });
const app5 = feathers();
const socketMap = new WeakMap();
io.use((socket, next) => {
  socket.feathers = { provider: 'socketio', headers: socket.handshake.headers };
  socketMap.set(socket.feathers, socket);
  socket.once('disconnect', () => app5.emit('disconnect', socket.feathers));
  next();
});
app5.configure(socket5({ done: Promise.resolve(io), socketMap, getParams: (socket) => socket.feathers, emit: 'emit' }));
configure(app5, errors5);

// Feathers v4 on Primus with primus-emitter.
const primus = new Primus(server, { transformer: 'websockets', pathname: '/primus' });
primus.plugin('emitter', emitter);
const app4 = feathers4();
const socketKey = Symbol('primus spark');
primus.on('connection', (spark) => {
  spark.request.feathers = { provider: 'primus', headers: spark.headers };
  Object.defineProperty(spark.request.feathers, socketKey, { value: spark });
});
primus.on('disconnection', (spark) => app4.emit('disconnect', spark.request.feathers));
app4.configure(socket4({ done: Promise.resolve(primus), socketKey, getParams: (spark) => spark.request.feathers, emit: 'send' }));
configure(app4, errors4);

listen(server);
