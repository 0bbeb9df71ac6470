import { Emitter, type AnyFn, type Listener } from './emitter';
import { backoffDelay, defaultReconnect, type ReconnectOptions } from './backoff';
import { encode, parseControl } from './protocol';
import { Engine, type Conn, type WebSocketConstructor } from './engine';
import { parseRecovery, Positions, type RecoveryMessage, type SessionInfo } from './recovery';
import {
  Args,
  EventError,
  handlerError,
  isReserved,
  parseEnvelope,
  validName,
  type DefaultEventsMap,
  type Envelope,
  type EventsMap,
  type Handler,
  type ReplyArgs,
} from './events';

/** readyState values, numbered as Primus numbers them. */
export const OPENING = 1;
export const CLOSED = 2;
export const OPEN = 3;

export type Strategy = 'disconnect' | 'online' | 'timeout';

export interface Attempt {
  attempt: number;
  retries: number;
  /** the delay chosen for this attempt, ms */
  scheduled: number;
}

/** An error the server answered the upgrade with (authorization). */
export class AuthorizationError extends Error {
  constructor(public status: number, message: string) {
    super(message);
    this.name = 'AuthorizationError';
  }
}

export interface Events {
  open: [];
  data: [data: unknown];
  error: [err: Error];
  'reconnect scheduled': [attempt: Attempt];
  reconnect: [attempt: Attempt];
  reconnected: [attempt: Attempt];
  'reconnect timeout': [err: Error, attempt: Attempt];
  'reconnect failed': [err: Error, attempt: Attempt];
  timeout: [];
  end: [];
  close: [];
  online: [];
  offline: [];
  readyStateChange: [state: 'opening' | 'open' | 'end'];
  drop: [data: unknown];
  /** The server's session envelope, right after every open (with `recover`, on a server that keeps sessions). */
  session: [info: SessionInfo];
  /** A reconnect did not recover what was missed (reason as in SessionInfo): reload your state. */
  unrecovered: [reason: string];
}

export type { WebSocketConstructor };

/** How a connection travels: a plain Primus WebSocket, or an Engine.IO session (long-polling, upgraded to a WebSocket when it can). */
export type Transport = 'websocket' | 'polling';

export interface Options {
  /** Path the server owns; default baked in by the server, else "/primus". */
  pathname?: string;
  reconnect?: Partial<ReconnectOptions>;
  /** Reconnect strategies; false (or []) disables reconnection. */
  strategy?: Strategy | Strategy[] | string | false;
  /** Connect timeout in ms; false disables it. Default 10000. */
  timeout?: number | false;
  /** Watchdog: max ms between server pings; false/0 disables. Default baked in (1.5 × pingInterval). */
  pingTimeout?: number | false;
  /** Do not open on construction; call open(). */
  manual?: boolean;
  /** Writes held while not open; the oldest is dropped when full. Default Infinity. */
  queueSize?: number;
  /** WebSocket implementation for runtimes without a global one (Node 20: npm `ws`). */
  WebSocket?: WebSocketConstructor;
  /** Default time limit of emitWithAck, ms; 0 (default): none, the request waits until the connection ends. */
  ackTimeout?: number;
  /**
   * Transports to try, in order, when a connection opens; the next one
   * when one cannot open. Default ['websocket', 'polling']; ['polling']
   * forces long-polling (no upgrade).
   */
  transports?: Transport[];
  /** On polling: ms before probing the WebSocket upgrade again after one failed; false: once per session. Default 30000. */
  upgradeRetry?: number | false;
  /**
   * Ask for a session and keep room positions, so that a reconnect gets the
   * same spark back and what it missed replayed (README, "Recovery").
   * Default true; false: every connection is a new spark, as in Primus.
   */
  recover?: boolean;
}

/** Settings the server bakes into the library it serves. */
export interface Defaults {
  pathname: string;
  pingTimeout: number | false;
  /** The server's parser; this client speaks "json" only. */
  parser: string;
}

export const defaults: Defaults = { pathname: '/primus', pingTimeout: 45000, parser: 'json' };

type Timer = ReturnType<typeof setTimeout>;

/** Resyncs closer together than this back off (the first reconnects at once): a server that keeps skipping offsets gets no reconnect storm. */
const RESYNC_WINDOW = 5000;

/** Reserved names (docs/events.md): they keep their local meaning and never travel as named events. */
export type ReservedName = keyof Events | 'heartbeat' | `${'outgoing' | 'incoming' | 'primus' | 'allspark'}::${string}`;

/** Names an event map can use: every name but the reserved ones. */
export type EventNames<M> = Exclude<keyof M, ReservedName> & string;

/** An event envelope we send, encoded when emitted so a bad argument throws at the caller. */
class Frame {
  constructor(readonly env: { allspark: 1; event: string; args: unknown[]; id?: number }, readonly text: string) {}
}

/** A request waiting for its ack. sent: written to the current connection. */
interface Pending {
  event: string;
  resolve: (args: unknown[]) => void;
  reject: (err: EventError) => void;
  timer?: Timer;
  sent?: boolean;
}

// Typed overloads of the inherited once/off (types only: no code in the bundle).
export interface Primus<S, C> {
  once<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this;
  once<K extends EventNames<S>>(event: K, fn: Handler<S[K]>): this;
  off<K extends keyof Events>(event: K, fn?: Listener<Events[K]>): this;
  off<K extends EventNames<S>>(event: K, fn?: Handler<S[K]>): this;
}

/**
 * Primus-compatible client: same option names, defaults, events and
 * wire protocol as the stock Primus client with the websockets transformer.
 */
export class Primus<S extends EventsMap<S> = DefaultEventsMap, C extends EventsMap<C> = DefaultEventsMap> extends Emitter<Events> {
  static OPENING = OPENING;
  static CLOSED = CLOSED;
  static OPEN = OPEN;
  static defaults = defaults;
  /** For the global build: `new Primus.Args(a, b)`, `err instanceof Primus.EventError`. */
  static Args = Args;
  static EventError = EventError;

  readyState = CLOSED;
  online = true;
  readonly url: URL;
  private readonly opts: Required<Omit<Options, 'reconnect' | 'WebSocket' | 'strategy' | 'ackTimeout'>> & {
    reconnect: ReconnectOptions;
    strategy: string[];
  };
  private readonly WS: WebSocketConstructor | undefined;
  private socket: Conn | null = null;
  /** The transport that last opened: the next connection tries it first (no WebSocket timeout on every reconnect behind a proxy that refuses them). */
  private first?: Transport;
  private buffer: unknown[] = [];
  private attempt: Attempt | null = null;
  private timers: { connect?: Timer; reconnect?: Timer; attemptTimeout?: Timer; heartbeat?: Timer } = {};
  private serverClosed = false;
  private ended = false;
  private idWaiters: ((id: string) => void)[] = [];
  private cacheBuster = 0;
  private removeNetworkListeners: (() => void) | null = null;
  private acks = new Map<number, Pending>();
  private lastID = 0;
  private ackTimeout: number;
  /** The session token the server gave; '' before the first session, and after end(). */
  private token = '';
  /** The connection under way was asked for with `_session`: a recovered:false on it is 'unrecovered'. */
  private resuming = false;
  private positions = new Positions();
  private last = { recovered: false, restored: false };
  private resyncAt = -Infinity;
  private resyncs = 0;

  constructor(url?: string, options: Options = {}) {
    super();
    const base = url ?? (typeof location !== 'undefined' ? location.href : 'http://localhost');
    this.url = new URL(base);
    const d = (this.constructor as typeof Primus).defaults;
    let strategy: string[];
    if (options.strategy === false) strategy = [];
    else if (options.strategy === undefined) strategy = ['disconnect', 'online', 'timeout'];
    else strategy = (Array.isArray(options.strategy) ? options.strategy : options.strategy.split(/[, ]+/)).map((s) => s.toLowerCase()).filter(Boolean);
    this.opts = {
      transports: options.transports ?? ['websocket', 'polling'],
      upgradeRetry: options.upgradeRetry ?? 30000,
      pathname: options.pathname ?? d.pathname,
      reconnect: { ...defaultReconnect, ...options.reconnect },
      strategy,
      timeout: options.timeout ?? 10000,
      pingTimeout: options.pingTimeout ?? d.pingTimeout,
      manual: options.manual ?? false,
      queueSize: options.queueSize ?? Infinity,
      recover: options.recover ?? true,
    };
    this.ackTimeout = options.ackTimeout ?? 0;
    this.WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.listenToNetwork();
    if (!this.opts.manual) queueMicrotask(() => this.open());
  }

  /** The last session envelope said every missed message follows (or nothing was missed); false until one came. */
  get recovered(): boolean {
    return this.last.recovered;
  }

  /** The last session envelope said the spark came back (same id, rooms, user, Set values). */
  get restored(): boolean {
    return this.last.restored;
  }

  /** What carries the open connection: 'websocket' (plain, or an upgraded Engine.IO session), 'polling'; null while not open. */
  get transport(): Transport | null {
    const s = this.socket;
    return this.readyState === OPEN && s ? (s instanceof Engine ? s.transport : 'websocket') : null;
  }

  /** Opens the connection (after manual: true, or again after end()). */
  open(): this {
    if (this.readyState === OPENING || this.readyState === OPEN) return this;
    this.ended = false;
    this.serverClosed = false;
    this.connect();
    return this;
  }

  /** Sends data now, or queues it until the connection opens. */
  write(data: unknown): boolean {
    if (this.ended && this.readyState === CLOSED && !this.attempt) return false;
    if (this.readyState === OPEN && this.socket) {
      this.send(data);
      return true;
    }
    this.buffer.push(data);
    while (this.buffer.length > this.opts.queueSize) {
      let old = this.buffer.shift();
      if (old instanceof Frame) {
        if (old.env.id) this.settle(old.env.id, new EventError('disconnected', 'dropped from the offline queue (queueSize)'));
        old = old.env;
      }
      this.emit('drop', old);
    }
    return true;
  }

  /** Adds a local listener (reserved names, see Events) or the handler of a server event. */
  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this;
  on<K extends EventNames<S>>(event: K, fn: Handler<S[K]>): this;
  on(event: string, fn: AnyFn): this {
    if (!isReserved(event) && !validName(event)) throw new TypeError(`invalid event name ${JSON.stringify(event)}`);
    return super.on(event as keyof Events, fn);
  }

  /**
   * A reserved name emits the local event; any other name sends a named
   * event to the server, queued like write() while not open. Throws a
   * TypeError for a name the wire refuses, or args JSON cannot encode.
   */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean;
  emit<K extends EventNames<C>>(event: K, ...args: Parameters<C[K]>): boolean;
  emit(event: string, ...args: unknown[]): boolean {
    if (isReserved(event)) return super.emit(event as keyof Events, ...(args as Events[keyof Events]));
    return this.write(this.frame(event, args));
  }

  /**
   * Sends a named event asking for an ack; resolves with the reply args.
   * Rejects with an EventError: the server's code (unknown_event,
   * invalid_argument, handler_error ...), timeout (options.ackTimeout, or
   * timeout(ms)), or disconnected when the connection closes first. Throws
   * a TypeError at once for a reserved or invalid name.
   */
  emitWithAck<K extends EventNames<C>>(event: K, ...args: Parameters<C[K]>): Promise<ReplyArgs<ReturnType<C[K]>>> {
    return this.ask(this.ackTimeout, event, args) as Promise<ReplyArgs<ReturnType<C[K]>>>;
  }

  /** Sets the time limit of one request: `client.timeout(500).emitWithAck('add', x)`. */
  timeout(ms: number): Pick<this, 'emitWithAck'> {
    return { emitWithAck: (event: string, ...args: unknown[]) => this.ask(ms, event, args) } as unknown as Pick<this, 'emitWithAck'>;
  }

  private frame(event: string, args: unknown[], id?: number): Frame {
    if (!validName(event) || isReserved(event)) {
      throw new TypeError(`cannot send event ${JSON.stringify(event)}: names are 1 to 256 bytes and not reserved`);
    }
    const env = { allspark: 1 as const, event, args, id };
    return new Frame(env, encode(env));
  }

  private ask(ms: number, event: string, args: unknown[]): Promise<unknown[]> {
    const id = ++this.lastID;
    const frame = this.frame(event, args, id);
    return new Promise((resolve, reject) => {
      const p: Pending = { event, resolve, reject };
      this.acks.set(id, p);
      if (ms > 0) p.timer = setTimeout(() => this.settle(id, new EventError('timeout', `no reply within ${ms} ms`)), ms);
      if (!this.write(frame)) this.settle(id, new EventError('disconnected', 'the client has ended'));
    });
  }

  /** Settles request id with the reply args or an error; a second answer finds nothing and is dropped. */
  private settle(id: number, result: unknown[] | EventError): void {
    const p = this.acks.get(id);
    if (!p) return;
    this.acks.delete(id);
    clearTimeout(p.timer);
    if (Array.isArray(result)) p.resolve(result);
    else {
      result.event ??= p.event;
      p.reject(result);
    }
  }

  /**
   * Fails the requests sent on the connection that just closed (all of them
   * when the client ends): the server answers on the spark that got the
   * request, and a reconnect is a new spark that never saw it.
   */
  private failAcks(all: boolean): void {
    for (const [id, p] of this.acks) {
      if (all || p.sent) this.settle(id, new EventError('disconnected', 'the connection closed before the reply'));
    }
  }

  /** Handles an envelope from the server (docs/events.md). */
  private dispatch({ event, args, id, ack, error }: Envelope): void {
    if (ack) return this.settle(ack, error ?? args);
    const ws = this.socket;
    // Replies go to the connection the request came on, never to a later one.
    const reply = (body: object) => {
      if (!id || !ws || ws !== this.socket) return;
      let text: string;
      try {
        text = encode({ allspark: 1, ack: id, ...body });
      } catch (e) {
        text = encode({ allspark: 1, ack: id, error: { code: 'handler_error', message: 'unencodable reply: ' + (e as Error).message } });
      }
      ws.send(text);
    };
    // Failures are answered when the server asked for an ack, else reported locally.
    const fail = (err: EventError) => {
      if (id) reply({ error: { code: err.code, message: err.message } });
      else this.emit('error', err);
    };
    if (error) return fail(error);
    const name = event!;
    const list = isReserved(name) ? null : this.listeners.get(name);
    if (!list?.length) {
      fail(list === null
        ? new EventError('reserved_event', `"${name}" is a reserved name`, name)
        : new EventError('unknown_event', `no handler for event "${name}"`, name));
      return;
    }
    // Every handler runs, in order; the first one's result is the reply,
    // errors of the others go to the local error event.
    list.slice().forEach((fn, i) => {
      new Promise((resolve) => resolve(fn(...args))).then(
        (v) => i || reply({ args: v === undefined ? [] : v instanceof Args ? v.values : [v] }),
        (e) => (i ? this.emit('error', handlerError(e, name)) : fail(handlerError(e, name))),
      );
    });
  }

  /** Asks the server for this connection's spark id. */
  id(fn?: (id: string) => void): Promise<string> {
    return new Promise((resolve) => {
      this.idWaiters.push((id) => {
        fn?.(id);
        resolve(id);
      });
      this.write('primus::id::');
    });
  }

  /** Closes for good (no reconnect), after writing data if given. */
  end(data?: unknown): this {
    if (this.ended) return this;
    if (data !== undefined && this.readyState === OPEN) this.send(data);
    // A transport close is no end (a resync closes too): this tells the
    // server to end the session for good, so its token is worthless at once.
    if (this.token && this.readyState === OPEN && this.socket) this.socket.send(encode({ allspark: 1, end: true }));
    this.finish();
    this.forgetSession();
    return this;
  }

  /** After a clean end the server has ended the session for good: the next open() is a first connect. */
  private forgetSession(): void {
    this.token = '';
    this.positions.clear();
  }

  /** The recovery query of a connection about to be made: `_recover=1` first, then `_session` and `_since`. */
  private recoveryQuery(): [string, string][] {
    this.resuming = false;
    if (!this.opts.recover) return [];
    if (!this.token) return [['_recover', '1']];
    this.resuming = true;
    const since = this.positions.since();
    return since ? [['_session', this.token], ['_since', since]] : [['_session', this.token]];
  }

  /** end() and forget every listener. */
  destroy(): void {
    this.end();
    this.removeNetworkListeners?.();
    this.removeNetworkListeners = null;
    this.removeAllListeners();
  }

  private send(data: unknown): void {
    if (data instanceof Frame) {
      const id = data.env.id;
      if (id) {
        const p = this.acks.get(id);
        if (!p) return; // it timed out while queued
        p.sent = true;
      }
      this.socket!.send(data.text);
    } else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) this.socket!.send(data as ArrayBufferView);
    else this.socket!.send(encode(data));
  }

  private wsURL(): string {
    const u = new URL(this.url.href);
    u.protocol = u.protocol === 'https:' || u.protocol === 'wss:' ? 'wss:' : 'ws:';
    u.pathname = this.opts.pathname;
    u.searchParams.set('_primuscb', `${Date.now()}-${this.cacheBuster++}`);
    for (const [k, v] of this.recoveryQuery()) u.searchParams.set(k, v);
    return u.href;
  }

  private httpURL(): string {
    const u = new URL(this.url.href);
    u.protocol = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
    u.pathname = this.opts.pathname;
    return u.href;
  }

  private setState(state: number): void {
    if (this.readyState === state) return;
    this.readyState = state;
    this.emit('readyStateChange', state === OPEN ? 'open' : state === OPENING ? 'opening' : 'end');
  }

  private connect(): void {
    const parser = (this.constructor as typeof Primus).defaults.parser;
    if (parser !== 'json') {
      this.emit('error', new Error(`the server uses the "${parser}" parser; this client speaks JSON only`));
      this.finish();
      return;
    }
    const order = this.opts.transports.filter((t) => (t === 'polling' ? typeof fetch === 'function' : this.WS));
    if (!order.length) {
      this.emit('error', new Error('no WebSocket implementation: pass options.WebSocket (e.g. npm "ws") on Node 20'));
      this.finish();
      return;
    }
    if (order[1] === this.first) order.reverse();
    this.setState(OPENING);
    this.try(order);
  }

  /** Opens the first transport of order; when it cannot open, the next one, within the same attempt. */
  private try(order: Transport[]): void {
    const kind = order.shift();
    let ws: Conn;
    if (kind === 'polling') {
      const u = new URL(this.httpURL());
      u.pathname = this.opts.pathname.replace(/\/?$/, '/');
      ws = new Engine(u.href, this.opts.transports.includes('websocket') ? this.WS : undefined, this.opts.upgradeRetry, this.recoveryQuery());
    } else {
      const w = new this.WS!(this.wsURL());
      w.binaryType = 'arraybuffer';
      ws = w;
    }
    this.socket = ws;
    let opened = false;
    if (this.opts.timeout) {
      this.timers.connect = setTimeout(() => {
        if (this.socket !== ws) return;
        this.detach(ws);
        if (order.length) return this.try(order);
        this.emit('timeout');
        this.afterFailedConnect(new Error('Connection timed out'), true);
      }, this.opts.timeout);
    }
    ws.onopen = () => {
      if (this.socket !== ws) return;
      opened = true;
      this.first = kind;
      this.clear('connect');
      this.clear('attemptTimeout');
      this.online = true;
      const attempt = this.attempt;
      this.attempt = null;
      this.setState(OPEN);
      this.heartbeat();
      const queued = this.buffer;
      this.buffer = [];
      for (const d of queued) this.send(d);
      if (attempt) this.emit('reconnected', attempt);
      this.emit('open');
    };
    ws.onmessage = (ev) => {
      if (this.socket !== ws) return;
      this.incoming(ev.data);
    };
    ws.onerror = () => {
      /* the close event follows; errors are reported there */
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
        // A refused polling handshake carries the HTTP status: an authorization refusal ends here.
        const status = kind === 'polling' ? ev.code : undefined;
        if (order.length && status !== 401 && status !== 403) return this.try(order);
        this.afterFailedConnect(new Error('Connection failed'), false, status, ev.reason);
        return;
      }
      this.setState(CLOSED);
      this.emit('close');
      if (this.has('disconnect')) this.scheduleReconnect(new Error('Connection closed'));
      else this.finish(false);
    };
  }

  /**
   * The connection never opened: authorization refusal ends; otherwise maybe
   * retry. status/body: what a refused polling handshake answered.
   */
  private afterFailedConnect(err: Error, timedOut: boolean, status?: number, body?: string): void {
    const retry = () => {
      if (this.ended) return; // end() or destroy() while we were asking
      if (this.attempt || this.has('timeout') || (this.has('disconnect') && !timedOut)) this.scheduleReconnect(err);
      else {
        this.emit('error', err);
        this.finish();
      }
    };
    const judge = (status: number, body = '', statusText = `HTTP ${status}`) => {
      if (this.ended) return;
      if (status !== 401 && status !== 403) return retry();
      let message = statusText;
      try {
        message = (JSON.parse(body) as { error?: string }).error ?? message;
      } catch {
        /* not JSON */
      }
      this.emit('error', new AuthorizationError(status, message));
      this.attempt = null;
      this.finish();
    };
    if (status !== undefined) return judge(status, body);
    if (timedOut || typeof fetch !== 'function') return retry();
    // A browser cannot read the status of a refused upgrade; a plain request
    // runs the same authorization and tells us (401/403 + {"error": ...}).
    fetch(this.httpURL(), { cache: 'no-store' })
      .then(async (res) => judge(res.status, await res.text(), res.statusText))
      .catch(() => retry());
  }

  private incoming(raw: unknown): void {
    let data: unknown = raw;
    if (typeof raw === 'string') {
      try {
        data = JSON.parse(raw);
      } catch (e) {
        if (this.listenerCount('error')) this.emit('error', e as Error);
        return;
      }
    }
    const ctl = parseControl(data);
    if (ctl) {
      switch (ctl.kind) {
        case 'ping':
          this.online = true;
          this.heartbeat();
          this.send('primus::pong::' + ctl.value);
          return;
        case 'server':
          if (ctl.value === 'close') this.serverClosed = true;
          return;
        case 'id': {
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
  private deliver(data: unknown): void {
    const env = parseEnvelope(data);
    if (env) this.dispatch(env);
    else this.emit('data', data);
  }

  /** Handles a recovery envelope (recovery.ts); without `recover` a stamped message is just unwrapped. */
  private recovery(r: RecoveryMessage): void {
    if (r.kind === 'bad') {
      this.emit('error', new EventError('bad_envelope', 'malformed recovery envelope: ' + r.reason));
      return;
    }
    if (!this.opts.recover) {
      if (r.kind === 'stamped') this.deliver(r.data);
      return;
    }
    switch (r.kind) {
      case 'session': {
        const s = r.session;
        this.token = r.token;
        this.last = { recovered: s.recovered, restored: s.restored };
        // No replay follows: old positions would judge the server's fresh ones.
        if (!s.recovered) this.positions.clear();
        const resumed = this.resuming;
        this.resuming = false;
        this.emit('session', { ...s });
        if (!s.recovered && resumed) this.emit('unrecovered', s.reason);
        return;
      }
      case 'position':
        this.positions.announce(r.room, r.offset, r.epoch);
        return;
      case 'stamped':
        switch (this.positions.stamped(r.room, r.offset, r.epoch)) {
          case 'deliver':
            return this.deliver(r.data);
          case 'duplicate':
            return;
          case 'gap':
            return this.resync(`missed messages in room ${JSON.stringify(r.room)} before offset ${r.offset}`);
          case 'epoch':
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
  private resync(why: string): void {
    const ws = this.socket;
    if (!ws) return;
    this.detach(ws);
    this.setState(CLOSED);
    this.emit('close');
    const err = new Error('Resync: ' + why);
    if (!this.has('disconnect')) return this.finish(false);
    const now = Date.now();
    this.resyncs = now - this.resyncAt < RESYNC_WINDOW ? this.resyncs + 1 : 1;
    this.resyncAt = now;
    this.scheduleReconnect(err, this.resyncs === 1 ? 0 : backoffDelay(this.resyncs - 1, this.opts.reconnect));
  }

  private heartbeat(): void {
    this.clear('heartbeat');
    if (!this.opts.pingTimeout) return;
    this.timers.heartbeat = setTimeout(() => {
      const ws = this.socket;
      if (!ws) return;
      ws.close();
      // Treat like a drop: onclose may come late for a dead peer.
      ws.onclose?.({ code: 1006 });
    }, this.opts.pingTimeout);
  }

  private scheduleReconnect(err: Error, delay?: number): void {
    if (this.ended) return;
    // The previous attempt's limit: left running, it would cut a later connection.
    this.clear('attemptTimeout');
    const o = this.opts.reconnect;
    const n = (this.attempt?.attempt ?? 0) + 1;
    if (n > o.retries) {
      const last = this.attempt ?? { attempt: n - 1, retries: o.retries, scheduled: 0 };
      this.attempt = null;
      this.finish();
      this.emit('reconnect failed', err, last);
      return;
    }
    const attempt: Attempt = { attempt: n, retries: o.retries, scheduled: delay ?? backoffDelay(n, o) };
    this.attempt = attempt;
    this.setState(CLOSED);
    this.emit('reconnect scheduled', attempt);
    this.timers.reconnect = setTimeout(() => {
      this.emit('reconnect', attempt);
      this.timers.attemptTimeout = setTimeout(() => {
        const ws = this.socket;
        if (ws) this.detach(ws);
        this.emit('reconnect timeout', new Error('Reconnect attempt timed out'), attempt);
        this.scheduleReconnect(new Error('Reconnect attempt timed out'));
      }, o['reconnect timeout']);
      this.connect();
    }, attempt.scheduled);
  }

  /** Stops listening to a socket and closes it. */
  private detach(ws: Conn): void {
    ws.onopen = ws.onclose = ws.onmessage = null;
    ws.onerror = () => {}; // npm ws throws on an unhandled error when closing while connecting
    try {
      ws.close();
    } catch {
      /* already closed */
    }
    if (this.socket === ws) this.socket = null;
    this.clear('connect');
    this.clear('heartbeat');
    this.failAcks(false);
  }

  private finish(emitClose = true): void {
    if (this.ended) return;
    this.ended = true;
    const wasOpen = this.readyState === OPEN;
    for (const k of Object.keys(this.timers) as (keyof typeof this.timers)[]) this.clear(k);
    if (this.socket) this.detach(this.socket);
    this.failAcks(true);
    this.attempt = null;
    this.setState(CLOSED);
    if (wasOpen && emitClose) this.emit('close');
    this.emit('end');
  }

  private clear(name: keyof Primus['timers']): void {
    const t = this.timers[name];
    if (t !== undefined) clearTimeout(t);
    delete this.timers[name];
  }

  private has(strategy: string): boolean {
    return this.opts.strategy.includes(strategy);
  }

  /** Browser online/offline events drive the 'online' strategy. */
  private listenToNetwork(): void {
    const w = globalThis as unknown as {
      addEventListener?: (t: string, f: () => void) => void;
      removeEventListener?: (t: string, f: () => void) => void;
    };
    if (typeof w.addEventListener !== 'function' || typeof w.removeEventListener !== 'function') return;
    const offline = () => {
      if (!this.online) return;
      this.online = false;
      this.emit('offline');
      if (this.ended) return;
      this.clear('reconnect');
      this.clear('attemptTimeout');
      if (this.socket) this.detach(this.socket);
      if (this.readyState === OPEN) this.emit('close');
      this.setState(CLOSED);
    };
    const online = () => {
      if (this.online) return;
      this.online = true;
      this.emit('online');
      if (this.ended || !this.has('online')) return;
      this.attempt = null;
      this.clear('reconnect');
      this.scheduleReconnectNow();
    };
    w.addEventListener('offline', offline);
    w.addEventListener('online', online);
    this.removeNetworkListeners = () => {
      w.removeEventListener!('offline', offline);
      w.removeEventListener!('online', online);
    };
  }

  private scheduleReconnectNow(): void {
    const attempt: Attempt = { attempt: 1, retries: this.opts.reconnect.retries, scheduled: 0 };
    this.attempt = attempt;
    this.emit('reconnect scheduled', attempt);
    this.emit('reconnect', attempt);
    this.connect();
  }
}
