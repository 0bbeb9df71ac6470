// A small typed event emitter: listeners per event name, called in order.
export type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<M extends { [K in keyof M]: unknown[] }> {
  private listeners: { [K in keyof M]?: Listener<M[K]>[] } = {};

  on<K extends keyof M>(event: K, fn: Listener<M[K]>): this {
    (this.listeners[event] ||= []).push(fn);
    return this;
  }

  once<K extends keyof M>(event: K, fn: Listener<M[K]>): this {
    const wrapped: Listener<M[K]> = (...args) => {
      this.off(event, wrapped);
      fn(...args);
    };
    return this.on(event, wrapped);
  }

  off<K extends keyof M>(event: K, fn?: Listener<M[K]>): this {
    const list = this.listeners[event];
    if (!list) return this;
    this.listeners[event] = fn ? list.filter((l) => l !== fn) : [];
    return this;
  }

  emit<K extends keyof M>(event: K, ...args: M[K]): boolean {
    const list = this.listeners[event];
    if (!list || list.length === 0) return false;
    for (const fn of list.slice()) fn(...args);
    return true;
  }

  removeAllListeners(): this {
    this.listeners = {};
    return this;
  }

  listenerCount<K extends keyof M>(event: K): number {
    return this.listeners[event]?.length ?? 0;
  }
}
