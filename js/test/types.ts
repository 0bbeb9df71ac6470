// Compile-time checks of the typed events API, run by `tsc -p js/tsconfig.json`
// (scripts/test.sh). Each @ts-expect-error line must stay an error: if the
// typing loosens, tsc fails on the unused directive.
import { Primus, Args, EventError, type SessionInfo } from '../src/index';

interface ServerToClient {
  chat(text: string, from: string): void;
  ask(question: string): number;
  pair(): Args<[string, number]>;
}
interface ClientToServer {
  echo(...args: unknown[]): Args<unknown[]>;
  add(x: { A: number; B: number }): number;
  join(room: string): void;
  heartbeat(): void;
  'primus::x'(): void;
}

export async function typed(c: Primus<ServerToClient, ClientToServer>): Promise<void> {
  // local events keep their types
  c.on('data', (d: unknown) => void d);
  c.on('reconnect scheduled', (a) => a.attempt satisfies number);
  c.once('error', (e: Error) => void e);
  c.off('open');
  // server events: args typed, the return value is the ack reply
  c.on('chat', (text, from) => void (text.toUpperCase() + from));
  c.on('ask', async (q) => q.length);
  c.once('pair', () => new Args('a', 1));
  c.off('chat');
  // @ts-expect-error the reply of "ask" is a number
  c.on('ask', (q: string) => q);
  // @ts-expect-error "chat" gets strings
  c.on('chat', (text: number) => void text);

  c.emit('join', 'lobby');
  c.emit('open'); // local
  // @ts-expect-error "join" takes a room name
  c.emit('join', 5);
  // @ts-expect-error not an event of ClientToServer
  c.emit('nope');
  // @ts-expect-error reserved names never travel, even when a map lists them
  c.emit('heartbeat');
  // @ts-expect-error reserved prefix
  await c.emitWithAck('primus::x');

  const [sum] = await c.emitWithAck('add', { A: 1, B: 2 });
  sum satisfies number;
  const none = await c.timeout(100).emitWithAck('join', 'x');
  none satisfies [];
  const many = await c.emitWithAck('echo', 1, 'a');
  many satisfies unknown[];
  // @ts-expect-error "add" wants {A, B}
  await c.emitWithAck('add', { A: 1 });
  // @ts-expect-error local events cannot ask for acks
  await c.emitWithAck('open');
  // @ts-expect-error a one-element reply has no second element
  void (await c.emitWithAck('add', { A: 1, B: 2 }))[1];
}

export async function untyped(c: Primus): Promise<void> {
  c.on('anything', (...args) => args.length);
  c.emit('anything', 1, 2, 3);
  const reply = await c.emitWithAck('anything');
  reply satisfies unknown[];
  try {
    await c.emitWithAck('x');
  } catch (e) {
    if (e instanceof EventError) void (e.code + e.message + e.event);
  }
}

// The typed example of js/README.md, kept compiling here.
interface ReadmeServerToClient {
  said(text: string, from: string): void;
  confirm(question: string): boolean;
}
interface ReadmeClientToServer {
  join(room: string): string[];
  add(x: { A: number; B: number }): number;
  say(x: { Room: string; Text: string }): number;
}
export async function readme(url: string, render: (text: string, from: string) => void): Promise<void> {
  const c = new Primus<ReadmeServerToClient, ReadmeClientToServer>(url);
  c.on('said', (text, from) => render(text, from));
  c.on('confirm', async (q) => q.length > 0);
  c.on('open', () => console.log('connected'));
  c.emit('join', 'lobby');
  const [sum] = await c.emitWithAck('add', { A: 1, B: 2 });
  sum satisfies number;
  try {
    const [delivered] = await c.timeout(2000).emitWithAck('say', { Room: 'lobby', Text: 'hi' });
    delivered satisfies number;
  } catch (err) {
    if (err instanceof EventError) console.log(err.code);
  }
}

// Recovery: the option, the booleans of the last session, and its two events.
export function recovery(url: string): void {
  const c = new Primus<ServerToClient, ClientToServer>(url, { recover: false });
  c.recovered satisfies boolean;
  c.restored satisfies boolean;
  // @ts-expect-error read-only: the server's answer, not a setting
  c.recovered = true;
  c.on('session', (s) => {
    s satisfies SessionInfo;
    void (s.id + s.reason + String(s.recovered && s.restored));
  });
  c.on('unrecovered', (reason) => reason satisfies string);
  // @ts-expect-error the reason is a string
  c.on('unrecovered', (reason: number) => void reason);
  // @ts-expect-error local events never travel
  c.emit('session');
}
