import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, SESSION_KEY, errorFrom, withQuery, type KeyValueStore } from './client';

class MemStore implements KeyValueStore {
  m = new Map<string, string>();
  getItem(k: string) { return this.m.get(k) ?? null; }
  setItem(k: string, v: string) { this.m.set(k, v); }
  removeItem(k: string) { this.m.delete(k); }
}

const user = { user_id: 'admin@x', username: 'admin', display_name: 'Admin', about: '', is_admin: true };
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
const tokens = (n: number) => ({ access_token: `a${n}`, refresh_token: `r${n}`, expires_in: 900, session_id: 's', user });

type Handler = (path: string, init: RequestInit) => Response | Promise<Response>;
function setup(handler: Handler, session = true) {
  const store = new MemStore();
  if (session) store.setItem(SESSION_KEY, JSON.stringify({ access_token: 'a0', refresh_token: 'r0', user }));
  const calls: { path: string; auth?: string; body?: unknown }[] = [];
  const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const path = String(input);
    const headers = (init?.headers ?? {}) as Record<string, string>;
    calls.push({ path, auth: headers.Authorization, body: init?.body ? JSON.parse(String(init.body)) : undefined });
    return handler(path, init ?? {});
  });
  const onSignedOut = vi.fn();
  const client = new ApiClient({ fetch: fetchFn as unknown as typeof fetch, storage: store, onSignedOut });
  return { client, store, calls, onSignedOut };
}

describe('ApiClient', () => {
  it('logs in and stores the session in the given storage', async () => {
    const { client, store, calls } = setup((p) => (p === '/api/auth/login' ? json(200, tokens(1)) : json(404, {})), false);
    const me = await client.login('admin', 'pw');
    expect(me.username).toBe('admin');
    expect(calls[0].body).toEqual({ login: 'admin', password: 'pw' });
    expect(calls[0].auth).toBeUndefined();
    expect(JSON.parse(store.getItem(SESSION_KEY)!).access_token).toBe('a1');
  });

  it('maps a failed login to the server message without refreshing', async () => {
    const { client, calls } = setup(() => json(401, { code: 'invalid_credentials', message: 'wrong login or password' }), false);
    const err = await client.login('x', 'y').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 401, code: 'invalid_credentials', message: 'wrong login or password' });
    expect(calls).toHaveLength(1);
  });

  it('sends the bearer token and parses JSON', async () => {
    const { client, calls } = setup(() => json(200, { total: 0, offset: 0, users: [] }));
    const r = await client.json('/api/admin/users', { query: { q: 'ana', limit: 5, unit: undefined } });
    expect(r).toEqual({ total: 0, offset: 0, users: [] });
    expect(calls[0]).toMatchObject({ path: '/api/admin/users?q=ana&limit=5', auth: 'Bearer a0' });
  });

  it('refreshes once on 401 and repeats the request with the new token', async () => {
    const { client, calls, store, onSignedOut } = setup((p, init) => {
      if (p === '/api/auth/refresh') return json(200, tokens(1));
      const auth = (init.headers as Record<string, string>).Authorization;
      return auth === 'Bearer a1' ? json(200, { ok: true }) : json(401, { code: 'unauthenticated', message: 'expired' });
    });
    expect(await client.json('/api/admin/stats')).toEqual({ ok: true });
    expect(calls.map((c) => c.path)).toEqual(['/api/admin/stats', '/api/auth/refresh', '/api/admin/stats']);
    expect(calls[1].body).toEqual({ refresh_token: 'r0' });
    expect(JSON.parse(store.getItem(SESSION_KEY)!).refresh_token).toBe('r1');
    expect(onSignedOut).not.toHaveBeenCalled();
  });

  it('shares one refresh between concurrent 401s (refresh tokens are single-use)', async () => {
    let refreshes = 0;
    const { client } = setup(async (p, init) => {
      if (p === '/api/auth/refresh') {
        refreshes++;
        await new Promise((r) => setTimeout(r, 10));
        return json(200, tokens(refreshes));
      }
      const auth = (init.headers as Record<string, string>).Authorization;
      return auth === 'Bearer a1' ? json(200, p) : json(401, { code: 'unauthenticated', message: 'expired' });
    });
    const results = await Promise.all([client.json('/a'), client.json('/b'), client.json('/c')]);
    expect(results).toEqual(['/a', '/b', '/c']);
    expect(refreshes).toBe(1);
  });

  it('signs out when the refresh fails, keeping the original error', async () => {
    const { client, store, onSignedOut, calls } = setup((p) =>
      p === '/api/auth/refresh'
        ? json(401, { code: 'invalid_refresh_token', message: 'refresh token unknown' })
        : json(401, { code: 'session_revoked', message: 'session revoked' }));
    const err = await client.json('/api/admin/users').catch((e) => e);
    expect(err).toMatchObject({ status: 401, code: 'session_revoked' });
    expect(onSignedOut).toHaveBeenCalledTimes(1);
    expect(store.getItem(SESSION_KEY)).toBeNull();
    expect(client.user).toBeNull();
    expect(calls).toHaveLength(2); // no second retry
  });

  it('signs out when the repeated request is refused again (no refresh loop)', async () => {
    const { client, onSignedOut, calls } = setup((p) => (p === '/api/auth/refresh' ? json(200, tokens(1)) : json(401, { code: 'unauthenticated', message: 'no' })));
    await expect(client.json('/x')).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(calls.map((c) => c.path)).toEqual(['/x', '/api/auth/refresh', '/x']);
    expect(onSignedOut).toHaveBeenCalledTimes(1);
  });

  it('does not refresh on 403 and passes the server error through', async () => {
    const { client, calls } = setup(() => json(403, { code: 'reauth_required', message: 'password required' }));
    await expect(client.json('/api/admin/users/u', { method: 'DELETE', body: { password: '' } })).rejects.toMatchObject({
      status: 403, code: 'reauth_required', message: 'password required',
    });
    expect(calls).toHaveLength(1);
  });

  it('reports 403 forbidden (admin role lost) but not other 403s', async () => {
    const onForbidden = vi.fn();
    const store = new MemStore();
    store.setItem(SESSION_KEY, JSON.stringify({ access_token: 'a0', refresh_token: 'r0', user }));
    let code = 'forbidden';
    const client = new ApiClient({ storage: store, onForbidden, fetch: (async () => json(403, { code, message: 'no' })) as unknown as typeof fetch });
    await expect(client.json('/api/admin/users')).rejects.toMatchObject({ code: 'forbidden' });
    expect(onForbidden).toHaveBeenCalledTimes(1);
    code = 'reauth_required';
    await expect(client.json('/api/admin/users')).rejects.toMatchObject({ code: 'reauth_required' });
    expect(onForbidden).toHaveBeenCalledTimes(1);
  });

  it('returns undefined for 204 and turns network failures into ApiError', async () => {
    const ok = setup(() => new Response(null, { status: 204 }));
    expect(await ok.client.json('/x', { method: 'DELETE' })).toBeUndefined();
    const down = setup(() => { throw new TypeError('Failed to fetch'); });
    await expect(down.client.json('/x')).rejects.toMatchObject({ code: 'network', status: 0 });
  });

  it('reads the file name of a download', async () => {
    const { client } = setup(() => new Response('bytes', { status: 200, headers: { 'Content-Disposition': 'attachment; filename="parley-1.tar.gz"' } }));
    const r = await client.blob('/api/admin/backups/parley-1.tar.gz');
    expect(r.filename).toBe('parley-1.tar.gz');
    expect(await r.blob.text()).toBe('bytes');
  });

  it('without a session, fails at once and signs out', async () => {
    const { client, calls, onSignedOut } = setup(() => json(200, {}), false);
    await expect(client.json('/x')).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(0);
    expect(onSignedOut).toHaveBeenCalled();
  });
});

describe('errorFrom', () => {
  it('keeps code and message from a JSON body', async () => {
    const e = await errorFrom(json(409, { code: 'last_admin', message: 'the last admin keeps the role' }));
    expect(e).toMatchObject({ status: 409, code: 'last_admin', message: 'the last admin keeps the role' });
  });
  it('falls back to the text of a non-JSON body, or the status line', async () => {
    expect(await errorFrom(new Response('Bad Gateway from proxy', { status: 502 }))).toMatchObject({ code: 'http_502', message: 'Bad Gateway from proxy' });
    expect(await errorFrom(new Response(null, { status: 500, statusText: 'Internal Server Error' }))).toMatchObject({ code: 'http_500', message: '500 Internal Server Error' });
    expect(await errorFrom(new Response(null, { status: 404 }))).toMatchObject({ code: 'not_found' });
  });
});

describe('withQuery', () => {
  it('skips empty values and encodes the rest', () => {
    expect(withQuery('/p', { a: 'x y', b: '', c: undefined, d: null, e: 0, f: false })).toBe('/p?a=x+y&e=0&f=false');
    expect(withQuery('/p', {})).toBe('/p');
  });
});
