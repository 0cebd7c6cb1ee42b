import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { appendPage, hasMore, resultCount, searchable, Searcher, type Page, type SearchState } from './searcher';

interface Call {
  q: string;
  offset: number;
  signal: AbortSignal;
  resolve: (p: Page<string>) => void;
  reject: (e: unknown) => void;
}

function setup(delay = 250) {
  const calls: Call[] = [];
  const states: SearchState<string>[] = [];
  const fetchPage = (q: string, offset: number, signal: AbortSignal) =>
    new Promise<Page<string>>((resolve, reject) => {
      calls.push({ q, offset, signal, resolve, reject });
      signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { code: 'aborted' })));
    });
  const s = new Searcher<string>(fetchPage, (st) => states.push(st), {
    delay,
    key: (h) => h,
    errorText: (e) => `failed: ${(e as Error).message}`,
  });
  return { s, calls, states };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('Searcher', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
  afterEach(() => vi.useRealTimers());

  it('debounces typing: one request for the last query', async () => {
    const { s, calls } = setup();
    s.setQuery('p');
    vi.advanceTimersByTime(100);
    s.setQuery('pi');
    vi.advanceTimersByTime(100);
    s.setQuery('piz ');
    expect(s.state.status).toBe('loading');
    expect(calls).toHaveLength(0);
    vi.advanceTimersByTime(249);
    expect(calls).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(calls.map((c) => [c.q, c.offset])).toEqual([['piz', 0]]);
    calls[0].resolve({ hits: ['a', 'b'], total: 2 });
    vi.useRealTimers();
    await flush();
    expect(s.state).toMatchObject({ q: 'piz', status: 'done', hits: ['a', 'b'], total: 2 });
  });

  it('a new query aborts the request in flight and ignores its late answer', async () => {
    const { s, calls } = setup();
    s.setQuery('one', true);
    s.setQuery('two', true);
    expect(calls[0].signal.aborted).toBe(true);
    // The second answers first; then the stale first one resolves anyway.
    calls[1].resolve({ hits: ['2'], total: 1 });
    calls[0].resolve({ hits: ['1'], total: 1 });
    vi.useRealTimers();
    await flush();
    expect(s.state).toMatchObject({ q: 'two', status: 'done', hits: ['2'] });
  });

  it('a blank query goes idle at once and cancels everything', async () => {
    const { s, calls } = setup();
    s.setQuery('x', true);
    s.setQuery('   ');
    expect(calls[0].signal.aborted).toBe(true);
    expect(s.state).toMatchObject({ q: '', status: 'idle', hits: [] });
    vi.advanceTimersByTime(1000);
    expect(calls).toHaveLength(1);
  });

  it('the same query again (trailing space) does not search again', () => {
    const { s, calls } = setup();
    s.setQuery('word', true);
    s.setQuery('word ');
    vi.advanceTimersByTime(1000);
    expect(calls).toHaveLength(1);
  });

  it('errors are shown and a retry runs the query again', async () => {
    const { s, calls } = setup();
    s.setQuery('bad', true);
    calls[0].reject(new Error('boom'));
    vi.useRealTimers();
    await flush();
    expect(s.state).toMatchObject({ status: 'error', error: 'failed: boom', hits: [] });
    s.retry();
    expect(calls).toHaveLength(2);
    calls[1].resolve({ hits: [], total: 0 });
    await flush();
    expect(s.state).toMatchObject({ status: 'done', error: null, total: 0 });
  });

  it('pages with more(): offsets follow the hits held, duplicates dropped', async () => {
    const { s, calls } = setup();
    s.setQuery('w', true);
    calls[0].resolve({ hits: ['a', 'b'], total: 5 });
    vi.useRealTimers();
    await flush();
    expect(hasMore(s.state)).toBe(true);
    s.more();
    s.more(); // ignored while one is loading
    expect(calls.map((c) => c.offset)).toEqual([0, 2]);
    expect(s.state.loadingMore).toBe(true);
    calls[1].resolve({ hits: ['b', 'c', 'd'], total: 5 });
    await flush();
    expect(s.state).toMatchObject({ hits: ['a', 'b', 'c', 'd'], total: 5, loadingMore: false });
    s.more();
    calls[2].resolve({ hits: [], total: 5 });
    await flush();
    // An empty page ends paging instead of offering "more" forever.
    expect(s.state.total).toBe(4);
    expect(hasMore(s.state)).toBe(false);
  });

  it('a failed page keeps the hits and reports the error', async () => {
    const { s, calls } = setup();
    s.setQuery('w', true);
    calls[0].resolve({ hits: ['a'], total: 3 });
    vi.useRealTimers();
    await flush();
    s.more();
    calls[1].reject(new Error('offline'));
    await flush();
    expect(s.state).toMatchObject({ hits: ['a'], total: 3, loadingMore: false, moreError: 'failed: offline', status: 'done' });
  });

  it('a query typed while a page loads aborts the page', async () => {
    const { s, calls } = setup();
    s.setQuery('w', true);
    calls[0].resolve({ hits: ['a'], total: 3 });
    vi.useRealTimers();
    await flush();
    s.more();
    s.setQuery('v', true);
    expect(calls[1].signal.aborted).toBe(true);
    calls[2].resolve({ hits: ['z'], total: 1 });
    await flush();
    expect(s.state).toMatchObject({ q: 'v', hits: ['z'], loadingMore: false });
  });

  it('nothing is reported after dispose', async () => {
    const { s, calls, states } = setup();
    s.setQuery('w', true);
    const n = states.length;
    s.dispose();
    expect(calls[0].signal.aborted).toBe(true);
    vi.useRealTimers();
    await flush();
    expect(states).toHaveLength(n);
  });
});

describe('helpers', () => {
  it('appendPage keeps order and drops duplicates', () => {
    expect(appendPage(['a', 'b'], ['b', 'c'], (x) => x)).toEqual(['a', 'b', 'c']);
  });
  it('searchable needs a letter or digit in any script', () => {
    expect(searchable('pizza')).toBe(true);
    expect(searchable('"unclosed')).toBe(true);
    expect(searchable('東京')).toBe(true);
    expect(searchable('42')).toBe(true);
    expect(searchable('*')).toBe(false);
    expect(searchable('"')).toBe(false);
    expect(searchable('😀 !!')).toBe(false);
    expect(searchable('   ')).toBe(false);
    // Tokens of 64 bytes or more are not indexed.
    expect(searchable('x'.repeat(63))).toBe(true);
    expect(searchable('x'.repeat(64))).toBe(false);
    expect(searchable('é'.repeat(32))).toBe(false);
    expect(searchable(`${'x'.repeat(100)} hello`)).toBe(true);
  });
  it('resultCount', () => {
    expect(resultCount(1)).toBe('1 result');
    expect(resultCount(0)).toBe('0 results');
    expect(resultCount(1234)).toBe('1,234 results');
  });
});
