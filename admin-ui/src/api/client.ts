// HTTP client for the admin API: bearer auth, one refresh on 401, errors as ApiError.
import type { Profile, TokenResponse } from './types';

/** A failed request: the server's `{code, message}`, or a synthetic code for network trouble. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface Session {
  access_token: string;
  refresh_token: string;
  user: Profile;
}

/** The part of Web Storage the client uses (sessionStorage in the browser, a map in tests). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const SESSION_KEY = 'parley-admin-session';

type Fetch = typeof fetch;

export interface ClientOptions {
  fetch?: Fetch;
  storage?: KeyValueStore;
  /** Called when the session is gone for good (refresh failed): the app shows the login screen. */
  onSignedOut?: () => void;
  /** Called on `403 forbidden`: the account lost the admin role while the console was open. */
  onForbidden?: () => void;
}

/** Turns a non-2xx response into an ApiError, keeping the server's message verbatim. */
export async function errorFrom(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const text = await res.text();
    if (text) {
      try {
        const body = JSON.parse(text) as { code?: unknown; message?: unknown };
        if (typeof body.code === 'string') code = body.code;
        if (typeof body.message === 'string' && body.message) message = body.message;
      } catch {
        // Not JSON (a proxy's error page, say): show its text, trimmed.
        message = text.slice(0, 300);
      }
    }
  } catch {
    // Body unreadable: keep the status line.
  }
  if (res.status === 404 && code === `http_404`) code = 'not_found';
  return new ApiError(res.status, code, message);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
}

export function withQuery(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export class ApiClient {
  private readonly fetchFn: Fetch;
  private readonly storage: KeyValueStore;
  private readonly onSignedOut?: () => void;
  private readonly onForbidden?: () => void;
  private session: Session | null;
  // Refresh tokens are single-use and reuse revokes the session, so concurrent 401s must share
  // one refresh call rather than each presenting the same token.
  private refreshing: Promise<boolean> | null = null;

  constructor(opts: ClientOptions = {}) {
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.storage = opts.storage ?? sessionStorage;
    this.onSignedOut = opts.onSignedOut;
    this.onForbidden = opts.onForbidden;
    this.session = this.load();
  }

  get user(): Profile | null {
    return this.session?.user ?? null;
  }

  get accessToken(): string | null {
    return this.session?.access_token ?? null;
  }

  private load(): Session | null {
    try {
      const raw = this.storage.getItem(SESSION_KEY);
      return raw ? (JSON.parse(raw) as Session) : null;
    } catch {
      return null;
    }
  }

  private save(s: Session | null) {
    this.session = s;
    if (s) this.storage.setItem(SESSION_KEY, JSON.stringify(s));
    else this.storage.removeItem(SESSION_KEY);
  }

  async login(login: string, password: string): Promise<Profile> {
    const res = await this.send('/api/auth/login', { method: 'POST', body: { login, password } }, null);
    if (!res.ok) throw await errorFrom(res);
    const t = (await res.json()) as TokenResponse;
    this.save({ access_token: t.access_token, refresh_token: t.refresh_token, user: t.user });
    return t.user;
  }

  /** Ends the session on the server (best effort) and forgets the tokens. */
  async logout(): Promise<void> {
    const token = this.accessToken;
    this.save(null);
    if (token) {
      try {
        await this.send('/api/auth/logout', { method: 'POST' }, token);
      } catch {
        // Signing out locally is what matters.
      }
    }
  }

  /** Forgets the session without a server call (used when the server said it is gone). */
  private signedOut() {
    this.save(null);
    this.onSignedOut?.();
  }

  private refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const s = this.session;
    if (!s) return false;
    try {
      const res = await this.send('/api/auth/refresh', { method: 'POST', body: { refresh_token: s.refresh_token } }, null);
      if (!res.ok) return false;
      const t = (await res.json()) as TokenResponse;
      this.save({ access_token: t.access_token, refresh_token: t.refresh_token, user: t.user ?? s.user });
      return true;
    } catch {
      return false;
    }
  }

  private send(path: string, opts: RequestOptions, token: string | null): Promise<Response> {
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: BodyInit | undefined;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    return this.fetchFn(withQuery(path, opts.query), { method: opts.method ?? 'GET', headers, body });
  }

  /**
   * An authenticated request. On 401 the tokens are refreshed once and the request repeated;
   * if that fails too the session is dropped and onSignedOut fires.
   */
  async raw(path: string, opts: RequestOptions = {}): Promise<Response> {
    const token = this.accessToken;
    if (!token) {
      this.signedOut();
      throw new ApiError(401, 'unauthenticated', 'Signed out: please log in again.');
    }
    let res: Response;
    try {
      res = await this.send(path, opts, token);
    } catch (e) {
      throw new ApiError(0, 'network', `Cannot reach the server (${(e as Error).message}).`);
    }
    if (res.status !== 401) return res;
    // Another request may have refreshed meanwhile: then just retry with the new token.
    const fresh = this.accessToken !== token || (await this.refresh());
    if (!fresh || !this.accessToken) {
      const err = await errorFrom(res);
      this.signedOut();
      throw err;
    }
    try {
      res = await this.send(path, opts, this.accessToken);
    } catch (e) {
      throw new ApiError(0, 'network', `Cannot reach the server (${(e as Error).message}).`);
    }
    if (res.status === 401) {
      const err = await errorFrom(res);
      this.signedOut();
      throw err;
    }
    return res;
  }

  /** An authenticated JSON request; `undefined` for 204 / empty bodies. */
  async json<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, opts);
    if (!res.ok) {
      const err = await errorFrom(res);
      if (err.code === 'forbidden') this.onForbidden?.();
      throw err;
    }
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** An authenticated download (the backup archive route needs the bearer header). */
  async blob(path: string): Promise<{ blob: Blob; filename: string | null }> {
    const res = await this.raw(path);
    if (!res.ok) throw await errorFrom(res);
    const cd = res.headers.get('Content-Disposition') ?? '';
    const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
    return { blob: await res.blob(), filename: m ? decodeURIComponent(m[1]) : null };
  }
}
