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

// ../js/src/engine.ts
var SEP = "";
var toBase64 = (d) => {
  const b = ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return btoa(s);
};
var Engine = class {
  /**
   * url: the http(s) URL of `<pathname>/` with the app's query. WS: the
   * constructor to upgrade with (none: stay on polling). retry: ms between
   * upgrade attempts after one failed (false: try once). handshake: query
   * parameters of the handshake alone (recovery's `_recover`, `_session`,
   * `_since`): the server reads them when it makes the session, and they
   * would only lengthen every later request.
   */
  constructor(url, WS, retry, handshake = []) {
    this.url = url;
    this.WS = WS;
    this.retry = retry;
    this.handshake = handshake;
    this.onopen = null;
    this.onclose = null;
    this.onerror = null;
    this.onmessage = null;
    /** What carries the session now. */
    this.transport = "polling";
    this.sid = "";
    this.maxPayload = 1e6;
    this.deadAfter = 0;
    this.queue = [];
    this.getting = false;
    this.posting = false;
    /** Between the probe's answer and the switch: polling sends and fetches nothing. */
    this.paused = false;
    this.ws = null;
    this.probe = null;
    this.closed = false;
    this.abort = new AbortController();
    this.timers = {};
    this.n = 0;
    this.fail = (e) => {
      this.getting = this.posting = false;
      this.die(e?.status ?? 0, e?.text);
    };
    this.get(true);
  }
  send(data) {
    this.queue.push(typeof data === "string" ? "4" + data : data);
    this.flush();
  }
  /** Closes the session: the close packet follows what is queued (end(data) must not lose data). */
  close() {
    if (this.closed) return;
    this.queue.push("1");
    this.closed = true;
    this.flush();
    this.shut();
  }
  href(transport, ws = false) {
    const u = new URL(this.url);
    if (ws) u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    const q = u.searchParams;
    q.set("EIO", "4");
    q.set("transport", transport);
    q.set("t", `${Date.now().toString(36)}${this.n++}`);
    if (this.sid) q.set("sid", this.sid);
    else for (const [k, v] of this.handshake) q.set(k, v);
    return u.href;
  }
  /** The held GET (the handshake when first): a payload of server packets. */
  get(handshake = false) {
    if (this.closed || this.paused || this.getting || this.ws) return;
    this.getting = true;
    this.http(void 0).then((body) => {
      this.getting = false;
      if (this.closed) return;
      if (handshake) {
        const [open, ...rest] = body.split(SEP);
        let h;
        try {
          h = open[0] === "0" ? JSON.parse(open.slice(1)) : {};
        } catch {
          h = {};
        }
        if (typeof h.sid !== "string" || !h.sid) return this.die(0, "bad handshake");
        this.sid = h.sid;
        if (typeof h.maxPayload === "number" && h.maxPayload > 0) this.maxPayload = h.maxPayload;
        this.deadAfter = (Number(h.pingInterval) || 0) + (Number(h.pingTimeout) || 0);
        this.alive();
        this.onopen?.({});
        if (this.closed) return;
        body = rest.join(SEP);
        if (Array.isArray(h.upgrades) && h.upgrades.includes("websocket")) this.upgrade();
        this.flush();
      }
      if (body) {
        for (const p of body.split(SEP)) if (!this.packet(p)) return;
      }
      if (this.paused) this.switch();
      else this.get();
    }, this.fail);
  }
  /** A fetch of the session URL (GET, or POST of body); rejects with the status on a non-200. */
  http(body) {
    return fetch(this.href("polling"), {
      method: body === void 0 ? "GET" : "POST",
      body,
      headers: body === void 0 ? void 0 : { "Content-Type": "text/plain;charset=UTF-8" },
      cache: "no-store",
      // Only the held GET is cut on close: a POST under way still carries writes.
      signal: body === void 0 ? this.abort.signal : void 0
    }).then(async (res) => {
      const text = await res.text();
      if (res.status !== 200) throw { status: res.status, text };
      return text;
    });
  }
  /** Sends what is queued: on the WebSocket, or as one POST at a time within maxPayload. */
  flush() {
    const q = this.queue;
    if (this.ws) {
      this.queue = [];
      for (const d of q) this.ws.send(d);
      return;
    }
    if (this.posting || this.paused && !this.closed || !this.sid || !q.length) return;
    const enc = new TextEncoder();
    let size = 0;
    let i = 0;
    const parts = [];
    for (; i < q.length; i++) {
      const d = q[i];
      const p = typeof d === "string" ? d : "b" + toBase64(d);
      size += enc.encode(p).length + (i ? 1 : 0);
      if (i && size > this.maxPayload) break;
      parts.push(p);
    }
    this.queue = q.slice(i);
    this.posting = true;
    this.http(parts.join(SEP)).then(() => {
      this.posting = false;
      if (this.paused && !this.closed) this.switch();
      else this.flush();
    }, this.fail);
  }
  /** One packet from the server; false when it ended the session. */
  packet(p) {
    this.alive();
    if (typeof p !== "string") {
      this.onmessage?.({ data: p });
      return !this.closed;
    }
    const data = p.slice(1);
    switch (p[0]) {
      case "4":
        this.onmessage?.({ data });
        break;
      case "b": {
        const s = atob(data);
        const b = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
        this.onmessage?.({ data: b.buffer });
        break;
      }
      case "2":
        this.queue.push("3");
        this.flush();
        break;
      case "6":
        break;
      default:
        this.die(1e3);
    }
    return !this.closed;
  }
  /** Restarts the liveness watchdog: a server silent for pingInterval + pingTimeout is gone. */
  alive() {
    clearTimeout(this.timers.dead);
    if (this.deadAfter) this.timers.dead = setTimeout(() => this.die(1006), this.deadAfter);
  }
  /** Probes a WebSocket with the session id: 2probe, 3probe, then switch() sends 5. */
  upgrade() {
    if (!this.WS || this.closed || this.ws || this.probe) return;
    const p = new this.WS(this.href("websocket", true));
    p.binaryType = "arraybuffer";
    this.probe = p;
    const failed = () => {
      if (this.probe !== p) return;
      this.probe = null;
      this.paused = false;
      this.drop(p);
      clearTimeout(this.timers.upgrade);
      if (this.closed) return;
      if (this.retry !== false) this.timers.upgrade = setTimeout(() => this.upgrade(), this.retry);
      this.get();
      this.flush();
    };
    this.timers.upgrade = setTimeout(failed, 1e4);
    p.onopen = () => p.send("2probe");
    p.onmessage = (ev) => {
      if (ev.data !== "3probe" || this.paused) return failed();
      this.paused = true;
      this.switch();
    };
    p.onclose = failed;
    p.onerror = () => {
    };
  }
  /** Completes the upgrade once polling is idle (the server answers the held GET with a noop). */
  switch() {
    const p = this.probe;
    if (!p || this.getting || this.posting || this.closed) return;
    this.probe = null;
    this.paused = false;
    clearTimeout(this.timers.upgrade);
    p.send("5");
    this.ws = p;
    this.transport = "websocket";
    p.onmessage = (ev) => {
      this.packet(ev.data);
    };
    p.onclose = () => this.die(1006);
    this.flush();
  }
  drop(ws) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close();
    } catch {
    }
  }
  /** Ends the session without telling anyone. */
  shut() {
    this.closed = true;
    clearTimeout(this.timers.dead);
    clearTimeout(this.timers.upgrade);
    if (this.probe) this.drop(this.probe);
    if (this.ws) this.drop(this.ws);
    this.probe = this.ws = null;
    this.abort.abort();
  }
  /** The session ended under us: code is an HTTP status (refused handshake), a close code, or 0 (network). */
  die(code, reason) {
    if (this.closed) return;
    this.queue = [];
    this.shut();
    this.onclose?.({ code, reason });
  }
};

// ../js/src/recovery.ts
var MAX_ROOMS = 64;
var MAX_ROOM = 256;
var MAX_EPOCH = 64;
var MAX_TOKEN = 256;
var MAX_SINCE = 32 << 10;
var utf8 = (s) => new TextEncoder().encode(s).length;
var own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
var str = (v, max, empty = false) => typeof v === "string" && (empty || v !== "") && utf8(v) <= max;
function parseRecovery(data) {
  if (typeof data !== "object" || data === null || Array.isArray(data) || !own(data, "allspark")) return null;
  const m = data;
  if (m.allspark !== 1 || own(m, "event") || own(m, "ack") || own(m, "error")) return null;
  if (own(m, "session")) {
    const s = m.session;
    if (typeof s !== "object" || s === null || Array.isArray(s)) return { kind: "bad", reason: '"session" is not an object' };
    if (!str(s.id, MAX_TOKEN)) return { kind: "bad", reason: `session "id" must be a string of 1 to ${MAX_TOKEN} bytes` };
    if (!str(s.token, MAX_TOKEN)) return { kind: "bad", reason: `session "token" must be a string of 1 to ${MAX_TOKEN} bytes` };
    if (typeof s.restored !== "boolean" || typeof s.recovered !== "boolean") {
      return { kind: "bad", reason: 'session "restored" and "recovered" must be booleans' };
    }
    const reason = s.reason ?? "";
    if (!str(reason, MAX_TOKEN, true)) return { kind: "bad", reason: 'session "reason" must be a short string' };
    return { kind: "session", token: s.token, session: { id: s.id, restored: s.restored, recovered: s.recovered, reason } };
  }
  if (!own(m, "room")) return null;
  if (!str(m.room, MAX_ROOM)) return { kind: "bad", reason: `"room" must be a string of 1 to ${MAX_ROOM} bytes` };
  const offset = m.offset;
  const stamped = own(m, "data");
  if (!Number.isSafeInteger(offset) || offset < (stamped ? 1 : 0)) return { kind: "bad", reason: '"offset" must be an integer below 2^53, positive in a stamped message' };
  if (!str(m.epoch, MAX_EPOCH)) return { kind: "bad", reason: `"epoch" must be a string of 1 to ${MAX_EPOCH} bytes` };
  const pos = { room: m.room, offset, epoch: m.epoch };
  return stamped ? { kind: "stamped", ...pos, data: m.data } : { kind: "position", ...pos };
}
var Positions = class {
  constructor() {
    this.rooms = /* @__PURE__ */ new Map();
  }
  get size() {
    return this.rooms.size;
  }
  get(room) {
    return this.rooms.get(room);
  }
  /** Judges stamped message (room, offset, epoch), moving the position on when it is to be delivered. */
  stamped(room, offset, epoch) {
    const pos = this.rooms.get(room);
    if (pos) {
      if (pos[1] !== epoch) return "epoch";
      if (offset <= pos[0]) return "duplicate";
      if (offset > pos[0] + 1) return "gap";
    }
    this.set(room, offset, epoch);
    return "deliver";
  }
  /** An announcement: the position is now (offset, epoch), unless it would move back within one epoch. */
  announce(room, offset, epoch) {
    const pos = this.rooms.get(room);
    if (pos && pos[1] === epoch && offset < pos[0]) return;
    this.set(room, offset, epoch);
  }
  clear() {
    this.rooms.clear();
  }
  /**
   * The `_since` query value: `{"room":[offset,"epoch"],...}`, the most
   * recently updated rooms first, as many as fit in MAX_SINCE; '' when none.
   */
  since() {
    const parts = [];
    let size = 2;
    for (const [room, [offset, epoch]] of [...this.rooms].reverse()) {
      const part = `${JSON.stringify(room)}:[${offset},${JSON.stringify(epoch)}]`;
      const n = utf8(part) + (parts.length ? 1 : 0);
      if (size + n > MAX_SINCE) break;
      size += n;
      parts.push(part);
    }
    return parts.length ? `{${parts.join(",")}}` : "";
  }
  set(room, offset, epoch) {
    this.rooms.delete(room);
    this.rooms.set(room, [offset, epoch]);
    if (this.rooms.size > MAX_ROOMS) this.rooms.delete(this.rooms.keys().next().value);
  }
};

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
  "drop",
  "session",
  "unrecovered"
]);
function isReserved(name) {
  return RESERVED.has(name) || /^(outgoing|incoming|primus|allspark)::/.test(name);
}
function validName(name) {
  return typeof name === "string" && name !== "" && new TextEncoder().encode(name).length <= 256;
}
var isID = (v) => Number.isSafeInteger(v) && v > 0;
var own2 = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
function parseEnvelope(data) {
  if (typeof data !== "object" || data === null || Array.isArray(data) || !own2(data, "allspark")) return null;
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
  if (own2(m, "event")) {
    if (own2(m, "ack")) return bad('both "event" and "ack"');
    if (own2(m, "id")) {
      if (!isID(m.id)) return bad('"id" is not a positive integer below 2^53');
      id = m.id;
    }
    if (!validName(m.event)) return bad('"event" must be a string of 1 to 256 bytes');
    event = m.event;
    if (!Array.isArray(args)) return bad('"args" is not an array');
    return { event, args, id };
  }
  if (own2(m, "ack")) {
    if (!isID(m.ack)) return bad('"ack" is not a request id');
    ack = m.ack;
  } else if (!own2(m, "error")) return bad('neither "event", "ack" nor "error"');
  if (own2(m, "error")) {
    const e = m.error;
    if (typeof e !== "object" || !e || typeof e.code !== "string" || !e.code) {
      return bad('"error" must be an object with a string "code"');
    }
    const str2 = (v) => typeof v === "string" ? v : "";
    return { args: [], ack, error: new EventError(e.code, str2(e.message), str2(e.event) || void 0) };
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
var RESYNC_WINDOW = 5e3;
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
    /** The session token the server gave; '' before the first session, and after end(). */
    this.token = "";
    /** The connection under way was asked for with `_session`: a recovered:false on it is 'unrecovered'. */
    this.resuming = false;
    this.positions = new Positions();
    this.last = { recovered: false, restored: false };
    this.resyncAt = -Infinity;
    this.resyncs = 0;
    const base = url ?? (typeof location !== "undefined" ? location.href : "http://localhost");
    this.url = new URL(base);
    const d = this.constructor.defaults;
    let strategy;
    if (options.strategy === false) strategy = [];
    else if (options.strategy === void 0) strategy = ["disconnect", "online", "timeout"];
    else strategy = (Array.isArray(options.strategy) ? options.strategy : options.strategy.split(/[, ]+/)).map((s) => s.toLowerCase()).filter(Boolean);
    this.opts = {
      transports: options.transports ?? ["websocket", "polling"],
      upgradeRetry: options.upgradeRetry ?? 3e4,
      pathname: options.pathname ?? d.pathname,
      reconnect: { ...defaultReconnect, ...options.reconnect },
      strategy,
      timeout: options.timeout ?? 1e4,
      pingTimeout: options.pingTimeout ?? d.pingTimeout,
      manual: options.manual ?? false,
      queueSize: options.queueSize ?? Infinity,
      recover: options.recover ?? true
    };
    this.ackTimeout = options.ackTimeout ?? 0;
    this.WS = options.WebSocket ?? globalThis.WebSocket;
    this.listenToNetwork();
    if (!this.opts.manual) queueMicrotask(() => this.open());
  }
  /** The last session envelope said every missed message follows (or nothing was missed); false until one came. */
  get recovered() {
    return this.last.recovered;
  }
  /** The last session envelope said the spark came back (same id, rooms, user, Set values). */
  get restored() {
    return this.last.restored;
  }
  /** What carries the open connection: 'websocket' (plain, or an upgraded Engine.IO session), 'polling'; null while not open. */
  get transport() {
    const s = this.socket;
    return this.readyState === OPEN && s ? s instanceof Engine ? s.transport : "websocket" : null;
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
    if (this.token && this.readyState === OPEN && this.socket) this.socket.send(encode({ allspark: 1, end: true }));
    this.finish();
    this.forgetSession();
    return this;
  }
  /** After a clean end the server has ended the session for good: the next open() is a first connect. */
  forgetSession() {
    this.token = "";
    this.positions.clear();
  }
  /** The recovery query of a connection about to be made: `_recover=1` first, then `_session` and `_since`. */
  recoveryQuery() {
    this.resuming = false;
    if (!this.opts.recover) return [];
    if (!this.token) return [["_recover", "1"]];
    this.resuming = true;
    const since = this.positions.since();
    return since ? [["_session", this.token], ["_since", since]] : [["_session", this.token]];
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
    for (const [k, v] of this.recoveryQuery()) u.searchParams.set(k, v);
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
    const order = this.opts.transports.filter((t) => t === "polling" ? typeof fetch === "function" : this.WS);
    if (!order.length) {
      this.emit("error", new Error('no WebSocket implementation: pass options.WebSocket (e.g. npm "ws") on Node 20'));
      this.finish();
      return;
    }
    if (order[1] === this.first) order.reverse();
    this.setState(OPENING);
    this.try(order);
  }
  /** Opens the first transport of order; when it cannot open, the next one, within the same attempt. */
  try(order) {
    const kind = order.shift();
    let ws;
    if (kind === "polling") {
      const u = new URL(this.httpURL());
      u.pathname = this.opts.pathname.replace(/\/?$/, "/");
      ws = new Engine(u.href, this.opts.transports.includes("websocket") ? this.WS : void 0, this.opts.upgradeRetry, this.recoveryQuery());
    } else {
      const w = new this.WS(this.wsURL());
      w.binaryType = "arraybuffer";
      ws = w;
    }
    this.socket = ws;
    let opened = false;
    if (this.opts.timeout) {
      this.timers.connect = setTimeout(() => {
        if (this.socket !== ws) return;
        this.detach(ws);
        if (order.length) return this.try(order);
        this.emit("timeout");
        this.afterFailedConnect(new Error("Connection timed out"), true);
      }, this.opts.timeout);
    }
    ws.onopen = () => {
      if (this.socket !== ws) return;
      opened = true;
      this.first = kind;
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
    ws.onclose = (ev) => {
      if (this.socket !== ws) return;
      this.detach(ws);
      if (this.serverClosed) {
        this.finish();
        this.forgetSession();
        return;
      }
      if (!opened) {
        const status = kind === "polling" ? ev.code : void 0;
        if (order.length && status !== 401 && status !== 403) return this.try(order);
        this.afterFailedConnect(new Error("Connection failed"), false, status, ev.reason);
        return;
      }
      this.setState(CLOSED);
      this.emit("close");
      if (this.has("disconnect")) this.scheduleReconnect(new Error("Connection closed"));
      else this.finish(false);
    };
  }
  /**
   * The connection never opened: authorization refusal ends; otherwise maybe
   * retry. status/body: what a refused polling handshake answered.
   */
  afterFailedConnect(err, timedOut, status, body) {
    const retry = () => {
      if (this.ended) return;
      if (this.attempt || this.has("timeout") || this.has("disconnect") && !timedOut) this.scheduleReconnect(err);
      else {
        this.emit("error", err);
        this.finish();
      }
    };
    const judge = (status2, body2 = "", statusText = `HTTP ${status2}`) => {
      if (this.ended) return;
      if (status2 !== 401 && status2 !== 403) return retry();
      let message = statusText;
      try {
        message = JSON.parse(body2).error ?? message;
      } catch {
      }
      this.emit("error", new AuthorizationError(status2, message));
      this.attempt = null;
      this.finish();
    };
    if (status !== void 0) return judge(status, body);
    if (timedOut || typeof fetch !== "function") return retry();
    fetch(this.httpURL(), { cache: "no-store" }).then(async (res) => judge(res.status, await res.text(), res.statusText)).catch(() => retry());
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
    const r = parseRecovery(data);
    if (r) this.recovery(r);
    else this.deliver(data);
  }
  /** Hands a message to the app: an event envelope to its handler, anything else to 'data'. */
  deliver(data) {
    const env = parseEnvelope(data);
    if (env) this.dispatch(env);
    else this.emit("data", data);
  }
  /** Handles a recovery envelope (recovery.ts); without `recover` a stamped message is just unwrapped. */
  recovery(r) {
    if (r.kind === "bad") {
      this.emit("error", new EventError("bad_envelope", "malformed recovery envelope: " + r.reason));
      return;
    }
    if (!this.opts.recover) {
      if (r.kind === "stamped") this.deliver(r.data);
      return;
    }
    switch (r.kind) {
      case "session": {
        const s = r.session;
        this.token = r.token;
        this.last = { recovered: s.recovered, restored: s.restored };
        if (!s.recovered) this.positions.clear();
        const resumed = this.resuming;
        this.resuming = false;
        this.emit("session", { ...s });
        if (!s.recovered && resumed) this.emit("unrecovered", s.reason);
        return;
      }
      case "position":
        this.positions.announce(r.room, r.offset, r.epoch);
        return;
      case "stamped":
        switch (this.positions.stamped(r.room, r.offset, r.epoch)) {
          case "deliver":
            return this.deliver(r.data);
          case "duplicate":
            return;
          case "gap":
            return this.resync(`missed messages in room ${JSON.stringify(r.room)} before offset ${r.offset}`);
          case "epoch":
            return this.resync(`the history of room ${JSON.stringify(r.room)} was lost (epoch ${r.epoch})`);
        }
    }
  }
  /**
   * A room's stream skipped ahead or changed epoch: nothing more of this
   * connection is delivered; the client reconnects at once with its
   * positions, and the server replays what is missing or says it cannot.
   * Only the first resync of a run reconnects at once; quick repeats back off.
   */
  resync(why) {
    const ws = this.socket;
    if (!ws) return;
    this.detach(ws);
    this.setState(CLOSED);
    this.emit("close");
    const err = new Error("Resync: " + why);
    if (!this.has("disconnect")) return this.finish(false);
    const now = Date.now();
    this.resyncs = now - this.resyncAt < RESYNC_WINDOW ? this.resyncs + 1 : 1;
    this.resyncAt = now;
    this.scheduleReconnect(err, this.resyncs === 1 ? 0 : backoffDelay(this.resyncs - 1, this.opts.reconnect));
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
  scheduleReconnect(err, delay) {
    if (this.ended) return;
    this.clear("attemptTimeout");
    const o = this.opts.reconnect;
    const n = (this.attempt?.attempt ?? 0) + 1;
    if (n > o.retries) {
      const last = this.attempt ?? { attempt: n - 1, retries: o.retries, scheduled: 0 };
      this.attempt = null;
      this.finish();
      this.emit("reconnect failed", err, last);
      return;
    }
    const attempt = { attempt: n, retries: o.retries, scheduled: delay ?? backoffDelay(n, o) };
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
