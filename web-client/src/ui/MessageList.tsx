// The scrolling message list: day separators, the unread divider, my pending sends and uploads
// after the server's messages, loading older history on scroll, jumps to a message (search hits,
// quotes) with a flash, read receipts while the newest messages are on screen.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { PendingSend } from '../api/outbox';
import type { Message, Profile } from '../api/types';
import { isUserMessage, type ChatData } from '../state/logic';
import { app, errorText, useApp, type Upload } from '../state/store';
import { Bubble, PendingBubble, UploadBubble } from './Bubbles';
import { otherOrgs } from '../api/address';
import { Confirm, useServerName } from './common';
import { dateTime, dayLabel, displayName, personName, sameDay, systemText } from './format';
import { IconDown } from './icons';
import { MediaViewer } from './Media';

export function MessageList({ chat, me, profiles, pending, uploads, onReply, onEdit, onInfo }: {
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
  const local = useServerName();
  // Plain-text places (system messages, the viewer's title) name other organizations after the name.
  const fullName = (u: string) => personName(u, profiles, me, local);
  const orgs = otherOrgs(s.members.map((m) => m.user_id), local);
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
      items.push(<li key={m.seq} data-seq={m.seq} className="system-msg"><span>{systemText(m.event, fullName)}</span></li>);
    } else {
      items.push(
        <Bubble key={m.seq} m={m} me={me} chat={chat} first={first} name={name} quoted={m.reply_to ? bySeq.get(m.reply_to) : undefined}
          highlight={highlight === m.seq} onJump={jumpTo}
          onView={(x) => x.media && setViewing({ media: x.media, sender: x.sender === me ? 'You' : fullName(x.sender), at: x.created_at })}
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
          <div className="chat-start"><span>{orgs.length === 0
            ? 'Messages are stored on your Parley server.'
            : `Messages are stored on the Parley servers of your organization and of ${orgs.join(', ')}.`}</span></div>
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
