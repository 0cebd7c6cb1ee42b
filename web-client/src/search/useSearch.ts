import { useEffect, useRef, useState } from 'react';
import { errorText } from '../state/store';
import { idleState, Searcher, type FetchPage, type SearchState } from './searcher';

/**
 * Binds a Searcher to a query string. A new searcher (and a fresh search) starts when one of
 * `deps` changes (say, the result order); the old one is aborted.
 */
export function useSearch<H>(q: string, fetchPage: FetchPage<H>, key: (h: H) => string, deps: unknown[] = [], delay = 250) {
  const [state, setState] = useState<SearchState<H>>(idleState<H>);
  const ref = useRef<Searcher<H> | null>(null);
  const qRef = useRef(q);
  qRef.current = q;
  useEffect(() => {
    const s = new Searcher<H>(fetchPage, setState, { delay, key, errorText: searchErrorText });
    ref.current = s;
    if (qRef.current.trim()) s.setQuery(qRef.current, true);
    else setState(idleState<H>());
    return () => s.dispose();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    ref.current?.setQuery(q);
  }, [q]);
  return {
    state,
    more: () => ref.current?.more(),
    retry: () => ref.current?.retry(),
    now: () => ref.current?.setQuery(qRef.current, true),
  };
}

export function searchErrorText(e: unknown): string {
  const code = (e as { code?: string })?.code;
  if (code === 'invalid_input') return 'That search cannot be run. Try different words.';
  if (code === 'not_member') return 'You are not a member of this chat any more, so it cannot be searched.';
  return `Search failed: ${errorText(e)}`;
}
