// The HTTP fallback: one Engine.IO v4 session (the wire of Primus's
// engine.io transformer), started on long-polling and moved to a WebSocket
// by the Engine.IO upgrade when it can. The client sees one socket whatever
// carries it: Primus frames go in and out as message packets, and the
// session's own packets (ping, noop, upgrade, close) stay in here.

/** What the client needs of a socket: a WebSocket, or this session. */
export interface Conn {
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number): void;
  onopen: ((ev: unknown) => void) | null;
  /** code: a WebSocket close code, or the HTTP status a refused handshake got (reason: its body). */
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export interface WebSocketLike extends Conn {
  readyState: number;
  binaryType: string;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

type Data = string | ArrayBufferLike | ArrayBufferView;
type Timer = ReturnType<typeof setTimeout>;

/** Packet separator of a polling payload. */
const SEP = '\x1e';

const toBase64 = (d: ArrayBufferLike | ArrayBufferView): string => {
  const b = ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return btoa(s);
};

/**
 * An Engine.IO v4 session. Writes are never reordered: packets wait in one
 * queue; polling sends them in order, one POST at a time; during the
 * upgrade nothing is sent until the held GET and the POST in flight have
 * returned, then the upgrade packet and the queue go on the WebSocket.
 */
export class Engine implements Conn {
  onopen: Conn['onopen'] = null;
  onclose: Conn['onclose'] = null;
  onerror: Conn['onerror'] = null;
  onmessage: Conn['onmessage'] = null;
  /** What carries the session now. */
  transport: 'polling' | 'websocket' = 'polling';

  private sid = '';
  private maxPayload = 1e6;
  private deadAfter = 0;
  private queue: Data[] = [];
  private getting = false;
  private posting = false;
  /** Between the probe's answer and the switch: polling sends and fetches nothing. */
  private paused = false;
  private ws: WebSocketLike | null = null;
  private probe: WebSocketLike | null = null;
  private closed = false;
  private abort = new AbortController();
  private timers: { dead?: Timer; upgrade?: Timer } = {};
  private n = 0;

  /**
   * url: the http(s) URL of `<pathname>/` with the app's query. WS: the
   * constructor to upgrade with (none: stay on polling). retry: ms between
   * upgrade attempts after one failed (false: try once). handshake: query
   * parameters of the handshake alone (recovery's `_recover`, `_session`,
   * `_since`): the server reads them when it makes the session, and they
   * would only lengthen every later request.
   */
  constructor(
    private readonly url: string,
    private readonly WS: WebSocketConstructor | undefined,
    private readonly retry: number | false,
    private readonly handshake: [string, string][] = [],
  ) {
    this.get(true);
  }

  send(data: Data): void {
    this.queue.push(typeof data === 'string' ? '4' + data : data);
    this.flush();
  }

  /** Closes the session: the close packet follows what is queued (end(data) must not lose data). */
  close(): void {
    if (this.closed) return;
    this.queue.push('1');
    this.closed = true;
    this.flush();
    this.shut();
  }

  private href(transport: string, ws = false): string {
    const u = new URL(this.url);
    if (ws) u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = u.searchParams;
    q.set('EIO', '4');
    q.set('transport', transport);
    q.set('t', `${Date.now().toString(36)}${this.n++}`);
    if (this.sid) q.set('sid', this.sid);
    else for (const [k, v] of this.handshake) q.set(k, v);
    return u.href;
  }

  /** The held GET (the handshake when first): a payload of server packets. */
  private get(handshake = false): void {
    if (this.closed || this.paused || this.getting || this.ws) return;
    this.getting = true;
    this.http(undefined).then((body) => {
      this.getting = false;
      if (this.closed) return;
      if (handshake) {
        const [open, ...rest] = body.split(SEP);
        let h: { sid?: unknown; upgrades?: unknown; pingInterval?: unknown; pingTimeout?: unknown; maxPayload?: unknown };
        try {
          h = open[0] === '0' ? JSON.parse(open.slice(1)) : {};
        } catch {
          h = {};
        }
        if (typeof h.sid !== 'string' || !h.sid) return this.die(0, 'bad handshake');
        this.sid = h.sid;
        if (typeof h.maxPayload === 'number' && h.maxPayload > 0) this.maxPayload = h.maxPayload;
        this.deadAfter = (Number(h.pingInterval) || 0) + (Number(h.pingTimeout) || 0);
        this.alive();
        this.onopen?.({});
        if (this.closed) return;
        body = rest.join(SEP);
        if (Array.isArray(h.upgrades) && h.upgrades.includes('websocket')) this.upgrade();
        this.flush();
      }
      if (body) for (const p of body.split(SEP)) if (!this.packet(p)) return;
      if (this.paused) this.switch();
      else this.get();
    }, this.fail);
  }

  /** A fetch of the session URL (GET, or POST of body); rejects with the status on a non-200. */
  private http(body: string | undefined): Promise<string> {
    return fetch(this.href('polling'), {
      method: body === undefined ? 'GET' : 'POST',
      body,
      headers: body === undefined ? undefined : { 'Content-Type': 'text/plain;charset=UTF-8' },
      cache: 'no-store',
      // Only the held GET is cut on close: a POST under way still carries writes.
      signal: body === undefined ? this.abort.signal : undefined,
    }).then(async (res) => {
      const text = await res.text();
      if (res.status !== 200) throw { status: res.status, text };
      return text;
    });
  }

  private fail = (e: { status?: number; text?: string }): void => {
    this.getting = this.posting = false;
    this.die(e?.status ?? 0, e?.text);
  };

  /** Sends what is queued: on the WebSocket, or as one POST at a time within maxPayload. */
  private flush(): void {
    const q = this.queue;
    if (this.ws) {
      this.queue = [];
      for (const d of q) this.ws.send(d);
      return;
    }
    // Once closed, what is left (up to the close packet) still goes, pause or not.
    if (this.posting || (this.paused && !this.closed) || !this.sid || !q.length) return;
    const enc = new TextEncoder();
    let size = 0;
    let i = 0;
    const parts: string[] = [];
    for (; i < q.length; i++) {
      const d = q[i];
      const p = typeof d === 'string' ? d : 'b' + toBase64(d);
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
  private packet(p: string | ArrayBuffer): boolean {
    this.alive();
    if (typeof p !== 'string') {
      this.onmessage?.({ data: p });
      return !this.closed;
    }
    const data = p.slice(1);
    switch (p[0]) {
      case '4':
        this.onmessage?.({ data });
        break;
      case 'b': {
        const s = atob(data);
        const b = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
        this.onmessage?.({ data: b.buffer });
        break;
      }
      case '2':
        this.queue.push('3');
        this.flush();
        break;
      case '6':
        break;
      default: // '1' close, or not a packet of the server's
        this.die(1000);
    }
    return !this.closed;
  }

  /** Restarts the liveness watchdog: a server silent for pingInterval + pingTimeout is gone. */
  private alive(): void {
    clearTimeout(this.timers.dead);
    if (this.deadAfter) this.timers.dead = setTimeout(() => this.die(1006), this.deadAfter);
  }

  /** Probes a WebSocket with the session id: 2probe, 3probe, then switch() sends 5. */
  private upgrade(): void {
    if (!this.WS || this.closed || this.ws || this.probe) return;
    const p = new this.WS(this.href('websocket', true));
    p.binaryType = 'arraybuffer';
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
    this.timers.upgrade = setTimeout(failed, 10000);
    p.onopen = () => p.send('2probe');
    p.onmessage = (ev) => {
      if (ev.data !== '3probe' || this.paused) return failed();
      this.paused = true;
      this.switch();
    };
    p.onclose = failed;
    p.onerror = () => {};
  }

  /** Completes the upgrade once polling is idle (the server answers the held GET with a noop). */
  private switch(): void {
    const p = this.probe;
    if (!p || this.getting || this.posting || this.closed) return;
    this.probe = null;
    this.paused = false;
    clearTimeout(this.timers.upgrade);
    p.send('5');
    this.ws = p;
    this.transport = 'websocket';
    p.onmessage = (ev) => {
      this.packet(ev.data as string | ArrayBuffer);
    };
    p.onclose = () => this.die(1006);
    this.flush();
  }

  private drop(ws: WebSocketLike): void {
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close();
    } catch {
      /* already closed */
    }
  }

  /** Ends the session without telling anyone. */
  private shut(): void {
    this.closed = true;
    clearTimeout(this.timers.dead);
    clearTimeout(this.timers.upgrade);
    if (this.probe) this.drop(this.probe);
    if (this.ws) this.drop(this.ws);
    this.probe = this.ws = null;
    this.abort.abort();
  }

  /** The session ended under us: code is an HTTP status (refused handshake), a close code, or 0 (network). */
  private die(code: number, reason?: string): void {
    if (this.closed) return;
    this.queue = [];
    this.shut();
    this.onclose?.({ code, reason });
  }
}
