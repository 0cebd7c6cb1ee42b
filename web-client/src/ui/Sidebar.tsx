import { useMemo, useState } from 'react';
import { mediaPreview } from '../api/media';
import { isUserMessage, sortChats, tickState, typingUsers, type ChatData } from '../state/logic';
import { app, useApp } from '../state/store';
import { orgOf } from '../api/address';
import { Avatar, MenuButton, PersonTitle, Ticks, useServerName, type TickKind } from './common';
import { chatAvatar, listTime, personName, preview } from './format';
import { IconBell, IconClose, IconMenu, IconNewChat, IconOffline } from './icons';
import { ConnectionPanel, ContactsPanel, NewChatPanel, NewGroupPanel, ProfilePanel } from './Panels';
import { GlobalSearchResults, SEARCH_MAX } from './Search';

type Mode = 'chats' | 'new-chat' | 'new-group' | 'profile' | 'contacts' | 'connection';

export function Sidebar() {
  const [mode, setMode] = useState<Mode>('chats');
  const me = useApp((s) => s.me)!;
  if (mode === 'new-chat') return <aside className="sidebar"><NewChatPanel onClose={() => setMode('chats')} onNewGroup={() => setMode('new-group')} /></aside>;
  if (mode === 'new-group') return <aside className="sidebar"><NewGroupPanel onClose={() => setMode('chats')} /></aside>;
  if (mode === 'profile') return <aside className="sidebar"><ProfilePanel onClose={() => setMode('chats')} onConnection={() => setMode('connection')} /></aside>;
  if (mode === 'connection') return <aside className="sidebar"><ConnectionPanel onClose={() => setMode('chats')} /></aside>;
  if (mode === 'contacts') return <aside className="sidebar"><ContactsPanel onClose={() => setMode('chats')} /></aside>;
  return (
    <aside className="sidebar" aria-label="Chats">
      <header className="pane-header">
        <button type="button" className="avatar-btn" aria-label="Profile" title="Profile" onClick={() => setMode('profile')}>
          <Avatar id={me.user_id} name={me.display_name} size={40} media={me.avatar} />
        </button>
        <div className="header-actions">
          <button type="button" className="icon-btn" aria-label="New chat" title="New chat" onClick={() => setMode('new-chat')}><IconNewChat /></button>
          <MenuButton
            label="Menu"
            icon={<IconMenu />}
            items={[
              { label: 'New group', onSelect: () => setMode('new-group') },
              { label: 'Contacts', onSelect: () => setMode('contacts') },
              { label: 'Profile', onSelect: () => setMode('profile') },
              { label: 'Connection', onSelect: () => setMode('connection') },
              { label: 'Log out', onSelect: () => app.logout() },
            ]}
          />
        </div>
      </header>
      <ConnectionBanner />
      <NotificationPrompt />
      <ChatList onNewChat={() => setMode('new-chat')} />
    </aside>
  );
}

function ConnectionBanner() {
  const conn = useApp((s) => s.conn);
  const phase = useApp((s) => s.chatsLoaded);
  if (conn === 'online') return null;
  if (conn === 'connecting')
    return (
      <div className="banner banner-connecting" role="status" aria-live="polite">
        <span className="spinner" aria-hidden="true" /> Connecting…
      </div>
    );
  return (
    <div className="banner banner-offline" role="status" aria-live="polite">
      <IconOffline />
      <div>
        <strong>You are offline</strong>
        <div className="small">{phase ? 'Messages you send will go out when the connection is back.' : 'Make sure the server is reachable.'}</div>
      </div>
      <button type="button" className="btn-small" onClick={() => app.retryConnection()}>Reconnect now</button>
    </div>
  );
}

function NotificationPrompt() {
  const perm = useApp((s) => s.notificationPermission);
  const [dismissed, setDismissed] = useState(() => localStorage.getItem('parley.notify.dismissed') === '1');
  if (perm !== 'default' || dismissed) return null;
  return (
    <div className="banner banner-notify">
      <IconBell />
      <div>
        <strong>Get notified of new messages</strong>
        <div><button type="button" className="link-btn" onClick={() => app.requestNotifications()}>Turn on desktop notifications</button></div>
      </div>
      <button type="button" className="icon-btn" aria-label="Dismiss notification prompt" title="Dismiss"
        onClick={() => { localStorage.setItem('parley.notify.dismissed', '1'); setDismissed(true); }}>
        <IconClose />
      </button>
    </div>
  );
}

function ChatList({ onNewChat }: { onNewChat: () => void }) {
  const chats = useApp((s) => s.chats);
  const outbox = useApp((s) => s.outbox);
  const loaded = useApp((s) => s.chatsLoaded);
  const profiles = useApp((s) => s.profiles);
  const me = useApp((s) => s.me)!.user_id;
  const open = useApp((s) => s.openChatId);
  const [filter, setFilter] = useState('');
  const [unreadOnly, setUnreadOnly] = useState(false);
  const sorted = useMemo(() => sortChats(Object.values(chats), outbox), [chats, outbox]);
  const f = filter.trim().toLowerCase();
  const list = sorted.filter((c) => {
    if (unreadOnly && c.summary.unread === 0) return false;
    if (!f) return true;
    const last = c.summary.last_message?.text ?? '';
    return c.summary.name.toLowerCase().includes(f) || last.toLowerCase().includes(f) || (c.summary.peer ?? '').includes(f);
  });
  return (
    <>
      <div className="filter-bar">
        <div className="filter-input">
          <input type="search" aria-label="Search or filter chats" placeholder="Search chats, contacts and messages" value={filter} maxLength={SEARCH_MAX}
            onChange={(e) => setFilter(e.target.value)}
            onKeyDown={(e) => { if (e.key === 'Escape') setFilter(''); }} />
        </div>
        <div className="filter-chips" role="group" aria-label="Show">
          <button type="button" className={`chip-btn${!unreadOnly ? ' on' : ''}`} aria-pressed={!unreadOnly} onClick={() => setUnreadOnly(false)}>All</button>
          <button type="button" className={`chip-btn${unreadOnly ? ' on' : ''}`} aria-pressed={unreadOnly} onClick={() => setUnreadOnly(true)}>Unread</button>
        </div>
      </div>
      {f ? (
        <GlobalSearchResults q={filter} listedPeers={new Set(list.filter((c) => c.summary.kind === 'direct' && c.summary.peer).map((c) => c.summary.peer!))}
          chatRows={list.map((c) => (
            <ChatRow key={c.summary.chat_id} chat={c} me={me} profiles={profiles} active={open === c.summary.chat_id}
              pending={outbox.filter((p) => p.chat_id === c.summary.chat_id)} />
          ))} />
      ) : (
      <nav className="chat-list" aria-label="Chat list">
        {!loaded && Object.keys(chats).length === 0 ? (
          <p className="empty">Loading chats…</p>
        ) : list.length === 0 ? (
          <div className="empty">
            {f || unreadOnly ? <p>No chats match.</p> : (
              <>
                <p>No chats yet.</p>
                <button type="button" className="btn-primary" onClick={onNewChat}>Start a chat</button>
              </>
            )}
          </div>
        ) : (
          <ul className="plain-list">
            {list.map((c) => (
              <ChatRow key={c.summary.chat_id} chat={c} me={me} profiles={profiles} active={open === c.summary.chat_id}
                pending={outbox.filter((p) => p.chat_id === c.summary.chat_id)} />
            ))}
          </ul>
        )}
      </nav>
      )}
    </>
  );
}

function ChatRow({ chat, me, profiles, active, pending }: {
  chat: ChatData; me: string; profiles: ReturnType<typeof app.getState>['profiles']; active: boolean; pending: ReturnType<typeof app.getState>['outbox'];
}) {
  const s = chat.summary;
  const local = useServerName();
  const name = (u: string) => personName(u, profiles, me, local);
  const org = s.kind === 'direct' ? orgOf(s.peer, local) : null;
  const typing = typingUsers(chat, Date.now());
  const lastPending = pending.length > 0 ? pending.reduce((a, b) => (a.created_at > b.created_at ? a : b)) : null;
  const last = s.last_message;
  let text = '';
  let tick: TickKind | null = null;
  let time = s.last_activity;
  if (lastPending && (!last || lastPending.created_at >= last.created_at)) {
    text = lastPending.media ? mediaPreview(lastPending.media, lastPending.text) : lastPending.text;
    tick = lastPending.status === 'failed' ? 'failed' : 'pending';
    time = Math.max(time, lastPending.created_at);
  } else if (last) {
    text = preview(last, me, name);
    if (s.kind === 'group' && isUserMessage(last.kind) && !last.deleted) text = `${name(last.sender)}: ${text}`;
    if (last.sender === me && isUserMessage(last.kind) && !last.deleted) tick = tickState(s, last.seq);
  }
  const typingText = typing.length === 0 ? null : s.kind === 'group' ? `${name(typing[0])} is typing…` : 'typing…';
  return (
    <li>
      <button
        type="button"
        className={`chat-row${active ? ' active' : ''}${s.unread > 0 ? ' has-unread' : ''}`}
        aria-current={active ? 'true' : undefined}
        aria-label={`${s.name}${org ? ` (${org})` : ''}${s.unread > 0 ? `, ${s.unread} unread message${s.unread === 1 ? '' : 's'}` : ''}`}
        onClick={() => app.navigate(s.chat_id)}
      >
        <Avatar id={s.peer ?? s.chat_id} name={s.name} group={s.kind === 'group'} media={chatAvatar(s, profiles)} />
        <span className="row-main">
          <span className="row-top">
            <PersonTitle id={s.kind === 'direct' ? s.peer : null} name={s.name} />
            {time > 0 && <span className="row-time">{listTime(time)}</span>}
          </span>
          <span className="row-bottom">
            <span className={`row-sub${typingText ? ' typing' : ''}`}>
              {typingText ?? (
                <>
                  {tick && <Ticks state={tick} />}
                  {text || (chat.removed ? 'You are no longer a participant' : s.kind === 'group' ? 'Group created' : 'Say hi 👋')}
                </>
              )}
            </span>
            {s.unread > 0 && <span className="badge" aria-hidden="true">{s.unread}</span>}
          </span>
        </span>
      </button>
    </li>
  );
}
