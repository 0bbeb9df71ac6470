// ../js/src/emitter.ts
var Emitter = class {
  constructor() {
    // A Map, not an object: names come from the network too ("constructor",
    // "__proto__" must be ordinary names).
    this.listeners = /* @__PURE__ */ new Map();
  }
  on(event, fn) {
    const list = this.listeners.get(event);
    if (list) list.push(fn);
    else this.listeners.set(event, [fn]);
    return this;
  }
  once(event, fn) {
    const wrapped = (...args) => {
      this.off(event, wrapped);
      return fn(...args);
    };
    return this.on(event, wrapped);
  }
  off(event, fn) {
    const list = this.listeners.get(event);
    if (list) this.listeners.set(event, fn ? list.filter((l) => l !== fn) : []);
    return this;
  }
  emit(event, ...args) {
    const list = this.listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const fn of list.slice()) fn(...args);
    return true;
  }
  removeAllListeners() {
    this.listeners.clear();
    return this;
  }
  listenerCount(event) {
    return this.listeners.get(event)?.length ?? 0;
  }
};

// ../js/src/backoff.ts
var defaultReconnect = {
  min: 500,
  max: Infinity,
  retries: 10,
  factor: 2,
  "reconnect timeout": 3e4
};
function backoffDelay(attempt, o, rand = Math.random) {
  if (attempt <= 1) return o.min;
  return Math.min(Math.round((rand() + 1) * o.min * Math.pow(o.factor, attempt - 1)), o.max);
}

// ../js/src/protocol.ts
var PREFIX = "primus::";
function parseControl(data) {
  if (typeof data !== "string" || !data.startsWith(PREFIX)) return null;
  const rest = data.slice(PREFIX.length);
  const sep = rest.indexOf("::");
  if (sep < 0) return null;
  const kind = rest.slice(0, sep);
  const value = rest.slice(sep + 2);
  if (kind === "ping" || kind === "id" || kind === "server") return { kind, value };
  return null;
}
function encode(data) {
  return JSON.stringify(data).replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

// ../js/src/events.ts
var EventError = class extends Error {
  /**
   * code: bad_envelope, unknown_event, reserved_event, invalid_argument,
   * handler_error (or one a handler chose), or, local only, timeout and disconnected.
   */
  constructor(code, message, event) {
    super(message);
    this.code = code;
    this.event = event;
    this.name = "EventError";
  }
};
var Args = class {
  constructor(...values) {
    this.values = values;
  }
};
var RESERVED = /* @__PURE__ */ new Set([
  "open",
  "close",
  "end",
  "data",
  "error",
  "reconnect",
  "reconnect scheduled",
  "reconnected",
  "reconnect timeout",
  "reconnect failed",
  "timeout",
  "online",
  "offline",
  "readyStateChange",
  "heartbeat",
  "drop"
]);
function isReserved(name) {
  return RESERVED.has(name) || /^(outgoing|incoming|primus|allspark)::/.test(name);
}
function validName(name) {
  return typeof name === "string" && name !== "" && new TextEncoder().encode(name).length <= 256;
}
var isID = (v) => Number.isSafeInteger(v) && v > 0;
var own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
function parseEnvelope(data) {
  if (typeof data !== "object" || data === null || Array.isArray(data) || !own(data, "allspark")) return null;
  const m = data;
  let id;
  let ack;
  let event;
  const args = m.args ?? [];
  const bad = (reason) => ({
    args: [],
    id,
    ack,
    error: new EventError("bad_envelope", "malformed event envelope: " + reason, event)
  });
  if (m.allspark !== 1) return bad("unsupported version");
  if (own(m, "event")) {
    if (own(m, "ack")) return bad('both "event" and "ack"');
    if (own(m, "id")) {
      if (!isID(m.id)) return bad('"id" is not a positive integer below 2^53');
      id = m.id;
    }
    if (!validName(m.event)) return bad('"event" must be a string of 1 to 256 bytes');
    event = m.event;
    if (!Array.isArray(args)) return bad('"args" is not an array');
    return { event, args, id };
  }
  if (own(m, "ack")) {
    if (!isID(m.ack)) return bad('"ack" is not a request id');
    ack = m.ack;
  } else if (!own(m, "error")) return bad('neither "event", "ack" nor "error"');
  if (own(m, "error")) {
    const e = m.error;
    if (typeof e !== "object" || !e || typeof e.code !== "string" || !e.code) {
      return bad('"error" must be an object with a string "code"');
    }
    const str = (v) => typeof v === "string" ? v : "";
    return { args: [], ack, error: new EventError(e.code, str(e.message), str(e.event) || void 0) };
  }
  if (!Array.isArray(args)) return bad('"args" is not an array');
  return { args, ack };
}
function handlerError(e, event) {
  const code = e?.code;
  return new EventError(
    typeof code === "string" && code ? code : "handler_error",
    e instanceof Error ? e.message : String(e),
    event
  );
}

// ../js/src/client.ts
var OPENING = 1;
var CLOSED = 2;
var OPEN = 3;
var AuthorizationError = class extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
    this.name = "AuthorizationError";
  }
};
var defaults = { pathname: "/primus", pingTimeout: 45e3, parser: "json" };
var Frame = class {
  constructor(env, text) {
    this.env = env;
    this.text = text;
  }
};
var Primus = class extends Emitter {
  constructor(url, options = {}) {
    super();
    this.readyState = CLOSED;
    this.online = true;
    this.socket = null;
    this.buffer = [];
    this.attempt = null;
    this.timers = {};
    this.serverClosed = false;
    this.ended = false;
    this.idWaiters = [];
    this.cacheBuster = 0;
    this.removeNetworkListeners = null;
    this.acks = /* @__PURE__ */ new Map();
    this.lastID = 0;
    const base = url ?? (typeof location !== "undefined" ? location.href : "http://localhost");
    this.url = new URL(base);
    const d = this.constructor.defaults;
    let strategy;
    if (options.strategy === false) strategy = [];
    else if (options.strategy === void 0) strategy = ["disconnect", "online", "timeout"];
    else strategy = (Array.isArray(options.strategy) ? options.strategy : options.strategy.split(/[, ]+/)).map((s) => s.toLowerCase()).filter(Boolean);
    this.opts = {
      pathname: options.pathname ?? d.pathname,
      reconnect: { ...defaultReconnect, ...options.reconnect },
      strategy,
      timeout: options.timeout ?? 1e4,
      pingTimeout: options.pingTimeout ?? d.pingTimeout,
      manual: options.manual ?? false,
      queueSize: options.queueSize ?? Infinity
    };
    this.ackTimeout = options.ackTimeout ?? 0;
    this.WS = options.WebSocket ?? globalThis.WebSocket;
    this.listenToNetwork();
    if (!this.opts.manual) queueMicrotask(() => this.open());
  }
  /** Opens the connection (after manual: true, or again after end()). */
  open() {
    if (this.readyState === OPENING || this.readyState === OPEN) return this;
    this.ended = false;
    this.serverClosed = false;
    this.connect();
    return this;
  }
  /** Sends data now, or queues it until the connection opens. */
  write(data) {
    if (this.ended && this.readyState === CLOSED && !this.attempt) return false;
    if (this.readyState === OPEN && this.socket) {
      this.send(data);
      return true;
    }
    this.buffer.push(data);
    while (this.buffer.length > this.opts.queueSize) {
      let old = this.buffer.shift();
      if (old instanceof Frame) {
        if (old.env.id) this.settle(old.env.id, new EventError("disconnected", "dropped from the offline queue (queueSize)"));
        old = old.env;
      }
      this.emit("drop", old);
    }
    return true;
  }
  on(event, fn) {
    if (!isReserved(event) && !validName(event)) throw new TypeError(`invalid event name ${JSON.stringify(event)}`);
    return super.on(event, fn);
  }
  emit(event, ...args) {
    if (isReserved(event)) return super.emit(event, ...args);
    return this.write(this.frame(event, args));
  }
  /**
   * Sends a named event asking for an ack; resolves with the reply args.
   * Rejects with an EventError: the server's code (unknown_event,
   * invalid_argument, handler_error ...), timeout (options.ackTimeout, or
   * timeout(ms)), or disconnected when the connection closes first. Throws
   * a TypeError at once for a reserved or invalid name.
   */
  emitWithAck(event, ...args) {
    return this.ask(this.ackTimeout, event, args);
  }
  /** Sets the time limit of one request: `client.timeout(500).emitWithAck('add', x)`. */
  timeout(ms) {
    return { emitWithAck: (event, ...args) => this.ask(ms, event, args) };
  }
  frame(event, args, id) {
    if (!validName(event) || isReserved(event)) {
      throw new TypeError(`cannot send event ${JSON.stringify(event)}: names are 1 to 256 bytes and not reserved`);
    }
    const env = { allspark: 1, event, args, id };
    return new Frame(env, encode(env));
  }
  ask(ms, event, args) {
    const id = ++this.lastID;
    const frame = this.frame(event, args, id);
    return new Promise((resolve, reject) => {
      const p = { event, resolve, reject };
      this.acks.set(id, p);
      if (ms > 0) p.timer = setTimeout(() => this.settle(id, new EventError("timeout", `no reply within ${ms} ms`)), ms);
      if (!this.write(frame)) this.settle(id, new EventError("disconnected", "the client has ended"));
    });
  }
  /** Settles request id with the reply args or an error; a second answer finds nothing and is dropped. */
  settle(id, result) {
    const p = this.acks.get(id);
    if (!p) return;
    this.acks.delete(id);
    clearTimeout(p.timer);
    if (Array.isArray(result)) p.resolve(result);
    else {
      result.event ?? (result.event = p.event);
      p.reject(result);
    }
  }
  /**
   * Fails the requests sent on the connection that just closed (all of them
   * when the client ends): the server answers on the spark that got the
   * request, and a reconnect is a new spark that never saw it.
   */
  failAcks(all) {
    for (const [id, p] of this.acks) {
      if (all || p.sent) this.settle(id, new EventError("disconnected", "the connection closed before the reply"));
    }
  }
  /** Handles an envelope from the server (docs/events.md). */
  dispatch({ event, args, id, ack, error }) {
    if (ack) return this.settle(ack, error ?? args);
    const ws = this.socket;
    const reply = (body) => {
      if (!id || !ws || ws !== this.socket) return;
      let text;
      try {
        text = encode({ allspark: 1, ack: id, ...body });
      } catch (e) {
        text = encode({ allspark: 1, ack: id, error: { code: "handler_error", message: "unencodable reply: " + e.message } });
      }
      ws.send(text);
    };
    const fail = (err) => {
      if (id) reply({ error: { code: err.code, message: err.message } });
      else this.emit("error", err);
    };
    if (error) return fail(error);
    const name = event;
    const list = isReserved(name) ? null : this.listeners.get(name);
    if (!list?.length) {
      fail(list === null ? new EventError("reserved_event", `"${name}" is a reserved name`, name) : new EventError("unknown_event", `no handler for event "${name}"`, name));
      return;
    }
    list.slice().forEach((fn, i) => {
      new Promise((resolve) => resolve(fn(...args))).then(
        (v) => i || reply({ args: v === void 0 ? [] : v instanceof Args ? v.values : [v] }),
        (e) => i ? this.emit("error", handlerError(e, name)) : fail(handlerError(e, name))
      );
    });
  }
  /** Asks the server for this connection's spark id. */
  id(fn) {
    return new Promise((resolve) => {
      this.idWaiters.push((id) => {
        fn?.(id);
        resolve(id);
      });
      this.write("primus::id::");
    });
  }
  /** Closes for good (no reconnect), after writing data if given. */
  end(data) {
    if (this.ended) return this;
    if (data !== void 0 && this.readyState === OPEN) this.send(data);
    this.finish();
    return this;
  }
  /** end() and forget every listener. */
  destroy() {
    this.end();
    this.removeNetworkListeners?.();
    this.removeNetworkListeners = null;
    this.removeAllListeners();
  }
  send(data) {
    if (data instanceof Frame) {
      const id = data.env.id;
      if (id) {
        const p = this.acks.get(id);
        if (!p) return;
        p.sent = true;
      }
      this.socket.send(data.text);
    } else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) this.socket.send(data);
    else this.socket.send(encode(data));
  }
  wsURL() {
    const u = new URL(this.url.href);
    u.protocol = u.protocol === "https:" || u.protocol === "wss:" ? "wss:" : "ws:";
    u.pathname = this.opts.pathname;
    u.searchParams.set("_primuscb", `${Date.now()}-${this.cacheBuster++}`);
    return u.href;
  }
  httpURL() {
    const u = new URL(this.url.href);
    u.protocol = u.protocol === "wss:" || u.protocol === "https:" ? "https:" : "http:";
    u.pathname = this.opts.pathname;
    return u.href;
  }
  setState(state) {
    if (this.readyState === state) return;
    this.readyState = state;
    this.emit("readyStateChange", state === OPEN ? "open" : state === OPENING ? "opening" : "end");
  }
  connect() {
    const parser = this.constructor.defaults.parser;
    if (parser !== "json") {
      this.emit("error", new Error(`the server uses the "${parser}" parser; this client speaks JSON only`));
      this.finish();
      return;
    }
    if (!this.WS) {
      this.emit("error", new Error('no WebSocket implementation: pass options.WebSocket (e.g. npm "ws") on Node 20'));
      this.finish();
      return;
    }
    this.setState(OPENING);
    const ws = new this.WS(this.wsURL());
    ws.binaryType = "arraybuffer";
    this.socket = ws;
    let opened = false;
    if (this.opts.timeout) {
      this.timers.connect = setTimeout(() => {
        if (this.socket !== ws) return;
        this.detach(ws);
        this.emit("timeout");
        this.afterFailedConnect(new Error("Connection timed out"), true);
      }, this.opts.timeout);
    }
    ws.onopen = () => {
      if (this.socket !== ws) return;
      opened = true;
      this.clear("connect");
      this.clear("attemptTimeout");
      this.online = true;
      const attempt = this.attempt;
      this.attempt = null;
      this.setState(OPEN);
      this.heartbeat();
      const queued = this.buffer;
      this.buffer = [];
      for (const d of queued) this.send(d);
      if (attempt) this.emit("reconnected", attempt);
      this.emit("open");
    };
    ws.onmessage = (ev) => {
      if (this.socket !== ws) return;
      this.incoming(ev.data);
    };
    ws.onerror = () => {
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.detach(ws);
      if (this.serverClosed) {
        this.finish();
        return;
      }
      if (!opened) {
        this.afterFailedConnect(new Error("Connection failed"), false);
        return;
      }
      this.setState(CLOSED);
      this.emit("close");
      if (this.has("disconnect")) this.scheduleReconnect(new Error("Connection closed"));
      else this.finish(false);
    };
  }
  /** The connection never opened: authorization refusal ends; otherwise maybe retry. */
  afterFailedConnect(err, timedOut) {
    const retry = () => {
      if (this.ended) return;
      if (this.attempt || this.has("timeout") || this.has("disconnect") && !timedOut) this.scheduleReconnect(err);
      else {
        this.emit("error", err);
        this.finish();
      }
    };
    if (timedOut || typeof fetch !== "function") return retry();
    fetch(this.httpURL(), { cache: "no-store" }).then(async (res) => {
      if (this.ended) return;
      if (res.status === 401 || res.status === 403) {
        let message = res.statusText;
        try {
          message = (await res.json()).error ?? message;
        } catch {
        }
        this.emit("error", new AuthorizationError(res.status, message));
        this.attempt = null;
        this.finish();
        return;
      }
      retry();
    }).catch(() => retry());
  }
  incoming(raw) {
    let data = raw;
    if (typeof raw === "string") {
      try {
        data = JSON.parse(raw);
      } catch (e) {
        if (this.listenerCount("error")) this.emit("error", e);
        return;
      }
    }
    const ctl = parseControl(data);
    if (ctl) {
      switch (ctl.kind) {
        case "ping":
          this.online = true;
          this.heartbeat();
          this.send("primus::pong::" + ctl.value);
          return;
        case "server":
          if (ctl.value === "close") this.serverClosed = true;
          return;
        case "id": {
          const waiters = this.idWaiters;
          this.idWaiters = [];
          for (const w of waiters) w(ctl.value);
          return;
        }
      }
    }
    const env = parseEnvelope(data);
    if (env) this.dispatch(env);
    else this.emit("data", data);
  }
  heartbeat() {
    this.clear("heartbeat");
    if (!this.opts.pingTimeout) return;
    this.timers.heartbeat = setTimeout(() => {
      const ws = this.socket;
      if (!ws) return;
      ws.close();
      ws.onclose?.({ code: 1006 });
    }, this.opts.pingTimeout);
  }
  scheduleReconnect(err) {
    if (this.ended) return;
    const o = this.opts.reconnect;
    const n = (this.attempt?.attempt ?? 0) + 1;
    if (n > o.retries) {
      const last = this.attempt ?? { attempt: n - 1, retries: o.retries, scheduled: 0 };
      this.attempt = null;
      this.finish();
      this.emit("reconnect failed", err, last);
      return;
    }
    const attempt = { attempt: n, retries: o.retries, scheduled: backoffDelay(n, o) };
    this.attempt = attempt;
    this.setState(CLOSED);
    this.emit("reconnect scheduled", attempt);
    this.timers.reconnect = setTimeout(() => {
      this.emit("reconnect", attempt);
      this.timers.attemptTimeout = setTimeout(() => {
        const ws = this.socket;
        if (ws) this.detach(ws);
        this.emit("reconnect timeout", new Error("Reconnect attempt timed out"), attempt);
        this.scheduleReconnect(new Error("Reconnect attempt timed out"));
      }, o["reconnect timeout"]);
      this.connect();
    }, attempt.scheduled);
  }
  /** Stops listening to a socket and closes it. */
  detach(ws) {
    ws.onopen = ws.onclose = ws.onmessage = null;
    ws.onerror = () => {
    };
    try {
      ws.close();
    } catch {
    }
    if (this.socket === ws) this.socket = null;
    this.clear("connect");
    this.clear("heartbeat");
    this.failAcks(false);
  }
  finish(emitClose = true) {
    if (this.ended) return;
    this.ended = true;
    const wasOpen = this.readyState === OPEN;
    for (const k of Object.keys(this.timers)) this.clear(k);
    if (this.socket) this.detach(this.socket);
    this.failAcks(true);
    this.attempt = null;
    this.setState(CLOSED);
    if (wasOpen && emitClose) this.emit("close");
    this.emit("end");
  }
  clear(name) {
    const t = this.timers[name];
    if (t !== void 0) clearTimeout(t);
    delete this.timers[name];
  }
  has(strategy) {
    return this.opts.strategy.includes(strategy);
  }
  /** Browser online/offline events drive the 'online' strategy. */
  listenToNetwork() {
    const w = globalThis;
    if (typeof w.addEventListener !== "function" || typeof w.removeEventListener !== "function") return;
    const offline = () => {
      if (!this.online) return;
      this.online = false;
      this.emit("offline");
      if (this.ended) return;
      this.clear("reconnect");
      this.clear("attemptTimeout");
      if (this.socket) this.detach(this.socket);
      if (this.readyState === OPEN) this.emit("close");
      this.setState(CLOSED);
    };
    const online = () => {
      if (this.online) return;
      this.online = true;
      this.emit("online");
      if (this.ended || !this.has("online")) return;
      this.attempt = null;
      this.clear("reconnect");
      this.scheduleReconnectNow();
    };
    w.addEventListener("offline", offline);
    w.addEventListener("online", online);
    this.removeNetworkListeners = () => {
      w.removeEventListener("offline", offline);
      w.removeEventListener("online", online);
    };
  }
  scheduleReconnectNow() {
    const attempt = { attempt: 1, retries: this.opts.reconnect.retries, scheduled: 0 };
    this.attempt = attempt;
    this.emit("reconnect scheduled", attempt);
    this.emit("reconnect", attempt);
    this.connect();
  }
};
Primus.OPENING = OPENING;
Primus.CLOSED = CLOSED;
Primus.OPEN = OPEN;
Primus.defaults = defaults;
/** For the global build: `new Primus.Args(a, b)`, `err instanceof Primus.EventError`. */
Primus.Args = Args;
Primus.EventError = EventError;
export {
  Primus as Allspark,
  Args,
  AuthorizationError,
  CLOSED,
  Emitter,
  EventError,
  OPEN,
  OPENING,
  Primus,
  backoffDelay,
  defaultReconnect,
  defaults,
  isReserved
};
