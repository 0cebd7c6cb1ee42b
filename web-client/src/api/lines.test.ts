import { describe, expect, it } from 'vitest';
import { LineDecoder, LineTooLongError, encodeLine } from './lines';

const enc = (s: string) => new TextEncoder().encode(s);

/** Splits `bytes` at the given offsets. */
function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const a of [...at, bytes.length]) {
    out.push(bytes.slice(prev, a));
    prev = a;
  }
  return out;
}

describe('encodeLine', () => {
  it('appends one newline, as UTF-8', () => {
    expect(new TextDecoder().decode(encodeLine('{"type":"ping"}'))).toBe('{"type":"ping"}\n');
    expect(encodeLine('{"t":"é"}')).toEqual(enc('{"t":"é"}\n'));
    expect(new TextDecoder().decode(encodeLine('{}\n'))).toBe('{}\n');
  });

  it('never puts a raw newline inside a frame (JSON escapes it)', () => {
    const line = new TextDecoder().decode(encodeLine(JSON.stringify({ text: 'two\nlines' })));
    expect(line.indexOf('\n')).toBe(line.length - 1);
  });
});

describe('LineDecoder', () => {
  it('returns each complete line of a chunk', () => {
    const d = new LineDecoder();
    expect(d.push(enc('{"a":1}\n{"b":2}\n'))).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('holds a partial line until its newline arrives', () => {
    const d = new LineDecoder();
    expect(d.push(enc('{"type":"re'))).toEqual([]);
    expect(d.push(enc('ady"}\n{"ty'))).toEqual(['{"type":"ready"}']);
    expect(d.push(enc('pe":"pong"}'))).toEqual([]);
    expect(d.push(enc('\n'))).toEqual(['{"type":"pong"}']);
  });

  it('gives the same lines for every way of cutting the stream', () => {
    const frames = [{ type: 'message', text: 'héllo wörld 😀 你好' }, { type: 'ack', client_id: 'x' }, { t: '\n\t"' }];
    const bytes = enc(frames.map((f) => JSON.stringify(f) + '\n').join(''));
    const want = frames.map((f) => JSON.stringify(f));
    // Every single cut and every pair of cuts, including inside multi-byte characters.
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j += 7) {
        const d = new LineDecoder();
        const got = cut(bytes, [i, j]).flatMap((c) => d.push(c));
        expect(got).toEqual(want);
        expect(d.end()).toEqual([]);
      }
    }
  });

  it('decodes multi-byte characters fed one byte at a time', () => {
    const text = JSON.stringify({ text: 'Crème brûlée 🍮 señora — ✓✓ 𝄞' });
    const bytes = enc(text + '\n');
    const d = new LineDecoder();
    const got: string[] = [];
    for (const b of bytes) got.push(...d.push(Uint8Array.of(b)));
    expect(got).toEqual([text]);
    expect(JSON.parse(got[0]).text).toBe('Crème brûlée 🍮 señora — ✓✓ 𝄞');
  });

  it('keeps a 4-byte emoji cut 1+3, 2+2 and 3+1 across chunks', () => {
    const e = enc('😀'); // F0 9F 98 80
    for (let k = 1; k < 4; k++) {
      const d = new LineDecoder();
      expect(d.push(Uint8Array.of(0x22, ...e.slice(0, k)))).toEqual([]);
      expect(d.push(Uint8Array.of(...e.slice(k), 0x22, 0x0a))).toEqual(['"😀"']);
    }
  });

  it('skips empty lines and a trailing carriage return', () => {
    const d = new LineDecoder();
    expect(d.push(enc('\n\n{"a":1}\r\n\n'))).toEqual(['{"a":1}']);
  });

  it('returns an unterminated last line at the end of the stream', () => {
    const d = new LineDecoder();
    expect(d.push(enc('{"a":1}\n{"b":'))).toEqual(['{"a":1}']);
    expect(d.push(enc('2}'))).toEqual([]);
    expect(d.end()).toEqual(['{"b":2}']);
  });

  it('refuses to buffer a line beyond its limit', () => {
    const d = new LineDecoder(10);
    expect(() => d.push(enc('x'.repeat(11)))).toThrow(LineTooLongError);
    // A complete long line within one chunk is fine as long as what is left is short.
    expect(new LineDecoder(10).push(enc('x'.repeat(20) + '\nab'))).toEqual(['x'.repeat(20)]);
  });
});
