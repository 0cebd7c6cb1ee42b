import { describe, expect, it } from 'vitest';
import { ApiError, MemoryTokenStore, RestClient, type Tokens } from './rest';

function tokens(over: Partial<Tokens> = {}): Tokens {
  return { access_token: 'old', refresh_token: 'r1', expires_at: 10_000_000, session_id: 's', user_id: 'ana@x', ...over };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers });
}

const tokenBody = (n: number) => ({
  access_token: `a${n}`, expires_in: 900, refresh_token: `r${n + 1}`, session_id: 's',
  user: { user_id: 'ana@x', username: 'ana', display_name: 'Ana', about: '', is_admin: false },
});

describe('RestClient', () => {
  it('refreshes an expired access token once and retries the request', async () => {
    const calls: string[] = [];
    const store = new MemoryTokenStore(tokens());
    const fetchFn = (async (url: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).Authorization;
      calls.push(`${init.method} ${url} ${auth ?? ''}`);
      if (url === '/api/auth/refresh') return json(200, tokenBody(2));
      if (auth === 'Bearer old') return json(401, { code: 'unauthenticated', message: 'expired' });
      return json(200, []);
    }) as unknown as typeof fetch;
    const api = new RestClient({ store, fetch: fetchFn, now: () => 0 });
    await expect(api.chats()).resolves.toEqual([]);
    expect(calls).toEqual(['GET /api/chats Bearer old', 'POST /api/auth/refresh ', 'GET /api/chats Bearer a2']);
    expect(store.get()?.refresh_token).toBe('r3');
  });

  it('shares one refresh between concurrent requests (refresh tokens are single use)', async () => {
    let refreshes = 0;
    const store = new MemoryTokenStore(tokens({ expires_at: 10_000 }));
    const fetchFn = (async (url: string) => {
      if (url === '/api/auth/refresh') { refreshes++; return json(200, tokenBody(2)); }
      return json(200, {});
    }) as unknown as typeof fetch;
    const api = new RestClient({ store, fetch: fetchFn, now: () => 0 });
    await Promise.all([api.me(), api.contacts(), api.chats()]);
    expect(refreshes).toBe(1);
  });

  it('ends the session when the refresh token is refused', async () => {
    const ended: string[] = [];
    const store = new MemoryTokenStore(tokens({ expires_at: 0 }));
    const fetchFn = (async () => json(401, { code: 'invalid_refresh_token', message: 'used' })) as unknown as typeof fetch;
    const api = new RestClient({ store, fetch: fetchFn, now: () => 0, onSessionEnded: (c) => ended.push(c) });
    await expect(api.me()).rejects.toMatchObject({ code: 'invalid_refresh_token' });
    expect(ended).toEqual(['invalid_refresh_token']);
    expect(store.get()).toBeNull();
  });

  it('turns error bodies into ApiError with the stable code and Retry-After', async () => {
    const store = new MemoryTokenStore();
    const fetchFn = (async () => json(429, { code: 'rate_limited', message: 'slow down' }, { 'Retry-After': '12' })) as unknown as typeof fetch;
    const api = new RestClient({ store, fetch: fetchFn });
    const err = await api.login('ana', 'pw').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 429, code: 'rate_limited', retryAfter: 12 });
  });

  it('reports an unreachable server as a network error', async () => {
    const api = new RestClient({ store: new MemoryTokenStore(), fetch: (async () => { throw new TypeError('fetch failed'); }) as unknown as typeof fetch });
    await expect(api.login('ana', 'pw')).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('stores the tokens of a login', async () => {
    const store = new MemoryTokenStore();
    const api = new RestClient({ store, fetch: (async () => json(200, tokenBody(1))) as unknown as typeof fetch, now: () => 1000 });
    await api.login('ana', 'pw');
    expect(store.get()).toMatchObject({ access_token: 'a1', refresh_token: 'r2', expires_at: 901_000, user_id: 'ana@x' });
  });

  it('builds search URLs and reports a cancelled request as aborted, not as offline', async () => {
    const urls: string[] = [];
    const store = new MemoryTokenStore(tokens());
    const fetchFn = ((url: string, init: RequestInit) => {
      urls.push(url);
      if (url.startsWith('/api/search/users')) return Promise.resolve(json(200, []));
      return new Promise((resolve, reject) => {
        const abort = () => reject(new DOMException('aborted', 'AbortError'));
        if (url.includes('q=slow')) {
          if (init.signal?.aborted) abort();
          init.signal?.addEventListener('abort', abort);
        }
        else resolve(json(200, { total: 0, offset: 0, hits: [] }));
      });
    }) as unknown as typeof fetch;
    const api = new RestClient({ store, fetch: fetchFn, now: () => 0 });
    await api.searchMessages({ q: 'café "a b"', chat_id: 'c1@x', order: 'best', offset: 20, limit: 20 });
    await api.searchUsers('an a');
    expect(urls).toEqual([
      '/api/search/messages?q=caf%C3%A9+%22a+b%22&chat_id=c1%40x&order=best&offset=20&limit=20',
      '/api/search/users?q=an+a&limit=20',
    ]);
    const ctrl = new AbortController();
    const p = api.searchMessages({ q: 'slow' }, ctrl.signal);
    await new Promise((r) => setTimeout(r, 0)); // in flight
    ctrl.abort();
    await expect(p).rejects.toMatchObject({ code: 'aborted', status: 0 });
    await expect(p).rejects.toBeInstanceOf(ApiError);
  });

  it('looks an address up as username and keeps a federation_error with its message', async () => {
    const urls: string[] = [];
    const fetchFn = (async (url: string) => {
      urls.push(url);
      return json(502, { code: 'federation_error', message: 'b.test: connection timed out' });
    }) as unknown as typeof fetch;
    const api = new RestClient({ store: new MemoryTokenStore(tokens()), fetch: fetchFn, now: () => 0 });
    const err = await api.lookup('username', 'bob@b.test').catch((e) => e);
    expect(urls).toEqual(['/api/users/lookup?username=bob%40b.test']);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 502, code: 'federation_error', message: 'b.test: connection timed out' });
  });
});
