// How the server's live frames change the state: messages and acks, receipts, typing,
// presence, chat updates and removals. The controller (store.ts) is the host.
import type { ChatSummary, ServerFrame, UserId } from '../api/types';
import { serverOf } from '../api/address';
import { peerFromSummary, type AppState } from './appState';
import { applyEntry, applyReceipt, applySummary, isUserMessage, type ChatData } from './logic';
import { notifyMessage } from './notifications';

/** What frame handling needs of the controller. */
export interface FrameHost {
  readonly state: AppState;
  set(patch: Partial<AppState> | ((s: AppState) => Partial<AppState>)): void;
  setChat(id: string, fn: (c: ChatData) => ChatData): void;
  refreshChat(id: string): Promise<void>;
  ensureProfile(id: UserId): void;
  ensureMembers(c: ChatSummary): void;
  /** This device has everything up to `seq` (batched `received` frames). */
  queueReceived(chatId: string, seq: number): void;
  navigate(chatId: string | null): void;
  updatePresenceSubscription(): void;
  /** Subscribes to presence again even if the list did not change (after a reconnect). */
  resubscribePresence(): void;
  /** Loads the open chat's history if it is not loaded yet. */
  reopenIfNotLoaded(): void;
  toast(text: string): void;
}

export function handleFrame(host: FrameHost, f: ServerFrame): void {
  const me = host.state.me?.user_id;
  if (!me) return;
  switch (f.type) {
    case 'ready': {
      const server = serverOf(f.user_id);
      if (server && server !== host.state.serverName) host.set({ serverName: server });
      break;
    }
    case 'message':
    case 'ack': {
      const m = f.message;
      const had = host.state.chats[m.chat_id];
      if (!had) {
        // A chat we did not know yet (created while we were offline, or whose first news is this
        // message, as with a chat homed on another organization's appliance): fetch it, then
        // take the message like any other, `received` included (the sender's second tick).
        host.refreshChat(m.chat_id).then(() => {
          if (host.state.chats[m.chat_id]) handleFrame(host, f);
        }).catch(() => {});
        return;
      }
      const isNew = m.seq > had.maxSeq;
      host.setChat(m.chat_id, (c) => applyEntry(c, m, me));
      host.ensureProfile(m.sender);
      if (m.sender !== me) {
        host.queueReceived(m.chat_id, m.seq);
        if (isNew && isUserMessage(m.kind)) notifyMessage(host.state, m, (id) => host.navigate(id));
      }
      const ev = m.event;
      if (ev && (ev.event === 'member_removed' || ev.event === 'member_left') && ev.user_id === me) {
        // chat_removed follows; from now on the chat is read-only for me.
        host.setChat(m.chat_id, (c) => ({ ...c, removed: true, typing: {} }));
      } else if (ev && isNew && (ev.event === 'member_added' || ev.event === 'member_removed' || ev.event === 'member_left')) {
        // Membership changed: refresh the member list (a chat frame also follows).
        host.refreshChat(m.chat_id).catch(() => {});
      }
      break;
    }
    case 'sync_done': {
      // Tell the senders this device has everything up to now (two grey ticks).
      for (const c of Object.values(host.state.chats)) {
        if (!c.removed && c.maxSeq > 0) host.queueReceived(c.summary.chat_id, c.maxSeq);
      }
      host.resubscribePresence();
      host.reopenIfNotLoaded();
      break;
    }
    case 'receipt':
      host.setChat(f.chat_id, (c) => applyReceipt(c, f, me));
      break;
    case 'typing':
      if (f.user_id === me) break;
      host.setChat(f.chat_id, (c) => {
        const typing = { ...c.typing };
        if (f.active) typing[f.user_id] = Date.now() + f.expires_in_ms;
        else delete typing[f.user_id];
        return { ...c, typing };
      });
      if (f.active) {
        setTimeout(() => host.set((s) => ({ chats: { ...s.chats } })), f.expires_in_ms + 50);
      }
      break;
    case 'presence':
      host.set((s) => ({ presence: { ...s.presence, [f.user_id]: { online: f.online, last_seen: f.last_seen } } }));
      break;
    case 'chat':
      host.set((s) => ({
        chats: { ...s.chats, [f.chat.chat_id]: applySummary(s.chats[f.chat.chat_id], f.chat) },
        profiles: peerFromSummary(s.profiles, f.chat),
      }));
      host.ensureMembers(f.chat);
      host.updatePresenceSubscription();
      break;
    case 'chat_removed':
      host.setChat(f.chat_id, (c) => ({ ...c, removed: true, typing: {} }));
      break;
    case 'error':
      if (!f.ref && host.state.conn === 'online') host.toast(f.message || f.code);
      break;
  }
}
