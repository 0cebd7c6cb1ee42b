// A debounced, cancellable, paged search: the state logic behind every search box. Typing
// restarts the debounce; a new query aborts the request in flight and drops its late answer.

export interface Page<H> {
  hits: H[];
  total: number;
}

export type FetchPage<H> = (q: string, offset: number, signal: AbortSignal) => Promise<Page<H>>;

export interface SearchState<H> {
  /** The trimmed query the hits belong to (or are being fetched for). */
  q: string;
  status: 'idle' | 'loading' | 'done' | 'error';
  hits: H[];
  total: number;
  error: string | null;
  /** A "more results" page is being fetched. */
  loadingMore: boolean;
  moreError: string | null;
}

export function idleState<H>(): SearchState<H> {
  return { q: '', status: 'idle', hits: [], total: 0, error: null, loadingMore: false, moreError: null };
}

/** More hits exist than are shown. */
export function hasMore<H>(s: SearchState<H>): boolean {
  return s.status === 'done' && s.hits.length < s.total;
}

/** Appends a page, dropping hits already held (an index commit can shift offsets). */
export function appendPage<H>(held: H[], page: H[], key: (h: H) => string): H[] {
  const seen = new Set(held.map(key));
  return held.concat(page.filter((h) => !seen.has(key(h))));
}

function isAbort(e: unknown): boolean {
  return (e as { code?: string; name?: string })?.code === 'aborted' || (e as { name?: string })?.name === 'AbortError';
}

export class Searcher<H> {
  state: SearchState<H> = idleState<H>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ctrl: AbortController | null = null;
  private gen = 0;
  private disposed = false;

  constructor(
    private fetchPage: FetchPage<H>,
    private onChange: (s: SearchState<H>) => void,
    private opts: { delay?: number; key: (h: H) => string; errorText: (e: unknown) => string },
  ) {}

  private set(p: Partial<SearchState<H>>) {
    if (this.disposed) return;
    this.state = { ...this.state, ...p };
    this.onChange(this.state);
  }

  private cancel() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ctrl?.abort();
    this.ctrl = null;
    this.gen++;
  }

  /** The query changed (every keystroke): searches after the debounce delay. */
  setQuery(raw: string, immediate = false) {
    const q = raw.trim();
    if (q === this.state.q && !immediate && this.state.status !== 'error') return;
    this.cancel();
    if (!q) return this.set(idleState<H>());
    this.set({ q, status: 'loading', error: null, moreError: null, loadingMore: false });
    const gen = this.gen;
    const run = () => {
      this.timer = null;
      this.load(q, 0, gen);
    };
    if (immediate) run();
    else this.timer = setTimeout(run, this.opts.delay ?? 250);
  }

  /** Runs the current query again now (after an error, or when the filter changed). */
  retry() {
    this.setQuery(this.state.q, true);
  }

  /** Fetches the next page. */
  more() {
    const s = this.state;
    if (!hasMore(s) || s.loadingMore) return;
    this.ctrl = new AbortController();
    this.set({ loadingMore: true, moreError: null });
    this.load(s.q, s.hits.length, this.gen);
  }

  private async load(q: string, offset: number, gen: number) {
    const ctrl = offset === 0 || !this.ctrl ? new AbortController() : this.ctrl;
    this.ctrl = ctrl;
    try {
      const page = await this.fetchPage(q, offset, ctrl.signal);
      if (gen !== this.gen) return;
      if (offset === 0) this.set({ status: 'done', hits: page.hits, total: page.total, error: null });
      else {
        const hits = appendPage(this.state.hits, page.hits, this.opts.key);
        // A page that adds nothing ends paging (the index moved under us).
        const total = page.hits.length === 0 || hits.length === this.state.hits.length ? hits.length : Math.max(page.total, hits.length);
        this.set({ hits, total, loadingMore: false });
      }
    } catch (e) {
      if (gen !== this.gen || isAbort(e)) return;
      if (offset === 0) this.set({ status: 'error', error: this.opts.errorText(e), hits: [], total: 0 });
      else this.set({ loadingMore: false, moreError: this.opts.errorText(e) });
    } finally {
      if (this.ctrl === ctrl) this.ctrl = null;
    }
  }

  dispose() {
    this.cancel();
    this.disposed = true;
  }
}

/**
 * Worth sending: at least one word of letters or digits shorter than 64 UTF-8 bytes (the index
 * drops longer tokens; punctuation or emoji alone find nothing, and the server answers 400).
 */
export function searchable(q: string): boolean {
  const enc = new TextEncoder();
  return q.split(/[^\p{L}\p{N}]+/u).some((w) => w.length > 0 && enc.encode(w).length < 64);
}

/** "1 result", "20 results", "1,234 results". */
export function resultCount(n: number): string {
  return `${n.toLocaleString('en-US')} result${n === 1 ? '' : 's'}`;
}
