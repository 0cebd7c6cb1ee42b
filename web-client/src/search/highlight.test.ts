import { describe, expect, it } from 'vitest';
import { highlightSegments, normaliseRanges } from './highlight';

const bytes = (s: string) => new TextEncoder().encode(s).length;
/** The byte range of the first occurrence of `word` in `text`. */
function rangeOf(text: string, word: string): [number, number] {
  const i = text.indexOf(word);
  const start = bytes(text.slice(0, i));
  return [start, start + bytes(word)];
}
const render = (segs: { text: string; mark: boolean }[]) => segs.map((s) => (s.mark ? `[${s.text}]` : s.text)).join('');

describe('highlightSegments', () => {
  it('marks ASCII ranges', () => {
    expect(highlightSegments('the pineapple pizza', [[14, 19]])).toEqual([
      { text: 'the pineapple ', mark: false },
      { text: 'pizza', mark: true },
    ]);
  });

  it('uses UTF-8 byte offsets: accents and emoji before the match', () => {
    const text = 'Café crème 😀 with the pineapple pizza';
    // The server's answer for "pizza" and "crème" (bytes, not UTF-16 units).
    expect(rangeOf(text, 'pizza')).toEqual([37, 42]);
    expect(render(highlightSegments(text, [[37, 42]]))).toBe('Café crème 😀 with the pineapple [pizza]');
    expect(render(highlightSegments(text, [[6, 12]]))).toBe('Café [crème] 😀 with the pineapple pizza');
  });

  it('marks accented words, emoji and CJK themselves', () => {
    const text = 'naïve 👩‍👩‍👧 señor 東京 ok';
    const ranges = [rangeOf(text, 'naïve'), rangeOf(text, '👩‍👩‍👧'), rangeOf(text, '東京')];
    expect(render(highlightSegments(text, ranges))).toBe('[naïve] [👩‍👩‍👧] señor [東京] ok');
  });

  it('several ranges, unsorted, overlapping and touching ones merged', () => {
    const text = 'abc déf ghi';
    const segs = highlightSegments(text, [[9, 12], [0, 2], [1, 3], [3, 4]]);
    expect(render(segs)).toBe('[abc ]déf [ghi]');
  });

  it('clamps out-of-range offsets and drops empty or inverted ranges', () => {
    expect(render(highlightSegments('hello', [[3, 99]]))).toBe('hel[lo]');
    expect(render(highlightSegments('hello', [[-5, 1]]))).toBe('[h]ello');
    expect(render(highlightSegments('hello', [[2, 2], [4, 1]]))).toBe('hello');
    expect(render(highlightSegments('hello', [[NaN, 3]]))).toBe('hello');
  });

  it('widens offsets that fall inside a character instead of breaking it', () => {
    const text = 'x😀y';
    // 😀 is bytes 1..5; cutting at 2 or 3 must not produce replacement characters.
    const segs = highlightSegments(text, [[2, 3]]);
    expect(render(segs)).toBe('x[😀]y');
    expect(segs.map((s) => s.text).join('')).toBe(text);
    expect(render(highlightSegments('é!', [[1, 2]]))).toBe('[é]!');
  });

  it('no ranges, null ranges and empty snippets', () => {
    expect(highlightSegments('plain', [])).toEqual([{ text: 'plain', mark: false }]);
    expect(highlightSegments('plain', null)).toEqual([{ text: 'plain', mark: false }]);
    expect(highlightSegments('', [[0, 3]])).toEqual([]);
  });

  it('keeps markup as text (rendered by React, never as HTML)', () => {
    const text = '<b>bold</b> & <script>';
    expect(render(highlightSegments(text, [rangeOf(text, 'bold')]))).toBe('<b>[bold]</b> & <script>');
  });
});

describe('normaliseRanges', () => {
  // 'a' is byte 0, 'é' bytes 1-2, '😀' bytes 3-6, 'b' byte 7.
  const b = new TextEncoder().encode('aé😀b');
  it('sorts and keeps disjoint ranges', () => {
    expect(normaliseRanges(b, [[7, 8], [0, 1]])).toEqual([[0, 1], [7, 8]]);
  });
  it('widens to character boundaries, then merges what touches', () => {
    expect(normaliseRanges(b, [[2, 4]])).toEqual([[1, 7]]);
    expect(normaliseRanges(b, [[7, 8], [2, 4]])).toEqual([[1, 8]]);
  });
});
