import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cursorsOf, newChatData } from '../state/logic';
import { Outbox, type PendingSend } from './outbox';
import { Realtime, backoffDelay, type WebSocketLike } from './realtime';
import type { ChatSummary, ClientFrame, Message, ServerFrame } from './types';

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
const syncDone: ServerFrame = { type: 'sync_done', chats: 1, messages: 0 };

/** Opens the socket and lets the client answer `ready` (it sends `sync`). */
async function opened(ws: FakeSocket) {
  ws.open();
  ws.push(ready);
  await vi.advanceTimersByTimeAsync(0);
}

/** `opened`, then the sync ends: the connection is live and the outbox goes out. */
async function online(ws: FakeSocket) {
  await opened(ws);
  ws.push(syncDone);
}

/** A stored text entry as the server sends it (sender ana@x unless told). */
function entry(seq: number, clientId: string | undefined, text: string, sender = 'ana@x'): Message {
  return { id: `m${seq}`, chat_id: 'c1@x', seq, sender, kind: 'text', text, ...(clientId ? { client_id: clientId } : {}), created_at: seq, deleted: false };
}

/** A chat as GET /api/chats lists it: what a reloaded page rebuilds its chats from. */
function summary(chatId: string, lastSeq: number, last: Message | null): ChatSummary {
  return {
    chat_id: chatId, kind: 'direct', name: 'Bob', description: '', peer: 'bob@x',
    members: [{ user_id: 'ana@x', role: 'member', joined_at: 0 }, { user_id: 'bob@x', role: 'member', joined_at: 0 }],
    last_seq: lastSeq, last_message: last, last_activity: lastSeq, unread: 0,
    others_delivered_seq: 0, others_read_seq: 0, my_read_seq: 0, created_at: 0,
  };
}

function setup(cursors: Record<string, number> = {}, outbox = new Outbox()) {
  const sockets: FakeSocket[] = [];
  const frames: ServerFrame[] = [];
  const states: string[] = [];
  const ended: string[] = [];
  const tokens: boolean[] = [];
  const changes = { n: 0 };
  const rt = new Realtime({
    url: 'ws://test/api/ws',
    getToken: async (force) => { tokens.push(force); return force ? 'fresh' : 'tok'; },
    cursors: () => cursors,
    onFrame: (f) => frames.push(f),
    onState: (s) => states.push(s),
    onSessionEnded: (c) => ended.push(c),
    outbox,
    onOutboxChange: () => { changes.n++; },
    createSocket: () => { const s = new FakeSocket(); sockets.push(s); return s; },
    random: () => 1,
    pingIntervalMs: 1_000_000,
  });
  return { rt, sockets, frames, states, ended, outbox, tokens, changes };
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
    await opened(ws);
    expect(ws.types()).toEqual(['auth', 'sync']);
    ws.push(syncDone);
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
    await online(ws);
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
    await opened(ws);
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
    await online(ws);
    const sends = ws.sent.filter((f) => f.type === 'send');
    expect(sends).toEqual([{ type: 'send', chat_id: 'c1@x', client_id: 'k2', text: 'b' }]);
  });

  it('drops an outbox item whose message comes back in the sync replay instead of resending it', async () => {
    const t = setup({ 'c1@x': 3 });
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    let ws = t.sockets[0];
    await online(ws);
    t.outbox.add({ client_id: 'k1', chat_id: 'c1@x', text: 'stored, ack lost' });
    t.rt.flush();
    expect(ws.sent.filter((f) => f.type === 'send').map((f) => f.type === 'send' && f.client_id)).toEqual(['k1']);
    ws.drop(); // the server stored k1, but its ack never arrived
    expect(t.outbox.get('k1')?.status).toBe('queued');
    await vi.advanceTimersByTimeAsync(500);
    ws = t.sockets[1];
    await opened(ws);
    expect(ws.types()).toEqual(['auth', 'sync']);
    const before = t.changes.n;
    ws.push({ type: 'message', message: entry(4, 'k1', 'stored, ack lost') });
    expect(t.outbox.get('k1')).toBeUndefined();
    expect(t.changes.n).toBe(before + 1);
    expect(t.frames.at(-1)).toMatchObject({ type: 'message', message: { client_id: 'k1' } });
    ws.push(syncDone);
    expect(ws.types()).toEqual(['auth', 'sync']);
    expect(t.outbox.list()).toEqual([]);
  });

  it('after a reconnect sends what the replay did not show as stored only once the sync is done', async () => {
    const t = setup({ 'c1@x': 3 });
    t.outbox.add({ client_id: 'k1', chat_id: 'c1@x', text: 'stored' });
    t.outbox.add({ client_id: 'k2', chat_id: 'c1@x', text: 'never arrived' });
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = t.sockets[0];
    await opened(ws);
    ws.push({ type: 'message', message: entry(4, 'k1', 'stored') });
    ws.push({ type: 'message', message: entry(5, undefined, 'from bob', 'bob@x') });
    // Typed during the sync: waits for it too.
    t.outbox.add({ client_id: 'k3', chat_id: 'c1@x', text: 'typed during the sync' });
    t.rt.flush();
    expect(ws.types()).toEqual(['auth', 'sync']);
    expect(t.outbox.list().map((p) => [p.client_id, p.status])).toEqual([['k2', 'queued'], ['k3', 'queued']]);
    ws.push(syncDone);
    expect(ws.sent.slice(2)).toEqual([
      { type: 'send', chat_id: 'c1@x', client_id: 'k2', text: 'never arrived' },
      { type: 'send', chat_id: 'c1@x', client_id: 'k3', text: 'typed during the sync' },
    ]);
    expect(t.outbox.get('k2')?.status).toBe('sent');
    // Once synced, a new item goes out at once.
    t.outbox.add({ client_id: 'k4', chat_id: 'c1@x', text: 'live' });
    t.rt.flush();
    expect(ws.sent.at(-1)).toMatchObject({ type: 'send', client_id: 'k4' });
  });

  it('a live message carrying an outbox item\'s client_id removes it, whatever its status, if I sent it', async () => {
    const t = setup();
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = t.sockets[0];
    await online(ws);
    t.outbox.add({ client_id: 'k1', chat_id: 'c1@x', text: 'a' });
    t.outbox.add({ client_id: 'k2', chat_id: 'c1@x', text: 'b' });
    t.rt.flush();
    t.outbox.fail('k2', 'commit failed');
    // Someone else's message with the same key is not mine.
    ws.push({ type: 'message', message: entry(6, 'k1', 'a', 'bob@x') });
    expect(t.outbox.get('k1')?.status).toBe('sent');
    const before = t.changes.n;
    ws.push({ type: 'message', message: entry(7, 'k1', 'a') });
    ws.push({ type: 'message', message: entry(8, 'k2', 'b') });
    expect(t.outbox.list()).toEqual([]);
    expect(t.changes.n).toBe(before + 2);
    // An unknown key changes nothing.
    ws.push({ type: 'message', message: entry(9, 'k9', 'c') });
    expect(t.changes.n).toBe(before + 2);
    expect(t.frames.filter((f) => f.type === 'message')).toHaveLength(4);
  });

  it('does not send the outbox when the connection drops before the sync is done', async () => {
    const t = setup();
    t.outbox.add({ client_id: 'k1', chat_id: 'c1@x', text: 'a' });
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    let ws = t.sockets[0];
    await opened(ws);
    ws.drop();
    expect(ws.types()).toEqual(['auth', 'sync']);
    await vi.advanceTimersByTimeAsync(500);
    ws = t.sockets[1];
    await online(ws);
    expect(ws.types()).toEqual(['auth', 'sync', 'send']);
  });

  it('after a reload syncs a chat with a pending item from the item\'s after_seq, not the summary\'s last_seq', async () => {
    // Before the reload: k1 and k2 queued while chat c1 ended at 3, k3 refused by the server.
    const ends: Record<string, number> = { 'c1@x': 3, 'c2@x': 7 };
    let persisted = '[]';
    const earlier = new Outbox([], (items) => { persisted = JSON.stringify(items); }, (chat) => ends[chat]);
    earlier.add({ client_id: 'k1', chat_id: 'c1@x', text: 'stored, ack lost' });
    earlier.add({ client_id: 'k2', chat_id: 'c1@x', text: 'never arrived' });
    earlier.markSent('k1');
    earlier.add({ client_id: 'k3', chat_id: 'c2@x', text: 'refused' });
    earlier.fail('k3', 'not_member');
    // The server stored k1 at 4, then bob wrote 5. The page reloads: the outbox comes back from
    // localStorage and the chats are rebuilt from their summaries.
    const outbox = new Outbox(JSON.parse(persisted) as PendingSend[]);
    expect(outbox.list().map((p) => [p.client_id, p.after_seq, p.status])).toEqual([
      ['k1', 3, 'queued'], ['k2', 3, 'queued'], ['k3', 7, 'failed'],
    ]);
    const chats = {
      'c1@x': newChatData(summary('c1@x', 5, entry(5, undefined, 'from bob', 'bob@x'))),
      'c2@x': newChatData(summary('c2@x', 9, null)),
    };
    expect(cursorsOf(chats)).toEqual({ 'c1@x': 5, 'c2@x': 9 });
    const t = setup(cursorsOf(chats), outbox);
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = t.sockets[0];
    await opened(ws);
    // A failed item does not lower its chat's cursor.
    expect(ws.sent[1]).toEqual({ type: 'sync', cursors: { 'c1@x': 3, 'c2@x': 9 } });
    // The replay from 3 shows k1 stored: it is dropped, and only k2 goes out.
    ws.push({ type: 'message', message: entry(4, 'k1', 'stored, ack lost') });
    ws.push({ type: 'message', message: entry(5, undefined, 'from bob', 'bob@x') });
    ws.push(syncDone);
    expect(ws.sent.slice(2)).toEqual([{ type: 'send', chat_id: 'c1@x', client_id: 'k2', text: 'never arrived' }]);
    expect(t.outbox.list().map((p) => [p.client_id, p.status])).toEqual([['k2', 'sent'], ['k3', 'failed']]);
  });

  it('an item persisted without after_seq (older version) leaves the cursors alone and is still sent after sync_done', async () => {
    const old = [{ client_id: 'k1', chat_id: 'c1@x', text: 'from before the upgrade', created_at: 1, status: 'sent' }];
    const outbox = new Outbox(JSON.parse(JSON.stringify(old)) as PendingSend[]);
    expect(outbox.get('k1')).toEqual({ ...old[0], status: 'queued' });
    const t = setup({ 'c1@x': 5 }, outbox);
    t.rt.start();
    await vi.advanceTimersByTimeAsync(0);
    const ws = t.sockets[0];
    await opened(ws);
    expect(ws.sent[1]).toEqual({ type: 'sync', cursors: { 'c1@x': 5 } });
    expect(ws.types()).toEqual(['auth', 'sync']);
    ws.push(syncDone);
    expect(ws.sent.slice(2)).toEqual([{ type: 'send', chat_id: 'c1@x', client_id: 'k1', text: 'from before the upgrade' }]);
    expect(t.outbox.get('k1')?.status).toBe('sent');
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
    await opened(ws);
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
    await online(ws);
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

