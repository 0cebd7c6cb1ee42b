import { useCallback, useEffect, useRef, useState } from 'react';
import type { Profile } from '../api/types';
import { app } from '../state/store';
import { lookupErrorText, lookupParams } from './lookup';

export interface LookupState {
  /** The trimmed query the answer belongs to (or is being fetched for). */
  q: string;
  status: 'idle' | 'loading' | 'done' | 'error';
  found: Profile | null;
  /** What to show inline when nobody was found or the lookup failed (null: say nothing). */
  error: string | null;
}

const idle: LookupState = { q: '', status: 'idle', found: null, error: null };

/**
 * The exact lookup of `q` (see lookup.ts): `run()` asks now (the Find button), and with `auto`
 * it runs by itself once for the query (an address the directory did not find). Only the
 * answer for the current query is returned; a late answer to an earlier one is dropped.
 */
export function useLookup(q: string, auto: boolean) {
  const [state, setState] = useState<LookupState>(idle);
  const gen = useRef(0);
  const run = useCallback(async (query: string) => {
    const params = lookupParams(query);
    const id = ++gen.current;
    if (!params) return setState(idle);
    const key = query.trim();
    setState({ q: key, status: 'loading', found: null, error: null });
    try {
      const p = await app.api.lookup(params.by, params.value);
      if (id === gen.current) setState({ q: key, status: 'done', found: p, error: null });
    } catch (e) {
      if (id === gen.current) setState({ q: key, status: 'error', found: null, error: lookupErrorText(e, key, app.state.serverName) });
    }
  }, []);
  const key = q.trim();
  const asked = state.q === key;
  useEffect(() => {
    if (auto && !asked) void run(key);
  }, [auto, asked, key, run]);
  return { state: asked ? state : idle, run };
}
