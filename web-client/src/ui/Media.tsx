// Media in the conversation: image thumbnails with a BlurHash placeholder and a full-size
// viewer, audio/video players, file cards, the attach preview dialog and upload bubbles.
import { decode } from 'blurhash';
import { useEffect, useMemo, useRef, useState } from 'react';
import { browserCanPlay, fileLabel, fitSize, formatBytes, mediaUrl, mediaView, thumbnailUrl } from '../api/media';
import type { Media } from '../api/types';
import { app, errorText, useApp } from '../state/store';
import { Avatar } from './common';
import { IconCamera, IconClose, IconDownload, IconFile, IconSend } from './icons';

/** A BlurHash drawn on a tiny canvas, stretched by CSS to fill its box. */
export function BlurHash({ hash, className }: { hash: string; className?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    try {
      const pixels = decode(hash, 32, 32);
      const ctx = c.getContext('2d');
      if (!ctx) return;
      const img = ctx.createImageData(32, 32);
      img.data.set(pixels);
      ctx.putImageData(img, 0, 0);
    } catch {
      /* an invalid hash: keep the plain background */
    }
  }, [hash]);
  return <canvas ref={ref} width={32} height={32} className={className ?? 'blurhash'} aria-hidden="true" />;
}

/** A picture in a bubble: the thumbnail over its BlurHash; click opens the viewer. */
export function ImageThumb({ media, onOpen, caption }: { media: Media; onOpen: () => void; caption?: string | null }) {
  const ready = useApp((s) => s.mediaReady);
  const [loaded, setLoaded] = useState(false);
  const [failed, setFailed] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const size = fitSize(media.width, media.height);
  const src = media.thumbnail ? thumbnailUrl(media.media_id) : mediaUrl(media.media_id);
  return (
    <button type="button" className="media-thumb" style={{ width: size.width, height: size.height }}
      aria-label={`Open photo${caption ? `: ${caption}` : ''}`} title="Open photo" onClick={onOpen} data-testid="media-image">
      {media.preview && !loaded && <BlurHash hash={media.preview} />}
      {ready && !failed && (
        <img key={attempt} src={src} alt={caption || media.name} width={size.width} height={size.height} loading="lazy" decoding="async"
          className={loaded ? 'loaded' : ''} onLoad={() => setLoaded(true)}
          onError={() => {
            // Once: the media cookie may have expired (a sleeping laptop); renew it and reload.
            if (attempt === 0) app.renewMediaCookie().then(() => setAttempt(1));
            else setFailed(true);
          }} />
      )}
      {failed && <span className="media-failed">Photo not available</span>}
    </button>
  );
}

/** A file card: type label, name, size and a download link. */
export function FileCard({ media }: { media: Media }) {
  const ready = useApp((s) => s.mediaReady);
  return (
    <div className="file-card" data-testid="file-card">
      <span className="file-icon" aria-hidden="true"><IconFile /><span className="file-ext">{fileLabel(media.name, media.mime)}</span></span>
      <span className="file-main">
        <span className="file-name" title={media.name}>{media.name}</span>
        <span className="file-meta">{formatBytes(media.size)} · {fileLabel(media.name, media.mime)}</span>
      </span>
      {ready ? (
        <a className="icon-btn file-download" href={mediaUrl(media.media_id)} download={media.name} aria-label={`Download ${media.name}`} title="Download">
          <IconDownload />
        </a>
      ) : (
        <span className="icon-btn file-download" aria-hidden="true"><IconDownload /></span>
      )}
    </div>
  );
}

/** The media part of a message bubble, chosen by kind and what this browser can play. */
export function MediaBlock({ media, caption, onOpen }: { media: Media; caption?: string | null; onOpen: () => void }) {
  const ready = useApp((s) => s.mediaReady);
  const view = mediaView(media, browserCanPlay);
  if (view === 'image') return <ImageThumb media={media} caption={caption} onOpen={onOpen} />;
  if (view === 'video') {
    const size = fitSize(media.width, media.height, 330, 120);
    return ready ? (
      <video className="media-video" controls preload="metadata" src={mediaUrl(media.media_id)} style={{ width: size.width, height: size.height }}
        aria-label={`Video ${media.name}`} data-testid="media-video" />
    ) : <div className="media-video" style={{ width: size.width, height: size.height }} />;
  }
  if (view === 'audio') {
    return (
      <div className="media-audio" data-testid="media-audio">
        {ready && <audio controls preload="metadata" src={mediaUrl(media.media_id)} aria-label={`Audio ${media.name}`} />}
        <span className="file-meta">{media.name} · {formatBytes(media.size)}</span>
      </div>
    );
  }
  return <FileCard media={media} />;
}

/** The full-size image viewer (modal; Escape or the close button closes it). */
export function MediaViewer({ media, title, subtitle, onClose }: { media: Media; title: string; subtitle?: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} className="viewer" aria-label="Photo viewer" onCancel={(e) => { e.preventDefault(); onClose(); }}
      onClick={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <header className="viewer-bar">
        <span className="viewer-title">
          <strong>{title}</strong>
          {subtitle && <span className="muted small">{subtitle}</span>}
        </span>
        <a className="icon-btn" href={mediaUrl(media.media_id)} download={media.name} aria-label={`Download ${media.name}`} title="Download"><IconDownload /></a>
        <button type="button" className="icon-btn" aria-label="Close viewer" title="Close" onClick={onClose}><IconClose /></button>
      </header>
      <div className="viewer-stage" onClick={(e) => { if (e.target === e.currentTarget) onClose(); }}>
        {!loaded && media.thumbnail && <img className="viewer-placeholder" src={thumbnailUrl(media.media_id)} alt="" aria-hidden="true" />}
        <img className={`viewer-img${loaded ? ' loaded' : ''}`} src={mediaUrl(media.media_id)} alt={media.name} data-testid="viewer-image"
          onLoad={() => setLoaded(true)} />
      </div>
    </dialog>
  );
}

/** The attach step: the chosen files (image previews, file cards), a caption, Send. */
export function AttachDialog({ files, onSend, onCancel }: { files: File[]; onSend: (caption: string) => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [caption, setCaption] = useState('');
  const urls = useMemo(() => files.map((f) => (f.type.startsWith('image/') ? URL.createObjectURL(f) : null)), [files]);
  useEffect(() => () => urls.forEach((u) => u && URL.revokeObjectURL(u)), [urls]);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const total = files.reduce((a, f) => a + f.size, 0);
  return (
    <dialog ref={ref} className="dialog attach-dialog" aria-label="Send files" onCancel={(e) => { e.preventDefault(); onCancel(); }}>
      <h2>{files.length === 1 ? 'Send file' : `Send ${files.length} files`}</h2>
      <ul className="attach-list plain-list" aria-label="Files to send">
        {files.map((f, i) => (
          <li key={i} className="attach-item">
            {urls[i] ? <img src={urls[i]!} alt={f.name} /> : <span className="file-icon" aria-hidden="true"><IconFile /><span className="file-ext">{fileLabel(f.name, f.type)}</span></span>}
            <span className="file-main">
              <span className="file-name">{f.name || 'file'}</span>
              <span className="file-meta">{formatBytes(f.size)}</span>
            </span>
          </li>
        ))}
      </ul>
      <form className="attach-caption" onSubmit={(e) => { e.preventDefault(); onSend(caption); }}>
        <input aria-label="Add a caption" placeholder="Add a caption…" autoFocus value={caption} maxLength={4000} onChange={(e) => setCaption(e.target.value)} />
        <button type="submit" className="icon-btn send-btn" aria-label="Send files" title="Send"><IconSend /></button>
      </form>
      {files.length > 1 && <p className="hint">{formatBytes(total)} in total. The caption goes with the first file.</p>}
      <div className="dialog-actions">
        <button type="button" className="btn-text" onClick={onCancel}>Cancel</button>
      </div>
    </dialog>
  );
}

/**
 * A big avatar with "Add photo" / "Change photo" / "Remove photo" (profile, group info). The
 * upload shows its progress and can be cancelled.
 */
export function AvatarEditor({ id, name, media, group, editable, what, onSet, onRemove }: {
  id: string; name: string; media?: string | null; group?: boolean; editable: boolean; what: string;
  onSet: (file: File, onProgress: (f: number) => void, signal: AbortSignal) => Promise<void>;
  onRemove: () => Promise<void>;
}) {
  const input = useRef<HTMLInputElement>(null);
  const ctrl = useRef<AbortController | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => () => ctrl.current?.abort(), []);
  const pick = async (file: File) => {
    const c = new AbortController();
    ctrl.current = c;
    setError(null);
    setProgress(0);
    try {
      await onSet(file, setProgress, c.signal);
    } catch (e) {
      if (!c.signal.aborted) setError(errorText(e));
    } finally {
      if (ctrl.current === c) {
        ctrl.current = null;
        setProgress(null);
      }
    }
  };
  return (
    <div className="avatar-editor">
      <div className="avatar-wrap">
        <Avatar id={id} name={name} size={160} group={group} media={media} />
        {progress !== null && (
          <div className="avatar-uploading">
            <span className="progress" role="progressbar" aria-label={`Uploading ${what}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(progress * 100)}>
              <span style={{ width: `${Math.round(progress * 100)}%` }} />
            </span>
            <button type="button" className="btn-small" onClick={() => { ctrl.current?.abort(); ctrl.current = null; setProgress(null); }}>Cancel</button>
          </div>
        )}
      </div>
      {editable && progress === null && (
        <div className="avatar-actions">
          <button type="button" className="btn-small" onClick={() => input.current?.click()}>
            <IconCamera width={16} height={16} /> {media ? `Change ${what}` : `Add ${what}`}
          </button>
          {media && (
            <button type="button" className="btn-small danger"
              onClick={() => { setError(null); onRemove().catch((e) => setError(errorText(e))); }}>Remove {what}</button>
          )}
        </div>
      )}
      <input ref={input} type="file" accept="image/*" hidden aria-label={`Choose ${what}`} data-testid="avatar-input"
        onChange={(e) => {
          const f = e.target.files?.[0];
          e.target.value = '';
          if (f) void pick(f);
        }} />
      {error && <p className="form-error" role="alert">{error}</p>}
    </div>
  );
}
