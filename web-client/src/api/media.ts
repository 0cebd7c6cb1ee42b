// Media: uploads with progress and cancel (XMLHttpRequest, raw bytes, not multipart), media URLs
// (authorised for <img>/<video> by the cookie of POST /api/media/cookie), error texts, and the
// choice of how a media message is shown.
import { ApiError } from './rest';
import type { Media } from './types';

export interface UploadProgress {
  loaded: number;
  total: number;
}

/** The part of XMLHttpRequest an upload uses (tests pass a fake). */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob | ArrayBuffer | null): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  getResponseHeader(name: string): string | null;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  ontimeout: (() => void) | null;
}

export interface UploadOptions {
  body: Blob;
  /** The file name the server sanitises and keeps (shown on file cards, downloads). */
  name: string;
  token: string;
  baseUrl?: string;
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
  xhr?: () => XhrLike;
}

export function uploadUrl(name: string, baseUrl = '') {
  return `${baseUrl}/api/media?name=${encodeURIComponent(name)}`;
}

const aborted = () => new ApiError(0, 'aborted', 'The upload was cancelled.');

/** POST /api/media with the raw bytes; resolves with the Media, rejects with an ApiError. */
export function uploadMedia(o: UploadOptions): Promise<Media> {
  return new Promise<Media>((resolve, reject) => {
    if (o.signal?.aborted) return reject(aborted());
    const xhr = o.xhr ? o.xhr() : (new XMLHttpRequest() as unknown as XhrLike);
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      o.signal?.removeEventListener('abort', onAbort);
      f();
    };
    const onAbort = () => {
      xhr.abort();
      finish(() => reject(aborted()));
    };
    o.signal?.addEventListener('abort', onAbort);
    xhr.open('POST', uploadUrl(o.name, o.baseUrl));
    xhr.setRequestHeader('Authorization', `Bearer ${o.token}`);
    // The server detects the type from the bytes; this only describes the body.
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    const total = o.body.size;
    xhr.upload.onprogress = (e) => {
      if (!done) o.onProgress?.({ loaded: e.loaded, total: e.lengthComputable && e.total ? e.total : total });
    };
    xhr.onload = () =>
      finish(() => {
        let json: unknown;
        try {
          json = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
        } catch {
          json = undefined;
        }
        if (xhr.status >= 200 && xhr.status < 300 && json && typeof json === 'object') {
          o.onProgress?.({ loaded: total, total });
          resolve(json as Media);
          return;
        }
        reject(uploadError(xhr.status, json, xhr.getResponseHeader('Retry-After')));
      });
    xhr.onerror = () => finish(() => reject(new ApiError(0, 'network', 'Cannot reach the server. Check your connection.')));
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => finish(() => reject(aborted()));
    xhr.send(o.body);
  });
}

/** An ApiError from an upload's status and JSON body (falls back on the status alone). */
export function uploadError(status: number, json: unknown, retryAfter?: string | null): ApiError {
  const b = (json ?? {}) as { code?: string; message?: string };
  const code = b.code ?? (status === 413 ? 'payload_too_large' : status === 422 ? 'invalid_media' : `http_${status}`);
  return new ApiError(status, code, b.message ?? `Server error (${status})`, retryAfter ? Number(retryAfter) : undefined);
}

/** What to tell the user when an upload (or sending media) fails. */
export function mediaErrorText(e: unknown): string {
  if (!(e instanceof ApiError)) return 'The upload failed.';
  switch (e.code) {
    case 'aborted': return 'Upload cancelled.';
    case 'network': return 'Cannot reach the server. Check your connection and try again.';
    case 'payload_too_large': return 'This file is too large to send.';
    case 'quota_exceeded': return 'Your storage space on this server is full. Delete some media or ask your administrator for more space.';
    case 'invalid_media': return 'This image is damaged or too large to open, so it cannot be sent.';
    case 'rate_limited': return `Too many uploads. Try again in ${e.retryAfter ?? 60} seconds.`;
    case 'invalid_input': return e.message ? `The file was refused: ${e.message}.` : 'The file was refused.';
    default: {
      if (!e.message) return 'The upload failed.';
      const m = e.message.charAt(0).toUpperCase() + e.message.slice(1);
      return /[.!?]$/.test(m) ? m : `${m}.`;
    }
  }
}

export const mediaUrl = (id: string) => `/api/media/${encodeURIComponent(id)}`;
export const thumbnailUrl = (id: string) => `/api/media/${encodeURIComponent(id)}/thumbnail`;

export type MediaView = 'image' | 'video' | 'audio' | 'file';

/**
 * How a media message is shown: an image thumbnail, a player for audio/video the browser can
 * play, else a file card.
 */
export function mediaView(m: Media, canPlay: (mime: string) => boolean): MediaView {
  if (m.kind === 'image' && m.mime.startsWith('image/')) return 'image';
  if (m.kind === 'video' && canPlay(m.mime)) return 'video';
  if (m.kind === 'audio' && canPlay(m.mime)) return 'audio';
  return 'file';
}

/** Whether this browser can play a media type (`canPlayType`), cached. */
const playable = new Map<string, boolean>();
export function browserCanPlay(mime: string): boolean {
  if (typeof document === 'undefined') return false;
  let v = playable.get(mime);
  if (v === undefined) {
    const el = document.createElement(mime.startsWith('audio/') ? 'audio' : 'video');
    v = el.canPlayType(mime) !== '';
    playable.set(mime, v);
  }
  return v;
}

/** Display size of an image in a bubble: fits max×max, at least min on the short side. */
export function fitSize(width: number | undefined, height: number | undefined, max = 330, min = 80): { width: number; height: number } {
  if (!width || !height) return { width: max, height: Math.round(max * 0.75) };
  const scale = Math.min(1, max / width, max / height);
  let w = Math.max(1, Math.round(width * scale));
  let h = Math.max(1, Math.round(height * scale));
  // Very thin images: keep them tappable (the image is cropped with object-fit: cover).
  if (w < min) w = Math.min(max, min);
  if (h < min) h = Math.min(max, min);
  return { width: w, height: h };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A short label for file cards: the extension (PDF, ZIP...) or the mime's subtype. */
export function fileLabel(name: string, mime: string): string {
  const ext = /\.([A-Za-z0-9]{1,5})$/.exec(name)?.[1];
  if (ext) return ext.toUpperCase();
  const sub = mime.split('/')[1]?.split(/[;+.-]/)[0];
  return sub && sub !== 'octet' ? sub.slice(0, 5).toUpperCase() : 'FILE';
}

/** One-line preview of a media message (chat list, quotes, notifications). */
export function mediaPreview(m: Media, caption: string | null | undefined): string {
  const c = caption?.trim();
  switch (m.kind) {
    case 'image': return `📷 ${c || 'Photo'}`;
    case 'video': return `🎥 ${c || 'Video'}`;
    case 'audio': return `🎵 ${c || 'Audio'}`;
    default: return `📄 ${c || m.name}`;
  }
}
