import { useEffect, useId, useState } from 'react';
import { orgOf, parseAddress } from '../api/address';
import type { Profile } from '../api/types';
import { addressToLookUp, isPhoneLike } from '../search/lookup';
import { searchable } from '../search/searcher';
import { useLookup } from '../search/useLookup';
import { useSearch } from '../search/useSearch';
import { app, errorText, useApp } from '../state/store';
import { Avatar, PersonTitle, useServerName } from './common';

/**
 * Contacts plus a directory search as you type (prefix and typo tolerant, exact email and
 * phone); Find also looks up an exact user id. An address (`name@domain`) the directory does
 * not hold is looked up by itself: that is how people of other organizations are found.
 * `selected` turns it into a multi-select.
 */
export function UserPicker({ onPick, exclude = [], selected, actionLabel }: {
  onPick: (p: Profile) => void | Promise<void>;
  exclude?: string[];
  selected?: string[];
  actionLabel?: (p: Profile) => string;
}) {
  const contacts = useApp((s) => s.contacts);
  const me = useApp((s) => s.me);
  const local = useServerName();
  const hintId = useId();
  const [q, setQ] = useState('');
  const [error, setError] = useState<string | null>(null);
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
  // The exact lookup: by itself for an address the directory and the contacts do not have, or on Find.
  const lookup = useLookup(q, addressToLookUp(q, dir.state, shown) !== null);
  const look = lookup.state;
  const hit = look.found;
  const lookError = look.error
    ?? (hit && hit.user_id === me?.user_id ? "That's you."
      : hit && exclude.includes(hit.user_id) ? `${hit.display_name} is already in this group.` : null);
  const found = hit && !lookError && !shown.has(hit.user_id) ? hit : null;
  const foundOrg = found ? orgOf(found.user_id, local) : null;
  const directory = dir.state.hits.filter((p) => p.user_id !== me?.user_id && !exclude.includes(p.user_id) && !shown.has(p.user_id) && p.user_id !== found?.user_id);
  const addr = parseAddress(q);

  const search = () => {
    if (!ql) return;
    dir.now();
    // The exact lookup complements the directory index (which lags new accounts by up to a
    // second and does not hold user ids); a display name with spaces is the directory's job.
    if (/\s/.test(q.trim()) && !isPhoneLike(q)) return;
    if (dir.state.hits.some((p) => p.username === ql || p.user_id === ql)) return;
    void lookup.run(q);
  };

  const row = (p: Profile) => {
    const isSel = selected?.includes(p.user_id);
    const org = orgOf(p.user_id, local);
    const label = actionLabel ? actionLabel(p) : p.display_name;
    return (
      <li key={p.user_id}>
        <button
          type="button"
          className={`list-row${isSel ? ' selected' : ''}`}
          aria-pressed={selected ? isSel : undefined}
          aria-label={org ? `${label} (${org})` : label}
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
            <PersonTitle id={p.user_id} name={p.display_name} />
            {/* Someone of another organization: their full address, the way to tell them apart. */}
            <span className="row-sub">{org ? p.user_id : p.about || `@${p.username}`}</span>
          </span>
          {selected && <span className={`checkbox${isSel ? ' on' : ''}`} aria-hidden="true">{isSel ? '✓' : ''}</span>}
        </button>
      </li>
    );
  };

  const lookingUp = look.status === 'loading';
  // Once the lookup has something to show, the directory's "nobody found" would contradict it.
  const lookupAnswered = lookingUp || !!lookError || !!found;
  const localFound = found && !foundOrg ? found : null;
  const showDirectory = !!ql && (!lookupAnswered || !!localFound || directory.length > 0 || dir.state.status === 'loading' || dir.state.status === 'error');
  return (
    <div className="picker">
      <form className="search-box" role="search" onSubmit={(e) => { e.preventDefault(); search(); }}>
        <input
          aria-label="Search contacts or find a user by username, phone, email or address"
          aria-describedby={hintId}
          placeholder="Search name, username, phone, email or address"
          value={q}
          onChange={(e) => { setQ(e.target.value); setError(null); }}
        />
        <button type="submit" className="btn-small" disabled={!ql || lookingUp}>Find</button>
      </form>
      <p className="hint lookup-hint" id={hintId}>People at other organizations: enter their address, e.g. name@their-domain</p>
      {error && <p className="form-error pad" role="alert">{error}</p>}
      {lookingUp && (
        <p className="search-status" role="status"><span className="spinner" aria-hidden="true" /> Looking up {addr ? addr.id : `"${q.trim()}"`}…</p>
      )}
      {lookError && <p className="form-error pad" role="alert" data-testid="lookup-error">{lookError}</p>}
      {found && foundOrg && (
        <section aria-label="Other organization">
          <h3 className="list-heading">Found at {foundOrg}</h3>
          <ul className="plain-list">{row(found)}</ul>
        </section>
      )}
      {showDirectory && (
        <section aria-label="Directory results" aria-busy={dir.state.status === 'loading' || lookingUp}>
          <h3 className="list-heading">Found in the directory</h3>
          {dir.state.status === 'error' && <p className="search-error" role="alert">{dir.state.error}</p>}
          {(localFound || directory.length > 0) ? (
            <ul className="plain-list">
              {localFound && row(localFound)}
              {directory.map(row)}
            </ul>
          ) : dir.state.status === 'loading' ? (
            <p className="search-status" role="status"><span className="spinner" aria-hidden="true" /> Searching…</p>
          ) : (dir.state.status === 'done' || !searchable(q)) && !lookupAnswered ? (
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
