import { peerFromSummary } from './appState';
import { describe, expect, it } from 'vitest';
import type { ChatSummary, Message } from '../api/types';
import {
  applyEntry, applyHistory, applyReceipt, applySummary, cursorsOf, mergeMessages, newChatData, sortChats,
  tickState, totalUnread, typingUsers, visiblePending, type ChatData,
} from './logic';

const ME = 'ana@x';
const BOB = 'bob@x';
const CARLA = 'carla@x';

function msg(seq: number, over: Partial<Message> = {}): Message {
  return {
    id: `m${seq}@x`, chat_id: 'c1@x', seq, sender: BOB, kind: 'text', text: `t${seq}`,
    created_at: 1000 + seq, deleted: false, ...over,
  };
}

function summary(over: Partial<ChatSummary> = {}): ChatSummary {
  return {
    chat_id: 'c1@x', kind: 'direct', name: 'Bob', description: '', peer: BOB,
    members: [{ user_id: ME, role: 'member', joined_at: 0 }, { user_id: BOB, role: 'member', joined_at: 0 }],
    last_seq: 0, last_message: null, last_activity: 0, unread: 0,
    others_delivered_seq: 0, others_read_seq: 0, my_read_seq: 0, created_at: 0, ...over,
  };
}

describe('mergeMessages', () => {
  it('orders by seq and keeps one entry per seq', () => {
    const out = mergeMessages([msg(3), msg(1)], [msg(2), msg(3), msg(1)]);
    expect(out.map((m) => m.seq)).toEqual([1, 2, 3]);
  });
  it('keeps the deleted or later-edited copy of an entry', () => {
    const del = msg(2, { deleted: true, text: null });
    expect(mergeMessages([del], [msg(2)])[0].deleted).toBe(true);
    const edited = msg(2, { text: 'new', edited_at: 5000 });
    expect(mergeMessages([edited], [msg(2)])[0].text).toBe('new');
    expect(mergeMessages([msg(2)], [edited])[0].text).toBe('new');
  });
  it('never stores edit and delete entries as bubbles', () => {
    const out = mergeMessages([], [msg(1), msg(2, { kind: 'edit', target: 1, text: 'x' }), msg(3, { kind: 'delete', target: 1, text: null })]);
    expect(out.map((m) => m.seq)).toEqual([1]);
  });
});

describe('applyEntry', () => {
  it('counts unread only for new text from others, once per seq', () => {
    let c = newChatData(summary());
    c = applyEntry(c, msg(1), ME);
    c = applyEntry(c, msg(1), ME); // replay after reconnect
    c = applyEntry(c, msg(2, { sender: ME }), ME);
    c = applyEntry(c, msg(3, { kind: 'system', text: null, event: { event: 'member_left', user_id: CARLA } }), ME);
    expect(c.summary.unread).toBe(1);
    expect(c.summary.last_seq).toBe(3);
    expect(c.maxSeq).toBe(3);
    expect(c.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
  });
  it('applies edits and deletes to the target and the preview, idempotently', () => {
    let c = newChatData(summary());
    c = applyEntry(c, msg(1), ME);
    c = applyEntry(c, msg(2, { kind: 'edit', target: 1, text: 'fixed', created_at: 9000 }), ME);
    expect(c.messages[0]).toMatchObject({ text: 'fixed', edited_at: 9000 });
    expect(c.summary.last_message?.text).toBe('fixed');
    c = applyEntry(c, msg(3, { kind: 'delete', target: 1, text: null }), ME);
    c = applyEntry(c, msg(3, { kind: 'delete', target: 1, text: null }), ME);
    expect(c.messages[0]).toMatchObject({ deleted: true, text: null });
    expect(c.summary.last_message?.deleted).toBe(true);
    // The deleted message no longer counts as unread, and edit/delete entries never do.
    expect(c.summary.unread).toBe(0);
    // An old edit arriving after the delete changes nothing.
    c = applyEntry(c, msg(2, { kind: 'edit', target: 1, text: 'fixed', created_at: 9000 }), ME);
    expect(c.messages[0].deleted).toBe(true);
  });
  it('counts media messages as unread, clears a deleted one\'s media and previews the newest', () => {
    const media = { media_id: 'md1', kind: 'image' as const, mime: 'image/png', size: 5, name: 'a.png', thumbnail: true };
    let c = newChatData(summary());
    c = applyEntry(c, msg(1, { kind: 'image', text: '', media }), ME);
    c = applyEntry(c, msg(2, { kind: 'file', text: 'caption', media: { ...media, kind: 'file', media_id: 'md2' } }), ME);
    expect(c.summary.unread).toBe(2);
    expect(c.summary.last_message?.media?.media_id).toBe('md2');
    c = applyEntry(c, msg(3, { kind: 'delete', target: 2, text: null }), ME);
    expect(c.messages[1]).toMatchObject({ deleted: true, text: null, media: undefined });
    expect(c.summary.unread).toBe(1);
  });
  it('my own entries move my read mark', () => {
    let c = newChatData(summary());
    c = applyEntry(c, msg(1), ME);
    c = applyEntry(c, msg(2, { sender: ME }), ME);
    expect(c.summary.my_read_seq).toBe(2);
  });
  it('clears the sender typing indicator when their message arrives', () => {
    let c: ChatData = { ...newChatData(summary()), typing: { [BOB]: 99999 } };
    expect(typingUsers(c, 1)).toEqual([BOB]);
    c = applyEntry(c, msg(1), ME);
    expect(typingUsers(c, 1)).toEqual([]);
  });
});

describe('history and summaries', () => {
  it('merges pages newest-first into ascending order and tracks the cursor', () => {
    let c = newChatData(summary({ last_seq: 5, last_message: msg(5) }));
    c = applyHistory(c, { messages: [msg(5), msg(4), msg(3)], next_before: 3 }, ME, true);
    expect(c.loaded).toBe(true);
    expect(c.nextBefore).toBe(3);
    c = applyHistory(c, { messages: [msg(2), msg(1)], next_before: null }, ME, false);
    expect(c.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(c.nextBefore).toBeNull();
    expect(cursorsOf({ 'c1@x': c })).toEqual({ 'c1@x': 5 });
  });
  it('a stale summary does not roll back what the device holds', () => {
    let c = newChatData(summary());
    c = applyEntry(c, msg(1), ME);
    c = applyEntry(c, msg(2), ME);
    c = applySummary(c, summary({ last_seq: 1, last_message: msg(1), unread: 1, others_read_seq: 0 }));
    expect(c.summary.last_seq).toBe(2);
    expect(c.summary.last_message?.seq).toBe(2);
    expect(c.summary.unread).toBe(2);
  });
});

describe('a 1:1 chat with a user of another organization', () => {
  const REMOTE = 'ana@a.test';
  it('keeps its real name when a summary computed before the profile arrives later', () => {
    let c = newChatData(summary({ peer: REMOTE, name: REMOTE }));
    c = applySummary(c, summary({ peer: REMOTE, name: 'Ana Costa', avatar: 'av1@a.test' }));
    c = applySummary(c, summary({ peer: REMOTE, name: REMOTE }));
    expect(c.summary.name).toBe('Ana Costa');
    expect(c.summary.avatar).toBe('av1@a.test');
    // A real rename still applies.
    c = applySummary(c, summary({ peer: REMOTE, name: 'Ana C.' }));
    expect(c.summary.name).toBe('Ana C.');
  });
  it('a summary naming the chat by address leaves a known profile alone', () => {
    const profiles = { [REMOTE]: { user_id: REMOTE, username: 'ana', display_name: 'Ana Costa' } } as unknown as Parameters<typeof peerFromSummary>[0];
    expect(peerFromSummary(profiles, summary({ peer: REMOTE, name: REMOTE, avatar: null }))).toBe(profiles);
  });
});

describe('sync replays from a lowered cursor', () => {
  // After a reload the sync starts at a pending send's after_seq (api/outbox.ts
  // cursorsWithPending), below the chat's latest entry: entries the device already shows come
  // again and must change nothing.
  const stored = msg(4, { sender: ME, client_id: 'k1', text: 'mine' });
  const edited = msg(5, { text: 'fixed', edited_at: 2000 });
  const replay = [stored, msg(5), msg(6, { kind: 'edit', target: 5, text: 'fixed', created_at: 2000 }), msg(7)];

  it('replayed messages already present are not duplicated (chat rebuilt from its summary)', () => {
    const c0 = newChatData(summary({ last_seq: 7, last_message: msg(7), unread: 2, my_read_seq: 4, last_activity: 1007 }));
    let c = c0;
    for (const m of replay) c = applyEntry(c, m, ME);
    expect(c.messages.map((m) => m.seq)).toEqual([4, 5, 7]);
    expect(c.messages[1].text).toBe('fixed');
    expect(c.summary).toEqual(c0.summary);
    expect(c.maxSeq).toBe(7);
    // The stored message hides its pending send.
    expect(visiblePending([{ client_id: 'k1', chat_id: 'c1@x', text: 'mine', created_at: 1, status: 'queued' }], c, ME)).toEqual([]);
  });

  it('replayed messages already present are not duplicated (history loaded, replayed twice)', () => {
    let c = newChatData(summary({ last_seq: 7, last_message: msg(7), unread: 2, my_read_seq: 4 }));
    c = applyHistory(c, { messages: [msg(7), edited, stored, msg(3)], next_before: 3 }, ME, true);
    const before = c;
    for (let round = 0; round < 2; round++) for (const m of replay) c = applyEntry(c, m, ME);
    expect(c.messages.map((m) => m.seq)).toEqual([3, 4, 5, 7]);
    expect(c.messages).toEqual(before.messages);
    expect(c.summary).toEqual(before.summary);
    expect(c.maxSeq).toBe(before.maxSeq);
  });
});

describe('receipts', () => {
  it('in a 1:1 chat the peer marks are the ticks; read implies delivered', () => {
    let c = newChatData(summary({ last_seq: 3 }));
    expect(tickState(c.summary, 3)).toBe('sent');
    c = applyReceipt(c, { type: 'receipt', chat_id: 'c1@x', user_id: BOB, kind: 'delivered', seq: 3, at: 1 }, ME);
    expect(tickState(c.summary, 3)).toBe('delivered');
    c = applyReceipt(c, { type: 'receipt', chat_id: 'c1@x', user_id: BOB, kind: 'read', seq: 2, at: 2 }, ME);
    expect(tickState(c.summary, 2)).toBe('read');
    expect(tickState(c.summary, 3)).toBe('delivered');
  });
  it('in a group a message is read only when every other member read it', () => {
    const members = [ME, BOB, CARLA].map((u) => ({ user_id: u, role: 'member' as const, joined_at: 0 }));
    let c = newChatData(summary({ kind: 'group', peer: undefined, members, last_seq: 4 }));
    c = applyReceipt(c, { type: 'receipt', chat_id: 'c1@x', user_id: BOB, kind: 'read', seq: 4, at: 1 }, ME);
    expect(tickState(c.summary, 4)).toBe('sent');
    c = applyReceipt(c, { type: 'receipt', chat_id: 'c1@x', user_id: CARLA, kind: 'delivered', seq: 4, at: 2 }, ME);
    expect(tickState(c.summary, 4)).toBe('delivered');
    c = applyReceipt(c, { type: 'receipt', chat_id: 'c1@x', user_id: CARLA, kind: 'read', seq: 3, at: 3 }, ME);
    expect(tickState(c.summary, 3)).toBe('read');
    expect(tickState(c.summary, 4)).toBe('delivered');
  });
  it('marks never move backwards', () => {
    let c = newChatData(summary({ last_seq: 4, others_read_seq: 4, others_delivered_seq: 4 }));
    c = applyReceipt(c, { type: 'receipt', chat_id: 'c1@x', user_id: BOB, kind: 'read', seq: 2, at: 1 }, ME);
    expect(tickState(c.summary, 4)).toBe('read');
  });
  it('my own read receipt clears the unread count', () => {
    let c = newChatData(summary());
    for (const s of [1, 2, 3]) c = applyEntry(c, msg(s), ME);
    c = { ...c, loaded: true };
    expect(totalUnread({ a: c })).toBe(3);
    c = applyReceipt(c, { type: 'receipt', chat_id: 'c1@x', user_id: ME, kind: 'read', seq: 2, at: 1 }, ME);
    expect(c.summary.unread).toBe(1);
    c = applyReceipt(c, { type: 'receipt', chat_id: 'c1@x', user_id: ME, kind: 'read', seq: 3, at: 1 }, ME);
    expect(c.summary.unread).toBe(0);
  });
});

describe('ordering and pending sends', () => {
  it('sorts chats by last activity, counting my unacknowledged sends', () => {
    const a = newChatData(summary({ chat_id: 'a@x', last_activity: 100 }));
    const b = newChatData(summary({ chat_id: 'b@x', last_activity: 200 }));
    expect(sortChats([a, b]).map((c) => c.summary.chat_id)).toEqual(['b@x', 'a@x']);
    const pending = [{ client_id: 'k', chat_id: 'a@x', text: 'hi', created_at: 300, status: 'queued' as const }];
    expect(sortChats([a, b], pending).map((c) => c.summary.chat_id)).toEqual(['a@x', 'b@x']);
  });
  it('hides a pending send once a stored message carries its idempotency key', () => {
    let c = newChatData(summary());
    const pending = [
      { client_id: 'k1', chat_id: 'c1@x', text: 'one', created_at: 1, status: 'sent' as const },
      { client_id: 'k2', chat_id: 'c1@x', text: 'two', created_at: 2, status: 'queued' as const },
      { client_id: 'k3', chat_id: 'other@x', text: 'x', created_at: 3, status: 'queued' as const },
    ];
    expect(visiblePending(pending, c, ME).map((p) => p.client_id)).toEqual(['k1', 'k2']);
    c = applyEntry(c, msg(1, { sender: ME, client_id: 'k1', text: 'one' }), ME);
    expect(visiblePending(pending, c, ME).map((p) => p.client_id)).toEqual(['k2']);
  });
});
