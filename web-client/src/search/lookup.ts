// The exact user lookup (`GET /api/users/lookup`) that complements the directory search: what to
// ask for a typed query, when an address (`name@domain`) is looked up by itself, and what to say
// when nobody is found or another organization's appliance cannot answer.
import { parseAddress, type Address } from '../api/address';
import { ApiError } from '../api/rest';
import { errorText } from '../state/errors';

export type LookupBy = 'username' | 'email' | 'phone';

const PHONE = /^\+?[\d\s()-]{6,}$/;

export function isPhoneLike(q: string): boolean {
  return PHONE.test(q.trim());
}

/**
 * The lookup parameter for a query: a phone number as digits; anything else (a username, a
 * user ID, an address at another organization, an email) as `username`, which the server
 * resolves: its own domain means a local user, a peer's domain asks that appliance, any other
 * domain means an email address. Null for a blank query.
 */
export function lookupParams(q: string): { by: LookupBy; value: string } | null {
  const v = q.trim();
  if (!v) return null;
  if (isPhoneLike(v)) return { by: 'phone', value: v.replace(/[\s()-]/g, '') };
  const addr = parseAddress(v);
  return { by: 'username', value: addr ? addr.id : v.toLowerCase() };
}

/** What the directory search has for the current query (a SearchState, narrowed). */
export interface DirectoryResult {
  q: string;
  status: 'idle' | 'loading' | 'done' | 'error';
  hits: { user_id: string }[];
}

/**
 * The address to look up by itself for `q`: when `q` is an address the directory search (which
 * holds only this appliance's users) has finished without finding, and no listed contact has it.
 */
export function addressToLookUp(q: string, dir: DirectoryResult, known: Iterable<string> = []): Address | null {
  const addr = parseAddress(q);
  if (!addr) return null;
  if (dir.q !== q.trim() || (dir.status !== 'done' && dir.status !== 'error')) return null;
  if (dir.hits.some((p) => p.user_id === addr.id)) return null;
  for (const id of known) if (id === addr.id) return null;
  return addr;
}

/**
 * The inline text for a failed lookup of `q`, or null when nothing should be said (a plain
 * username nobody has: the directory results already say so). For an address, not found says
 * so, and for another domain that it must be an organization connected to this one; a closed
 * directory (403) and an unreachable appliance (502 `federation_error`) show the server's words.
 */
export function lookupErrorText(e: unknown, q: string, local: string | null): string | null {
  const addr = parseAddress(q);
  if (e instanceof ApiError && e.code === 'not_found') {
    if (!addr) return null;
    const other = local !== null && addr.server !== local;
    return `No one found with the address ${addr.id}.${other ? ' Check the address; people at another organization can be found only when it is connected to yours.' : ''}`;
  }
  const text = errorText(e);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
