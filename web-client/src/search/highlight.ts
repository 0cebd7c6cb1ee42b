// Search snippets: the server marks matches as UTF-8 byte ranges [start, end) into the snippet.
// They are cut out of the encoded bytes (never through HTML) and rendered as <mark> by the UI.

export interface Segment {
  text: string;
  mark: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** A continuation byte (10xxxxxx) is never the start of a character. */
function isContinuation(b: number | undefined): boolean {
  return b !== undefined && (b & 0xc0) === 0x80;
}

/**
 * Normalises byte ranges: sorted, clamped to the text, empty ones dropped, overlapping or
 * touching ones merged, and widened to whole characters when an offset falls inside one.
 */
export function normaliseRanges(bytes: Uint8Array, ranges: readonly (readonly [number, number])[]): [number, number][] {
  const n = bytes.length;
  const out: [number, number][] = [];
  const clean = ranges
    .filter((r) => Array.isArray(r) && Number.isFinite(r[0]) && Number.isFinite(r[1]))
    .map(([a, b]) => {
      let s = Math.max(0, Math.min(n, Math.floor(a)));
      let e = Math.max(0, Math.min(n, Math.floor(b)));
      while (s > 0 && isContinuation(bytes[s])) s--;
      while (e < n && isContinuation(bytes[e])) e++;
      return [s, e] as [number, number];
    })
    .filter(([s, e]) => e > s)
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (const r of clean) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** Splits `snippet` into plain and marked segments along UTF-8 byte ranges. */
export function highlightSegments(snippet: string, ranges: readonly (readonly [number, number])[] | null | undefined): Segment[] {
  const bytes = encoder.encode(snippet);
  const norm = normaliseRanges(bytes, ranges ?? []);
  const out: Segment[] = [];
  let at = 0;
  const push = (from: number, to: number, mark: boolean) => {
    if (to > from) out.push({ text: decoder.decode(bytes.subarray(from, to)), mark });
  };
  for (const [s, e] of norm) {
    push(at, s, false);
    push(s, e, true);
    at = e;
  }
  push(at, bytes.length, false);
  return out;
}
