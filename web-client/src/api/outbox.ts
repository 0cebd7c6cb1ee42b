// Messages typed by the user that the server has not acknowledged yet. Each keeps its
// idempotency key (client_id) for its whole life. The server only recognises a resend for a
// limited time (docs/protocol.md §3 `send`), so after a reconnect realtime.ts first drops the
// items whose message comes back in the sync replay and only then resends the rest. For the
// replay to include such a message even after a reload (when the chats are rebuilt from their
// summaries and the cursors start at each chat's latest entry), every item remembers the end of
// its chat when it was queued (`after_seq`) and the sync starts no later than that
// (cursorsWithPending).
import type { ChatId, Media, Seq } from './types';

export type PendingStatus = 'queued' | 'sent' | 'failed';

export interface PendingSend {
  client_id: string;
  chat_id: ChatId;
  text: string;
  reply_to?: Seq;
  /** An uploaded file to send (then `text` is its caption and may be empty). */
  media?: Media;
  created_at: number;
  status: PendingStatus;
  error?: string;
  /**
   * The last seq this device knew in the chat when the item was queued: if the server stored
   * the message, it is above this. Missing in items persisted by older versions (no constraint).
   */
  after_seq?: Seq;
}

export class Outbox {
  private items = new Map<string, PendingSend>();

  /**
   * `endOf` gives a chat's last known seq, recorded in each new item as its `after_seq`
   * (undefined when the chat is not known: no constraint).
   */
  constructor(
    initial: PendingSend[] = [],
    private onChange: (items: PendingSend[]) => void = () => {},
    private endOf: (chat: ChatId) => Seq | undefined = () => undefined,
  ) {
    // After a reload nothing is in flight any more: unfailed items go back to the queue.
    for (const p of initial) this.items.set(p.client_id, { ...p, status: p.status === 'failed' ? 'failed' : 'queued' });
  }

  list(): PendingSend[] {
    return [...this.items.values()];
  }

  get(clientId: string) {
    return this.items.get(clientId);
  }

  add(p: Omit<PendingSend, 'status' | 'created_at'> & { created_at?: number }): PendingSend {
    const item: PendingSend = { ...p, created_at: p.created_at ?? Date.now(), status: 'queued' };
    const end = p.after_seq ?? this.endOf(p.chat_id);
    if (end === undefined) delete item.after_seq;
    else item.after_seq = end;
    this.items.set(item.client_id, item);
    this.changed();
    return item;
  }

  /** Items to (re)transmit, oldest first: everything not failed. */
  due(): PendingSend[] {
    return this.list().filter((p) => p.status !== 'failed');
  }

  markSent(clientId: string) {
    this.update(clientId, { status: 'sent' });
  }

  /** The server stored the message (its `ack`, or a `message` carrying its client_id): forget it. Returns whether it was ours. */
  ack(clientId: string): boolean {
    const had = this.items.delete(clientId);
    if (had) this.changed();
    return had;
  }

  fail(clientId: string, error: string) {
    this.update(clientId, { status: 'failed', error });
  }

  retry(clientId: string) {
    this.update(clientId, { status: 'queued', error: undefined });
  }

  discard(clientId: string) {
    if (this.items.delete(clientId)) this.changed();
  }

  /** A connection dropped: whatever was in flight must go again. */
  requeueInFlight() {
    let any = false;
    for (const p of this.items.values()) {
      if (p.status === 'sent') {
        p.status = 'queued';
        any = true;
      }
    }
    if (any) this.changed();
  }

  private update(clientId: string, patch: Partial<PendingSend>) {
    const p = this.items.get(clientId);
    if (!p) return;
    this.items.set(clientId, { ...p, ...patch });
    this.changed();
  }

  private changed() {
    this.onChange(this.list());
  }
}

/**
 * The sync cursors (docs/protocol.md §2.1) lowered for the items still to be (re)sent: a chat's
 * cursor becomes at most the smallest `after_seq` of its items, so the replay includes their
 * messages if the server already stored them (and they are then dropped instead of resent). A
 * chat missing from `cursors` gets one too (the server ignores chats I am not a member of).
 * Failed items (the server refused them) and items without `after_seq` change nothing.
 */
export function cursorsWithPending(cursors: Record<ChatId, Seq>, items: PendingSend[]): Record<ChatId, Seq> {
  const out = { ...cursors };
  for (const p of items) {
    const a = p.after_seq;
    if (p.status === 'failed' || typeof a !== 'number' || !Number.isInteger(a) || a < 0) continue;
    const cur = out[p.chat_id];
    if (cur === undefined || a < cur) out[p.chat_id] = a;
  }
  return out;
}

/** A sortable unique id (time prefix + randomness), used as idempotency key. */
export function newClientId(now = Date.now()): string {
  const rand = new Uint8Array(10);
  crypto.getRandomValues(rand);
  return now.toString(36).padStart(9, '0') + '-' + Array.from(rand, (b) => b.toString(16).padStart(2, '0')).join('');
}
