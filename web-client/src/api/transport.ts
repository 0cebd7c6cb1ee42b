// Transports for the real-time session (docs/protocol.md §2.0): WebSocket, or one bidirectional
// WebTransport stream carrying the same JSON frames one per line. Both are presented to
// `Realtime` as a WebSocketLike, so nothing above this file knows which one is in use.
//
// The selector tries WebTransport first and falls back to WebSocket within a bounded time, and
// remembers the outcome in localStorage: a fallback is kept for a while (then WebTransport is
// tried again), a success is kept so the diagnostics can tell "worked before".
import { LineDecoder, encodeLine } from './lines';
import type { WebSocketLike } from './realtime';

export type TransportKind = 'webtransport' | 'websocket';

/** `GET /api/webtransport`. */
export interface WebTransportInfo {
  port: number;
  path: string;
  certificate_hashes: { algorithm: string; value: string }[];
}

/** The parts of the browser's WebTransport we use. */
export interface WebTransportLike {
  ready: Promise<unknown>;
  closed: Promise<{ closeCode?: number; reason?: string } | undefined>;
  createBidirectionalStream(): Promise<{ readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }>;
  close(info?: { closeCode?: number; reason?: string }): void;
}

export type CreateWebTransport = (url: string, options: { serverCertificateHashes?: { algorithm: string; value: Uint8Array }[] }) => WebTransportLike;

// ---------------------------------------------------------------------------------------------
// WebTransport as a WebSocketLike

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * An open WebTransport session and its one bidirectional stream, shaped like a WebSocket:
 * `send` writes a line, each received line is a `message` event, and the session's close info
 * (`closeCode`, `reason`) is the `close` event. It is open when handed out (no `open` event); the
 * stream is read from the first `send` on (the server says nothing before `auth`).
 */
export class WebTransportSocket implements WebSocketLike {
  readyState = OPEN;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private writer: WritableStreamDefaultWriter<Uint8Array>;
  private reading = false;
  private closeInfo: { code: number; reason: string } | null = null;

  constructor(
    private wt: WebTransportLike,
    private stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  ) {
    this.writer = stream.writable.getWriter();
    this.writer.closed.catch(() => {});
    wt.closed.then(
      (info) => this.finish(info?.closeCode ?? 1006, info?.reason ?? ''),
      () => this.finish(1006, 'connection lost'),
    );
  }

  send(data: string) {
    if (this.readyState !== OPEN) return;
    this.writer.write(encodeLine(data)).catch(() => this.lost());
    if (!this.reading) {
      this.reading = true;
      void this.readLoop();
    }
  }

  close(code = 1000, reason = '') {
    if (this.readyState >= CLOSING) return;
    this.readyState = CLOSING;
    try {
      this.wt.close({ closeCode: code, reason });
    } catch {
      /* already closed */
    }
    this.finish(code, reason);
  }

  private async readLoop() {
    const reader = this.stream.readable.getReader();
    const lines = new LineDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const line of lines.push(value)) {
          if (this.readyState !== OPEN) return;
          this.onmessage?.({ data: line });
        }
      }
      for (const line of lines.end()) this.onmessage?.({ data: line });
    } catch {
      /* reset stream or failed session: the close below says so */
    }
    this.lost();
  }

  /** The stream ended or failed: give the session's close info a moment to arrive, then close. */
  private lost() {
    if (this.readyState >= CLOSING) return;
    this.readyState = CLOSING;
    const t = setTimeout(() => {
      try {
        this.wt.close({ closeCode: 1006, reason: 'stream ended' });
      } catch {
        /* already closed */
      }
      this.finish(1006, 'stream ended');
    }, 1000);
    this.wt.closed.finally(() => clearTimeout(t)).catch(() => {});
  }

  private finish(code: number, reason: string) {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason };
    this.readyState = CLOSED;
    this.onclose?.({ code, reason });
  }
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The `https://host:port/path` to connect to and the options for `new WebTransport`. */
export function webTransportTarget(info: WebTransportInfo, hostname: string) {
  const host = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
  const url = `https://${host}:${info.port}${info.path}`;
  const hashes = info.certificate_hashes.map((h) => ({ algorithm: h.algorithm, value: fromBase64(h.value) }));
  // An empty list means a CA-issued certificate: the browser validates it normally.
  return { url, options: hashes.length ? { serverCertificateHashes: hashes } : {} };
}

export class TimeoutError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new TimeoutError(`${what} timed out`)), Math.max(0, ms));
    p.then(
      (v) => { clearTimeout(t); resolve(v); },
      (e) => { clearTimeout(t); reject(e); },
    );
  });
}

/** Opens the session and its stream within `timeoutMs`, or closes whatever was started and throws. */
export async function openWebTransport(url: string, options: Parameters<CreateWebTransport>[1], timeoutMs: number, create: CreateWebTransport): Promise<WebTransportSocket> {
  const wt = create(url, options);
  // Unobserved rejections would surface as console errors.
  wt.ready.catch(() => {});
  wt.closed.catch(() => {});
  try {
    const stream = await withTimeout(
      wt.ready.then(() => wt.createBidirectionalStream()),
      timeoutMs,
      'WebTransport',
    );
    return new WebTransportSocket(wt, stream);
  } catch (e) {
    try {
      wt.close({ closeCode: 0, reason: 'giving up' });
    } catch {
      /* never opened */
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Which transport to use, and what we remember

export const MEMORY_KEY = 'parley.transport';
/** 'websocket' forces WebSocket (the diagnostics panel's setting; also a test hook). */
export const FORCE_KEY = 'parley.transport.force';
/** How long a fallback is remembered before WebTransport is tried again. */
export const FALLBACK_TTL_MS = 60 * 60 * 1000;
export const WT_TIMEOUT_MS = 3000;

export interface TransportMemory {
  kind: TransportKind;
  /** Why WebTransport was given up (fallbacks only). */
  reason?: string;
  /** When this was recorded. */
  at: number;
  /** A fallback is forgotten after this time, then WebTransport is tried again. */
  until?: number;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function readMemory(store: KeyValueStore | undefined, now: number): TransportMemory | null {
  if (!store) return null;
  let m: TransportMemory;
  try {
    m = JSON.parse(store.getItem(MEMORY_KEY) ?? 'null');
  } catch {
    return null;
  }
  if (!m || (m.kind !== 'webtransport' && m.kind !== 'websocket') || typeof m.at !== 'number') return null;
  if (m.kind === 'websocket' && !(typeof m.until === 'number' && m.until > now)) return null;
  return m;
}

export function rememberSuccess(store: KeyValueStore | undefined, now: number) {
  store?.setItem(MEMORY_KEY, JSON.stringify({ kind: 'webtransport', at: now } satisfies TransportMemory));
}

export function rememberFallback(store: KeyValueStore | undefined, reason: string, now: number, ttl = FALLBACK_TTL_MS) {
  store?.setItem(MEMORY_KEY, JSON.stringify({ kind: 'websocket', reason, at: now, until: now + ttl } satisfies TransportMemory));
}

export type Decision = { kind: 'webtransport' } | { kind: 'websocket'; reason: string; remembered?: boolean };

/** What to try first. Pure: the inputs are the browser's support, the setting and the memory. */
export function decideTransport(p: { supported: boolean; secure: boolean; forced: string | null; memory: TransportMemory | null }): Decision {
  if (p.forced === 'websocket') return { kind: 'websocket', reason: 'WebSocket chosen in the connection settings' };
  if (!p.secure) return { kind: 'websocket', reason: 'WebTransport needs a secure context (https or localhost)' };
  if (!p.supported) return { kind: 'websocket', reason: 'this browser has no WebTransport' };
  if (p.memory?.kind === 'websocket') return { kind: 'websocket', reason: p.memory.reason ?? 'WebTransport failed before', remembered: true };
  return { kind: 'webtransport' };
}

/** A socket handed to Realtime, with what the diagnostics show about it. */
export interface OpenedTransport {
  socket: WebSocketLike;
  kind: TransportKind;
  /** Why this is not WebTransport (null when it is). */
  fallbackReason: string | null;
  /** Whether the reason was remembered from an earlier attempt rather than found now. */
  remembered?: boolean;
  /** Called when the session is authenticated over it (`ready`): record what worked. */
  confirm(): void;
}

export interface TransportSelectorOptions {
  wsUrl: string;
  hostname: string;
  /** `GET /api/webtransport`: null when the server answers 404 (WebTransport off). */
  fetchInfo: (signal: AbortSignal) => Promise<WebTransportInfo | null>;
  store?: KeyValueStore;
  timeoutMs?: number;
  fallbackTtlMs?: number;
  now?: () => number;
  supported?: () => boolean;
  secure?: () => boolean;
  createWebTransport?: CreateWebTransport;
  createWebSocket?: (url: string) => WebSocketLike;
}

function errorReason(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m || 'unknown error';
}

export class TransportSelector {
  constructor(private o: TransportSelectorOptions) {}

  private now() {
    return (this.o.now ?? Date.now)();
  }

  private webSocket(reason: string, remembered: boolean, remember: boolean): OpenedTransport {
    const create = this.o.createWebSocket ?? ((u: string) => new WebSocket(u) as unknown as WebSocketLike);
    return {
      socket: create(this.o.wsUrl),
      kind: 'websocket',
      fallbackReason: reason,
      remembered,
      // Remember a fallback only once WebSocket has worked: if nothing works, the network is
      // down and says nothing about WebTransport.
      confirm: () => {
        if (remember) rememberFallback(this.o.store, reason, this.now(), this.o.fallbackTtlMs);
      },
    };
  }

  /** Never rejects: the worst case is a WebSocket that fails to connect like any other. */
  async open(): Promise<OpenedTransport> {
    const supported = this.o.supported ?? (() => typeof (globalThis as { WebTransport?: unknown }).WebTransport === 'function');
    const secure = this.o.secure ?? (() => (globalThis as { isSecureContext?: boolean }).isSecureContext !== false);
    let forced: string | null = null;
    try {
      forced = this.o.store?.getItem(FORCE_KEY) ?? null;
    } catch {
      forced = null;
    }
    const d = decideTransport({ supported: supported(), secure: secure(), forced, memory: readMemory(this.o.store, this.now()) });
    if (d.kind === 'websocket') return this.webSocket(d.reason, !!d.remembered, false);

    const timeout = this.o.timeoutMs ?? WT_TIMEOUT_MS;
    const deadline = this.now() + timeout;
    const ctrl = new AbortController();
    let info: WebTransportInfo | null;
    try {
      info = await withTimeout(this.o.fetchInfo(ctrl.signal), timeout, 'GET /api/webtransport');
    } catch (e) {
      ctrl.abort();
      const reason = e instanceof TimeoutError
        ? `no WebTransport details from the server within ${timeout / 1000} s`
        : `cannot ask the server about WebTransport (${errorReason(e)})`;
      // Probably the whole server is unreachable: do not remember this.
      return this.webSocket(reason, false, false);
    }
    if (!info) return this.webSocket('WebTransport is off on this server', false, true);
    const { url, options } = webTransportTarget(info, this.o.hostname);
    const create = this.o.createWebTransport ?? ((u, opts) => new (globalThis as unknown as { WebTransport: new (u: string, o: unknown) => WebTransportLike }).WebTransport(u, opts));
    try {
      const socket = await openWebTransport(url, options, deadline - this.now(), create);
      return {
        socket,
        kind: 'webtransport',
        fallbackReason: null,
        confirm: () => rememberSuccess(this.o.store, this.now()),
      };
    } catch (e) {
      const reason = e instanceof TimeoutError
        ? `WebTransport did not connect within ${timeout / 1000} s (UDP blocked?)`
        : `WebTransport failed to connect (${errorReason(e)})`;
      return this.webSocket(reason, false, true);
    }
  }
}

export { CONNECTING as WS_CONNECTING, OPEN as WS_OPEN, CLOSED as WS_CLOSED };
