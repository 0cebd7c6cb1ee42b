// A chat on screen: the header (name, presence or typing, menu), the message list, the composer,
// drag-and-drop of files and the side panel (chat or message info, in-chat search).
// The pieces: MessageList.tsx (the scrolling list), Bubbles.tsx (one message each), Composer.tsx.
import { useEffect, useState } from 'react';
import type { Message } from '../api/types';
import { typingUsers, visiblePending } from '../state/logic';
import { app, useApp } from '../state/store';
import { orgOf } from '../api/address';
import { Avatar, MenuButton, PersonTitle, useServerName, type MenuItem } from './common';
import { Composer } from './Composer';
import { chatAvatar, lastSeen, personName } from './format';
import { IconBack, IconMenu, IconSearch } from './icons';
import { AttachDialog } from './Media';
import { ContactInfo, GroupInfo, MessageInfoPanel } from './InfoPanels';
import { MessageList } from './MessageList';
import { ChatSearchPanel } from './Search';

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
  const local = useServerName();

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
  const name = (u: string) => personName(u, profiles, me, local);
  const peerOrg = s.kind === 'direct' ? orgOf(s.peer, local) : null;
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
      <main className={`conversation${dragging ? ' dragging' : ''}`} aria-label={`Conversation with ${s.name}${peerOrg ? ` (${peerOrg})` : ''}`}
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
              <PersonTitle id={s.kind === 'direct' ? s.peer : null} name={s.name} testId="conv-name" />
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
