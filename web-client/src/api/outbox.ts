// Messages typed by the user that the server has not acknowledged yet. Each keeps its
// idempotency key (client_id) for its whole life, so resending after a reconnect never
// creates a duplicate (docs/protocol.md §3 `send`).
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
}

export class Outbox {
  private items = new Map<string, PendingSend>();

  constructor(initial: PendingSend[] = [], private onChange: (items: PendingSend[]) => void = () => {}) {
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

  /** The server stored the message: forget it. Returns whether it was ours. */
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

/** A sortable unique id (time prefix + randomness), used as idempotency key. */
export function newClientId(now = Date.now()): string {
  const rand = new Uint8Array(10);
  crypto.getRandomValues(rand);
  return now.toString(36).padStart(9, '0') + '-' + Array.from(rand, (b) => b.toString(16).padStart(2, '0')).join('');
}
