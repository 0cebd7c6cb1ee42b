// One message in the list: a delivered one (menu, ticks, quote, media), one of mine still in the
// outbox, or a file still uploading; and the quote of a replied-to message.
import { Fragment } from 'react';
import type { PendingSend } from '../api/outbox';
import type { Message } from '../api/types';
import { formatBytes, mediaPreview } from '../api/media';
import { tickState, type ChatData } from '../state/logic';
import { app, type Upload } from '../state/store';
import { orgOf } from '../api/address';
import { MenuButton, OrgBadge, Ticks, useServerName, type MenuItem } from './common';
import { colorFor, timeOf } from './format';
import { IconBlocked, IconClose, IconDown, IconFile } from './icons';
import { MediaBlock } from './Media';

function linkify(text: string) {
  const parts = text.split(/(https?:\/\/[^\s<]+[^\s<.,;:!?)\]'"])/g);
  return parts.map((p, i) => (i % 2 === 1 ? <a key={i} href={p} target="_blank" rel="noopener noreferrer">{p}</a> : <Fragment key={i}>{p}</Fragment>));
}

export function Quote({ m, name, onJump }: { m: Message; name: (u: string) => string; onJump?: (seq: number) => void }) {
  const org = orgOf(m.sender, useServerName());
  return (
    <button type="button" className="quote" style={{ borderColor: colorFor(m.sender) }} aria-label={`Replying to ${name(m.sender)}${org ? ` (${org})` : ''}: ${m.deleted ? 'deleted message' : m.media ? mediaPreview(m.media, m.text) : m.text ?? ''}`}
      onClick={(e) => { e.stopPropagation(); onJump?.(m.seq); }}>
      <span className="quote-name" style={{ color: colorFor(m.sender) }}>{name(m.sender)}<OrgBadge id={m.sender} /></span>
      <span className="quote-text">{m.deleted ? 'This message was deleted' : m.media ? mediaPreview(m.media, m.text) : m.text}</span>
    </button>
  );
}

export function Bubble({ m, me, chat, first, name, quoted, highlight, onJump, onView, onReply, onEdit, onInfo, onDelete }: {
  m: Message; me: string; chat: ChatData; first: boolean; name: (u: string) => string; quoted?: Message; highlight: boolean;
  onJump: (seq: number) => void; onView: (m: Message) => void; onReply: (m: Message) => void; onEdit: (m: Message) => void; onInfo: (m: Message) => void; onDelete: (m: Message) => void;
}) {
  const mine = m.sender === me;
  const group = chat.summary.kind === 'group';
  const items: MenuItem[] = [];
  if (!m.deleted && !chat.removed) items.push({ label: 'Reply', onSelect: () => onReply(m) });
  if (!m.deleted && m.text) items.push({ label: 'Copy', onSelect: () => { navigator.clipboard?.writeText(m.text ?? '').then(() => app.toast('Message copied'), () => app.toast('Copying is not allowed here')); } });
  if (mine && !m.deleted) {
    items.push({ label: 'Message info', onSelect: () => onInfo(m) });
    if (!chat.removed) {
      if (m.kind === 'text') items.push({ label: 'Edit', onSelect: () => onEdit(m) });
      items.push({ label: 'Delete for everyone', onSelect: () => onDelete(m), danger: true });
    }
  }
  const tick = mine && !m.deleted ? tickState(chat.summary, m.seq) : null;
  const media = !m.deleted ? m.media : undefined;
  return (
    <li data-seq={m.seq} className={`msg-row ${mine ? 'out' : 'in'}${first ? ' first' : ''}${highlight ? ' highlight' : ''}`}>
      <div className={`bubble${m.deleted ? ' deleted' : ''}${media ? ` media-bubble media-${m.kind}` : ''}`} data-testid="bubble" data-tick={tick ?? undefined}
        data-kind={m.kind}
        onDoubleClick={() => !m.deleted && !chat.removed && onReply(m)}>
        {group && !mine && first && <div className="sender" style={{ color: colorFor(m.sender) }}>{name(m.sender)}<OrgBadge id={m.sender} /></div>}
        {quoted && <Quote m={quoted} name={name} onJump={onJump} />}
        {m.reply_to && !quoted && <div className="quote quote-missing">Reply to an earlier message</div>}
        {media && <MediaBlock media={media} caption={m.text} onOpen={() => onView(m)} />}
        {(!media || m.text) && (
          <span className="text">{m.deleted ? <em className="deleted-text"><IconBlocked /> {mine ? 'You deleted this message' : 'This message was deleted'}</em> : linkify(m.text ?? '')}</span>
        )}
        <span className="meta">
          {m.edited_at && !m.deleted && <span className="edited">Edited</span>}
          <time dateTime={new Date(m.created_at).toISOString()}>{timeOf(m.created_at)}</time>
          {tick && <Ticks state={tick} />}
        </span>
        {items.length > 0 && (
          <div className="bubble-menu">
            <MenuButton label="Message options" icon={<IconDown width={18} height={18} />} items={items} className="icon-btn small" align={mine ? 'right' : 'left'} />
          </div>
        )}
      </div>
    </li>
  );
}

export function PendingBubble({ p, first, quoted, name, onView }: { p: PendingSend; first: boolean; quoted?: Message; name: (u: string) => string; onView: () => void }) {
  const failed = p.status === 'failed';
  return (
    <li className={`msg-row out${first ? ' first' : ''}`} data-pending={p.client_id}>
      <div className={`bubble pending${p.media ? ` media-bubble media-${p.media.kind}` : ''}`} data-testid="bubble" data-tick={failed ? 'failed' : 'pending'}>
        {quoted && <Quote m={quoted} name={name} />}
        {p.media && <MediaBlock media={p.media} caption={p.text} onOpen={onView} />}
        {(!p.media || p.text) && <span className="text">{linkify(p.text)}</span>}
        <span className="meta">
          <time>{timeOf(p.created_at)}</time>
          <Ticks state={failed ? 'failed' : 'pending'} />
        </span>
      </div>
      {failed && (
        <div className="send-failed" role="alert">
          Not sent{p.error ? `: ${p.error}` : ''}.
          <button type="button" className="link-btn" onClick={() => app.retrySend(p.client_id)}>Retry</button>
          <button type="button" className="link-btn" onClick={() => app.discardSend(p.client_id)}>Delete</button>
        </div>
      )}
    </li>
  );
}

/** A file on its way up: local preview, progress bar and cancel (or the error with Retry). */
export function UploadBubble({ u, first, quoted, name }: { u: Upload; first: boolean; quoted?: Message; name: (x: string) => string }) {
  const failed = u.status === 'failed';
  const pct = u.size ? Math.min(100, Math.round((u.loaded / u.size) * 100)) : 0;
  return (
    <li className={`msg-row out${first ? ' first' : ''}`} data-upload={u.id}>
      <div className="bubble pending upload-bubble" data-testid="upload" data-status={u.status}>
        {quoted && <Quote m={quoted} name={name} />}
        <div className="upload-body">
          {u.local_url ? <img className="upload-preview" src={u.local_url} alt="" /> : <span className="file-icon" aria-hidden="true"><IconFile /></span>}
          <span className="file-main">
            <span className="file-name">{u.name}</span>
            <span className="file-meta">{failed ? formatBytes(u.size) : `${formatBytes(u.loaded)} of ${formatBytes(u.size)}`}</span>
            {!failed && (
              <span className="progress" role="progressbar" aria-label={`Uploading ${u.name}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
                <span style={{ width: `${pct}%` }} />
              </span>
            )}
          </span>
          {!failed && (
            <button type="button" className="icon-btn" aria-label={`Cancel upload of ${u.name}`} title="Cancel upload" onClick={() => app.cancelUpload(u.id)}><IconClose /></button>
          )}
        </div>
        {u.caption && <span className="text">{u.caption}</span>}
      </div>
      {failed && (
        <div className="send-failed" role="alert">
          Not sent: {u.error}
          <button type="button" className="link-btn" onClick={() => app.retryUpload(u.id)}>Retry</button>
          <button type="button" className="link-btn" onClick={() => app.cancelUpload(u.id)}>Delete</button>
        </div>
      )}
    </li>
  );
}
