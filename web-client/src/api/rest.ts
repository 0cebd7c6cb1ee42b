// Typed REST client with bearer tokens and single-use refresh tokens (docs/protocol.md §6, §7).
import { uploadMedia, type UploadProgress, type XhrLike } from './media';
import type {
  ChatSummary, Media, Contact, HistoryPage, Message, MessageInfo, MessageSearchPage, Profile, TokenResponse, UserId, Visibility,
} from './types';
import type { WebTransportInfo } from './transport';

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  /** Epoch ms when the access token expires. */
  expires_at: number;
  session_id: string;
  user_id: UserId;
}

export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

export class MemoryTokenStore implements TokenStore {
  private t: Tokens | null = null;
  constructor(initial: Tokens | null = null) { this.t = initial; }
  get() { return this.t; }
  set(t: Tokens | null) { this.t = t; }
}

/** Persists tokens in localStorage so a reload (and other tabs) keep the session. */
export class LocalTokenStore implements TokenStore {
  constructor(private key = 'parley.tokens') {}
  get(): Tokens | null {
    try {
      const raw = localStorage.getItem(this.key);
      return raw ? (JSON.parse(raw) as Tokens) : null;
    } catch {
      return null;
    }
  }
  set(t: Tokens | null) {
    if (t) localStorage.setItem(this.key, JSON.stringify(t));
    else localStorage.removeItem(this.key);
  }
}

export function tokensFrom(r: TokenResponse, now = Date.now()): Tokens {
  return {
    access_token: r.access_token,
    refresh_token: r.refresh_token,
    expires_at: now + r.expires_in * 1000,
    session_id: r.session_id,
    user_id: r.user.user_id,
  };
}

/** Codes after which the session is gone and the user must log in again. */
export const SESSION_ENDED_CODES = new Set(['session_revoked', 'invalid_refresh_token', 'account_disabled']);

export interface RestOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  store: TokenStore;
  /** Called once the session cannot be used any more (revoked, refresh failed). */
  onSessionEnded?: (code: string) => void;
  /** Called after this client got new tokens from a refresh (renew the media cookie). */
  onRefreshed?: () => void;
  now?: () => number;
  /** XMLHttpRequest factory for uploads (tests). */
  xhr?: () => XhrLike;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const enc = encodeURIComponent;

export class RestClient {
  private baseUrl: string;
  private fetchFn: typeof fetch;
  readonly store: TokenStore;
  private onSessionEnded?: (code: string) => void;
  private onRefreshed?: () => void;
  private xhr?: () => XhrLike;
  private now: () => number;
  private refreshing: Promise<string> | null = null;

  constructor(opts: RestOptions) {
    this.baseUrl = opts.baseUrl ?? '';
    this.fetchFn = opts.fetch ?? ((...a) => globalThis.fetch(...a));
    this.store = opts.store;
    this.onSessionEnded = opts.onSessionEnded;
    this.onRefreshed = opts.onRefreshed;
    this.xhr = opts.xhr;
    this.now = opts.now ?? Date.now;
  }

  /** A valid access token, refreshed first when it expires within 30 s. */
  async accessToken(): Promise<string> {
    const t = this.store.get();
    if (!t) throw new ApiError(401, 'unauthenticated', 'not signed in');
    if (t.expires_at - this.now() > 30_000) return t.access_token;
    return this.refresh(t.access_token);
  }

  /**
   * Exchanges the refresh token for new tokens. Refresh tokens are single use and reusing one
   * revokes the session, so concurrent callers share one request and other tabs are
   * serialised with a Web Lock; a token another tab already refreshed is picked up instead.
   */
  refresh(staleAccess?: string): Promise<string> {
    if (!this.refreshing) {
      const run = async () => {
        const current = this.store.get();
        if (!current) throw new ApiError(401, 'unauthenticated', 'not signed in');
        if (staleAccess && current.access_token !== staleAccess && current.expires_at - this.now() > 30_000) {
          return current.access_token;
        }
        try {
          const r = await this.raw<TokenResponse>('POST', '/api/auth/refresh', { refresh_token: current.refresh_token }, null);
          const next = tokensFrom(r, this.now());
          this.store.set(next);
          this.onRefreshed?.();
          return next.access_token;
        } catch (e) {
          if (e instanceof ApiError && SESSION_ENDED_CODES.has(e.code)) this.endSession(e.code);
          throw e;
        }
      };
      const locks = typeof navigator !== 'undefined' ? (navigator as Navigator).locks : undefined;
      const p = locks ? locks.request('parley.refresh', run) : run();
      this.refreshing = p.finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private endSession(code: string) {
    this.store.set(null);
    this.onSessionEnded?.(code);
  }

  private async raw<T>(method: Method, path: string, body: unknown, token: string | null, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await this.fetchFn(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch {
      if (signal?.aborted) throw new ApiError(0, 'aborted', 'The request was cancelled.');
      throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection.');
    }
    if (res.status === 204) return undefined as T;
    let text: string;
    try {
      text = await res.text();
    } catch {
      if (signal?.aborted) throw new ApiError(0, 'aborted', 'The request was cancelled.');
      throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection.');
    }
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (!res.ok) {
      const b = json as { code?: string; message?: string } | undefined;
      const ra = res.headers.get('Retry-After');
      throw new ApiError(
        res.status,
        b?.code ?? 'http_' + res.status,
        b?.message ?? `Server error (${res.status})`,
        ra ? Number(ra) : undefined,
      );
    }
    return json as T;
  }

  /** An authenticated request; retried once after a refresh when the access token expired. */
  async request<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const token = await this.accessToken();
    try {
      return await this.raw<T>(method, path, body, token, signal);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        if (e.code === 'unauthenticated') {
          const fresh = await this.refresh(token);
          return this.raw<T>(method, path, body, fresh, signal);
        }
        if (SESSION_ENDED_CODES.has(e.code)) this.endSession(e.code);
      }
      throw e;
    }
  }

  // ---- accounts ----
  async register(req: {
    username: string; password: string; display_name?: string; email?: string; phone?: string; invite?: string;
  }): Promise<TokenResponse> {
    const r = await this.raw<TokenResponse>('POST', '/api/auth/register', req, null);
    this.store.set(tokensFrom(r, this.now()));
    return r;
  }
  async login(login: string, password: string): Promise<TokenResponse> {
    const r = await this.raw<TokenResponse>('POST', '/api/auth/login', { login, password }, null);
    this.store.set(tokensFrom(r, this.now()));
    return r;
  }
  async logout(all = false): Promise<void> {
    try {
      await this.request<void>('POST', all ? '/api/auth/logout-all' : '/api/auth/logout');
    } finally {
      this.store.set(null);
    }
  }
  me() { return this.request<Profile>('GET', '/api/me'); }
  updateMe(p: { display_name?: string; about?: string; email?: string; phone?: string; last_seen_visibility?: Visibility }) {
    return this.request<Profile>('PATCH', '/api/me', p);
  }
  lookup(by: 'username' | 'email' | 'phone', value: string) {
    return this.request<Profile>('GET', `/api/users/lookup?${by}=${enc(value)}`);
  }
  user(id: UserId) { return this.request<Profile>('GET', `/api/users/${enc(id)}`); }
  contacts() { return this.request<Contact[]>('GET', '/api/contacts'); }
  addContact(id: UserId) { return this.request<void>('PUT', `/api/contacts/${enc(id)}`); }
  removeContact(id: UserId) { return this.request<void>('DELETE', `/api/contacts/${enc(id)}`); }

  // ---- chats ----
  chats() { return this.request<ChatSummary[]>('GET', '/api/chats'); }
  chat(id: string) { return this.request<ChatSummary>('GET', `/api/chats/${enc(id)}`); }
  createDirect(user_id: UserId) { return this.request<ChatSummary>('POST', '/api/chats/direct', { user_id }); }
  createGroup(name: string, members: UserId[], description = '') {
    return this.request<ChatSummary>('POST', '/api/chats/group', { name, description, members });
  }
  updateGroup(id: string, p: { name?: string; description?: string }) {
    return this.request<ChatSummary>('PATCH', `/api/chats/${enc(id)}`, p);
  }
  addMember(id: string, user_id: UserId) { return this.request<Message>('POST', `/api/chats/${enc(id)}/members`, { user_id }); }
  removeMember(id: string, user: UserId) { return this.request<Message>('DELETE', `/api/chats/${enc(id)}/members/${enc(user)}`); }
  promote(id: string, user: UserId) { return this.request<Message>('PUT', `/api/chats/${enc(id)}/admins/${enc(user)}`); }
  demote(id: string, user: UserId) { return this.request<Message>('DELETE', `/api/chats/${enc(id)}/admins/${enc(user)}`); }
  leave(id: string) { return this.request<Message>('POST', `/api/chats/${enc(id)}/leave`); }
  markRead(id: string, seq: number) { return this.request<void>('POST', `/api/chats/${enc(id)}/read`, { seq }); }
  history(id: string, before?: number | null, limit = 50) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before != null) q.set('before', String(before));
    return this.request<HistoryPage>('GET', `/api/chats/${enc(id)}/messages?${q}`);
  }
  // ---- search ----
  /** Message search over my chats (or one with `chat_id`); `q` must not be blank. */
  searchMessages(p: { q: string; chat_id?: string; order?: 'newest' | 'best'; offset?: number; limit?: number }, signal?: AbortSignal) {
    const q = new URLSearchParams({ q: p.q });
    if (p.chat_id) q.set('chat_id', p.chat_id);
    if (p.order) q.set('order', p.order);
    if (p.offset) q.set('offset', String(p.offset));
    if (p.limit) q.set('limit', String(p.limit));
    return this.request<MessageSearchPage>('GET', `/api/search/messages?${q}`, undefined, signal);
  }
  /** User directory search (prefix and typo tolerant), best first. */
  searchUsers(q: string, limit = 20, signal?: AbortSignal) {
    return this.request<Profile[]>('GET', `/api/search/users?${new URLSearchParams({ q, limit: String(limit) })}`, undefined, signal);
  }
  // ---- media ----
  /**
   * Uploads a file (raw bytes) with progress; `signal` cancels it. Retried once after a
   * refresh when the access token expired meanwhile.
   */
  async upload(body: Blob, name: string, onProgress?: (p: UploadProgress) => void, signal?: AbortSignal): Promise<Media> {
    const token = await this.accessToken();
    const run = (t: string) => uploadMedia({ body, name, token: t, baseUrl: this.baseUrl, onProgress, signal, xhr: this.xhr });
    try {
      return await run(token);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        if (e.code === 'unauthenticated') return run(await this.refresh(token));
        if (SESSION_ENDED_CODES.has(e.code)) this.endSession(e.code);
      }
      throw e;
    }
  }
  /** Sets the HttpOnly cookie that authorises media GETs from <img>, <video>, <audio>, <a>. */
  mediaCookie() { return this.request<void>('POST', '/api/media/cookie'); }
  setAvatar(media_id: string) { return this.request<Profile>('PUT', '/api/me/avatar', { media_id }); }
  removeAvatar() { return this.request<Profile>('DELETE', '/api/me/avatar'); }
  setGroupAvatar(id: string, media_id: string) { return this.request<ChatSummary>('PUT', `/api/chats/${enc(id)}/avatar`, { media_id }); }
  removeGroupAvatar(id: string) { return this.request<ChatSummary>('DELETE', `/api/chats/${enc(id)}/avatar`); }

  /** Where and how to reach the WebTransport listener; null when the server has it off (404). */
  async webTransport(signal?: AbortSignal): Promise<WebTransportInfo | null> {
    try {
      return await this.request<WebTransportInfo>('GET', '/api/webtransport', undefined, signal);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }

  messageInfo(id: string, seq: number) { return this.request<MessageInfo>('GET', `/api/chats/${enc(id)}/messages/${seq}/info`); }
}
