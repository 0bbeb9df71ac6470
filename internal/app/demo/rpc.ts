// Named events and acks over a Primus connection, in the wire format of
// docs/events.md, for the demo page. It wraps the client's write/data so the
// chat code reads like an app: emit, ask (with ack), on.
import type { Primus as Client } from '../../../js/src/index';

/** An error answered by the server (ack error) or a local failure. */
export class RemoteError extends Error {
  constructor(public code: string, message: string) {
    super(message);
    this.name = 'RemoteError';
  }
}

type Handler = (...args: unknown[]) => void;

interface Pending {
  resolve: (args: unknown[]) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Rpc {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private handlers = new Map<string, Handler>();

  /** Plain (non-envelope) data, e.g. an HTTP publish without an event. */
  onPlain: (data: unknown) => void = () => {};

  constructor(private client: Client, private timeoutMs = 10000) {
    client.on('data', (data: unknown) => this.receive(data));
    // Requests in flight die with their connection: the reply would go to a
    // spark that no longer exists.
    client.on('close', () => this.failAll(new RemoteError('disconnected', 'connection closed before the reply')));
  }

  on(event: string, fn: Handler): void {
    this.handlers.set(event, fn);
  }

  emit(event: string, ...args: unknown[]): void {
    this.client.write({ allspark: 1, event, args });
  }

  /** Sends an event asking for an ack; resolves with the reply's args. */
  ask(event: string, ...args: unknown[]): Promise<unknown[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RemoteError('timeout', `no reply to ${event} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.client.write({ allspark: 1, event, args, id });
    });
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }

  private receive(data: unknown): void {
    if (typeof data !== 'object' || data === null || Array.isArray(data) || (data as { allspark?: unknown }).allspark === undefined) {
      this.onPlain(data);
      return;
    }
    const env = data as { allspark: unknown; event?: unknown; args?: unknown; id?: unknown; ack?: unknown; error?: { code?: string; message?: string } };
    if (env.allspark !== 1) return;
    const args = Array.isArray(env.args) ? env.args : [];
    if (typeof env.ack === 'number') {
      const p = this.pending.get(env.ack);
      if (!p) return; // late or unknown: dropped, as the wire format says
      this.pending.delete(env.ack);
      clearTimeout(p.timer);
      if (env.error) p.reject(new RemoteError(env.error.code ?? 'handler_error', env.error.message ?? 'failed'));
      else p.resolve(args);
      return;
    }
    if (typeof env.event === 'string') {
      const h = this.handlers.get(env.event);
      if (h) h(...args);
      else if (typeof env.id === 'number') {
        this.client.write({ allspark: 1, ack: env.id, error: { code: 'unknown_event', message: `no handler for ${env.event}` } });
      }
      return;
    }
    if (env.error) console.warn('allspark error report', env.error);
  }
}
