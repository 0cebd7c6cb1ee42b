// Pure state logic for chats: ordering, dedup, edits/deletes, receipts, unread counts.
// Everything here is a function of its inputs so it can be unit tested without a browser.
import type { PendingSend } from '../api/outbox';
import type { ChatSummary, Message, ReceiptState, ServerFrame, UserId } from '../api/types';

export interface Marks {
  delivered: number;
  read: number;
}

export interface ChatData {
  summary: ChatSummary;
  /** Text and system entries held by this device, ascending by seq, one per seq. */
  messages: Message[];
  /** Highest seq this device has seen in the chat (any kind): the sync cursor once loaded. */
  maxSeq: number;
  /** The newest history page has been fetched (older pages follow on scroll). */
  loaded: boolean;
  /** Pass as `before` for the next older page; null when the start is reached. */
  nextBefore: number | null;
  /** Per-member marks learnt from receipt frames (groups aggregate these). */
  marks: Record<UserId, Marks>;
  /** Who is typing, with the time their indicator expires. */
  typing: Record<UserId, number>;
  /** The user left or was removed: kept visible read-only until reload. */
  removed?: boolean;
}

export function newChatData(summary: ChatSummary): ChatData {
  return {
    summary,
    messages: summary.last_message ? [summary.last_message] : [],
    maxSeq: summary.last_seq,
    loaded: false,
    nextBefore: null,
    marks: {},
    typing: {},
  };
}

/** Which of two copies of one log entry is newer (deleted beats edited beats original). */
function fresher(a: Message, b: Message): Message {
  if (a.deleted !== b.deleted) return a.deleted ? a : b;
  if ((b.edited_at ?? 0) > (a.edited_at ?? 0)) return b;
  if ((a.edited_at ?? 0) > (b.edited_at ?? 0)) return a;
  return b;
}

/**
 * Merges entries into an ascending list, one entry per seq. Edit/delete entries are not
 * bubbles and are skipped here (apply them with applyEntry).
 */
export function mergeMessages(existing: Message[], incoming: Message[]): Message[] {
  const bySeq = new Map<number, Message>();
  for (const m of existing) bySeq.set(m.seq, m);
  for (const m of incoming) {
    if (m.kind === 'edit' || m.kind === 'delete') continue;
    const prev = bySeq.get(m.seq);
    bySeq.set(m.seq, prev ? fresher(prev, m) : m);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

function patchTarget(list: Message[], entry: Message): Message[] {
  const i = list.findIndex((m) => m.seq === entry.target);
  if (i < 0) return list;
  const t = list[i];
  let next: Message;
  if (entry.kind === 'edit') {
    if (t.deleted || (t.edited_at ?? 0) > entry.created_at) return list;
    next = { ...t, text: entry.text, edited_at: entry.created_at };
  } else {
    if (t.deleted) return list;
    next = { ...t, deleted: true, text: null, media: undefined };
  }
  const out = list.slice();
  out[i] = next;
  return out;
}

/** Whether an entry is a user message bubble: text or media (not system, edit, delete). */
export function isUserMessage(kind: Message['kind']): boolean {
  return kind === 'text' || kind === 'image' || kind === 'video' || kind === 'audio' || kind === 'file';
}

/** Counts messages that make a chat unread for `me`. */
export function countsAsUnread(m: Message, me: UserId): boolean {
  return isUserMessage(m.kind) && !m.deleted && m.sender !== me;
}

/**
 * Applies one log entry (live, synced, acked or from history) to a chat. Idempotent: an entry
 * seen before changes nothing, so replays after a reconnect are harmless.
 */
export function applyEntry(chat: ChatData, m: Message, me: UserId): ChatData {
  const isNew = m.seq > chat.maxSeq;
  const s = { ...chat.summary };
  let messages = chat.messages;
  if (m.kind === 'edit' || m.kind === 'delete') {
    const target = messages.find((x) => x.seq === m.target);
    messages = patchTarget(messages, m);
    if (s.last_message && s.last_message.seq === m.target) {
      s.last_message = patchTarget([s.last_message], m)[0];
    }
    if (isNew && m.kind === 'delete' && target && !target.deleted && countsAsUnread(target, me) && target.seq > s.my_read_seq) {
      s.unread = Math.max(0, s.unread - 1);
    }
  } else {
    messages = mergeMessages(messages, [m]);
    if (!s.last_message || m.seq >= s.last_message.seq) {
      const held = messages.find((x) => x.seq === m.seq)!;
      s.last_message = held;
    }
    if (isNew) {
      s.last_activity = Math.max(s.last_activity, m.created_at);
      if (countsAsUnread(m, me) && m.seq > s.my_read_seq) s.unread += 1;
    }
  }
  if (m.sender === me && m.seq > s.my_read_seq) {
    // Committing an entry moves its author's own marks (docs §5.3).
    s.my_read_seq = m.seq;
  }
  s.last_seq = Math.max(s.last_seq, m.seq);
  const typing = { ...chat.typing };
  if (isUserMessage(m.kind)) delete typing[m.sender];
  return { ...chat, summary: s, messages, maxSeq: Math.max(chat.maxSeq, m.seq), typing };
}

/** History page (newest first) merged into the chat. */
export function applyHistory(chat: ChatData, page: { messages: Message[]; next_before: number | null }, me: UserId, initial: boolean): ChatData {
  let next: ChatData = { ...chat, messages: mergeMessages(chat.messages, page.messages) };
  // Pages return targets in their current state; later edit/delete entries are no-ops.
  const maxInPage = page.messages.reduce((a, m) => Math.max(a, m.seq), 0);
  next.maxSeq = Math.max(next.maxSeq, maxInPage);
  if (initial) {
    next.loaded = true;
    next.nextBefore = page.next_before;
  } else {
    next.nextBefore = page.next_before;
  }
  if (maxInPage > next.summary.last_seq) {
    const lastBubble = [...next.messages].reverse().find((m) => isUserMessage(m.kind) || m.kind === 'system') ?? null;
    next = { ...next, summary: { ...next.summary, last_seq: maxInPage, last_message: lastBubble } };
  }
  void me;
  return next;
}

/** A fresh summary from the server, keeping whatever newer this device already holds. */
export function applySummary(chat: ChatData | undefined, summary: ChatSummary): ChatData {
  if (!chat) return newChatData(summary);
  const s = { ...summary };
  const held = chat.summary;
  // A 1:1 chat is named by its address only until the server has the other person's profile; a
  // summary computed before that can arrive after one computed after it (another organization's
  // user), and must not take a real name back to the address.
  if (s.kind === 'direct' && s.peer && s.name === s.peer && held.name && held.name !== s.peer) {
    s.name = held.name;
    if (s.avatar === undefined || s.avatar === null) s.avatar = held.avatar;
  }
  if (held.last_seq > s.last_seq) {
    s.last_seq = held.last_seq;
    s.last_message = held.last_message;
    s.last_activity = Math.max(s.last_activity, held.last_activity);
    s.unread = Math.max(s.unread, held.unread);
  }
  s.others_delivered_seq = Math.max(s.others_delivered_seq, held.others_delivered_seq);
  s.others_read_seq = Math.max(s.others_read_seq, held.others_read_seq);
  if (held.my_read_seq > s.my_read_seq) {
    s.my_read_seq = held.my_read_seq;
    s.unread = Math.min(s.unread, held.unread);
  }
  const messages = s.last_message ? mergeMessages(chat.messages, [s.last_message]) : chat.messages;
  return { ...chat, summary: s, messages, removed: false };
}

/** The active members other than `me` (the ones whose marks decide my ticks). */
export function otherMembers(summary: ChatSummary, me: UserId): UserId[] {
  return summary.members.map((m) => m.user_id).filter((u) => u !== me);
}

/**
 * A receipt frame: updates per-member marks, and the aggregate `others_*` marks as the
 * minimum over the other members (docs §5.3). Read implies delivered. My own receipts move
 * `my_read_seq` and clear the unread count up to that seq.
 */
export function applyReceipt(chat: ChatData, r: Extract<ServerFrame, { type: 'receipt' }>, me: UserId): ChatData {
  const prev = chat.marks[r.user_id] ?? { delivered: 0, read: 0 };
  const mark: Marks = {
    delivered: Math.max(prev.delivered, r.seq),
    read: r.kind === 'read' ? Math.max(prev.read, r.seq) : prev.read,
  };
  const marks = { ...chat.marks, [r.user_id]: mark };
  const s = { ...chat.summary };
  if (r.user_id === me) {
    if (r.kind === 'read' && r.seq > s.my_read_seq) {
      s.my_read_seq = r.seq;
      s.unread = unreadAfter(chat, r.seq, me);
    }
    return { ...chat, marks, summary: s };
  }
  const others = otherMembers(s, me);
  // Members we have no receipt from are known to be at least at the server's aggregate.
  const floorD = s.others_delivered_seq;
  const floorR = s.others_read_seq;
  let minD = Infinity;
  let minR = Infinity;
  for (const u of others) {
    const m = marks[u];
    minD = Math.min(minD, Math.max(floorD, m?.delivered ?? 0, m?.read ?? 0));
    minR = Math.min(minR, Math.max(floorR, m?.read ?? 0));
  }
  if (others.length > 0) {
    s.others_delivered_seq = Math.max(floorD, minD, minR);
    s.others_read_seq = Math.max(floorR, minR);
  }
  return { ...chat, marks, summary: s };
}

/** Unread count once my read mark is at `readSeq`, from what this device holds. */
export function unreadAfter(chat: ChatData, readSeq: number, me: UserId): number {
  if (readSeq >= chat.summary.last_seq) return 0;
  const held = chat.messages.filter((m) => m.seq > readSeq);
  const counted = held.filter((m) => countsAsUnread(m, me)).length;
  // Without the full range we cannot count exactly; never report more than before.
  const contiguous = chat.loaded;
  return contiguous ? counted : Math.min(chat.summary.unread, Math.max(counted, 1));
}

/** Ticks for one of my messages. */
export function tickState(summary: ChatSummary, seq: number): ReceiptState {
  if (seq <= summary.others_read_seq) return 'read';
  if (seq <= summary.others_delivered_seq) return 'delivered';
  return 'sent';
}

/** Chats ordered by activity, newest first; my unacknowledged sends count as activity. */
export function sortChats(chats: ChatData[], pending: PendingSend[] = []): ChatData[] {
  const latestPending = new Map<string, number>();
  for (const p of pending) latestPending.set(p.chat_id, Math.max(latestPending.get(p.chat_id) ?? 0, p.created_at));
  const key = (c: ChatData) => Math.max(c.summary.last_activity, latestPending.get(c.summary.chat_id) ?? 0);
  return chats.slice().sort((a, b) => key(b) - key(a) || b.summary.chat_id.localeCompare(a.summary.chat_id));
}

/**
 * My pending sends for a chat, minus those the server already stored (matched by their
 * idempotency key), oldest first.
 */
export function visiblePending(pending: PendingSend[], chat: ChatData, me: UserId): PendingSend[] {
  const stored = new Set(chat.messages.filter((m) => m.sender === me && m.client_id).map((m) => m.client_id!));
  return pending
    .filter((p) => p.chat_id === chat.summary.chat_id && !stored.has(p.client_id))
    .sort((a, b) => a.created_at - b.created_at);
}

/** Users typing in a chat right now (expired indicators dropped). */
export function typingUsers(chat: ChatData, now: number): UserId[] {
  return Object.entries(chat.typing)
    .filter(([, until]) => until > now)
    .map(([u]) => u);
}

/** The sync cursor per chat: what this device holds (docs §2.1). */
export function cursorsOf(chats: Record<string, ChatData>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [id, c] of Object.entries(chats)) {
    if (c.removed) continue;
    out[id] = c.maxSeq;
  }
  return out;
}

export function totalUnread(chats: Record<string, ChatData>): number {
  let n = 0;
  for (const c of Object.values(chats)) if (!c.removed) n += c.summary.unread;
  return n;
}
