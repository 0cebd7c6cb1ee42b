import { describe, expect, it } from 'vitest';
import { Outbox, cursorsWithPending, type PendingSend } from './outbox';

function item(client_id: string, chat_id: string, after_seq: number | undefined, status: PendingSend['status'] = 'queued'): PendingSend {
  return { client_id, chat_id, text: client_id, created_at: 1, status, ...(after_seq === undefined ? {} : { after_seq }) };
}

describe('Outbox', () => {
  it('records the chat\'s known end in each new item, and persists it', () => {
    const ends: Record<string, number> = { 'c1@x': 4 };
    let saved: PendingSend[] = [];
    const o = new Outbox([], (items) => { saved = items; }, (chat) => ends[chat]);
    o.add({ client_id: 'k1', chat_id: 'c1@x', text: 'a' });
    ends['c1@x'] = 6;
    o.add({ client_id: 'k2', chat_id: 'c1@x', text: 'b' });
    // A chat this device does not know: no constraint.
    o.add({ client_id: 'k3', chat_id: 'new@x', text: 'c' });
    expect(saved.map((p) => [p.client_id, p.after_seq])).toEqual([['k1', 4], ['k2', 6], ['k3', undefined]]);
    expect('after_seq' in o.get('k3')!).toBe(false);
    // Status changes keep it; a reload restores it.
    o.markSent('k1');
    const reloaded = new Outbox(JSON.parse(JSON.stringify(saved)) as PendingSend[]);
    expect(reloaded.get('k1')).toMatchObject({ after_seq: 4, status: 'queued' });
  });
});

describe('cursorsWithPending', () => {
  it('lowers a chat\'s cursor to the smallest after_seq of its items still to be sent', () => {
    const items = [
      item('k1', 'c1@x', 7),
      item('k2', 'c1@x', 3, 'sent'),
      item('k3', 'c2@x', 12), // above the cursor: no change
      item('k4', 'c3@x', 1, 'failed'), // refused by the server: it is never resent on its own
      item('k5', 'c3@x', undefined), // persisted by an older version: no constraint
    ];
    const cursors = { 'c1@x': 9, 'c2@x': 10, 'c3@x': 20 };
    expect(cursorsWithPending(cursors, items)).toEqual({ 'c1@x': 3, 'c2@x': 10, 'c3@x': 20 });
    expect(cursors).toEqual({ 'c1@x': 9, 'c2@x': 10, 'c3@x': 20 });
  });

  it('adds a cursor for a chat with pending items that has none, and ignores malformed values', () => {
    const bad = { ...item('k2', 'c1@x', undefined), after_seq: 'x' as unknown as number };
    expect(cursorsWithPending({}, [item('k1', 'c9@x', 0), bad, item('k3', 'c1@x', -1)])).toEqual({ 'c9@x': 0 });
    expect(cursorsWithPending({ 'c1@x': 2 }, [])).toEqual({ 'c1@x': 2 });
  });
});
