import { useEffect, useState } from 'react';
import { ApiError } from '../api/rest';
import type { Profile } from '../api/types';
import { searchable } from '../search/searcher';
import { useSearch } from '../search/useSearch';
import { app, errorText, useApp } from '../state/store';
import { Avatar } from './common';

/** Finds a user by username, user id, phone or email (the user directory lookup). */
export async function findUser(q: string): Promise<Profile> {
  const v = q.trim();
  if (/^\+?[\d\s()-]{6,}$/.test(v)) return app.api.lookup('phone', v.replace(/[\s()-]/g, ''));
  if (v.includes('@')) {
    try {
      return await app.api.user(v.toLowerCase());
    } catch (e) {
      if (!(e instanceof ApiError) || (e.code !== 'not_found' && e.code !== 'invalid_input')) throw e;
      return app.api.lookup('email', v);
    }
  }
  return app.api.lookup('username', v.toLowerCase());
}

/**
 * Contacts plus a directory search as you type (prefix and typo tolerant, exact email and
 * phone); Find also looks up an exact user id. `selected` turns it into a multi-select.
 */
export function UserPicker({ onPick, exclude = [], selected, actionLabel }: {
  onPick: (p: Profile) => void | Promise<void>;
  exclude?: string[];
  selected?: string[];
  actionLabel?: (p: Profile) => string;
}) {
  const contacts = useApp((s) => s.contacts);
  const me = useApp((s) => s.me);
  const [q, setQ] = useState('');
  const [found, setFound] = useState<Profile | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    app.loadContacts().catch((e) => setError(errorText(e)));
  }, []);
  const ql = q.trim().toLowerCase();
  const list = (contacts ?? [])
    .map((c) => c.profile)
    .filter((p) => p.user_id !== me?.user_id && !exclude.includes(p.user_id))
    .filter((p) => !ql || p.display_name.toLowerCase().includes(ql) || p.username.includes(ql) || p.user_id.includes(ql));

  const dir = useSearch<Profile>(searchable(q) ? q : '', async (query, _o, signal) => {
    const hits = await app.api.searchUsers(query, 20, signal);
    return { hits, total: hits.length };
  }, (p) => p.user_id);
  const shown = new Set(list.map((p) => p.user_id));
  const directory = dir.state.hits.filter((p) => p.user_id !== me?.user_id && !exclude.includes(p.user_id) && !shown.has(p.user_id) && p.user_id !== found?.user_id);

  const search = async () => {
    if (!ql) return;
    dir.now();
    // The exact lookup complements the directory index (which lags new accounts by up to a
    // second and does not hold user ids); a display name with spaces is the directory's job.
    const phoneLike = /^\+?[\d\s()-]{6,}$/.test(q.trim());
    if (/\s/.test(q.trim()) && !phoneLike) return;
    if (dir.state.hits.some((p) => p.username === ql || p.user_id === ql)) return;
    setBusy(true);
    setError(null);
    setFound(null);
    try {
      const p = await findUser(q);
      if (p.user_id === me?.user_id) setError("That's you.");
      else if (exclude.includes(p.user_id)) setError(`${p.display_name} is already in this group.`);
      else setFound(p);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'not_found')) setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const row = (p: Profile) => {
    const isSel = selected?.includes(p.user_id);
    return (
      <li key={p.user_id}>
        <button
          type="button"
          className={`list-row${isSel ? ' selected' : ''}`}
          aria-pressed={selected ? isSel : undefined}
          aria-label={actionLabel ? actionLabel(p) : p.display_name}
          onClick={async () => {
            try {
              setError(null);
              await onPick(p);
            } catch (e) {
              setError(errorText(e));
            }
          }}
        >
          <Avatar id={p.user_id} name={p.display_name} size={40} media={p.avatar} />
          <span className="row-main">
            <span className="row-title">{p.display_name}</span>
            <span className="row-sub">{p.about || `@${p.username}`}</span>
          </span>
          {selected && <span className={`checkbox${isSel ? ' on' : ''}`} aria-hidden="true">{isSel ? '✓' : ''}</span>}
        </button>
      </li>
    );
  };

  return (
    <div className="picker">
      <form className="search-box" role="search" onSubmit={(e) => { e.preventDefault(); search(); }}>
        <input
          aria-label="Search contacts or find a user by username, phone or email"
          placeholder="Search name, username, phone or email"
          value={q}
          onChange={(e) => { setQ(e.target.value); setFound(null); setError(null); }}
        />
        <button type="submit" className="btn-small" disabled={!ql || busy}>Find</button>
      </form>
      {error && <p className="form-error pad" role="alert">{error}</p>}
      {ql && (
        <section aria-label="Directory results" aria-busy={dir.state.status === 'loading' || busy}>
          <h3 className="list-heading">Found in the directory</h3>
          {dir.state.status === 'error' && <p className="search-error" role="alert">{dir.state.error}</p>}
          {(found || directory.length > 0) ? (
            <ul className="plain-list">
              {found && row(found)}
              {directory.map(row)}
            </ul>
          ) : dir.state.status === 'loading' || busy ? (
            <p className="search-status" role="status"><span className="spinner" aria-hidden="true" /> Searching…</p>
          ) : dir.state.status === 'done' || !searchable(q) ? (
            <p className="empty">{list.length > 0 ? 'Nobody else found in the directory.' : `No user found for "${q.trim()}".`}</p>
          ) : null}
        </section>
      )}
      <section aria-label="Contacts">
        <h3 className="list-heading">Contacts</h3>
        {contacts === null ? (
          <p className="empty">Loading…</p>
        ) : list.length === 0 ? (
          <p className="empty">{ql ? 'No contact matches.' : 'No contacts yet. Find people by their username, phone or email above.'}</p>
        ) : (
          <ul className="plain-list">{list.map(row)}</ul>
        )}
      </section>
    </div>
  );
}
