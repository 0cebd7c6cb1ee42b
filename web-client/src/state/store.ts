// The application controller: owns the REST client, the real-time connection and the state the
// UI renders. React reads it through useApp (useSyncExternalStore).
// The pieces live next to it: appState.ts (the state's shape), uploads.ts, mediaCookie.ts,
// notifications.ts, errors.ts and frames.ts (how live frames change the state).
import { useSyncExternalStore } from 'react';
import { Outbox, newClientId, type PendingSend } from '../api/outbox';
import { Realtime } from '../api/realtime';
import { FORCE_KEY, MEMORY_KEY, TransportSelector } from '../api/transport';
import { serverOf } from '../api/address';
import { ApiError, LocalTokenStore, RestClient } from '../api/rest';
import type { ChatSummary, Message, Profile, ServerFrame, UserId } from '../api/types';
import { chatFromPath, chatPath, initialState as initial, type AppState } from './appState';
import { errorText } from './errors';
import { handleFrame } from './frames';
import {
  applyEntry, applyHistory, applySummary, cursorsOf, newChatData, totalUnread, type ChatData,
} from './logic';
import { MediaCookie } from './mediaCookie';
import { ReceivedBatcher } from './notifications';
import { Uploads, uploadImage } from './uploads';

export type { AppState, JumpTarget, Presence, Toast, Upload } from './appState';
export { errorText } from './errors';

export class AppController {
  state: AppState = initial;
  private listeners = new Set<() => void>();
  readonly api: RestClient;
  private rt: Realtime | null = null;
  private outbox: Outbox | null = null;
  private profileRequests = new Set<UserId>();
  private received = new ReceivedBatcher(() => this.state.chats, (f) => this.rt?.send(f));
  private readSent = new Map<string, number>();
  private toastId = 0;
  private presenceKey = '';
  private lastListIds = new Set<string>();
  private opening = new Map<string, Promise<void>>();
  private jumpId = 0;
  private uploads = new Uploads(this, () => this.outbox, () => this.rt?.flush());
  private cookie = new MediaCookie(this);

  constructor() {
    this.api = new RestClient({
      store: new LocalTokenStore(),
      onSessionEnded: (c) => this.sessionEnded(c),
      onRefreshed: () => void this.renewMediaCookie(),
    });
    if (typeof window !== 'undefined') {
      window.addEventListener('popstate', () => this.set({ openChatId: chatFromPath(location.pathname) }));
      window.addEventListener('online', () => this.rt?.retryNow());
      window.addEventListener('offline', () => this.rt?.disconnect());
      // Leaving the page: close the session now. A closing tab ends a WebSocket's TCP connection,
      // but a WebTransport (QUIC) session may only time out on the server a minute later, and the
      // contacts would see this user online until then. Back from the back/forward cache: reconnect.
      window.addEventListener('pagehide', () => this.rt?.stop());
      window.addEventListener('pageshow', (e) => {
        if (e.persisted && this.state.phase === 'signed_in') this.rt?.start();
      });
      window.addEventListener('storage', (e) => {
        // Signed out in another tab.
        if (e.key === 'parley.tokens' && !e.newValue && this.state.phase === 'signed_in') this.sessionEnded('signed_out');
      });
    }
  }

  // ---- store plumbing ----
  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  getState = () => this.state;
  set(patch: Partial<AppState> | ((s: AppState) => Partial<AppState>)) {
    const p = typeof patch === 'function' ? patch(this.state) : patch;
    this.state = { ...this.state, ...p };
    for (const l of this.listeners) l();
  }
  setChat(id: string, fn: (c: ChatData) => ChatData) {
    this.set((s) => (s.chats[id] ? { chats: { ...s.chats, [id]: fn(s.chats[id]) } } : {}));
  }
  toast(text: string) {
    const id = ++this.toastId;
    this.set({ toast: { id, text } });
    setTimeout(() => {
      if (this.state.toast?.id === id) this.set({ toast: null });
    }, 5000);
  }

  // ---- session ----
  private started = false;

  async init() {
    if (this.started) return;
    this.started = true;
    if (this.api.store.get()) await this.startSession();
    else this.set({ phase: 'signed_out' });
  }

  async login(login: string, password: string) {
    await this.api.login(login, password);
    await this.startSession();
  }

  async register(req: Parameters<RestClient['register']>[0]) {
    await this.api.register(req);
    await this.startSession();
  }

  async logout(all = false) {
    try {
      await this.api.logout(all);
    } catch {
      /* signed out locally either way */
    }
    this.sessionEnded(null);
  }

  private sessionEnded(reason: string | null) {
    this.rt?.stop();
    this.rt = null;
    this.cookie.stop();
    this.uploads.abortAll();
    // An explicit logout forgets unsent messages; a revoked session keeps them for the next login.
    if (reason === null && this.state.me) localStorage.removeItem(`parley.outbox.${this.state.me.user_id}`);
    this.outbox = null;
    this.lastListIds = new Set();
    this.readSent.clear();
    this.profileRequests.clear();
    this.presenceKey = '';
    this.api.store.set(null);
    const message =
      reason === null || reason === 'signed_out'
        ? null
        : reason === 'account_disabled'
          ? 'Your account has been disabled by an administrator.'
          : 'You were signed out. Log in again to continue.';
    this.state = { ...initial, phase: 'signed_out', signedOutReason: message, notificationPermission: this.state.notificationPermission };
    if (typeof history !== 'undefined' && location.pathname !== '/') history.replaceState(null, '', '/');
    for (const l of this.listeners) l();
  }

  private async startSession() {
    let me: Profile;
    try {
      me = await this.api.me();
    } catch (e) {
      if (e instanceof ApiError && e.status === 0) {
        // Offline at start: keep the stored session and show the app from what we know.
        const t = this.api.store.get();
        if (!t) return this.set({ phase: 'signed_out' });
        me = { user_id: t.user_id, username: t.user_id.split('@')[0], display_name: t.user_id.split('@')[0], about: '', is_admin: false };
      } else {
        return this.sessionEnded(e instanceof ApiError ? e.code : null);
      }
    }
    const outboxKey = `parley.outbox.${me.user_id}`;
    let saved: PendingSend[] = [];
    try {
      saved = JSON.parse(localStorage.getItem(outboxKey) ?? '[]');
    } catch {
      saved = [];
    }
    this.outbox = new Outbox(
      saved,
      (items) => {
        localStorage.setItem(outboxKey, JSON.stringify(items));
        this.set({ outbox: items });
      },
      // Each new item remembers where its chat ended (its `after_seq`): the sync after a reload
      // replays from there, so a message the server already stored is not sent again.
      (chat) => this.state.chats[chat]?.maxSeq,
    );
    this.set({
      phase: 'signed_in',
      me,
      serverName: serverOf(me.user_id) || null,
      signedOutReason: null,
      profiles: { ...this.state.profiles, [me.user_id]: me },
      outbox: this.outbox.list(),
      openChatId: chatFromPath(location.pathname),
    });
    void this.renewMediaCookie();
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const wsUrl = `${proto}//${location.host}/api/ws`;
    this.set({ forceWebSocket: localStorage.getItem(FORCE_KEY) === 'websocket' });
    this.rt = new Realtime({
      url: wsUrl,
      transport: new TransportSelector({
        wsUrl,
        hostname: location.hostname,
        fetchInfo: (signal) => this.api.webTransport(signal),
        store: localStorage,
      }),
      onConnInfo: (connInfo) => this.set({ connInfo }),
      getToken: (force) => (force ? this.api.refresh() : this.api.accessToken()),
      cursors: () => cursorsOf(this.state.chats),
      beforeSync: () => this.loadChats(),
      onFrame: (f) => this.onFrame(f),
      // Presence is only known while connected: never show someone "online" from a stale snapshot.
      onState: (conn, retryAt) => {
        this.set({ conn, retryAt: retryAt ?? null, ...(conn === 'offline' ? { presence: {} } : {}) });
        // Started offline: the media cookie could not be set yet.
        if (conn === 'online' && !this.state.mediaReady) void this.renewMediaCookie();
        // Uploads that failed for want of a network go again once it is back.
        if (conn === 'online') this.uploads.retryNetworkFailures();
      },
      onSessionEnded: (c) => this.sessionEnded(c),
      outbox: this.outbox,
    });
    this.rt.start();
    if (!this.state.chatsLoaded) this.loadChats().catch(() => {});
    const open = this.state.openChatId;
    if (open) this.openChat(open, false);
  }

  // ---- connection settings ----
  /** Forces WebSocket (or goes back to trying WebTransport first) and reconnects. */
  setForceWebSocket(on: boolean) {
    if (on) localStorage.setItem(FORCE_KEY, 'websocket');
    else {
      localStorage.removeItem(FORCE_KEY);
      // Going back to automatic: try WebTransport now rather than after a remembered fallback expires.
      localStorage.removeItem(MEMORY_KEY);
    }
    this.set({ forceWebSocket: on });
    this.rt?.reconnect();
  }

  // ---- media cookie ----
  /** Sets the cookie that lets <img>/<video>/<audio> load media (see mediaCookie.ts). */
  renewMediaCookie(): Promise<void> {
    return this.cookie.renew();
  }

  retryConnection() {
    this.rt?.retryNow();
  }

  // ---- chats ----
  async loadChats() {
    const list = await this.api.chats();
    this.set((s) => {
      const chats: Record<string, ChatData> = {};
      for (const summary of list) chats[summary.chat_id] = applySummary(s.chats[summary.chat_id], summary);
      for (const [id, c] of Object.entries(s.chats)) {
        // Gone from the list since the last fetch: I left or was removed while away. A chat
        // that was not in the last list either was created meanwhile and is kept as it is.
        if (!chats[id]) chats[id] = this.lastListIds.has(id) ? { ...c, removed: true } : c;
      }
      return { chats, chatsLoaded: true };
    });
    this.lastListIds = new Set(list.map((c) => c.chat_id));
    for (const c of list) this.ensureMembers(c);
    this.updatePresenceSubscription();
  }

  ensureMembers(c: ChatSummary) {
    for (const m of c.members) this.ensureProfile(m.user_id);
    if (c.last_message) this.ensureProfile(c.last_message.sender);
  }

  ensureProfile(id: UserId) {
    if (this.state.profiles[id] || this.profileRequests.has(id)) return;
    this.profileRequests.add(id);
    this.api
      .user(id)
      .then((p) => this.set((s) => ({ profiles: { ...s.profiles, [id]: p } })))
      .catch(() => this.profileRequests.delete(id));
  }

  updatePresenceSubscription() {
    const me = this.state.me?.user_id;
    const ids = new Set<UserId>();
    for (const c of Object.values(this.state.chats)) {
      if (c.removed) continue;
      for (const m of c.summary.members) if (m.user_id !== me) ids.add(m.user_id);
    }
    const list = [...ids].sort().slice(0, 1000);
    const key = list.join(',');
    if (key === this.presenceKey && this.rt?.isLive) return;
    if (this.rt?.send({ type: 'subscribe_presence', user_ids: list })) this.presenceKey = key;
  }

  navigate(chatId: string | null) {
    if (typeof history !== 'undefined' && location.pathname !== chatPath(chatId)) history.pushState(null, '', chatPath(chatId));
    this.set({ openChatId: chatId });
    if (chatId) this.openChat(chatId, false);
  }

  private openChat(id: string, force: boolean): Promise<void> {
    // One first-page fetch per chat at a time (navigate and jump may both ask).
    const running = this.opening.get(id);
    if (running && !force) return running;
    const p = this.doOpenChat(id, force).finally(() => {
      if (this.opening.get(id) === p) this.opening.delete(id);
    });
    this.opening.set(id, p);
    return p;
  }

  private async doOpenChat(id: string, force: boolean) {
    let c = this.state.chats[id];
    if (!c) {
      try {
        const summary = await this.api.chat(id);
        this.set((s) => ({ chats: { ...s.chats, [id]: applySummary(s.chats[id], summary) } }));
        this.ensureMembers(summary);
        this.updatePresenceSubscription();
        c = this.state.chats[id];
      } catch (e) {
        // Another organization's appliance that cannot be reached says so; anything else is "not available".
        this.toast(e instanceof ApiError && e.code === 'federation_error' ? errorText(e) : 'This chat is not available.');
        this.navigate(null);
        return;
      }
    }
    if (c.loaded && !force) return;
    try {
      const page = await this.api.history(id);
      const me = this.state.me!.user_id;
      this.setChat(id, (x) => applyHistory(x, page, me, true));
      for (const m of page.messages) this.ensureProfile(m.sender);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 0)) this.toast(errorText(e));
    }
  }

  async loadOlder(id: string) {
    const c = this.state.chats[id];
    if (!c || !c.loaded || c.nextBefore == null) return;
    const page = await this.api.history(id, c.nextBefore);
    const me = this.state.me!.user_id;
    this.setChat(id, (x) => applyHistory(x, page, me, false));
    for (const m of page.messages) this.ensureProfile(m.sender);
  }

  /**
   * Opens a chat at one message (a search hit): loads the history down to `seq` if this device
   * does not hold it yet, then the conversation scrolls there and flashes it (state.jumpTo).
   */
  async showMessage(chatId: string, seq: number) {
    const id = ++this.jumpId;
    this.set({ jumpTo: { chatId, seq, id, ready: false } });
    if (this.state.openChatId !== chatId) this.navigate(chatId);
    try {
      await this.openChat(chatId, false);
      await this.loadUntil(chatId, seq);
    } catch (e) {
      if (this.state.jumpTo?.id === id) this.toast(errorText(e));
    }
    if (this.state.jumpTo?.id === id) this.set({ jumpTo: { chatId, seq, id, ready: true } });
  }

  clearJump(id: number) {
    if (this.state.jumpTo?.id === id) this.set({ jumpTo: null });
  }

  /**
   * Loads older history until `seq` (and a few entries above it) is held. History pages are
   * addressed by seq (`before`), so the missing range is fetched as parallel pages.
   */
  async loadUntil(chatId: string, seq: number, context = 20, maxPages = 25) {
    const c = this.state.chats[chatId];
    if (!c || !c.loaded || c.nextBefore == null || seq >= c.nextBefore) return;
    const PAGE = 200;
    const befores: number[] = [];
    let b = c.nextBefore;
    do {
      befores.push(b);
      b -= PAGE;
    } while (b > seq - context && b > 1 && befores.length < maxPages);
    const pages = await Promise.all(befores.map((before) => this.api.history(chatId, before, PAGE)));
    const me = this.state.me!.user_id;
    this.setChat(chatId, (x) => {
      // Another load may have gone further meanwhile: never move the cursor back up.
      const prevNext = x.nextBefore;
      let next = x;
      for (const page of pages) next = applyHistory(next, page, me, false);
      if (prevNext == null || (next.nextBefore != null && next.nextBefore > prevNext)) next = { ...next, nextBefore: prevNext };
      return next;
    });
    for (const page of pages) for (const m of page.messages) this.ensureProfile(m.sender);
  }

  async startDirect(userId: UserId) {
    const summary = await this.api.createDirect(userId);
    this.set((s) => ({ chats: { ...s.chats, [summary.chat_id]: applySummary(s.chats[summary.chat_id], summary) } }));
    this.ensureMembers(summary);
    this.updatePresenceSubscription();
    this.navigate(summary.chat_id);
  }

  async createGroup(name: string, members: UserId[]) {
    const summary = await this.api.createGroup(name, members);
    this.set((s) => ({ chats: { ...s.chats, [summary.chat_id]: applySummary(s.chats[summary.chat_id], summary) } }));
    this.ensureMembers(summary);
    this.updatePresenceSubscription();
    this.navigate(summary.chat_id);
  }

  async refreshChat(id: string) {
    const summary = await this.api.chat(id);
    this.set((s) => ({ chats: { ...s.chats, [id]: applySummary(s.chats[id], summary) } }));
    this.ensureMembers(summary);
  }

  /** Applies the system entry a REST group change returns (it also arrives live; idempotent). */
  applyOwnEntry(m: Message) {
    const me = this.state.me!.user_id;
    this.setChat(m.chat_id, (c) => applyEntry(c, m, me));
  }

  // ---- media messages (uploads.ts) ----
  /** Uploads files and sends each as a message once uploaded; the caption goes with the first. */
  sendFiles(chatId: string, files: File[], caption = '', replyTo?: number) {
    this.uploads.send(chatId, files, caption, replyTo);
  }

  /** Cancels an upload (or forgets a failed one): no message is sent. */
  cancelUpload(id: string) {
    this.uploads.cancel(id);
  }

  retryUpload(id: string) {
    this.uploads.start(id);
  }

  // ---- messages ----
  send(chatId: string, text: string, replyTo?: number) {
    if (!this.outbox || !text.trim()) return;
    this.outbox.add({ client_id: newClientId(), chat_id: chatId, text, reply_to: replyTo });
    this.rt?.flush();
  }

  retrySend(clientId: string) {
    this.outbox?.retry(clientId);
    this.rt?.flush();
  }

  discardSend(clientId: string) {
    this.outbox?.discard(clientId);
  }

  async edit(chatId: string, seq: number, text: string) {
    const entry = await this.api.request<Message>('PATCH', `/api/chats/${encodeURIComponent(chatId)}/messages/${seq}`, { text });
    this.applyOwnEntry(entry);
  }

  async remove(chatId: string, seq: number) {
    const entry = await this.api.request<Message>('DELETE', `/api/chats/${encodeURIComponent(chatId)}/messages/${seq}`);
    this.applyOwnEntry(entry);
  }

  /** The user has seen everything in the open chat. */
  markRead(chatId: string) {
    const c = this.state.chats[chatId];
    const me = this.state.me?.user_id;
    if (!c || !me || c.removed) return;
    const seq = c.maxSeq;
    if (seq <= c.summary.my_read_seq && c.summary.unread === 0) return;
    if ((this.readSent.get(chatId) ?? 0) >= seq && c.summary.unread === 0) return;
    if (this.rt?.send({ type: 'read', chat_id: chatId, seq })) {
      this.readSent.set(chatId, seq);
      this.setChat(chatId, (x) => ({ ...x, summary: { ...x.summary, unread: 0, my_read_seq: Math.max(x.summary.my_read_seq, seq) } }));
    }
  }

  typing(chatId: string, active: boolean) {
    this.rt?.send({ type: 'typing', chat_id: chatId, active });
  }

  // ---- contacts and profile ----
  async loadContacts() {
    const contacts = await this.api.contacts();
    this.set((s) => {
      const profiles = { ...s.profiles };
      for (const c of contacts) profiles[c.profile.user_id] = c.profile;
      return { contacts, profiles };
    });
  }

  async updateProfile(p: Parameters<RestClient['updateMe']>[0]) {
    const me = await this.api.updateMe(p);
    this.setMe(me);
  }

  private setMe(me: Profile) {
    this.set((s) => ({ me, profiles: { ...s.profiles, [me.user_id]: me } }));
  }

  /** Uploads an image and makes it my profile picture. */
  async setAvatar(file: Blob, name: string, onProgress?: (fraction: number) => void, signal?: AbortSignal) {
    const media = await uploadImage(this.api, file, name, onProgress, signal);
    this.setMe(await this.api.setAvatar(media.media_id));
  }

  async removeAvatar() {
    this.setMe(await this.api.removeAvatar());
  }

  /** Uploads an image and makes it a group's picture (group admins). */
  async setGroupAvatar(chatId: string, file: Blob, name: string, onProgress?: (fraction: number) => void, signal?: AbortSignal) {
    const media = await uploadImage(this.api, file, name, onProgress, signal);
    const summary = await this.api.setGroupAvatar(chatId, media.media_id);
    this.set((s) => ({ chats: { ...s.chats, [chatId]: applySummary(s.chats[chatId], summary) } }));
  }

  async removeGroupAvatar(chatId: string) {
    const summary = await this.api.removeGroupAvatar(chatId);
    this.set((s) => ({ chats: { ...s.chats, [chatId]: applySummary(s.chats[chatId], summary) } }));
  }

  async requestNotifications() {
    if (typeof Notification === 'undefined') return;
    const r = await Notification.requestPermission();
    this.set({ notificationPermission: r });
  }

  // ---- frames (handled in frames.ts; these members are what it uses) ----
  private onFrame(f: ServerFrame) {
    handleFrame(this, f);
  }
  queueReceived(chatId: string, seq: number) {
    this.received.queue(chatId, seq);
  }
  resubscribePresence() {
    this.presenceKey = '';
    this.updatePresenceSubscription();
  }
  reopenIfNotLoaded() {
    const open = this.state.openChatId;
    if (open && this.state.chats[open] && !this.state.chats[open].loaded) this.openChat(open, false);
  }

  totalUnread() {
    return totalUnread(this.state.chats);
  }
}

export const app = new AppController();

export function useApp<T>(select: (s: AppState) => T): T {
  return useSyncExternalStore(app.subscribe, () => select(app.state));
}

export { newChatData };
