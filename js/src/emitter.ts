// A small typed event emitter: listeners per event name, called in order.
export type Listener<A extends unknown[]> = (...args: A) => void;

export type AnyFn = (...args: any[]) => unknown;

export class Emitter<M extends { [K in keyof M]: unknown[] }> {
  // A Map, not an object: names come from the network too ("constructor",
  // "__proto__" must be ordinary names).
  protected listeners = new Map<PropertyKey, AnyFn[]>();

  on<K extends keyof M>(event: K, fn: Listener<M[K]>): this {
    const list = this.listeners.get(event);
    if (list) list.push(fn);
    else this.listeners.set(event, [fn]);
    return this;
  }

  once<K extends keyof M>(event: K, fn: Listener<M[K]>): this {
    // The wrapper passes the result through: for a named event it is the ack reply.
    const wrapped: Listener<M[K]> = (...args) => {
      this.off(event, wrapped);
      return fn(...args);
    };
    return this.on(event, wrapped);
  }

  off<K extends keyof M>(event: K, fn?: Listener<M[K]>): this {
    const list = this.listeners.get(event);
    if (list) this.listeners.set(event, fn ? list.filter((l) => l !== fn) : []);
    return this;
  }

  emit<K extends keyof M>(event: K, ...args: M[K]): boolean {
    const list = this.listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const fn of list.slice()) fn(...args);
    return true;
  }

  removeAllListeners(): this {
    this.listeners.clear();
    return this;
  }

  listenerCount<K extends keyof M>(event: K): number {
    return this.listeners.get(event)?.length ?? 0;
  }
}
