// Search UI: highlighted snippets, the global results under the chat list search box (chats,
// contacts, messages) and the in-chat search panel.
import { Fragment, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { Profile, SearchHit } from '../api/types';
import { highlightSegments } from '../search/highlight';
import { addressToLookUp } from '../search/lookup';
import { hasMore, resultCount, searchable, type FetchPage, type SearchState } from '../search/searcher';
import { useLookup } from '../search/useLookup';
import { useSearch } from '../search/useSearch';
import type { ChatData } from '../state/logic';
import { app, errorText, useApp } from '../state/store';
import { orgOf } from '../api/address';
import { Avatar, PersonTitle, useServerName } from './common';
import { dateTime, listTime, personName } from './format';
import { IconClose } from './icons';

export const SEARCH_MAX = 256;

/** A snippet with its matches in <mark>; text only, never HTML. */
export function Snippet({ text, ranges }: { text: string; ranges: [number, number][] }) {
  const parts = useMemo(() => highlightSegments(text, ranges), [text, ranges]);
  return (
    <span className="snippet">
      {parts.map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : <Fragment key={i}>{p.text}</Fragment>))}
    </span>
  );
}

const hitKey = (h: SearchHit) => `${h.chat_id}#${h.seq}`;
const userKey = (p: Profile) => p.user_id;
type Order = 'newest' | 'best';

function useMessageSearch(q: string, chatId: string | undefined, order: Order) {
  const fetchPage: FetchPage<SearchHit> = (query, offset, signal) =>
    app.api.searchMessages({ q: query, chat_id: chatId, order, offset, limit: 20 }, signal);
  const r = useSearch(searchable(q) ? q : '', fetchPage, hitKey, [chatId, order]);
  // Names of senders for the rows.
  useEffect(() => {
    for (const h of r.state.hits) app.ensureProfile(h.sender);
  }, [r.state.hits]);
  return r;
}

function Searching({ what }: { what: string }) {
  return <p className="search-status" role="status"><span className="spinner" aria-hidden="true" /> Searching {what}…</p>;
}

function SearchError({ text, onRetry }: { text: string; onRetry: () => void }) {
  return (
    <div className="search-error" role="alert">
      {text}
      <button type="button" className="link-btn" onClick={onRetry}>Try again</button>
    </div>
  );
}

function MoreButton({ state, onMore }: { state: SearchState<unknown>; onMore: () => void }) {
  return (
    <>
      {state.moreError && <div className="search-error" role="alert">{state.moreError}</div>}
      {hasMore(state) && (
        <div className="more-row">
          <button type="button" className="btn-small" disabled={state.loadingMore} onClick={onMore}>
            {state.loadingMore ? 'Loading…' : `More results (${(state.total - state.hits.length).toLocaleString('en-US')} more)`}
          </button>
        </div>
      )}
    </>
  );
}

function OrderChips({ order, setOrder }: { order: Order; setOrder: (o: Order) => void }) {
  return (
    <span className="filter-chips order-chips" role="group" aria-label="Sort messages">
      <button type="button" className={`chip-btn${order === 'newest' ? ' on' : ''}`} aria-pressed={order === 'newest'} onClick={() => setOrder('newest')}>Newest</button>
      <button type="button" className={`chip-btn${order === 'best' ? ' on' : ''}`} aria-pressed={order === 'best'} onClick={() => setOrder('best')}>Best match</button>
    </span>
  );
}

function HitRow({ hit, top, sender, active, onOpen }: {
  hit: SearchHit; top: ReactNode; sender: string | null; active: boolean; onOpen: () => void;
}) {
  return (
    <li>
      <button type="button" className={`hit-row${active ? ' active' : ''}`} aria-current={active ? 'true' : undefined}
        data-testid="message-hit" data-seq={hit.seq} onClick={onOpen}>
        <span className="row-top">{top}</span>
        <span className="hit-text">
          {sender && <span className="hit-sender">{sender}: </span>}
          <Snippet text={hit.snippet} ranges={hit.highlights} />
        </span>
      </button>
    </li>
  );
}

/** Results shown under the chat list search box: chats, contacts and messages. */
export function GlobalSearchResults({ q, chatRows, listedPeers }: { q: string; chatRows: ReactNode[]; listedPeers: Set<string> }) {
  const me = useApp((s) => s.me)!.user_id;
  const chats = useApp((s) => s.chats);
  const profiles = useApp((s) => s.profiles);
  const [order, setOrder] = useState<Order>('newest');
  const [opened, setOpened] = useState<string | null>(null);
  const ok = searchable(q);
  const users = useSearch<Profile>(ok ? q : '', async (query, _o, signal) => {
    const list = await app.api.searchUsers(query, 20, signal);
    return { hits: list, total: list.length };
  }, userKey);
  const msgs = useMessageSearch(q, undefined, order);
  const local = useServerName();
  // An address the directory does not hold (someone of another organization): looked up by itself.
  const lookup = useLookup(q, addressToLookUp(q, users.state, listedPeers) !== null).state;
  const looked = lookup.found && lookup.found.user_id !== me && !listedPeers.has(lookup.found.user_id)
    && !users.state.hits.some((p) => p.user_id === lookup.found!.user_id) ? [lookup.found] : [];
  const people = [...looked, ...users.state.hits.filter((p) => p.user_id !== me && !listedPeers.has(p.user_id))];
  const [contactError, setContactError] = useState<string | null>(null);

  const openUser = async (p: Profile) => {
    setContactError(null);
    const existing = Object.values(app.state.chats).find((c) => c.summary.kind === 'direct' && c.summary.peer === p.user_id && !c.removed);
    try {
      if (existing) app.navigate(existing.summary.chat_id);
      else await app.startDirect(p.user_id);
    } catch (e) {
      setContactError(errorText(e));
    }
  };

  const usersDone = !ok || users.state.status === 'done' || users.state.status === 'error';
  const msgsDone = !ok || msgs.state.status === 'done' || msgs.state.status === 'error';
  const lookupBusy = lookup.status === 'loading';
  const nothing = chatRows.length === 0 && usersDone && msgsDone && people.length === 0 && msgs.state.hits.length === 0
    && users.state.status !== 'error' && msgs.state.status !== 'error' && !lookupBusy && !lookup.error;

  return (
    <div className="chat-list search-results">
      {chatRows.length > 0 && (
        <nav aria-label="Chat list">
          <h3 className="list-heading">Chats</h3>
          <ul className="plain-list">{chatRows}</ul>
        </nav>
      )}
      {!ok && <p className="empty">Type a word (letters or numbers) to search contacts and messages.</p>}
      {ok && (people.length > 0 || users.state.status === 'error' || contactError || lookupBusy || lookup.error) && (
        <section aria-label="Contact results" aria-busy={lookupBusy}>
          <h3 className="list-heading">Contacts</h3>
          {users.state.status === 'error' && <SearchError text={users.state.error!} onRetry={users.retry} />}
          {contactError && <p className="search-error" role="alert">{contactError}</p>}
          {lookupBusy && <Searching what={lookup.q} />}
          {lookup.error && <p className="search-error" role="alert">{lookup.error}</p>}
          <ul className="plain-list">
            {people.map((p) => {
              const org = orgOf(p.user_id, local);
              return (
                <li key={p.user_id}>
                  <button type="button" className="list-row" aria-label={`Chat with ${p.display_name}${org ? ` (${org})` : ''}`} onClick={() => openUser(p)}>
                    <Avatar id={p.user_id} name={p.display_name} size={40} media={p.avatar} />
                    <span className="row-main">
                      <PersonTitle id={p.user_id} name={p.display_name} />
                      <span className="row-sub">{org ? p.user_id : p.about || `@${p.username}`}</span>
                    </span>
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      )}
      {ok && (
        <section aria-label="Message results" aria-busy={msgs.state.status === 'loading'}>
          <h3 className="list-heading with-tools">
            <span>Messages{msgs.state.status === 'done' && msgs.state.total > 0 && <span className="count"> · {resultCount(msgs.state.total)}</span>}</span>
            <OrderChips order={order} setOrder={setOrder} />
          </h3>
          {msgs.state.status === 'loading' && <Searching what="messages" />}
          {msgs.state.status === 'error' && <SearchError text={msgs.state.error!} onRetry={msgs.retry} />}
          {msgs.state.status === 'done' && msgs.state.total === 0 && !nothing && <p className="search-status">No messages found.</p>}
          <ul className="plain-list">
            {msgs.state.hits.map((h) => {
              const c: ChatData | undefined = chats[h.chat_id];
              const group = c?.summary.kind === 'group';
              const sender = h.sender === me ? 'You' : group ? personName(h.sender, profiles, me, local) : null;
              const key = hitKey(h);
              return (
                <HitRow key={key} hit={h} sender={sender} active={opened === key}
                  top={<><span className="row-title">{c?.summary.name ?? 'Chat'}</span><span className="row-time">{listTime(h.created_at)}</span></>}
                  onOpen={() => { setOpened(key); app.showMessage(h.chat_id, h.seq); }} />
              );
            })}
          </ul>
          <MoreButton state={msgs.state} onMore={msgs.more} />
        </section>
      )}
      {nothing && ok && (
        <div className="empty" role="status">
          <p>No results for “{q.trim()}”.</p>
          <p className="small">No chats, contacts or messages match.</p>
        </div>
      )}
      {!ok && chatRows.length === 0 && <p className="empty">No chats match.</p>}
    </div>
  );
}

/** The in-chat search side panel. */
export function ChatSearchPanel({ chat, onClose }: { chat: ChatData; onClose: () => void }) {
  const s = chat.summary;
  const me = useApp((st) => st.me)!.user_id;
  const profiles = useApp((st) => st.profiles);
  const local = useServerName();
  const [q, setQ] = useState('');
  const [order, setOrder] = useState<Order>('newest');
  const [opened, setOpened] = useState<number | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const ok = searchable(q);
  const r = useMessageSearch(q, s.chat_id, order);
  useEffect(() => input.current?.focus(), []);
  const st = r.state;
  return (
    <div className="panel chat-search" role="region" aria-label="Search messages">
      <header className="panel-header">
        <button type="button" className="icon-btn" aria-label="Close search" title="Close search" onClick={onClose}><IconClose /></button>
        <h2>Search messages</h2>
      </header>
      <form className="search-box" role="search" onSubmit={(e) => { e.preventDefault(); r.now(); }}>
        <input ref={input} type="search" aria-label="Search messages in this chat" placeholder="Search…" maxLength={SEARCH_MAX}
          value={q} onChange={(e) => setQ(e.target.value)} />
      </form>
      {q.trim() && ok && (
        <div className="search-tools">
          <span className="count" role="status">{st.status === 'done' ? resultCount(st.total) : ''}</span>
          <OrderChips order={order} setOrder={setOrder} />
        </div>
      )}
      <div className="panel-body">
        {!q.trim() ? (
          <p className="empty">Search for messages {s.kind === 'group' ? `in ${s.name}` : `with ${s.name}`}.</p>
        ) : !ok ? (
          <p className="empty">Type a word (letters or numbers) to search.</p>
        ) : (
          <>
            {st.status === 'loading' && <Searching what="messages" />}
            {st.status === 'error' && <SearchError text={st.error!} onRetry={r.retry} />}
            {st.status === 'done' && st.total === 0 && <p className="empty" role="status">No messages found for “{q.trim()}”.</p>}
            <ul className="plain-list" aria-label="Search results">
              {st.hits.map((h) => (
                <HitRow key={h.seq} hit={h} active={opened === h.seq}
                  sender={h.sender === me ? 'You' : s.kind === 'group' ? personName(h.sender, profiles, me, local) : null}
                  top={<span className="row-time">{dateTime(h.created_at)}</span>}
                  onOpen={() => {
                    setOpened(h.seq);
                    app.showMessage(s.chat_id, h.seq);
                    if (window.matchMedia?.('(max-width: 760px)').matches) onClose();
                  }} />
              ))}
            </ul>
            <MoreButton state={st} onMore={r.more} />
          </>
        )}
      </div>
    </div>
  );
}
