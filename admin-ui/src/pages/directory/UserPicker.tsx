// Finds a user with GET /api/admin/users?q= (debounced) and hands the choice back.
import { useId, useState } from 'react';
import { useApi } from '../../api/context';
import type { AdminUser } from '../../api/types';
import { ErrorText } from '../../components/ui';
import { useDebounced, useLoad } from '../../lib/hooks';

// The box is cleared at once on a pick, so a new search typed meanwhile is not wiped.
export function UserPicker({ label, exclude, onPick }: { label: string; exclude: Set<string>; onPick: (u: AdminUser) => Promise<void> | void }) {
  const { api } = useApi();
  const [q, setQ] = useState('');
  const query = useDebounced(q.trim(), 250);
  const id = useId();
  const found = useLoad(() => (query ? api.users({ q: query, limit: 8 }) : Promise.resolve(null)), [query]);
  const users = (found.data?.users ?? []).filter((u) => !exclude.has(u.user_id));
  return (
    <div className="picker">
      <label className="field">
        <span className="field-label">{label}</span>
        <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Search users" aria-controls={id} />
      </label>
      <ErrorText error={found.error} />
      {query && (
        <ul id={id} className="picker-results" aria-label={`${label}: results`}>
          {users.map((u) => (
            <li key={u.user_id}>
              <button type="button" className="btn btn-small" onClick={() => { setQ(''); void onPick(u); }}
                aria-label={`Add ${u.username}`}>
                Add
              </button>{' '}
              {u.display_name} <span className="muted mono small">{u.username}</span>
            </li>
          ))}
          {!found.loading && users.length === 0 && <li className="muted">No matching users.</li>}
        </ul>
      )}
    </div>
  );
}
