// Line framing for the WebTransport stream (docs/protocol.md §2.0): each frame is one JSON object
// followed by `\n`, UTF-8 in both directions. Stream chunks split lines (and characters) anywhere.

const encoder = new TextEncoder();

/** One frame as the bytes of its line. JSON escapes newlines, so the text never holds a raw one. */
export function encodeLine(json: string): Uint8Array {
  return encoder.encode(json.endsWith('\n') ? json : json + '\n');
}

export class LineTooLongError extends Error {
  constructor(limit: number) {
    super(`a line exceeded ${limit} characters without a newline`);
  }
}

/**
 * Turns stream chunks into complete lines. A multi-byte UTF-8 character cut by a chunk boundary
 * is held back by the streaming TextDecoder until its remaining bytes arrive; a partial line is
 * held until its newline. Empty lines (and a trailing `\r`) are skipped.
 */
export class LineDecoder {
  private decoder = new TextDecoder('utf-8');
  private pending = '';

  /** `maxLine` bounds what a peer can make us buffer (characters). */
  constructor(private maxLine = 16 * 1024 * 1024) {}

  push(chunk: Uint8Array): string[] {
    this.pending += this.decoder.decode(chunk, { stream: true });
    return this.take();
  }

  /** The stream ended: whatever is left (an unterminated last line) is returned as a line. */
  end(): string[] {
    this.pending += this.decoder.decode();
    const out = this.take();
    const rest = this.pending.replace(/\r$/, '');
    this.pending = '';
    if (rest) out.push(rest);
    return out;
  }

  private take(): string[] {
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const nl = this.pending.indexOf('\n', start);
      if (nl < 0) break;
      let line = this.pending.slice(start, nl);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line) out.push(line);
      start = nl + 1;
    }
    this.pending = this.pending.slice(start);
    if (this.pending.length > this.maxLine) {
      this.pending = '';
      throw new LineTooLongError(this.maxLine);
    }
    return out;
  }
}
