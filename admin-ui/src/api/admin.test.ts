import { describe, expect, it } from 'vitest';
import { adminApi } from './admin';
import { ApiClient, ApiError, SESSION_KEY, type KeyValueStore } from './client';

/** An admin API over a fake fetch that records each request and answers with `reply`. */
function setup(reply: (path: string, method: string) => Response) {
  const m = new Map<string, string>([[SESSION_KEY, JSON.stringify({ access_token: 'a0', refresh_token: 'r0', user: {} })]]);
  const store: KeyValueStore = { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
  const calls: { path: string; method: string; body?: unknown }[] = [];
  const fetchFn = async (input: RequestInfo | URL, init?: RequestInit) => {
    const call = { path: String(input), method: init?.method ?? 'GET', body: init?.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(call);
    return reply(call.path, call.method);
  };
  let forbidden = 0;
  const client = new ApiClient({ fetch: fetchFn as typeof fetch, storage: store, onForbidden: () => { forbidden++; } });
  return { api: adminApi(client), calls, forbidden: () => forbidden };
}

const json = (status: number, body?: unknown) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('federation routes', () => {
  it('send what docs/admin-api.md describes', async () => {
    const { api, calls } = setup((_, method) => (method === 'DELETE' ? json(204) : json(method === 'POST' ? 201 : 200, {})));
    await api.federation();
    await api.createFederationInvite(48);
    await api.addPeer('parley-fed:abc');
    await api.revokePeer('b.example.org', 'pw');
    expect(calls).toEqual([
      { path: '/api/admin/federation', method: 'GET', body: undefined },
      { path: '/api/admin/federation/invites', method: 'POST', body: { ttl_hours: 48 } },
      { path: '/api/admin/federation/peers', method: 'POST', body: { invite: 'parley-fed:abc' } },
      { path: '/api/admin/federation/peers/b.example.org', method: 'DELETE', body: { password: 'pw' } },
    ]);
  });

  it('pass the server errors through; a wrong password is not a lost admin role', async () => {
    const { api, forbidden } = setup((path) => path.endsWith('/peers')
      ? json(502, { code: 'federation_error', message: 'cannot reach a.example.org:8448' })
      : json(403, { code: 'reauth_required', message: 'wrong password' }));
    await expect(api.addPeer('parley-fed:x')).rejects.toMatchObject({ status: 502, code: 'federation_error', message: 'cannot reach a.example.org:8448' });
    const err = await api.revokePeer('b', 'nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 403, code: 'reauth_required' });
    expect(forbidden()).toBe(0);
  });
});
