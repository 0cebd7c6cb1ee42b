// Users: searchable, sortable, paginated table; actions live in the per-user dialog.
import { useState } from 'react';
import { useApi } from '../../api/context';
import type { AdminUser, SortOrder, UserSort, UserStatus } from '../../api/types';
import { SecretDialog } from '../../components/Dialog';
import { Badge, ErrorText, Pager, PageHeader, SourceBadge } from '../../components/ui';
import { formatRelative, formatTime } from '../../lib/format';
import { useDebounced, useLoad } from '../../lib/hooks';
import { CreateUserDialog, ManageUserDialog } from './UserDialogs';

const LIMIT = 25;

const COLUMNS: { key: UserSort | null; label: string }[] = [
  { key: 'username', label: 'Username' },
  { key: 'display_name', label: 'Name' },
  { key: null, label: 'Unit / title' },
  { key: null, label: 'Status' },
  { key: 'created_at', label: 'Created' },
  { key: 'last_seen', label: 'Last seen' },
];

export function UsersPage() {
  const { api } = useApi();
  const [q, setQ] = useState('');
  const [status, setStatus] = useState<UserStatus>('all');
  const [sort, setSort] = useState<UserSort>('username');
  const [order, setOrder] = useState<SortOrder>('asc');
  const [offset, setOffset] = useState(0);
  const [creating, setCreating] = useState(false);
  const [managing, setManaging] = useState<AdminUser | null>(null);
  const [secret, setSecret] = useState<{ user: string; password: string } | null>(null);
  const query = useDebounced(q.trim(), 300);

  const page = useLoad(() => api.users({ q: query, status, sort, order, offset, limit: LIMIT }), [query, status, sort, order, offset]);

  const sortBy = (key: UserSort) => {
    if (key === sort) setOrder(order === 'asc' ? 'desc' : 'asc');
    else {
      setSort(key);
      // Newest first is the useful default for times.
      setOrder(key === 'created_at' || key === 'last_seen' ? 'desc' : 'asc');
    }
    setOffset(0);
  };

  const users = page.data?.users ?? [];
  return (
    <>
      <PageHeader title="Users">
        <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>Create user</button>
      </PageHeader>
      <div className="toolbar" role="search">
        <label className="field inline">
          <span className="field-label">Search</span>
          <input type="search" value={q} placeholder="Username, name, email or phone" onChange={(e) => { setQ(e.target.value); setOffset(0); }} />
        </label>
        <label className="field inline">
          <span className="field-label">Status</span>
          <select value={status} onChange={(e) => { setStatus(e.target.value as UserStatus); setOffset(0); }}>
            <option value="all">All</option>
            <option value="active">Active</option>
            <option value="disabled">Disabled</option>
            <option value="admins">Admins</option>
          </select>
        </label>
        {page.loading && <span className="muted" role="status">Loading…</span>}
      </div>
      <ErrorText error={page.error} />
      <div className="table-wrap">
        <table className="table" aria-label="Users" aria-busy={page.loading}>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c.label} scope="col" aria-sort={c.key && c.key === sort ? (order === 'asc' ? 'ascending' : 'descending') : undefined}>
                  {c.key ? (
                    <button type="button" className="th-sort" onClick={() => sortBy(c.key!)}>
                      {c.label}
                      <span aria-hidden="true">{c.key === sort ? (order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
                    </button>
                  ) : c.label}
                </th>
              ))}
              <th scope="col"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.user_id} data-testid="user-row">
                <td>
                  <span className="mono">{u.username}</span> <SourceBadge source={u.source} />
                </td>
                <td>{u.display_name}{u.email && <div className="muted small">{u.email}</div>}</td>
                <td>
                  {u.unit_path?.length ? u.unit_path.join(' › ') : <span className="muted">–</span>}
                  {u.title && <div className="muted small">{u.title}</div>}
                </td>
                <td>
                  {u.disabled ? <Badge tone="bad">Disabled</Badge> : <Badge tone="good">Active</Badge>}{' '}
                  {u.is_admin && <Badge tone="info">Admin</Badge>}
                </td>
                <td title={formatTime(u.created_at)}>{formatTime(u.created_at)}</td>
                <td>{u.last_seen ? <span title={formatTime(u.last_seen)}>{formatRelative(u.last_seen)}</span> : <span className="muted">never</span>}</td>
                <td>
                  <button type="button" className="btn btn-small" onClick={() => setManaging(u)} aria-label={`Manage ${u.username}`}>Manage</button>
                </td>
              </tr>
            ))}
            {!page.loading && users.length === 0 && (
              <tr><td colSpan={COLUMNS.length + 1} className="muted">No users match.</td></tr>
            )}
          </tbody>
        </table>
      </div>
      {page.data && <Pager label="Users pages" offset={offset} limit={LIMIT} total={page.data.total} onChange={setOffset} />}

      {creating && (
        <CreateUserDialog
          onClose={() => setCreating(false)}
          onCreated={(r) => {
            setCreating(false);
            page.reload();
            if (r.temporary_password) setSecret({ user: r.user.username, password: r.temporary_password });
          }}
        />
      )}
      {managing && (
        <ManageUserDialog
          user={managing}
          onClose={() => setManaging(null)}
          onChanged={(u) => {
            if (u) setManaging(u);
            else setManaging(null);
            page.reload();
          }}
          onSecret={(password) => setSecret({ user: managing.username, password })}
        />
      )}
      {secret && (
        <SecretDialog title={`Temporary password for ${secret.user}`} label="Temporary password" secret={secret.password} onClose={() => setSecret(null)} />
      )}
    </>
  );
}
