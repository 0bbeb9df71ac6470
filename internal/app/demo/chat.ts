// The chat demo's page logic. The client library comes from the server at
// /primus/primus.js (window.Primus); types come from the client's source.
// Named events and acks are the client's own (emit, emitWithAck, on), in the
// wire format of docs/events.md; the server side is internal/app/demo.go.
//
// Opened as /?client=socketio the page loads the stock socket.io-client
// bundle the server vendors (/demo/vendor/socket.io.min.js, window.io) and
// speaks Socket.IO instead: the same events and acks, in the same rooms as
// the Primus pages (socketIOClient below).
import type { Primus as PrimusClass, Attempt, SessionInfo } from '../../../js/src/index';
import type { io as ioFunction, Socket as SioSocket } from 'socket.io-client';

declare const Primus: typeof PrimusClass;

interface Member { id: string; name: string }
interface Message { id?: string; room: string; from?: string; name: string; text: string; ts?: number }
/** One user per member: the server lists users, not tabs. */
interface RoomState { room: string; members: Member[] }
/** The server's presence event (allspark.PresenceEvent): one spark joined or left, anywhere in the cluster. */
interface PresenceDiff { room: string; action: 'join' | 'leave'; spark: string; user?: string; node: string; sparks: number; expired?: boolean }
interface Typing { room: string; id: string; name: string; typing: boolean }
/** The history request's answer: the room's members and last chat lines (history false: the room keeps none). */
interface RoomHistory extends RoomState { history: boolean; messages: Message[]; offset: number; epoch: string }

/** Events the server sends. */
interface ServerToClient {
  message(m: Message): void;
  presence_diff(d: PresenceDiff): void;
  typing(t: Typing): void;
}

/** Events the page sends; the return type is the server's ack reply. */
interface ClientToServer {
  join(x: { room: string }): RoomState;
  leave(x: { room: string }): void;
  message(x: { room: string; text: string }): Message;
  typing(x: { room: string; typing: boolean }): void;
  history(x: { room: string }): RoomHistory;
}

type Client = PrimusClass<ServerToClient, ClientToServer>;

/** What the page needs of its connection, whichever client library speaks it. */
interface ChatClient {
  emit<K extends keyof ClientToServer>(event: K, arg: Parameters<ClientToServer[K]>[0]): void;
  /** Sends event with an ack; resolves with the reply, rejects with the server's error (its code on .code). */
  request<K extends keyof ClientToServer>(event: K, arg: Parameters<ClientToServer[K]>[0]): Promise<ReturnType<ClientToServer[K]>>;
  on<K extends keyof ServerToClient>(event: K, fn: ServerToClient[K]): void;
  id(): Promise<string>;
}

/** A request gets this long for its ack, ms. */
const ACK_TIMEOUT = 10000;

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...kids: (Node | string)[]) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};

const status = $<HTMLDivElement>('#status');
interface Room {
  members: Member[];
  log: HTMLLIElement[];
  /** Ids of the chat lines shown, so a line that arrives twice (live and in a reloaded history) shows once. */
  seen: Set<string>;
  /** Lines that arrived while a reload was under way, kept after it unless the history had them. */
  pending?: { m: Message; li: HTMLLIElement }[];
  unread: number;
  typing: Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>;
}
const state = {
  name: '',
  myId: '',
  open: false,
  current: '',
  rooms: new Map<string, Room>(),
};
let client: ChatClient;
/**
 * Whether the server keeps sessions (its "recovery" meta tag): a reconnect
 * then gets the same spark with its rooms, and the page joins nothing again
 * unless the session envelope says the spark is new.
 */
const recovery = document.querySelector<HTMLMetaElement>('meta[name="recovery"]')?.content !== 'off';
/** What the page did, for the console and the end-to-end tests. */
const stats = { joins: 0, sessions: [] as SessionInfo[], reloads: [] as { room: string; reason: string; messages: number }[] };
(globalThis as { demo?: typeof stats }).demo = stats;
/** The session handling of the connection under way: the re-joins of a new spark, which a reload waits for. */
let settled: Promise<void> = Promise.resolve();
let countdown: ReturnType<typeof setInterval> | undefined;

function setStatus(kind: string, text: string): void {
  status.dataset.state = kind;
  status.textContent = text;
  const ready = kind === 'open';
  $<HTMLInputElement>('#text').disabled = !ready || !state.current;
  $<HTMLButtonElement>('#send').disabled = !ready || !state.current;
}

/** Connection status, driven only by the client's own events. */
function watchConnection(c: Client): void {
  const stopCountdown = () => { if (countdown) clearInterval(countdown); countdown = undefined; };
  c.on('open', () => {
    stopCountdown();
    state.open = true;
    setStatus('open', 'connected');
    // With sessions the envelope that follows says what to do (below).
    if (!recovery) settled = rejoin();
  });
  // Right after every open: a restored spark is still in its rooms and is
  // replayed what it missed; a new one (first connect, session expired)
  // joins them again.
  c.on('session', (s: SessionInfo) => {
    stats.sessions.push({ ...s });
    state.myId = s.id;
    if (!s.restored) {
      settled = rejoin();
      return;
    }
    settled = Promise.resolve();
    if (s.recovered) setStatus('open', 'connected · session restored');
  });
  // The session came back without what was missed: reload each room.
  c.on('unrecovered', (reason: string) => { void settled.then(() => reload(reason)); });
  c.on('reconnect scheduled', (a: Attempt) => {
    stopCountdown();
    state.open = false;
    const due = Date.now() + a.scheduled;
    const tick = () => {
      const s = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      setStatus('reconnecting', `reconnecting in ${s} s`);
    };
    tick();
    countdown = setInterval(tick, 250);
  });
  c.on('reconnect', () => { stopCountdown(); setStatus('connecting', 'connecting…'); });
  c.on('close', () => { state.open = false; if (status.dataset.state === 'open') setStatus('connecting', 'connection lost'); });
  c.on('offline', () => { stopCountdown(); state.open = false; setStatus('offline', 'offline'); });
  c.on('online', () => setStatus('connecting', 'back online, connecting…'));
  c.on('end', () => { stopCountdown(); state.open = false; setStatus('ended', 'disconnected: reload to rejoin'); });
  c.on('error', (err: Error) => console.warn('allspark client error', err));
  // Plain (non-event) data, e.g. an HTTP publish without an event name.
  c.on('data', (data: unknown) => {
    if (state.current) notice(state.current, `📣 ${typeof data === 'string' ? data : JSON.stringify(data)}`);
  });
}

function roomOf(name: string) {
  let r = state.rooms.get(name);
  if (!r) {
    r = { members: [], log: [], seen: new Set(), unread: 0, typing: new Map() };
    state.rooms.set(name, r);
  }
  return r;
}

function time(ts?: number): string {
  const d = ts ? new Date(ts) : new Date();
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function addLine(room: string, li: HTMLLIElement): void {
  const r = roomOf(room);
  r.log.push(li);
  if (room === state.current) {
    const list = $<HTMLOListElement>('#messages');
    list.append(li);
    list.scrollTop = list.scrollHeight;
  } else {
    r.unread++;
    renderRooms();
  }
}

function messageLine(m: Message, cls: string[] = []): HTMLLIElement {
  const li = el('li', { className: ['msg', ...cls].join(' ') },
    el('span', { className: 'who', textContent: m.name }),
    el('span', { className: 'text', textContent: m.text }),
    el('span', { className: 'time', textContent: time(m.ts) }));
  li.dataset.key = lineKey(m);
  return li;
}

function notice(room: string, text: string): void {
  addLine(room, el('li', { className: 'notice', textContent: text }));
}

function renderRooms(): void {
  const ul = $<HTMLUListElement>('#rooms');
  ul.replaceChildren(...[...state.rooms.keys()].sort().map((name) => {
    const r = roomOf(name);
    const link = el('a', { href: '#', textContent: `# ${name}` });
    link.addEventListener('click', (e) => { e.preventDefault(); show(name); });
    const leave = el('button', { type: 'button', title: `leave ${name}`, textContent: '×' });
    leave.addEventListener('click', () => void leaveRoom(name));
    const li = el('li', { className: name === state.current ? 'current' : '' },
      link, el('span', { className: 'unread', textContent: r.unread ? String(r.unread) : '' }), leave);
    li.dataset.room = name;
    return li;
  }));
}

function renderMembers(): void {
  const r = state.current ? roomOf(state.current) : undefined;
  $<HTMLHeadingElement>('#members-title').textContent = r ? `Online in #${state.current} (${r.members.length})` : 'Online';
  $<HTMLUListElement>('#members').replaceChildren(...(r?.members ?? []).map((m) =>
    el('li', { className: m.name === state.name ? 'me' : '', textContent: m.name })));
}

function renderTyping(): void {
  const r = state.current ? roomOf(state.current) : undefined;
  const names = r ? [...r.typing.values()].map((t) => t.name) : [];
  $<HTMLDivElement>('#typing').textContent =
    names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`;
}

function show(room: string): void {
  state.current = room;
  const r = roomOf(room);
  r.unread = 0;
  $<HTMLHeadingElement>('#room-title').textContent = `# ${room}`;
  $<HTMLOListElement>('#messages').replaceChildren(...r.log);
  renderRooms();
  renderMembers();
  renderTyping();
  setStatus(status.dataset.state ?? 'idle', status.textContent ?? '');
}

async function joinRoom(room: string): Promise<void> {
  try {
    stats.joins++;
    const st = await client.request('join', { room });
    const known = state.rooms.has(room);
    roomOf(room).members = st.members;
    if (!known) notice(room, `you joined #${room}`);
    show(room);
  } catch (err) {
    alert(`could not join ${room}: ${(err as Error).message}`);
  }
}

async function leaveRoom(room: string): Promise<void> {
  try {
    await client.request('leave', { room });
  } catch (err) {
    if ((err as { code?: string }).code !== 'disconnected') console.warn(err);
  }
  state.rooms.delete(room);
  const next = [...state.rooms.keys()].sort()[0] ?? '';
  if (next) show(next);
  else { state.current = ''; $<HTMLOListElement>('#messages').replaceChildren(); renderRooms(); renderMembers(); }
}

/** A new spark (first connect, expired session, a server without sessions): join the rooms again and refresh members. */
async function rejoin(): Promise<void> {
  state.myId = await client.id();
  const rooms = state.rooms.size ? [...state.rooms.keys()] : ['lobby'];
  for (const room of rooms) {
    try {
      stats.joins++;
      const st = await client.request('join', { room });
      const fresh = !state.rooms.has(room);
      roomOf(room).members = st.members;
      if (fresh) notice(room, `you joined #${room}`);
    } catch (err) {
      console.warn('rejoin', room, err);
    }
  }
  show(state.current || rooms[0]);
}

/** Ids a room remembers: a duplicate comes within a reload's 100 lines, so the oldest can go. */
const MAX_SEEN = 1000;

function see(r: Room, id: string): void {
  r.seen.add(id);
  if (r.seen.size > MAX_SEEN) r.seen.delete(r.seen.values().next().value as string);
}

/** What tells two chat lines apart: the server's id, else (an HTTP publish) the line's fields. */
function lineKey(m: Message): string {
  return m.id ? `id:${m.id}` : `line:${m.name}\u0000${m.text}\u0000${m.ts ?? ''}`;
}

/**
 * Reloads every room after a reconnect that could not replay what was
 * missed (reason: expired, epoch, truncated, limit, unavailable): its
 * members, and its last messages from the server's history. The lines
 * shown stay; a notice marks the hole, followed by the history's lines not
 * shown yet; lines that arrived live meanwhile stay after them.
 */
async function reload(reason: string): Promise<void> {
  const rooms = [...state.rooms.keys()];
  let n = 0;
  for (const room of rooms) {
    const r = roomOf(room);
    r.pending = [];
    try {
      const h = await client.request('history', { room });
      r.members = h.members;
      if (h.history) {
        const pending = new Set(r.pending.map(({ li }) => li));
        const shown = new Map<string, number>();
        for (const li of r.log) if (li.dataset.key) shown.set(li.dataset.key, (shown.get(li.dataset.key) ?? 0) + 1);
        const fresh = h.messages.filter((m) => {
          const k = lineKey(m);
          const c = shown.get(k) ?? 0;
          if (c > 0) shown.set(k, c - 1);
          return c === 0;
        });
        for (const m of fresh) if (m.id) see(r, m.id);
        r.log = [
          ...r.log.filter((li) => !pending.has(li)),
          el('li', { className: 'notice reload', textContent: `reloaded #${room} (${reason}): ${fresh.length} of the last ${h.messages.length} messages were new` }),
          ...fresh.map((m) => messageLine(m, m.from === state.myId ? ['mine'] : m.from ? [] : ['api'])),
          ...r.pending.map(({ li }) => li),
        ];
        stats.reloads.push({ room, reason, messages: fresh.length });
        n++;
      }
    } catch (err) {
      console.warn('reload', room, err);
    } finally {
      r.pending = undefined;
    }
  }
  if (state.current) show(state.current);
  setStatus('open', n ? `connected · missed messages lost (${reason}): reloaded ${n === 1 ? `#${rooms[0]}` : `${n} rooms`}` : `connected · missed messages lost (${reason})`);
}

let typingSent = false;
let typingTimer: ReturnType<typeof setTimeout> | undefined;
function typing(on: boolean): void {
  if (!state.current || !state.open) return;
  if (typingTimer) clearTimeout(typingTimer);
  if (on) typingTimer = setTimeout(() => typing(false), 2500);
  if (on === typingSent) return;
  typingSent = on;
  client.emit('typing', { room: state.current, typing: on });
}

async function send(text: string): Promise<void> {
  const room = state.current;
  typing(false);
  const li = messageLine({ room, name: state.name, text }, ['mine', 'pending']);
  addLine(room, li);
  try {
    const m = await client.request('message', { room, text });
    if (m.id) see(roomOf(room), m.id);
    li.dataset.key = lineKey(m);
    li.classList.remove('pending');
    li.querySelector('.time')!.textContent = time(m.ts);
  } catch (err) {
    li.classList.remove('pending');
    li.classList.add('failed');
    li.title = (err as Error).message;
  }
}

/** Allspark's client (Primus wire): the page's default. */
function primusClient(name: string): ChatClient {
  const url = new URL(location.href);
  url.pathname = '/';
  url.hash = '';
  url.search = new URLSearchParams({ name }).toString();
  // A chat keeps trying: no retry limit, at most 8 s between attempts.
  const c = new Primus<ServerToClient, ClientToServer>(url.toString(), {
    reconnect: { min: 1000, max: 8000, retries: Infinity },
    ackTimeout: ACK_TIMEOUT,
  });
  watchConnection(c);
  // The page's client, for the console and the end-to-end tests (which read
  // client.transport to see the long-polling fallback and the upgrade).
  (globalThis as { client?: Client }).client = c;
  // The casts only restate, for a generic event name, what the client's
  // own typed overloads check for each name.
  return {
    emit: (event, arg) => { c.emit(event, ...([arg] as Parameters<ClientToServer[typeof event]>)); },
    async request<K extends keyof ClientToServer>(event: K, arg: Parameters<ClientToServer[K]>[0]) {
      const [reply] = await c.emitWithAck(event, ...([arg] as Parameters<ClientToServer[K]>));
      return reply as ReturnType<ClientToServer[K]>;
    },
    on: (event, fn) => { c.on(event, fn as never); },
    id: async () => String(await c.id()),
  };
}

/** Loads a script of the server's; resolves once it ran. */
function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tag = el('script', { src });
    tag.onload = () => resolve();
    tag.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(tag);
  });
}

/** Whether a Socket.IO "message" is a chat line: the server's Emit("message") and Write(x) both arrive as it. */
function isMessage(x: unknown): x is Message {
  return typeof x === 'object' && x !== null && typeof (x as Message).room === 'string' && typeof (x as Message).text === 'string';
}

/**
 * The stock socket.io-client, loaded from the server's vendored copy: the
 * user's name rides in the handshake query, as with Primus; an ack error
 * from the server arrives as the reply {error: {code, message}}.
 */
async function socketIOClient(name: string): Promise<ChatClient> {
  await loadScript('/demo/vendor/socket.io.min.js');
  const io = (globalThis as unknown as { io: typeof ioFunction }).io;
  const path = document.querySelector<HTMLMetaElement>('meta[name="socketio-path"]')?.content || '/socket.io/';
  const socket = io({ path, query: { name }, reconnectionDelay: 1000, reconnectionDelayMax: 8000 });
  watchSocketIO(socket);
  // The page's socket, for the console and the end-to-end tests.
  (globalThis as { socket?: SioSocket }).socket = socket;
  return {
    emit: (event, arg) => { socket.emit(event, arg); },
    request: async (event, arg) => {
      const reply = await socket.timeout(ACK_TIMEOUT).emitWithAck(event, arg);
      const err = (reply as { error?: { code?: string; message?: string } } | null)?.error;
      if (err && typeof err === 'object') throw Object.assign(new Error(err.message ?? 'request failed'), { code: err.code });
      return reply;
    },
    on: (event, fn) => {
      if (event !== 'message') {
        socket.on(event, fn as never);
        return;
      }
      // Plain data (a Write, an HTTP publish without an event name) is a
      // "message" too: what is not a chat line is shown as a notice.
      socket.on('message', (x: unknown) => {
        if (isMessage(x)) (fn as ServerToClient['message'])(x);
        else if (state.current) notice(state.current, `📣 ${typeof x === 'string' ? x : JSON.stringify(x)}`);
      });
    },
    id: async () => socket.id ?? '',
  };
}

/** Connection status of a Socket.IO page, from the socket's and its manager's events. */
function watchSocketIO(socket: SioSocket): void {
  socket.on('connect', () => {
    state.open = true;
    // With the server's --socketio-recovery a recovered socket is still in
    // its rooms and was replayed what it missed.
    if (socket.recovered) { setStatus('open', 'connected · session restored'); return; }
    setStatus('open', 'connected');
    settled = rejoin();
  });
  socket.on('disconnect', (reason) => {
    state.open = false;
    if (reason === 'io server disconnect' || reason === 'io client disconnect') setStatus('ended', 'disconnected: reload to rejoin');
    else setStatus('reconnecting', 'connection lost, reconnecting…');
  });
  socket.on('connect_error', (err) => {
    if (!socket.active) setStatus('ended', `refused: ${err.message}`);
    else setStatus('reconnecting', 'reconnecting…');
  });
  socket.io.on('reconnect_attempt', () => setStatus('connecting', 'connecting…'));
  addEventListener('offline', () => { state.open = false; setStatus('offline', 'offline'); });
  addEventListener('online', () => { if (!socket.connected) setStatus('connecting', 'back online, connecting…'); });
}

async function start(name: string): Promise<void> {
  state.name = name;
  $<HTMLElement>('#login').hidden = true;
  $<HTMLElement>('#chat').hidden = false;
  const me = $<HTMLDivElement>('#me');
  me.hidden = false;
  me.textContent = name;
  setStatus('connecting', 'connecting…');
  if (new URLSearchParams(location.search).get('client') === 'socketio') {
    $<HTMLElement>('#client-lib').textContent = 'socket.io-client (/demo/vendor/socket.io.min.js)';
    try {
      client = await socketIOClient(name);
    } catch (err) {
      setStatus('ended', (err as Error).message);
      return;
    }
  } else {
    client = primusClient(name);
  }

  client.on('message', (msg) => {
    const r = roomOf(msg.room);
    if (msg.id) {
      if (r.seen.has(msg.id)) return;
      see(r, msg.id);
    }
    const li = messageLine(msg, msg.from ? [] : ['api']);
    r.pending?.push({ m: msg, li });
    addLine(msg.room, li);
    const t = roomOf(msg.room).typing.get(msg.from ?? '');
    if (t) { clearTimeout(t.timer); roomOf(msg.room).typing.delete(msg.from ?? ''); renderTyping(); }
  });
  // The member list is one entry per user: a user arrives with their first
  // spark (tab) in the room and goes with their last (sparks 0); a spark of
  // a node that died leaves too (expired). Events before the join's answer
  // are covered by the list it carries.
  client.on('presence_diff', (d) => {
    if (!state.rooms.has(d.room) || !d.user) return;
    const r = roomOf(d.room);
    const listed = r.members.some((m) => m.name === d.user);
    if (d.action === 'join' && !listed) {
      r.members = [...r.members, { id: d.spark, name: d.user }].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (d.user !== state.name) notice(d.room, `${d.user} joined`);
    } else if (d.action === 'leave' && d.sparks === 0 && listed) {
      r.members = r.members.filter((m) => m.name !== d.user);
      if (d.user !== state.name) notice(d.room, `${d.user} left`);
    } else return;
    if (d.room === state.current) renderMembers();
  });
  client.on('typing', (ev) => {
    const r = roomOf(ev.room);
    const prev = r.typing.get(ev.id);
    if (prev) clearTimeout(prev.timer);
    if (ev.typing) {
      // A lost "stopped typing" (the sender vanished) must not stick.
      r.typing.set(ev.id, { name: ev.name, timer: setTimeout(() => { r.typing.delete(ev.id); renderTyping(); }, 6000) });
    } else r.typing.delete(ev.id);
    if (ev.room === state.current) renderTyping();
  });
}

$<HTMLFormElement>('#login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $<HTMLInputElement>('#name').value.trim();
  if (name) void start(name);
});
$<HTMLFormElement>('#join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('#room-input');
  const room = input.value.trim();
  input.value = '';
  if (room) void joinRoom(room);
});
$<HTMLFormElement>('#compose').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('#text');
  const text = input.value.trim();
  input.value = '';
  if (text && state.current) void send(text);
});
$<HTMLInputElement>('#text').addEventListener('input', (e) => typing((e.target as HTMLInputElement).value !== ''));
const preset = new URLSearchParams(location.search).get('name');
if (preset) void start(preset);
