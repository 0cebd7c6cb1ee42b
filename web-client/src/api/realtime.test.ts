import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outbox } from './outbox';
import { Realtime, backoffDelay, type WebSocketLike } from './realtime';
import type { ClientFrame, ServerFrame } from './types';

class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: ClientFrame[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  send(data: string) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.({}); }
  push(f: ServerFrame) { this.onmessage?.({ data: JSON.stringify(f) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code, reason: '' }); }
  types() { return this.sent.map((f) => f.type); }
}

const ready: ServerFrame = { type: 'ready', protocol: 1, user_id: 'ana@x', session_id: 's', server_time: 0 };


function setup(cursors: Record<string, number> = {}) {
  const sockets: FakeSocket[] = [];
  const frames: ServerFrame[] = [];
  const states: string[] = [];
  const ended: string[] = [];
  const outbox = new Outbox();
  const tokens: boolean[] = [];
  const rt = new Realtime({
    url: 'ws://test/api/ws',
    getToken: async (force) => { tokens.push(force); return force ? 'fresh' : 'tok'; },
    cursors: () => cursors,
    onFrame: (f) => frames.push(f),
    onState: (s) => states.push(s),
    onSessionEnded: (c) => ended.push(c),
    outbox,
    createSocket: () => { const s = new FakeSocket(); sockets.push(s); return s; },
    random: () => 1,
    pingIntervalMs: 1_000_000,
  });
  return { rt, sockets, frames, states, ended, outbox, tokens };
}

describe('backoffDelay', () => {
  it('doubles from the minimum up to the maximum, with jitter', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, 500, 4000, () => 1))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(10, 500, 4000, () => 1)).toBe(4000);
    expect(backoffDelay(0, 500, 4000, () => 0)).toBe(250);
  });
});

describe('Realtime', () => {
  beforeEach(() => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] }); });
  afterEach(() => { vi.useRealTimers(); });

  it('authenticates, then syncs from the cursors it holds, then is online', async () => {
    const t = setup({ 'c1@x': 7 });
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = t.sockets[0];
    ws.open();
    expect(ws.sent[0]).toEqual({ type: 'auth', token: 'tok' });
    ws.push(ready);
    await vi.advanceTimersByTimeAsync(0);
    expect(ws.sent[1]).toEqual({ type: 'sync', cursors: { 'c1@x': 7 } });
    expect(t.rt.state).toBe('connecting');
    ws.push({ type: 'sync_done', chats: 1, messages: 0 });
    expect(t.rt.state).toBe('online');
  });

  it('queues sends while offline and sends them after the sync', async () => {
    const t = setup();
    t.outbox.add({ client_id: 'k1', chat_id: 'c1@x', text: 'typed offline' });
    t.rt.flush(); // not connected: nothing goes out
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = t.sockets[0];
    ws.open();
    ws.push(ready);
    await vi.advanceTimersByTimeAsync(0);
    expect(ws.types()).toEqual(['auth', 'sync', 'send']);
    expect(ws.sent[2]).toMatchObject({ client_id: 'k1', text: 'typed offline' });
    expect(t.outbox.get('k1')?.status).toBe('sent');
  });

  it('sends an uploaded file as media_id with its caption (and no media_id for text)', async () => {
    const t = setup();
    const media = { media_id: 'md1', kind: 'image' as const, mime: 'image/png', size: 5, name: 'a.png', thumbnail: true };
    t.outbox.add({ client_id: 'k1', chat_id: 'c1@x', text: '', media });
    t.outbox.add({ client_id: 'k2', chat_id: 'c1@x', text: 'plain' });
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = t.sockets[0];
    ws.open();
    ws.push(ready);
    await vi.advanceTimersByTimeAsync(0);
    expect(ws.sent.slice(2)).toEqual([
      { type: 'send', chat_id: 'c1@x', client_id: 'k1', text: '', media_id: 'md1' },
      { type: 'send', chat_id: 'c1@x', client_id: 'k2', text: 'plain' },
    ]);
  });

  it('resends unacknowledged messages with the same idempotency key after a reconnect', async () => {
    const t = setup({ 'c1@x': 3 });
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    let ws = t.sockets[0];
    ws.open();
    ws.push(ready);
    await vi.advanceTimersByTimeAsync(0);
    ws.push({ type: 'sync_done', chats: 1, messages: 0 });
    t.outbox.add({ client_id: 'k1', chat_id: 'c1@x', text: 'a' });
    t.outbox.add({ client_id: 'k2', chat_id: 'c1@x', text: 'b' });
    t.rt.flush();
    ws.push({ type: 'ack', client_id: 'k1', message: { id: 'm', chat_id: 'c1@x', seq: 4, sender: 'ana@x', kind: 'text', text: 'a', client_id: 'k1', created_at: 1, deleted: false } });
    expect(t.outbox.get('k1')).toBeUndefined();
    ws.drop();
    expect(t.rt.state).toBe('offline');
    expect(t.outbox.get('k2')?.status).toBe('queued');
    await vi.advanceTimersByTimeAsync(500);
    ws = t.sockets[1];
    expect(ws).toBeDefined();
    ws.open();
    ws.push(ready);
    await vi.advanceTimersByTimeAsync(0);
    const sends = ws.sent.filter((f) => f.type === 'send');
    expect(sends).toEqual([{ type: 'send', chat_id: 'c1@x', client_id: 'k2', text: 'b' }]);
  });

  it('backs off exponentially between failed attempts and resets after a sync', async () => {
    const t = setup();
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    t.sockets[0].drop();
    await vi.advanceTimersByTimeAsync(499);
    expect(t.sockets.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sockets.length).toBe(2);
    t.sockets[1].drop();
    await vi.advanceTimersByTimeAsync(999);
    expect(t.sockets.length).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sockets.length).toBe(3);
    const ws = t.sockets[2];
    ws.open();
    ws.push(ready);
    await vi.advanceTimersByTimeAsync(0);
    ws.push({ type: 'sync_done', chats: 0, messages: 0 });
    ws.drop();
    await vi.advanceTimersByTimeAsync(500);
    expect(t.sockets.length).toBe(4);
  });

  it('marks a send failed when the server refuses it, and retries it on request', async () => {
    const t = setup();
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = t.sockets[0];
    ws.open();
    ws.push(ready);
    await vi.advanceTimersByTimeAsync(0);
    t.outbox.add({ client_id: 'k1', chat_id: 'c1@x', text: 'x' });
    t.rt.flush();
    ws.push({ type: 'error', ref: 'k1', code: 'internal', message: 'commit failed' });
    expect(t.outbox.get('k1')).toMatchObject({ status: 'failed', error: 'commit failed' });
    t.outbox.retry('k1');
    t.rt.flush();
    expect(ws.sent.filter((f) => f.type === 'send').length).toBe(2);
  });

  it('refreshes the token once when the server says it expired, and ends a revoked session', async () => {
    const t = setup();
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    let ws = t.sockets[0];
    ws.open();
    ws.push({ type: 'error', code: 'unauthenticated', message: 'expired' });
    ws.drop(4001);
    await vi.advanceTimersByTimeAsync(500);
    ws = t.sockets[1];
    ws.open();
    expect(ws.sent[0]).toEqual({ type: 'auth', token: 'fresh' });
    ws.push({ type: 'error', code: 'session_revoked', message: 'revoked' });
    ws.drop(4001);
    expect(t.ended).toEqual(['session_revoked']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.sockets.length).toBe(2);
  });

  it('closes a connection that stops answering pings', async () => {
    const t = setup();
    (t.rt as unknown as { o: { pingIntervalMs: number } }).o.pingIntervalMs = 1000;
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = t.sockets[0];
    ws.open();
    ws.push(ready);
    await vi.advanceTimersByTimeAsync(1000);
    expect(ws.types()).toContain('ping');
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.rt.state).toBe('offline');
  });
});

describe('Outbox', () => {
  it('keeps failed items and re-queues in-flight ones after a reload', () => {
    const saved: unknown[] = [];
    const o = new Outbox([], (items) => saved.push(items));
    o.add({ client_id: 'a', chat_id: 'c', text: '1' });
    o.add({ client_id: 'b', chat_id: 'c', text: '2' });
    o.markSent('a');
    o.fail('b', 'nope');
    const reloaded = new Outbox(o.list());
    expect(reloaded.get('a')?.status).toBe('queued');
    expect(reloaded.get('b')?.status).toBe('failed');
    expect(reloaded.due().map((p) => p.client_id)).toEqual(['a']);
    expect(saved.length).toBe(4);
  });
});

