// The real-time connection (docs/protocol.md §2-4): authenticate, sync from per-chat cursors,
// reconnect with exponential backoff, and (re)send the outbox with stable idempotency keys.
// The outbox goes out only once the sync is done: the server remembers idempotency keys for a
// limited time, so an item whose message comes back in the sync replay (matched by client_id) is
// dropped there rather than resent. The sync cursors are lowered to where each item's chat ended
// when it was queued (cursorsWithPending), so that replay covers them even after a reload.
import { Outbox, cursorsWithPending } from './outbox';
import type { OpenedTransport, TransportKind } from './transport';
import type { ChatId, ClientFrame, Seq, ServerFrame } from './types';

export type ConnState = 'connecting' | 'online' | 'offline';

export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** What the diagnostics panel shows about the live connection. */
export interface ConnInfo {
  transport: TransportKind;
  /** Why this is not WebTransport (null when it is). */
  fallbackReason: string | null;
  /** The reason was remembered from an earlier attempt. */
  remembered: boolean;
  /** From the start of the attempt (including a WebTransport try) to `ready`. */
  connectMs: number;
  /** Sessions established since start, minus the first. */
  reconnects: number;
  connectedAt: number;
}

export interface RealtimeOptions {
  url: string;
  /** A valid access token; `force` asks for a refreshed one (the last was refused). */
  getToken: (force: boolean) => Promise<string>;
  /** The last seq this device holds per chat, read when the sync is sent. */
  cursors: () => Record<ChatId, Seq>;
  /** Runs after `ready`, before `sync` (e.g. refresh chat summaries). Errors are ignored. */
  beforeSync?: () => Promise<void>;
  onFrame: (f: ServerFrame) => void;
  onState?: (s: ConnState, retryAt?: number) => void;
  /** The server ended the session (revoked or refresh failed): stop and sign out. */
  onSessionEnded?: (code: string) => void;
  outbox: Outbox;
  /** Called after the outbox changes status (sent, failed, acked). */
  onOutboxChange?: () => void;
  createSocket?: (url: string) => WebSocketLike;
  /**
   * Picks and opens the transport for each attempt (WebTransport or WebSocket, see
   * transport.ts); without it `createSocket(url)` makes a WebSocket. Must not reject for a
   * connect failure: the socket then closes like a failed WebSocket.
   */
  transport?: { open(): Promise<OpenedTransport> };
  /** Called on every `ready` with the transport in use. */
  onConnInfo?: (info: ConnInfo) => void;
  now?: () => number;
  minDelayMs?: number;
  maxDelayMs?: number;
  pingIntervalMs?: number;
  random?: () => number;
}

const OPEN = 1;

/** Backoff before reconnect attempt `n` (0-based): doubling from min to max, with jitter in [50%, 100%]. */
export function backoffDelay(attempt: number, min = 500, max = 30_000, random = Math.random): number {
  const base = Math.min(max, min * 2 ** Math.min(attempt, 20));
  return Math.round(base * (0.5 + random() / 2));
}

export class Realtime {
  state: ConnState = 'offline';
  private ws: WebSocketLike | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private awaitingPong = false;
  private stopped = true;
  private ready = false;
  /** This connection got `sync_done`: the outbox may be transmitted. */
  private synced = false;
  /** The signed-in user, from `ready` (whose own messages carry their client_id). */
  private userId: string | null = null;
  private forceRefresh = false;
  private lastAuthError: string | null = null;
  /** Counts connect attempts, so an attempt that was overtaken (stop, retry) gives up. */
  private gen = 0;
  private opening = false;
  private opened: OpenedTransport | null = null;
  private attemptStart = 0;
  private sessions = 0;

  constructor(private o: RealtimeOptions) {}

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.gen++;
    this.opening = false;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      ws.close(1000, 'bye');
    }
    this.setState('offline');
  }

  /** The network is gone (browser `offline` event): drop the socket now instead of waiting for a ping timeout. */
  disconnect() {
    const ws = this.ws;
    if (!ws) return;
    ws.close(4000, 'offline');
    this.closed(ws, 4000);
  }

  /** Skip the backoff wait (the browser came back online, or the user asked). */
  retryNow() {
    if (this.stopped || this.ws || this.opening) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  /** Whether live frames can be sent right now. */
  get isLive() {
    return this.ready && this.ws?.readyState === OPEN;
  }

  /** Sends a fire-and-forget frame (typing, received, read, edit...). False when offline. */
  send(frame: ClientFrame): boolean {
    if (!this.isLive || !this.ws) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Transmits queued outbox items (called when items are added, and on `sync_done`). Does
   * nothing until this connection's sync is done, so that items the server already stored are
   * first removed by the replay instead of being sent again.
   */
  flush() {
    if (!this.isLive || !this.synced) return;
    let changed = false;
    for (const p of this.o.outbox.due()) {
      if (p.status !== 'queued') continue;
      const frame: ClientFrame = { type: 'send', chat_id: p.chat_id, client_id: p.client_id, text: p.text };
      if (p.reply_to) frame.reply_to = p.reply_to;
      if (p.media) frame.media_id = p.media.media_id;
      this.ws!.send(JSON.stringify(frame));
      this.o.outbox.markSent(p.client_id);
      changed = true;
    }
    if (changed) this.o.onOutboxChange?.();
  }

  private setState(s: ConnState, retryAt?: number) {
    this.state = s;
    this.o.onState?.(s, retryAt);
  }

  private clearTimers() {
    if (this.timer) clearTimeout(this.timer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.timer = null;
    this.pingTimer = null;
  }

  /** Drops the connection and connects again now (e.g. the transport setting changed). */
  reconnect() {
    if (this.stopped) return;
    const ws = this.ws;
    if (ws) {
      ws.close(4000, 'reconnect');
      this.closed(ws, 4000);
    }
    this.attempt = 0;
    if (this.opening) {
      // Abandon the transport being chosen (its socket is closed when it arrives).
      this.gen++;
      this.opening = false;
    }
    this.retryNow();
  }

  private now() {
    return (this.o.now ?? Date.now)();
  }

  private async connect() {
    const gen = ++this.gen;
    this.attemptStart = this.now();
    this.setState('connecting');
    this.ready = false;
    this.synced = false;
    this.lastAuthError = null;
    let token: string;
    try {
      token = await this.o.getToken(this.forceRefresh);
      this.forceRefresh = false;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code && ['session_revoked', 'invalid_refresh_token', 'account_disabled', 'unauthenticated'].includes(code) && (e as { status?: number }).status !== 0) {
        this.stopped = true;
        this.setState('offline');
        this.o.onSessionEnded?.(code);
        return;
      }
      this.scheduleReconnect();
      return;
    }
    if (this.stopped || gen !== this.gen) return;
    let ws: WebSocketLike;
    if (this.o.transport) {
      this.opening = true;
      let opened: OpenedTransport;
      try {
        opened = await this.o.transport.open();
      } catch {
        if (gen !== this.gen) return;
        this.opening = false;
        this.scheduleReconnect();
        return;
      }
      if (gen === this.gen) this.opening = false;
      if (this.stopped || gen !== this.gen) {
        opened.socket.close(1000, 'bye');
        return;
      }
      this.opened = opened;
      ws = opened.socket;
    } else {
      this.opened = null;
      ws = (this.o.createSocket ?? ((u: string) => new WebSocket(u) as unknown as WebSocketLike))(this.o.url);
    }
    this.ws = ws;
    const auth = () => ws.send(JSON.stringify({ type: 'auth', token }));
    ws.onopen = auth;
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let f: ServerFrame;
      try {
        f = JSON.parse(ev.data) as ServerFrame;
      } catch {
        return;
      }
      this.handle(ws, f);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => this.closed(ws, ev.code);
    // A WebTransport socket is handed out open; one may also have failed already.
    if (ws.readyState === OPEN) auth();
    else if (ws.readyState > OPEN) this.closed(ws, 1006);
  }

  private async handle(ws: WebSocketLike, f: ServerFrame) {
    if (ws !== this.ws) return;
    switch (f.type) {
      case 'ready': {
        this.ready = true;
        this.userId = f.user_id;
        this.startPing();
        this.sessions++;
        const opened = this.opened;
        opened?.confirm();
        this.o.onConnInfo?.({
          transport: opened?.kind ?? 'websocket',
          fallbackReason: opened ? opened.fallbackReason : null,
          remembered: !!opened?.remembered,
          connectMs: Math.max(0, this.now() - this.attemptStart),
          reconnects: this.sessions - 1,
          connectedAt: this.now(),
        });
        if (this.o.beforeSync) {
          try {
            await this.o.beforeSync();
          } catch {
            /* a failed refresh only means staler summaries */
          }
        }
        if (ws !== this.ws || ws.readyState !== OPEN) return;
        // Started no later than where the chats of pending items ended when they were queued.
        const cursors = cursorsWithPending(this.o.cursors(), this.o.outbox.due());
        ws.send(JSON.stringify({ type: 'sync', cursors }));
        break;
      }
      case 'sync_done':
        this.attempt = 0;
        this.synced = true;
        this.setState('online');
        // What the replay did not show as stored goes out now (and anything queued meanwhile).
        this.flush();
        break;
      case 'ack':
        if (this.o.outbox.ack(f.client_id)) this.o.onOutboxChange?.();
        break;
      case 'message': {
        // One of my pending sends came back (sync replay, or stored on an earlier connection
        // whose ack was lost): it is stored, so treat it as its ack.
        const m = f.message;
        if (m.client_id && (!this.userId || m.sender === this.userId) && this.o.outbox.ack(m.client_id)) {
          this.o.onOutboxChange?.();
        }
        break;
      }
      case 'error':
        if (!this.ready) this.lastAuthError = f.code;
        if (f.ref && this.o.outbox.get(f.ref)) {
          this.o.outbox.fail(f.ref, f.message || f.code);
          this.o.onOutboxChange?.();
        }
        break;
      case 'pong':
        this.awaitingPong = false;
        break;
    }
    this.o.onFrame(f);
  }

  private startPing() {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws) return;
      if (this.awaitingPong) {
        // No answer to the last ping: the link is dead even if the socket has not noticed.
        ws.close(4000, 'ping timeout');
        this.closed(ws, 4000);
        return;
      }
      this.awaitingPong = true;
      ws.send(JSON.stringify({ type: 'ping' }));
    }, this.o.pingIntervalMs ?? 20_000);
  }

  private closed(ws: WebSocketLike, code: number) {
    if (ws !== this.ws) return;
    ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
    this.ws = null;
    this.ready = false;
    this.synced = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.o.outbox.requeueInFlight();
    this.o.onOutboxChange?.();
    if (this.stopped) return;
    if (code === 4001) {
      if (this.lastAuthError === 'unauthenticated') {
        // The token expired between fetching and using it: refresh once, then retry.
        this.forceRefresh = true;
      } else {
        this.stopped = true;
        this.setState('offline');
        this.o.onSessionEnded?.(this.lastAuthError ?? 'session_revoked');
        return;
      }
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.o.minDelayMs ?? 500, this.o.maxDelayMs ?? 30_000, this.o.random);
    const at = Date.now() + delay;
    this.setState('offline', at);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }
}
