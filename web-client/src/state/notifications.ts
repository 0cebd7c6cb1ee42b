// Telling others and the user that messages arrived: batched `received` frames (two grey ticks
// for the senders) and browser notifications while the tab is hidden.
import { withOrg } from '../api/address';
import { mediaPreview } from '../api/media';
import type { ClientFrame, Message } from '../api/types';
import type { AppState } from './appState';
import type { ChatData } from './logic';

/** Sends at most one `received` frame per chat every 150 ms, for the newest seq queued. */
export class ReceivedBatcher {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private due = new Map<string, number>();

  constructor(
    private chats: () => Record<string, ChatData>,
    private send: (frame: ClientFrame) => void,
  ) {}

  queue(chatId: string, seq: number) {
    this.due.set(chatId, Math.max(this.due.get(chatId) ?? 0, seq));
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      for (const [chat_id, s] of this.due) {
        const c = this.chats()[chat_id];
        if (c && !c.removed) this.send({ type: 'received', chat_id, seq: s });
      }
      this.due.clear();
    }, 150);
  }
}

/**
 * A browser notification for a message that arrived while the tab is hidden (if the user allowed
 * them); clicking it opens the chat.
 */
export function notifyMessage(state: AppState, m: Message, openChat: (chatId: string) => void) {
  if (typeof document === 'undefined' || !document.hidden) return;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const c = state.chats[m.chat_id];
  if (!c) return;
  const sender = withOrg(state.profiles[m.sender]?.display_name ?? m.sender.split('@')[0], m.sender, state.serverName);
  const title = c.summary.kind === 'group' ? c.summary.name : sender;
  const text = m.media ? mediaPreview(m.media, m.text) : (m.text ?? '');
  const body = c.summary.kind === 'group' ? `${sender}: ${text}` : text;
  try {
    const n = new Notification(title, { body, tag: m.chat_id });
    n.onclick = () => {
      window.focus();
      openChat(m.chat_id);
      n.close();
    };
  } catch {
    /* some platforms only allow notifications from a service worker */
  }
}
