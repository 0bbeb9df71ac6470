// Named events and acknowledgements, the wire format of docs/events.md:
// envelopes, reserved names, errors, and the types of typed event maps.

/** The failure of a named event: an ack error or error report from the server, or a local one. */
export class EventError extends Error {
  /**
   * code: bad_envelope, unknown_event, reserved_event, invalid_argument,
   * handler_error (or one a handler chose), or, local only, timeout and disconnected.
   */
  constructor(public code: string, message: string, public event?: string) {
    super(message);
    this.name = 'EventError';
  }
}

/**
 * A handler result of this class is sent as several ack args, as
 * allspark.Args in Go: `return new Args(1, 'a')` → `args: [1, "a"]`.
 */
export class Args<T extends unknown[] = unknown[]> {
  readonly values: T;
  constructor(...values: T) {
    this.values = values;
  }
}

// docs/events.md's reserved names, plus "drop", "session" and "unrecovered", events of this client.
const RESERVED = new Set([
  'open', 'close', 'end', 'data', 'error', 'reconnect', 'reconnect scheduled', 'reconnected', 'reconnect timeout',
  'reconnect failed', 'timeout', 'online', 'offline', 'readyStateChange', 'heartbeat', 'drop', 'session', 'unrecovered',
]);

/** Reserved names keep their local meaning; they never travel as named events. */
export function isReserved(name: string): boolean {
  return RESERVED.has(name) || /^(outgoing|incoming|primus|allspark)::/.test(name);
}

/** A name the wire accepts: a string of 1 to 256 UTF-8 bytes. */
export function validName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && new TextEncoder().encode(name).length <= 256;
}

const isID = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/**
 * A parsed envelope. event set: an event (id: it asks for an ack). ack set:
 * the reply to our request ack (error: it failed). Otherwise error: an
 * error report, or a malformed envelope (code bad_envelope; id or ack set
 * when the request id could still be read, so the request can be answered).
 */
export interface Envelope {
  event?: string;
  args: unknown[];
  id?: number;
  ack?: number;
  error?: EventError;
}

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Returns null for plain data (anything but an object with an "allspark" key). */
export function parseEnvelope(data: unknown): Envelope | null {
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !own(data, 'allspark')) return null;
  const m = data as Record<string, unknown>;
  let id: number | undefined;
  let ack: number | undefined;
  let event: string | undefined;
  const args = m.args ?? [];
  const bad = (reason: string): Envelope => ({
    args: [],
    id,
    ack,
    error: new EventError('bad_envelope', 'malformed event envelope: ' + reason, event),
  });
  if (m.allspark !== 1) return bad('unsupported version');
  if (own(m, 'event')) {
    if (own(m, 'ack')) return bad('both "event" and "ack"');
    if (own(m, 'id')) {
      if (!isID(m.id)) return bad('"id" is not a positive integer below 2^53');
      id = m.id;
    }
    if (!validName(m.event)) return bad('"event" must be a string of 1 to 256 bytes');
    event = m.event;
    if (!Array.isArray(args)) return bad('"args" is not an array');
    return { event, args, id };
  }
  if (own(m, 'ack')) {
    if (!isID(m.ack)) return bad('"ack" is not a request id');
    ack = m.ack;
  } else if (!own(m, 'error')) return bad('neither "event", "ack" nor "error"');
  if (own(m, 'error')) {
    const e = m.error as Record<string, unknown> | null;
    if (typeof e !== 'object' || !e || typeof e.code !== 'string' || !e.code) {
      return bad('"error" must be an object with a string "code"');
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    return { args: [], ack, error: new EventError(e.code, str(e.message), str(e.event) || undefined) };
  }
  if (!Array.isArray(args)) return bad('"args" is not an array');
  return { args, ack };
}

/** The ack error a handler's exception becomes: its string code if it has one, else handler_error. */
export function handlerError(e: unknown, event: string): EventError {
  const code = (e as { code?: unknown } | null)?.code;
  return new EventError(
    typeof code === 'string' && code ? code : 'handler_error',
    e instanceof Error ? e.message : String(e),
    event,
  );
}

// ---- Types of typed event maps ----

/**
 * An event map: each event's signature. Parameters are the event's args;
 * the return type is the handler's result, i.e. the ack reply (void: none).
 * Example: `{ chat(text: string): void; add(x: { A: number; B: number }): number }`.
 */
export type EventsMap<M> = { [K in keyof M]: (...args: any[]) => any };

/** The map used when none is given: any name, any args, unknown replies. */
export type DefaultEventsMap = Record<string, (...args: any[]) => any>;

type IsAny<T> = 0 extends 1 & T ? true : false;

/** The ack reply args for a handler result R: void → [], Args<T> → T, anything else → [R]. */
export type ReplyArgs<R> =
  IsAny<R> extends true ? unknown[] : [Awaited<R>] extends [void] ? [] : Awaited<R> extends Args<infer T> ? T : [Awaited<R>];

/** A handler for event signature F: may return the reply or a promise of it, or throw. */
export type Handler<F> = F extends (...args: infer A) => infer R ? (...args: A) => R | PromiseLike<Awaited<R>> : never;
