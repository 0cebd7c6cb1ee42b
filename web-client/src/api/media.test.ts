import { describe, expect, it } from 'vitest';
import {
  fileLabel, fitSize, formatBytes, mediaErrorText, mediaPreview, mediaView, uploadMedia, uploadUrl, type XhrLike,
} from './media';
import { ApiError, MemoryTokenStore, RestClient } from './rest';
import type { Media } from './types';

/** A scriptable XMLHttpRequest: the test drives progress, the response, errors. */
class FakeXhr implements XhrLike {
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown = null;
  aborted = false;
  status = 0;
  responseText = '';
  responseHeaders: Record<string, string> = {};
  upload: XhrLike['upload'] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  open(method: string, url: string) { this.method = method; this.url = url; }
  setRequestHeader(n: string, v: string) { this.headers[n] = v; }
  send(body: unknown) { this.body = body; }
  abort() { this.aborted = true; this.onabort?.(); }
  getResponseHeader(n: string) { return this.responseHeaders[n] ?? null; }
  progress(loaded: number, total: number) { this.upload.onprogress?.({ loaded, total, lengthComputable: true }); }
  respond(status: number, body: unknown, headers: Record<string, string> = {}) {
    this.status = status;
    this.responseText = typeof body === 'string' ? body : JSON.stringify(body);
    this.responseHeaders = headers;
    this.onload?.();
  }
  fail() { this.onerror?.(); }
}

const media: Media = { media_id: 'm1', kind: 'image', mime: 'image/png', size: 10, name: 'a b.png', width: 4, height: 3, preview: 'LEHV6nWB2yk8', thumbnail: true };
const blob = (n = 10) => new Blob([new Uint8Array(n)]);

function start(opts: Partial<Parameters<typeof uploadMedia>[0]> = {}) {
  const xhrs: FakeXhr[] = [];
  const progress: [number, number][] = [];
  const p = uploadMedia({
    body: blob(), name: 'a b.png', token: 'tok', xhr: () => { const x = new FakeXhr(); xhrs.push(x); return x; },
    onProgress: (e) => progress.push([e.loaded, e.total]), ...opts,
  });
  return { p, xhr: () => xhrs[xhrs.length - 1], xhrs, progress };
}

describe('uploadMedia', () => {
  it('POSTs the raw bytes with the bearer token and the encoded name, reports progress, resolves with the Media', async () => {
    const t = start();
    const x = t.xhr();
    expect(x.method).toBe('POST');
    expect(x.url).toBe('/api/media?name=a%20b.png');
    expect(x.headers.Authorization).toBe('Bearer tok');
    expect(x.body).toBeInstanceOf(Blob);
    x.progress(3, 10);
    x.progress(7, 10);
    x.respond(201, media);
    await expect(t.p).resolves.toEqual(media);
    expect(t.progress).toEqual([[3, 10], [7, 10], [10, 10]]);
  });

  it('encodes awkward file names', () => {
    expect(uploadUrl('../é&x=1#?.txt')).toBe('/api/media?name=..%2F%C3%A9%26x%3D1%23%3F.txt');
  });

  it('cancels: aborts the request and rejects with code aborted, no progress after', async () => {
    const ctrl = new AbortController();
    const t = start({ signal: ctrl.signal });
    t.xhr().progress(2, 10);
    ctrl.abort();
    await expect(t.p).rejects.toMatchObject({ code: 'aborted', status: 0 });
    expect(t.xhr().aborted).toBe(true);
    t.xhr().progress(5, 10);
    expect(t.progress).toEqual([[2, 10]]);
    expect(mediaErrorText(await t.p.catch((e) => e))).toBe('Upload cancelled.');
  });

  it('does not start when already cancelled', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const t = start({ signal: ctrl.signal });
    await expect(t.p).rejects.toMatchObject({ code: 'aborted' });
    expect(t.xhrs).toHaveLength(0);
  });

  it.each([
    [413, { code: 'payload_too_large', message: 'upload exceeds 100 MiB' }, 'payload_too_large', 'This file is too large to send.'],
    [413, '<html>too big</html>', 'payload_too_large', 'This file is too large to send.'],
    [413, { code: 'quota_exceeded', message: 'quota' }, 'quota_exceeded', 'Your storage space on this server is full. Delete some media or ask your administrator for more space.'],
    [422, { code: 'invalid_media', message: 'cannot decode' }, 'invalid_media', 'This image is damaged or too large to open, so it cannot be sent.'],
    [400, { code: 'invalid_input', message: 'name too long' }, 'invalid_input', 'The file was refused: name too long.'],
    [500, '', 'http_500', 'Server error (500).'],
  ])('maps HTTP %i %j to %s', async (status, body, code, text) => {
    const t = start();
    t.xhr().respond(status, body);
    const e = await t.p.catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status, code });
    expect(mediaErrorText(e)).toBe(text);
  });

  it('maps a dropped connection to a network error', async () => {
    const t = start();
    t.xhr().fail();
    const e = await t.p.catch((x) => x);
    expect(e).toMatchObject({ status: 0, code: 'network' });
    expect(mediaErrorText(e)).toMatch(/Cannot reach the server/);
  });

  it('passes Retry-After of a 429', async () => {
    const t = start();
    t.xhr().respond(429, { code: 'rate_limited', message: 'slow' }, { 'Retry-After': '7' });
    const e = await t.p.catch((x) => x);
    expect(e.retryAfter).toBe(7);
    expect(mediaErrorText(e)).toBe('Too many uploads. Try again in 7 seconds.');
  });
});

describe('RestClient.upload', () => {
  it('refreshes an expired token and uploads again', async () => {
    const xhrs: FakeXhr[] = [];
    const store = new MemoryTokenStore({ access_token: 'old', refresh_token: 'r1', expires_at: 10_000_000, session_id: 's', user_id: 'ana@x' });
    let refreshed = 0;
    const fetchFn = (async () => {
      const body = { access_token: 'new', expires_in: 900, refresh_token: 'r2', session_id: 's', user: { user_id: 'ana@x' } };
      return new Response(JSON.stringify(body), { status: 200 });
    }) as unknown as typeof fetch;
    const api = new RestClient({ store, fetch: fetchFn, now: () => 0, onRefreshed: () => refreshed++, xhr: () => { const x = new FakeXhr(); xhrs.push(x); return x; } });
    const p = api.upload(blob(), 'x.png');
    await Promise.resolve();
    await Promise.resolve();
    expect(xhrs[0].headers.Authorization).toBe('Bearer old');
    xhrs[0].respond(401, { code: 'unauthenticated', message: 'expired' });
    await new Promise((r) => setTimeout(r, 0));
    expect(xhrs[1].headers.Authorization).toBe('Bearer new');
    xhrs[1].respond(201, media);
    await expect(p).resolves.toEqual(media);
    expect(refreshed).toBe(1);
  });
});

describe('mediaView', () => {
  const m = (kind: Media['kind'], mime: string): Media => ({ ...media, kind, mime });
  const yes = () => true;
  const no = () => false;
  it('shows images as thumbnails', () => {
    expect(mediaView(m('image', 'image/jpeg'), no)).toBe('image');
  });
  it('plays audio and video the browser can play, else a file card', () => {
    expect(mediaView(m('video', 'video/mp4'), yes)).toBe('video');
    expect(mediaView(m('video', 'video/x-matroska'), no)).toBe('file');
    expect(mediaView(m('audio', 'audio/ogg'), yes)).toBe('audio');
    expect(mediaView(m('audio', 'audio/amr'), no)).toBe('file');
  });
  it('asks the browser with the mime type', () => {
    const asked: string[] = [];
    mediaView(m('audio', 'audio/mpeg'), (t) => { asked.push(t); return true; });
    expect(asked).toEqual(['audio/mpeg']);
  });
  it('shows files, and anything inconsistent, as file cards', () => {
    expect(mediaView(m('file', 'application/pdf'), yes)).toBe('file');
    expect(mediaView(m('image', 'application/octet-stream'), yes)).toBe('file');
  });
});

describe('media helpers', () => {
  it('fits images into the bubble keeping the aspect ratio', () => {
    expect(fitSize(1000, 500)).toEqual({ width: 330, height: 165 });
    expect(fitSize(500, 1000)).toEqual({ width: 165, height: 330 });
    expect(fitSize(100, 50)).toEqual({ width: 100, height: 80 });
    expect(fitSize(4000, 10)).toEqual({ width: 330, height: 80 });
    expect(fitSize(undefined, undefined)).toEqual({ width: 330, height: 248 });
  });
  it('formats sizes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(25 * 1024)).toBe('25 KB');
    expect(formatBytes(100 * 1024 * 1024)).toBe('100 MB');
  });
  it('labels files by extension, else by mime', () => {
    expect(fileLabel('report.pdf', 'application/pdf')).toBe('PDF');
    expect(fileLabel('notes', 'text/plain')).toBe('PLAIN');
    expect(fileLabel('blob', 'application/octet-stream')).toBe('FILE');
  });
  it('previews media messages in one line', () => {
    expect(mediaPreview(media, '')).toBe('📷 Photo');
    expect(mediaPreview(media, 'At the beach')).toBe('📷 At the beach');
    expect(mediaPreview({ ...media, kind: 'file', name: 'a.pdf' }, null)).toBe('📄 a.pdf');
    expect(mediaPreview({ ...media, kind: 'audio' }, '')).toBe('🎵 Audio');
    expect(mediaPreview({ ...media, kind: 'video' }, '')).toBe('🎥 Video');
  });
});
