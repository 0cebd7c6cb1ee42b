import { Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { PendingSend } from '../api/outbox';
import type { Message, Profile } from '../api/types';
import { formatBytes, mediaPreview } from '../api/media';
import { isUserMessage, tickState, typingUsers, visiblePending, type ChatData } from '../state/logic';
import { app, errorText, useApp, type Upload } from '../state/store';
import { Avatar, Confirm, MenuButton, Ticks, type MenuItem } from './common';
import { chatAvatar, colorFor, dateTime, dayLabel, displayName, lastSeen, sameDay, systemText, timeOf } from './format';
import { IconAttach, IconBack, IconBlocked, IconClose, IconDown, IconFile, IconMenu, IconSearch, IconSend } from './icons';
import { AttachDialog, MediaBlock, MediaViewer } from './Media';
import { ContactInfo, GroupInfo, MessageInfoPanel } from './InfoPanels';
import { ChatSearchPanel } from './Search';

const drafts = new Map<string, string>();

type Side = { kind: 'info' } | { kind: 'message'; seq: number } | { kind: 'search' } | null;

export function Conversation({ chatId }: { chatId: string }) {
  const chat = useApp((s) => s.chats[chatId]);
  const me = useApp((s) => s.me)!.user_id;
  const profiles = useApp((s) => s.profiles);
  const presence = useApp((s) => s.presence);
  const outbox = useApp((s) => s.outbox);
  const allUploads = useApp((s) => s.uploads);
  const [side, setSide] = useState<Side>(null);
  const [attach, setAttach] = useState<File[] | null>(null);
  const [dragging, setDragging] = useState(false);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<Message | null>(null);
  const [, setTick] = useState(0);

  useEffect(() => {
    setSide(null);
    setReplyTo(null);
    setEditing(null);
  }, [chatId]);
  // Escape closes the side panel (info), like WhatsApp Web.
  useEffect(() => {
    if (!side) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !document.querySelector('dialog[open], [role=menu]')) setSide(null);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [side]);
  // Typing indicators and "last seen" age without frames: re-render every few seconds.
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), 3000);
    return () => clearInterval(t);
  }, []);

  if (!chat) {
    return (
      <main className="conversation empty-conv" aria-label="Conversation">
        <p>Loading chat…</p>
      </main>
    );
  }
  const s = chat.summary;
  const name = (u: string) => displayName(u, profiles, me);
  const typing = typingUsers(chat, Date.now()).filter((u) => u !== me);
  let subtitle = '';
  if (s.kind === 'direct') {
    const p = s.peer ? presence[s.peer] : undefined;
    if (typing.length) subtitle = 'typing…';
    else if (p?.online) subtitle = 'online';
    else if (p?.last_seen) subtitle = lastSeen(p.last_seen);
  } else if (typing.length === 1) subtitle = `${name(typing[0])} is typing…`;
  else if (typing.length > 1) subtitle = `${typing.slice(0, -1).map(name).join(', ')} and ${name(typing[typing.length - 1])} are typing…`;
  else subtitle = s.members.map((m) => m.user_id).sort((a, b) => (a === me ? 1 : b === me ? -1 : name(a).localeCompare(name(b)))).map(name).join(', ');

  const pending = visiblePending(outbox, chat, me);
  const uploads = allUploads.filter((u) => u.chat_id === chatId);
  const canSend = !chat.removed;
  const hasFiles = (e: React.DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
  const headerMenu: MenuItem[] = [
    { label: s.kind === 'group' ? 'Group info' : 'Contact info', onSelect: () => setSide({ kind: 'info' }) },
    { label: 'Search messages', onSelect: () => setSide({ kind: 'search' }) },
    { label: 'Close chat', onSelect: () => app.navigate(null) },
  ];

  return (
    <div className={`conv-wrap${side ? ' with-side' : ''}`}>
      <main className={`conversation${dragging ? ' dragging' : ''}`} aria-label={`Conversation with ${s.name}`}
        onDragOver={(e) => {
          if (!canSend || !hasFiles(e)) return;
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
          if (!dragging) setDragging(true);
        }}
        onDragLeave={(e) => {
          if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
        }}
        onDrop={(e) => {
          if (!canSend || !hasFiles(e)) return;
          e.preventDefault();
          setDragging(false);
          const files = Array.from(e.dataTransfer.files);
          if (files.length) setAttach(files);
        }}>
        {dragging && <div className="drop-overlay" aria-hidden="true"><span>Drop files here to send them</span></div>}
        <header className="pane-header conv-header">
          <button type="button" className="icon-btn back-btn" aria-label="Back to chats" title="Back to chats" onClick={() => app.navigate(null)}><IconBack /></button>
          <button type="button" className="conv-title" aria-label={s.kind === 'group' ? 'Group info' : 'Contact info'} onClick={() => setSide({ kind: 'info' })}>
            <Avatar id={s.peer ?? s.chat_id} name={s.name} size={40} group={s.kind === 'group'} media={chatAvatar(s, profiles)} />
            <span className="row-main">
              <span className="row-title" data-testid="conv-name">{s.name}</span>
              <span className={`row-sub${typing.length ? ' typing' : ''}`} data-testid="conv-status" aria-live="polite">{subtitle}</span>
            </span>
          </button>
          <div className="header-actions">
            <button type="button" className={`icon-btn${side?.kind === 'search' ? ' on' : ''}`} aria-label="Search messages" title="Search messages"
              aria-pressed={side?.kind === 'search'} onClick={() => setSide(side?.kind === 'search' ? null : { kind: 'search' })}>
              <IconSearch />
            </button>
            <MenuButton label="Chat menu" icon={<IconMenu />} items={headerMenu} />
          </div>
        </header>
        <MessageList chat={chat} me={me} profiles={profiles} pending={pending} uploads={uploads}
          onReply={(m) => { setEditing(null); setReplyTo(m); }}
          onEdit={(m) => { setReplyTo(null); setEditing(m); }}
          onInfo={(m) => setSide({ kind: 'message', seq: m.seq })} />
        {chat.removed ? (
          <footer className="composer composer-removed" role="note">
            You can't send messages to this group because you're no longer a participant.
          </footer>
        ) : (
          <Composer key={chatId} chat={chat} me={me} profiles={profiles} replyTo={replyTo} editing={editing}
            onCancelReply={() => setReplyTo(null)} onCancelEdit={() => setEditing(null)} onFiles={setAttach} />
        )}
        {attach && (
          <AttachDialog files={attach} onCancel={() => setAttach(null)}
            onSend={(caption) => {
              app.sendFiles(chatId, attach, caption, replyTo?.seq);
              setAttach(null);
              setReplyTo(null);
            }} />
        )}
      </main>
      {side && (
        <aside className="side-panel" aria-label={side.kind === 'info' ? (s.kind === 'group' ? 'Group info' : 'Contact info') : side.kind === 'search' ? 'Search in chat' : 'Message info'}>
          {side.kind === 'search' ? (
            <ChatSearchPanel chat={chat} onClose={() => setSide(null)} />
          ) : side.kind === 'info' ? (
            s.kind === 'group' ? <GroupInfo chat={chat} onClose={() => setSide(null)} /> : <ContactInfo chat={chat} onClose={() => setSide(null)} />
          ) : (
            <MessageInfoPanel chat={chat} seq={side.seq} onClose={() => setSide(null)} />
          )}
        </aside>
      )}
    </div>
  );
}

function linkify(text: string) {
  const parts = text.split(/(https?:\/\/[^\s<]+[^\s<.,;:!?)\]'"])/g);
  return parts.map((p, i) => (i % 2 === 1 ? <a key={i} href={p} target="_blank" rel="noopener noreferrer">{p}</a> : <Fragment key={i}>{p}</Fragment>));
}

function MessageList({ chat, me, profiles, pending, uploads, onReply, onEdit, onInfo }: {
  chat: ChatData; me: string; profiles: Record<string, Profile>; pending: PendingSend[]; uploads: Upload[];
  onReply: (m: Message) => void; onEdit: (m: Message) => void; onInfo: (m: Message) => void;
}) {
  const s = chat.summary;
  const ref = useRef<HTMLDivElement>(null);
  const [atBottom, setAtBottom] = useState(true);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [deleting, setDeleting] = useState<Message | null>(null);
  const [viewing, setViewing] = useState<{ media: NonNullable<Message['media']>; sender: string; at: number } | null>(null);
  const [highlight, setHighlight] = useState<number | null>(null);
  const flashTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const jump = useApp((st) => st.jumpTo);
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const name = (u: string) => displayName(u, profiles, me);
  // Where the unread divider goes: fixed when the chat is opened.
  const [unreadAtOpen] = useState(() => (s.unread > 0 ? { from: s.my_read_seq, count: s.unread } : null));
  const unreadFrom = unreadAtOpen?.from ?? null;
  const [visible, setVisible] = useState(() => document.visibilityState === 'visible');
  useEffect(() => {
    const on = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', on);
    return () => document.removeEventListener('visibilitychange', on);
  }, []);

  const messages = chat.messages;
  const lastSeq = messages.length ? messages[messages.length - 1].seq : 0;
  const firstSeq = messages.length ? messages[0].seq : 0;

  // Read receipts: everything is read while the newest messages are on screen.
  useEffect(() => {
    if (atBottom && visible && chat.loaded) app.markRead(s.chat_id);
  }, [atBottom, visible, chat.loaded, chat.maxSeq, s.unread, s.chat_id]);

  // Stick to the bottom when new messages arrive (or I send), keep position when older load.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (anchor.current) {
      el.scrollTop = anchor.current.top + (el.scrollHeight - anchor.current.height);
      anchor.current = null;
      return;
    }
    if (atBottom) el.scrollTop = el.scrollHeight;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [lastSeq, firstSeq, pending.length, uploads.length, chat.loaded]);

  useLayoutEffect(() => {
    // First open: show the unread divider, else the newest message.
    const el = ref.current;
    if (!el || !chat.loaded) return;
    const div = el.querySelector('.unread-divider');
    if (div) (div as HTMLElement).scrollIntoView({ block: 'center' });
    else el.scrollTop = el.scrollHeight;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [chat.loaded]);

  const loadOlder = useCallback(async () => {
    const el = ref.current;
    if (!el || loadingOlder || chat.nextBefore == null || !chat.loaded) return;
    setLoadingOlder(true);
    anchor.current = { height: el.scrollHeight, top: el.scrollTop };
    try {
      await app.loadOlder(s.chat_id);
    } catch (e) {
      anchor.current = null;
      app.toast(errorText(e));
    } finally {
      setLoadingOlder(false);
    }
  }, [loadingOlder, chat.nextBefore, chat.loaded, s.chat_id]);

  // A short first page that does not fill the screen: keep loading.
  useEffect(() => {
    const el = ref.current;
    if (el && chat.loaded && chat.nextBefore != null && el.scrollHeight <= el.clientHeight + 10) loadOlder();
  }, [chat.loaded, chat.nextBefore, loadOlder]);

  const onScroll = () => {
    const el = ref.current!;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    if (bottom !== atBottom) setAtBottom(bottom);
    if (el.scrollTop < 300) loadOlder();
  };

  const flash = (seq: number, ms: number) => {
    setHighlight(seq);
    if (flashTimer.current) clearTimeout(flashTimer.current);
    flashTimer.current = setTimeout(() => setHighlight(null), ms);
  };
  useEffect(() => () => { if (flashTimer.current) clearTimeout(flashTimer.current); }, []);

  const jumpTo = (seq: number) => {
    const el = ref.current?.querySelector(`[data-seq="${seq}"]`);
    if (el) {
      el.scrollIntoView({ block: 'center', behavior: 'smooth' });
      flash(seq, 1600);
    } else app.showMessage(s.chat_id, seq); // further back: load the history down to it
  };

  // A jump requested from search (or a quote further back): once the message is rendered,
  // centre it and flash it; if it cannot be loaded, say so.
  useLayoutEffect(() => {
    if (!jump || jump.chatId !== s.chat_id || !chat.loaded) return;
    const el = ref.current?.querySelector<HTMLElement>(`[data-seq="${jump.seq}"]`);
    if (el) {
      el.scrollIntoView({ block: 'center' });
      anchor.current = null;
      const box = ref.current!;
      setAtBottom(box.scrollHeight - box.scrollTop - box.clientHeight < 60);
      flash(jump.seq, 2500);
      app.clearJump(jump.id);
    } else if (jump.ready) {
      app.clearJump(jump.id);
      app.toast('That message is no longer available.');
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [jump, chat.loaded, messages]);

  const bySeq = useMemo(() => new Map(messages.map((m) => [m.seq, m])), [messages]);
  const items: React.ReactNode[] = [];
  let prev: { at: number; sender: string; kind: Message['kind'] } | null = null;
  let dividerDone = false;
  const dayItem = (at: number) => (
    <li key={`day-${at}`} className="day-sep" role="separator"><span>{dayLabel(at)}</span></li>
  );
  for (const m of messages) {
    if (!prev || !sameDay(prev.at, m.created_at)) items.push(dayItem(m.created_at));
    if (!dividerDone && unreadFrom !== null && m.seq > unreadFrom && m.sender !== me && isUserMessage(m.kind)) {
      dividerDone = true;
      items.push(<li key="unread" className="unread-divider" role="separator"><span>{`${unreadAtOpen!.count} unread message${unreadAtOpen!.count === 1 ? '' : 's'}`}</span></li>);
    }
    const first = !prev || prev.sender !== m.sender || !isUserMessage(prev.kind) || !sameDay(prev.at, m.created_at);
    if (m.kind === 'system') {
      items.push(<li key={m.seq} data-seq={m.seq} className="system-msg"><span>{systemText(m.event, (u) => displayName(u, profiles, me, 'You'))}</span></li>);
    } else {
      items.push(
        <Bubble key={m.seq} m={m} me={me} chat={chat} first={first} name={name} quoted={m.reply_to ? bySeq.get(m.reply_to) : undefined}
          highlight={highlight === m.seq} onJump={jumpTo}
          onView={(x) => x.media && setViewing({ media: x.media, sender: x.sender === me ? 'You' : name(x.sender), at: x.created_at })}
          onReply={onReply} onEdit={onEdit} onInfo={onInfo} onDelete={setDeleting} />,
      );
    }
    prev = { at: m.created_at, sender: m.sender, kind: m.kind };
  }
  // My unacknowledged sends and the uploads before them, in the order they were made.
  type Mine = { p: PendingSend; u?: undefined } | { u: Upload; p?: undefined };
  const mine: Mine[] = [...pending.map((p): Mine => ({ p })), ...uploads.map((u): Mine => ({ u }))];
  mine.sort((a, b) => (a.p ? a.p.created_at : a.u!.created_at) - (b.p ? b.p.created_at : b.u!.created_at));
  for (const x of mine) {
    const at = x.p ? x.p.created_at : x.u.created_at;
    if (!prev || !sameDay(prev.at, at)) items.push(dayItem(at));
    const first = !prev || prev.sender !== me || !isUserMessage(prev.kind);
    if (x.p) {
      const p = x.p;
      items.push(<PendingBubble key={p.client_id} p={p} first={first} quoted={p.reply_to ? bySeq.get(p.reply_to) : undefined} name={name}
        onView={() => p.media && setViewing({ media: p.media, sender: 'You', at: p.created_at })} />);
    } else {
      items.push(<UploadBubble key={x.u.id} u={x.u} first={first} quoted={x.u.reply_to ? bySeq.get(x.u.reply_to) : undefined} name={name} />);
    }
    prev = { at, sender: me, kind: 'text' };
  }

  return (
    <div className="messages-wrap">
      <div className="messages" ref={ref} onScroll={onScroll} tabIndex={0} role="log" aria-label="Messages" aria-live="polite">
        {loadingOlder && <div className="loading-older" role="status"><span className="spinner" aria-hidden="true" /> Loading older messages…</div>}
        {chat.loaded && chat.nextBefore == null && (
          <div className="chat-start"><span>Messages are stored on your Parley server.</span></div>
        )}
        {!chat.loaded && messages.length === 0 && <div className="loading-older" role="status">Loading messages…</div>}
        <ul className="plain-list msg-list">{items}</ul>
      </div>
      {!atBottom && (
        <button type="button" className="jump-latest" aria-label={s.unread > 0 ? `Jump to latest messages, ${s.unread} unread` : 'Jump to latest messages'}
          onClick={() => { const el = ref.current!; el.scrollTo({ top: el.scrollHeight }); setAtBottom(true); }}>
          {s.unread > 0 && <span className="badge">{s.unread}</span>}
          <IconDown />
        </button>
      )}
      {viewing && (
        <MediaViewer media={viewing.media} title={viewing.sender} subtitle={dateTime(viewing.at)} onClose={() => setViewing(null)} />
      )}
      {deleting && (
        <Confirm title="Delete message?" body="This message will be deleted for everyone in this chat." confirm="Delete for everyone" danger
          onCancel={() => setDeleting(null)}
          onConfirm={async () => {
            await app.remove(s.chat_id, deleting.seq);
            setDeleting(null);
          }} />
      )}
    </div>
  );
}

function Quote({ m, name, onJump }: { m: Message; name: (u: string) => string; onJump?: (seq: number) => void }) {
  return (
    <button type="button" className="quote" style={{ borderColor: colorFor(m.sender) }} aria-label={`Replying to ${name(m.sender)}: ${m.deleted ? 'deleted message' : m.media ? mediaPreview(m.media, m.text) : m.text ?? ''}`}
      onClick={(e) => { e.stopPropagation(); onJump?.(m.seq); }}>
      <span className="quote-name" style={{ color: colorFor(m.sender) }}>{name(m.sender)}</span>
      <span className="quote-text">{m.deleted ? 'This message was deleted' : m.media ? mediaPreview(m.media, m.text) : m.text}</span>
    </button>
  );
}

function Bubble({ m, me, chat, first, name, quoted, highlight, onJump, onView, onReply, onEdit, onInfo, onDelete }: {
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
        {group && !mine && first && <div className="sender" style={{ color: colorFor(m.sender) }}>{name(m.sender)}</div>}
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

function PendingBubble({ p, first, quoted, name, onView }: { p: PendingSend; first: boolean; quoted?: Message; name: (u: string) => string; onView: () => void }) {
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
function UploadBubble({ u, first, quoted, name }: { u: Upload; first: boolean; quoted?: Message; name: (x: string) => string }) {
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

function Composer({ chat, me, profiles, replyTo, editing, onCancelReply, onCancelEdit, onFiles }: {
  chat: ChatData; me: string; profiles: Record<string, Profile>; replyTo: Message | null; editing: Message | null;
  onCancelReply: () => void; onCancelEdit: () => void; onFiles: (files: File[]) => void;
}) {
  const fileInput = useRef<HTMLInputElement>(null);
  const id = chat.summary.chat_id;
  const [text, setText] = useState(() => drafts.get(id) ?? '');
  const [saved, setSaved] = useState<string | null>(null);
  const ta = useRef<HTMLTextAreaElement>(null);
  const typingSent = useRef(0);
  const stopTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const name = (u: string) => displayName(u, profiles, me);

  useEffect(() => {
    if (editing) {
      setSaved(text);
      setText(editing.text ?? '');
      ta.current?.focus();
    } else if (saved !== null) {
      setText(saved);
      setSaved(null);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [editing]);
  useEffect(() => {
    if (replyTo) ta.current?.focus();
  }, [replyTo]);
  useEffect(() => {
    ta.current?.focus();
    return () => {
      if (stopTimer.current) clearTimeout(stopTimer.current);
      if (typingSent.current) app.typing(id, false);
    };
  }, [id]);
  useLayoutEffect(() => {
    const el = ta.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = Math.min(el.scrollHeight, 140) + 'px';
  }, [text]);

  const stopTyping = () => {
    if (stopTimer.current) clearTimeout(stopTimer.current);
    stopTimer.current = null;
    if (typingSent.current) {
      typingSent.current = 0;
      app.typing(id, false);
    }
  };
  const onInput = (v: string) => {
    setText(v);
    if (!editing) drafts.set(id, v);
    if (editing) return;
    if (!v.trim()) return stopTyping();
    const now = Date.now();
    if (now - typingSent.current > 3000) {
      typingSent.current = now;
      app.typing(id, true);
    }
    if (stopTimer.current) clearTimeout(stopTimer.current);
    stopTimer.current = setTimeout(stopTyping, 5000);
  };
  const submit = async () => {
    const v = text.trim();
    if (!v) return;
    if (editing) {
      if (v === editing.text) return onCancelEdit();
      try {
        await app.edit(id, editing.seq, v);
        onCancelEdit();
      } catch (e) {
        app.toast(`Could not edit: ${errorText(e)}`);
      }
      return;
    }
    app.send(id, v, replyTo?.seq);
    setText('');
    drafts.delete(id);
    stopTyping();
    onCancelReply();
  };

  return (
    <footer className="composer">
      {replyTo && (
        <div className="compose-context" aria-label="Replying to">
          <Quote m={replyTo} name={name} />
          <button type="button" className="icon-btn" aria-label="Cancel reply" title="Cancel reply" onClick={onCancelReply}><IconClose /></button>
        </div>
      )}
      {editing && (
        <div className="compose-context editing" aria-label="Editing message">
          <div className="quote"><span className="quote-name">Edit message</span><span className="quote-text">{editing.text}</span></div>
          <button type="button" className="icon-btn" aria-label="Cancel edit" title="Cancel edit" onClick={onCancelEdit}><IconClose /></button>
        </div>
      )}
      <div className="compose-row">
        <button type="button" className="icon-btn" aria-label="Attach" title="Attach photos and files" disabled={!!editing}
          onClick={() => fileInput.current?.click()}>
          <IconAttach />
        </button>
        <input ref={fileInput} type="file" multiple hidden data-testid="file-input"
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = '';
            if (files.length) onFiles(files);
          }} />
        <textarea
          ref={ta}
          rows={1}
          aria-label="Type a message"
          placeholder="Type a message"
          value={text}
          onChange={(e) => onInput(e.target.value)}
          onBlur={() => { if (!text.trim()) stopTyping(); }}
          onPaste={(e) => {
            // Pasted pictures (screenshots) or files go through the attach step.
            const files = Array.from(e.clipboardData?.files ?? []);
            if (files.length && !editing) {
              e.preventDefault();
              onFiles(files);
            }
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              submit();
            } else if (e.key === 'Escape') {
              if (editing) onCancelEdit();
              else if (replyTo) onCancelReply();
            }
          }}
        />
        <button type="button" className="icon-btn send-btn" aria-label={editing ? 'Save edit' : 'Send'} title={editing ? 'Save edit' : 'Send'} disabled={!text.trim()} onClick={submit}>
          <IconSend />
        </button>
      </div>
    </footer>
  );
}
