import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outbox } from './outbox';
import { Realtime, type ConnInfo, type WebSocketLike } from './realtime';
import {
  FALLBACK_TTL_MS, FORCE_KEY, MEMORY_KEY, TransportSelector, WebTransportSocket, decideTransport, readMemory, rememberFallback,
  rememberSuccess, webTransportTarget, type KeyValueStore, type WebTransportInfo, type WebTransportLike,
} from './transport';
import type { ServerFrame } from './types';

class MemStore implements KeyValueStore {
  m = new Map<string, string>();
  getItem(k: string) { return this.m.get(k) ?? null; }
  setItem(k: string, v: string) { this.m.set(k, v); }
  removeItem(k: string) { this.m.delete(k); }
}

class FakeWs implements WebSocketLike {
  readyState = 0;
  sent: string[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(public url: string) {}
  send(d: string) { this.sent.push(d); }
  close() { this.readyState = 3; }
}

/** A fake browser WebTransport whose stream we can feed and read. */
class FakeWt implements WebTransportLike {
  ready: Promise<unknown>;
  closed: Promise<{ closeCode?: number; reason?: string } | undefined>;
  written: string[] = [];
  closedWith: { closeCode?: number; reason?: string } | undefined;
  private resolveReady!: () => void;
  private rejectReady!: (e: unknown) => void;
  private resolveClosed!: (i: { closeCode?: number; reason?: string }) => void;
  private rejectClosed!: (e: unknown) => void;
  private ctrl!: ReadableStreamDefaultController<Uint8Array>;
  constructor(public url: string, public options: unknown) {
    this.ready = new Promise((res, rej) => { this.resolveReady = () => res(undefined); this.rejectReady = rej; });
    this.closed = new Promise((res, rej) => { this.resolveClosed = res; this.rejectClosed = rej; });
  }
  open() { this.resolveReady(); }
  fail(msg = 'Opening handshake failed.') {
    const e = new Error(msg);
    this.rejectReady(e);
    this.rejectClosed(e);
  }
  serverClose(closeCode: number, reason: string) {
    try { this.ctrl.close(); } catch { /* closed */ }
    this.resolveClosed({ closeCode, reason });
  }
  feed(bytes: Uint8Array) { this.ctrl.enqueue(bytes); }
  async createBidirectionalStream() {
    const readable = new ReadableStream<Uint8Array>({ start: (c) => { this.ctrl = c; } });
    const dec = new TextDecoder();
    const writable = new WritableStream<Uint8Array>({ write: (chunk) => { this.written.push(dec.decode(chunk)); } });
    return { readable, writable };
  }
  close(info?: { closeCode?: number; reason?: string }) {
    this.closedWith = info;
    this.resolveClosed(info ?? {});
  }
}

const INFO: WebTransportInfo = { port: 4433, path: '/api/wt', certificate_hashes: [{ algorithm: 'sha-256', value: btoa('\x01'.repeat(32)) }] };

function selector(opts: { info?: WebTransportInfo | null | Error; store?: MemStore; now?: () => number; supported?: boolean; noFetchAnswer?: boolean } = {}) {
  const wts: FakeWt[] = [];
  const wss: FakeWs[] = [];
  const fetches: number[] = [];
  const store = opts.store ?? new MemStore();
  const sel = new TransportSelector({
    wsUrl: 'ws://h/api/ws',
    hostname: '127.0.0.1',
    fetchInfo: () => {
      fetches.push(1);
      if (opts.noFetchAnswer) return new Promise(() => {});
      const i = opts.info === undefined ? INFO : opts.info;
      return i instanceof Error ? Promise.reject(i) : Promise.resolve(i);
    },
    store,
    now: opts.now ?? (() => 1_000_000),
    supported: () => opts.supported ?? true,
    secure: () => true,
    createWebTransport: (u, o) => { const w = new FakeWt(u, o); wts.push(w); return w; },
    createWebSocket: (u) => { const w = new FakeWs(u); wss.push(w); return w; },
  });
  return { sel, wts, wss, store, fetches };
}

describe('decideTransport', () => {
  const base = { supported: true, secure: true, forced: null, memory: null };
  it('tries WebTransport first', () => {
    expect(decideTransport(base)).toEqual({ kind: 'webtransport' });
    expect(decideTransport({ ...base, memory: { kind: 'webtransport', at: 1 } })).toEqual({ kind: 'webtransport' });
  });
  it('uses WebSocket when forced, outside a secure context, without browser support, or after a remembered fallback', () => {
    expect(decideTransport({ ...base, forced: 'websocket' }).kind).toBe('websocket');
    expect(decideTransport({ ...base, secure: false })).toMatchObject({ kind: 'websocket', reason: expect.stringMatching(/secure context/) });
    expect(decideTransport({ ...base, supported: false })).toMatchObject({ kind: 'websocket', reason: 'this browser has no WebTransport' });
    expect(decideTransport({ ...base, memory: { kind: 'websocket', reason: 'UDP blocked', at: 1, until: 2 } }))
      .toEqual({ kind: 'websocket', reason: 'UDP blocked', remembered: true });
  });
});

describe('transport memory', () => {
  it('keeps a fallback until it expires, then forgets it so WebTransport is tried again', () => {
    const s = new MemStore();
    rememberFallback(s, 'timed out', 1000, 5000);
    expect(readMemory(s, 1000)).toEqual({ kind: 'websocket', reason: 'timed out', at: 1000, until: 6000 });
    expect(readMemory(s, 5999)?.kind).toBe('websocket');
    expect(readMemory(s, 6000)).toBeNull();
    rememberSuccess(s, 7000);
    expect(readMemory(s, 10 ** 12)).toEqual({ kind: 'webtransport', at: 7000 });
  });
  it('ignores garbage', () => {
    const s = new MemStore();
    s.setItem(MEMORY_KEY, '{nope');
    expect(readMemory(s, 0)).toBeNull();
    s.setItem(MEMORY_KEY, JSON.stringify({ kind: 'carrier-pigeon', at: 1 }));
    expect(readMemory(s, 0)).toBeNull();
    s.setItem(MEMORY_KEY, JSON.stringify({ kind: 'websocket', at: 1 })); // no expiry: not a valid fallback
    expect(readMemory(s, 0)).toBeNull();
  });
});

describe('webTransportTarget', () => {
  it('connects to the page host at the advertised port and decodes the hashes', () => {
    const t = webTransportTarget(INFO, '127.0.0.1');
    expect(t.url).toBe('https://127.0.0.1:4433/api/wt');
    expect(t.options.serverCertificateHashes).toEqual([{ algorithm: 'sha-256', value: new Uint8Array(32).fill(1) }]);
    expect(webTransportTarget({ ...INFO, certificate_hashes: [] }, 'chat.example.org')).toEqual({ url: 'https://chat.example.org:4433/api/wt', options: {} });
    expect(webTransportTarget(INFO, '::1').url).toBe('https://[::1]:4433/api/wt');
  });
});

describe('TransportSelector', () => {
  beforeEach(() => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }); });
  afterEach(() => { vi.useRealTimers(); });

  it('opens WebTransport and remembers the success once the session is ready', async () => {
    const t = selector();
    const p = t.sel.open();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.wts[0].url).toBe('https://127.0.0.1:4433/api/wt');
    t.wts[0].open();
    const o = await p;
    expect(o.kind).toBe('webtransport');
    expect(o.fallbackReason).toBeNull();
    expect(o.socket.readyState).toBe(1);
    expect(t.wss).toHaveLength(0);
    expect(t.store.getItem(MEMORY_KEY)).toBeNull();
    o.confirm();
    expect(readMemory(t.store, 0)?.kind).toBe('webtransport');
  });

  it('falls back at once when the server has WebTransport off (404), and remembers it after WebSocket worked', async () => {
    const t = selector({ info: null });
    const o = await t.sel.open();
    expect(o.kind).toBe('websocket');
    expect(o.fallbackReason).toBe('WebTransport is off on this server');
    expect(t.wts).toHaveLength(0);
    expect((o.socket as FakeWs).url).toBe('ws://h/api/ws');
    expect(t.store.getItem(MEMORY_KEY)).toBeNull();
    o.confirm();
    expect(readMemory(t.store, 1_000_000)).toMatchObject({ kind: 'websocket', until: 1_000_000 + FALLBACK_TTL_MS });
    // The next attempt goes straight to WebSocket without asking the server.
    const again = await t.sel.open();
    expect(again).toMatchObject({ kind: 'websocket', remembered: true, fallbackReason: 'WebTransport is off on this server' });
    expect(t.fetches).toHaveLength(1);
  });

  it('falls back when the WebTransport handshake fails', async () => {
    const t = selector();
    const p = t.sel.open();
    await vi.advanceTimersByTimeAsync(0);
    t.wts[0].fail();
    const o = await p;
    expect(o.kind).toBe('websocket');
    expect(o.fallbackReason).toMatch(/failed to connect \(Opening handshake failed\.\)/);
  });

  it('gives up on a WebTransport that does not connect within 3 s (UDP blocked) and closes it', async () => {
    const t = selector();
    const p = t.sel.open();
    let done = false;
    void p.then(() => { done = true; });
    await vi.advanceTimersByTimeAsync(2999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const o = await p;
    expect(o.kind).toBe('websocket');
    expect(o.fallbackReason).toMatch(/within 3 s/);
    expect(t.wts[0].closedWith).toBeDefined();
  });

  it('counts the info request against the same 3 s', async () => {
    const t = selector({ noFetchAnswer: true });
    const p = t.sel.open();
    await vi.advanceTimersByTimeAsync(3000);
    const o = await p;
    expect(o.kind).toBe('websocket');
    expect(t.wts).toHaveLength(0);
    o.confirm();
    // An unreachable server says nothing about WebTransport: nothing remembered.
    expect(t.store.getItem(MEMORY_KEY)).toBeNull();
  });

  it('does not remember a fallback caused by a network error', async () => {
    const t = selector({ info: new Error('Cannot reach the server.') });
    const o = await t.sel.open();
    expect(o.kind).toBe('websocket');
    o.confirm();
    expect(t.store.getItem(MEMORY_KEY)).toBeNull();
  });

  it('tries WebTransport again once a remembered fallback expired', async () => {
    let now = 1_000_000;
    const store = new MemStore();
    rememberFallback(store, 'timed out', now, 60_000);
    const t = selector({ store, now: () => now });
    expect((await t.sel.open()).kind).toBe('websocket');
    expect(t.wts).toHaveLength(0);
    now += 60_000;
    const p = t.sel.open();
    await vi.advanceTimersByTimeAsync(0);
    t.wts[0].open();
    expect((await p).kind).toBe('webtransport');
  });

  it('honours the forced setting and missing browser support', async () => {
    const store = new MemStore();
    store.setItem(FORCE_KEY, 'websocket');
    const t = selector({ store });
    expect(await t.sel.open()).toMatchObject({ kind: 'websocket', fallbackReason: expect.stringMatching(/settings/) });
    const u = selector({ supported: false });
    expect(await u.sel.open()).toMatchObject({ kind: 'websocket', fallbackReason: 'this browser has no WebTransport' });
    expect(t.wts.length + u.wts.length + t.fetches.length + u.fetches.length).toBe(0);
  });
});

describe('WebTransportSocket', () => {
  async function open() {
    const wt = new FakeWt('u', {});
    wt.open();
    const s = new WebTransportSocket(wt, await wt.createBidirectionalStream());
    const got: string[] = [];
    const closes: { code: number; reason: string }[] = [];
    s.onmessage = (e) => got.push(e.data as string);
    s.onclose = (e) => closes.push(e);
    return { wt, s, got, closes };
  }
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it('writes one line per frame and delivers each received line as a message', async () => {
    const { wt, s, got } = await open();
    s.send('{"type":"auth","token":"t"}');
    s.send('{"type":"ping"}');
    await tick();
    expect(wt.written.join('')).toBe('{"type":"auth","token":"t"}\n{"type":"ping"}\n');
    const bytes = new TextEncoder().encode('{"type":"ready"}\n{"type":"message","text":"😀"}\n');
    wt.feed(bytes.slice(0, 5));
    wt.feed(bytes.slice(5, 45)); // inside the emoji
    wt.feed(bytes.slice(45));
    await tick();
    expect(got).toEqual(['{"type":"ready"}', '{"type":"message","text":"😀"}']);
  });

  it("reports the session's close code (4001 revoked, 4008, 1001) as the close event", async () => {
    const { wt, s, closes } = await open();
    s.send('{"type":"auth","token":"t"}');
    wt.serverClose(4001, 'session_revoked');
    await tick();
    await tick();
    expect(closes).toEqual([{ code: 4001, reason: 'session_revoked' }]);
    expect(s.readyState).toBe(3);
  });

  it('reports a lost connection as 1006, once', async () => {
    const { wt, s, closes } = await open();
    s.send('x');
    wt.fail('connection lost');
    await tick();
    expect(closes).toEqual([{ code: 1006, reason: 'connection lost' }]);
    s.close();
    expect(closes).toHaveLength(1);
  });
});

describe('Realtime over a selected transport', () => {
  beforeEach(() => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] }); });
  afterEach(() => { vi.useRealTimers(); });

  const ready: ServerFrame = { type: 'ready', protocol: 1, user_id: 'ana@x', session_id: 's', server_time: 0 };

  it('authenticates at once over an already-open socket, reports the transport and counts reconnects', async () => {
    const sockets: FakeWs[] = [];
    const infos: ConnInfo[] = [];
    let confirmed = 0;
    let now = 0;
    const rt = new Realtime({
      url: 'unused',
      getToken: async () => 'tok',
      cursors: () => ({}),
      onFrame: () => {},
      outbox: new Outbox(),
      now: () => now,
      random: () => 1,
      pingIntervalMs: 1_000_000,
      onConnInfo: (i) => infos.push(i),
      transport: {
        open: async () => {
          now += 120;
          const s = new FakeWs('wt');
          s.readyState = 1; // handed out open, like a WebTransportSocket
          sockets.push(s);
          return { socket: s, kind: 'webtransport', fallbackReason: null, confirm: () => { confirmed++; } };
        },
      },
    });
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(JSON.parse(sockets[0].sent[0])).toEqual({ type: 'auth', token: 'tok' });
    sockets[0].onmessage!({ data: JSON.stringify(ready) });
    expect(confirmed).toBe(1);
    expect(infos[0]).toMatchObject({ transport: 'webtransport', fallbackReason: null, connectMs: 120, reconnects: 0 });
    sockets[0].readyState = 3;
    sockets[0].onclose!({ code: 1006, reason: '' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(sockets).toHaveLength(2);
    sockets[1].onmessage!({ data: JSON.stringify(ready) });
    expect(infos[1]).toMatchObject({ transport: 'webtransport', reconnects: 1 });
    rt.stop();
  });

  it('a stop while the transport is being chosen closes what it opened', async () => {
    let release!: () => void;
    const s = new FakeWs('x');
    const rt = new Realtime({
      url: 'unused', getToken: async () => 'tok', cursors: () => ({}), onFrame: () => {}, outbox: new Outbox(),
      transport: { open: () => new Promise((r) => { release = () => r({ socket: s, kind: 'websocket', fallbackReason: 'x', confirm: () => {} }); }) },
    });
    rt.start();
    await vi.advanceTimersByTimeAsync(0);
    rt.stop();
    s.readyState = 1;
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.readyState).toBe(3);
    expect(s.sent).toEqual([]);
  });
});
