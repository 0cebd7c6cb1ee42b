import { useEffect, useState } from 'react';
import { ApiError } from '../api/rest';
import type { Profile } from '../api/types';
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
 * Contacts plus a directory search. `selected` turns it into a multi-select (new group).
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

  const search = async () => {
    if (!ql) return;
    setBusy(true);
    setError(null);
    setFound(null);
    try {
      const p = await findUser(q);
      if (p.user_id === me?.user_id) setError("That's you.");
      else if (exclude.includes(p.user_id)) setError(`${p.display_name} is already in this group.`);
      else setFound(p);
    } catch (e) {
      setError(e instanceof ApiError && e.code === 'not_found' ? `No user found for "${q.trim()}".` : errorText(e));
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
          <Avatar id={p.user_id} name={p.display_name} size={40} />
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
      {found && (
        <section aria-label="Directory result">
          <h3 className="list-heading">Found in the directory</h3>
          <ul className="plain-list">{row(found)}</ul>
        </section>
      )}
      <section aria-label="Contacts">
        <h3 className="list-heading">Contacts</h3>
        {contacts === null ? (
          <p className="empty">Loading…</p>
        ) : list.length === 0 ? (
          <p className="empty">{ql ? 'No contact matches. Press Find to search the whole directory.' : 'No contacts yet. Find people by their username, phone or email above.'}</p>
        ) : (
          <ul className="plain-list">{list.map(row)}</ul>
        )}
      </section>
    </div>
  );
}
