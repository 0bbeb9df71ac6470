// Recovery (docs/recovery.md, "Wire for our clients"): the session envelope
// that names this connection's spark and says whether what it missed follows,
// messages stamped with their place in a room's history, position
// announcements, and the positions the client keeps per room so that a
// reconnect can ask for exactly what it missed.

/** What the server said about the connection that just opened: the 'session' event. */
export interface SessionInfo {
  /** The spark id. */
  id: string;
  /** The spark came back: same id, rooms, user and Set values. */
  restored: boolean;
  /** Every message of its history rooms since the client's positions follows, in order; false: none is replayed, reload your state. */
  recovered: boolean;
  /** Why not recovered: "new", "expired", "epoch", "truncated", "limit", "unavailable", "no_history" ('' when recovered). */
  reason: string;
}

/** At most this many rooms' positions are kept (the least recently updated go first): what `_since` may carry. */
export const MAX_ROOMS = 64;
/** Longest room name accepted in a stamped message or an announcement, UTF-8 bytes. */
export const MAX_ROOM = 256;
/** Longest epoch accepted, bytes. */
export const MAX_EPOCH = 64;
/** Longest session token (and spark id, reason) accepted: it travels in every reconnect URL. */
export const MAX_TOKEN = 256;
/** The server ignores a `_since` longer than this; the client leaves out the oldest rooms to stay within it. */
export const MAX_SINCE = 32 << 10;

const utf8 = (s: string) => new TextEncoder().encode(s).length;
const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const str = (v: unknown, max: number, empty = false): v is string => typeof v === 'string' && (empty || v !== '') && utf8(v) <= max;

/** A parsed recovery envelope; null: not one (an event envelope, plain data). */
export type RecoveryMessage =
  | { kind: 'session'; session: SessionInfo; token: string }
  | { kind: 'stamped'; room: string; offset: number; epoch: string; data: unknown }
  | { kind: 'position'; room: string; offset: number; epoch: string }
  | { kind: 'bad'; reason: string };

/**
 * Recognizes the envelopes of recovery: `{"allspark":1,"session":{...}}`
 * and `{"allspark":1,"room":R,"offset":N,"epoch":E[,"data":D]}`. Anything
 * else with an "allspark" key is left to the event envelope parser.
 */
export function parseRecovery(data: unknown): RecoveryMessage | null {
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !own(data, 'allspark')) return null;
  const m = data as Record<string, unknown>;
  if (m.allspark !== 1 || own(m, 'event') || own(m, 'ack') || own(m, 'error')) return null;
  if (own(m, 'session')) {
    const s = m.session as Record<string, unknown> | null;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return { kind: 'bad', reason: '"session" is not an object' };
    if (!str(s.id, MAX_TOKEN)) return { kind: 'bad', reason: `session "id" must be a string of 1 to ${MAX_TOKEN} bytes` };
    if (!str(s.token, MAX_TOKEN)) return { kind: 'bad', reason: `session "token" must be a string of 1 to ${MAX_TOKEN} bytes` };
    if (typeof s.restored !== 'boolean' || typeof s.recovered !== 'boolean') {
      return { kind: 'bad', reason: 'session "restored" and "recovered" must be booleans' };
    }
    const reason = s.reason ?? '';
    if (!str(reason, MAX_TOKEN, true)) return { kind: 'bad', reason: 'session "reason" must be a short string' };
    return { kind: 'session', token: s.token, session: { id: s.id, restored: s.restored, recovered: s.recovered, reason } };
  }
  if (!own(m, 'room')) return null;
  if (!str(m.room, MAX_ROOM)) return { kind: 'bad', reason: `"room" must be a string of 1 to ${MAX_ROOM} bytes` };
  // A message's offset counts from 1; an announcement's may be 0 (no message in this epoch yet).
  const offset = m.offset;
  const stamped = own(m, 'data');
  if (!Number.isSafeInteger(offset) || (offset as number) < (stamped ? 1 : 0)) return { kind: 'bad', reason: '"offset" must be an integer below 2^53, positive in a stamped message' };
  if (!str(m.epoch, MAX_EPOCH)) return { kind: 'bad', reason: `"epoch" must be a string of 1 to ${MAX_EPOCH} bytes` };
  const pos = { room: m.room, offset: offset as number, epoch: m.epoch };
  return stamped ? { kind: 'stamped', ...pos, data: m.data } : { kind: 'position', ...pos };
}

/** What to do with a stamped message. */
export type Verdict = 'deliver' | 'duplicate' | 'gap' | 'epoch';

/**
 * The client's last position per room, at most MAX_ROOMS of them: a Map in
 * update order (oldest first), so the least recently updated room is the
 * one forgotten when a new one comes.
 */
export class Positions {
  private readonly rooms = new Map<string, [number, string]>();

  get size(): number {
    return this.rooms.size;
  }

  get(room: string): [number, string] | undefined {
    return this.rooms.get(room);
  }

  /** Judges stamped message (room, offset, epoch), moving the position on when it is to be delivered. */
  stamped(room: string, offset: number, epoch: string): Verdict {
    const pos = this.rooms.get(room);
    if (pos) {
      if (pos[1] !== epoch) return 'epoch';
      if (offset <= pos[0]) return 'duplicate';
      if (offset > pos[0] + 1) return 'gap';
    }
    this.set(room, offset, epoch);
    return 'deliver';
  }

  /** An announcement: the position is now (offset, epoch), unless it would move back within one epoch. */
  announce(room: string, offset: number, epoch: string): void {
    const pos = this.rooms.get(room);
    if (pos && pos[1] === epoch && offset < pos[0]) return;
    this.set(room, offset, epoch);
  }

  clear(): void {
    this.rooms.clear();
  }

  /**
   * The `_since` query value: `{"room":[offset,"epoch"],...}`, the most
   * recently updated rooms first, as many as fit in MAX_SINCE; '' when none.
   */
  since(): string {
    const parts: string[] = [];
    let size = 2;
    for (const [room, [offset, epoch]] of [...this.rooms].reverse()) {
      const part = `${JSON.stringify(room)}:[${offset},${JSON.stringify(epoch)}]`;
      const n = utf8(part) + (parts.length ? 1 : 0);
      if (size + n > MAX_SINCE) break;
      size += n;
      parts.push(part);
    }
    return parts.length ? `{${parts.join(',')}}` : '';
  }

  private set(room: string, offset: number, epoch: string): void {
    this.rooms.delete(room);
    this.rooms.set(room, [offset, epoch]);
    if (this.rooms.size > MAX_ROOMS) this.rooms.delete(this.rooms.keys().next().value as string);
  }
}
