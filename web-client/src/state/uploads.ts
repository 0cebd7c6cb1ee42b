// Files on their way up: each is uploaded (with progress, cancel and retry) and then handed to
// the outbox as a media message. Also the image uploads behind profile and group pictures.
import { mediaErrorText } from '../api/media';
import { newClientId, type Outbox } from '../api/outbox';
import { ApiError, type RestClient } from '../api/rest';
import type { StoreHost, Upload } from './appState';

export class Uploads {
  private files = new Map<string, { file: Blob; ctrl: AbortController | null }>();

  /**
   * `outbox` is where an uploaded file's message is queued (null when signed out); `flush` sends
   * what it holds.
   */
  constructor(
    private host: StoreHost,
    private outbox: () => Outbox | null,
    private flush: () => void,
  ) {}

  /** Uploads files and sends each as a message once uploaded; the caption goes with the first. */
  send(chatId: string, files: File[], caption = '', replyTo?: number) {
    if (!this.outbox()) return;
    const now = Date.now();
    const added: Upload[] = files.map((file, i) => {
      const id = newClientId(now + i);
      this.files.set(id, { file, ctrl: null });
      return {
        id, chat_id: chatId, name: file.name || 'file', size: file.size, type: file.type, caption: i === 0 ? caption.trim() : '',
        reply_to: i === 0 ? replyTo : undefined, loaded: 0, status: 'uploading', created_at: now + i,
        local_url: file.type.startsWith('image/') && typeof URL.createObjectURL === 'function' ? URL.createObjectURL(file) : undefined,
      };
    });
    this.host.set((s) => ({ uploads: [...s.uploads, ...added] }));
    for (const u of added) this.start(u.id);
  }

  private patch(id: string, patch: Partial<Upload>) {
    this.host.set((s) => ({ uploads: s.uploads.map((u) => (u.id === id ? { ...u, ...patch } : u)) }));
  }

  private drop(id: string) {
    const u = this.host.state.uploads.find((x) => x.id === id);
    if (u?.local_url) URL.revokeObjectURL(u.local_url);
    this.files.delete(id);
    this.host.set((s) => ({ uploads: s.uploads.filter((x) => x.id !== id) }));
  }

  /** Starts (or restarts) the upload of a file added with send(). */
  start(id: string) {
    const f = this.files.get(id);
    const u = this.host.state.uploads.find((x) => x.id === id);
    if (!f || !u) return;
    const ctrl = new AbortController();
    f.ctrl = ctrl;
    this.patch(id, { status: 'uploading', loaded: 0, error: undefined, error_code: undefined });
    let shown = 0;
    this.host.api
      .upload(f.file, u.name, (p) => {
        // Re-render at most every 1 % of progress.
        if (p.loaded - shown >= p.total / 100 || p.loaded === p.total) {
          shown = p.loaded;
          this.patch(id, { loaded: p.loaded });
        }
      }, ctrl.signal)
      .then(
        (media) => {
          const cur = this.host.state.uploads.find((x) => x.id === id);
          const outbox = this.outbox();
          if (!cur || !outbox) return;
          outbox.add({ client_id: id, chat_id: cur.chat_id, text: cur.caption, reply_to: cur.reply_to, media, created_at: cur.created_at });
          this.drop(id);
          this.flush();
        },
        (e) => {
          if (ctrl.signal.aborted) return;
          this.patch(id, { status: 'failed', error: mediaErrorText(e), error_code: e instanceof ApiError ? e.code : undefined });
        },
      );
  }

  /** The connection is back: uploads that failed for want of a network go again. */
  retryNetworkFailures() {
    for (const u of this.host.state.uploads) if (u.status === 'failed' && u.error_code === 'network') this.start(u.id);
  }

  /** Cancels an upload (or forgets a failed one): no message is sent. */
  cancel(id: string) {
    this.files.get(id)?.ctrl?.abort();
    this.drop(id);
  }

  /** Signing out: stops every upload and frees the local previews. */
  abortAll() {
    for (const [, u] of this.files) u.ctrl?.abort();
    this.files.clear();
    for (const u of this.host.state.uploads) if (u.local_url) URL.revokeObjectURL(u.local_url);
  }
}

/** Uploads an image for a profile or group picture; refuses files the server cannot show. */
export async function uploadImage(api: RestClient, file: Blob, name: string, onProgress?: (fraction: number) => void, signal?: AbortSignal) {
  if (file.type && !file.type.startsWith('image/')) throw new ApiError(400, 'not_an_image', 'Pick an image (JPEG, PNG, GIF or WebP).');
  const media = await api.upload(file, name, (p) => onProgress?.(p.total ? p.loaded / p.total : 0), signal);
  if (media.kind !== 'image') throw new ApiError(400, 'not_an_image', 'That file is not an image this server can show. Pick a JPEG, PNG, GIF or WebP.');
  return media;
}
