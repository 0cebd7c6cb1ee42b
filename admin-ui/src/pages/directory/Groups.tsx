// Groups: create, edit, delete, members (via the user picker) and the group's chat.
import { useMemo, useState } from 'react';
import { useApi } from '../../api/context';
import type { Group } from '../../api/types';
import { ConfirmDialog } from '../../components/Dialog';
import { Badge, ErrorText, SourceBadge } from '../../components/ui';
import { useAction, useLoad } from '../../lib/hooks';
import { NameDialog } from './UnitTree';
import { UserPicker } from './UserPicker';

export function GroupsPanel({ groups, onChanged }: { groups: Group[]; onChanged: () => void }) {
  const { api } = useApi();
  const [creating, setCreating] = useState(false);
  // Names for member IDs: one page of users is enough for display; unknown IDs show as is.
  const people = useLoad(() => api.users({ limit: 200, sort: 'username' }), []);
  const names = useMemo(() => new Map((people.data?.users ?? []).map((u) => [u.user_id, u.display_name || u.username])), [people.data]);
  const sorted = useMemo(() => [...groups].sort((a, b) => a.name.localeCompare(b.name)), [groups]);
  return (
    <section className="card" aria-labelledby="groups-title">
      <div className="card-head">
        <h2 id="groups-title">Groups</h2>
        <button type="button" className="btn btn-small btn-primary" onClick={() => setCreating(true)}>New group</button>
      </div>
      {sorted.length === 0 && <p className="muted">No groups yet.</p>}
      <div className="stack">
        {sorted.map((g) => <GroupCard key={g.group_id} group={g} names={names} onChanged={onChanged} />)}
      </div>
      {creating && (
        <NameDialog title="New group" initial="" description="" confirm="Create group" onClose={() => setCreating(false)}
          onSave={async (name, description) => { await api.createGroup(name, description); onChanged(); }} />
      )}
    </section>
  );
}

function GroupCard({ group: g, names, onChanged }: { group: Group; names: Map<string, string>; onChanged: () => void }) {
  const { api } = useApi();
  const ro = g.source === 'ldap';
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [chat, setChat] = useState<string | null>(null);
  const act = useAction();
  const members = useMemo(() => new Set(g.members), [g.members]);

  const setMember = async (userId: string, member: boolean) => {
    if (await act.run(() => api.setMember(g.group_id, userId, member))) onChanged();
  };
  const makeChat = async () => {
    const r = await act.run(() => api.groupChat(g.group_id));
    if (r) {
      setChat(r.chat_id);
      onChanged();
    }
  };

  return (
    <article className="group-card" aria-label={`Group ${g.name}`} data-testid="group-card">
      <div className="card-head">
        <h3>{g.name} {ro && <SourceBadge source="ldap" />}</h3>
        <div className="action-row">
          <button type="button" className="btn btn-small" onClick={makeChat} disabled={act.busy}
            title="Creates the group's chat (you become its admin), or adds missing members to it">
            {g.chat_id ? 'Update group chat' : 'Create group chat'}
          </button>
          {!ro && <button type="button" className="btn btn-small" onClick={() => setEditing(true)} aria-label={`Edit group ${g.name}`}>Edit</button>}
          {!ro && <button type="button" className="btn btn-small btn-danger" onClick={() => setDeleting(true)} aria-label={`Delete group ${g.name}`}>Delete</button>}
        </div>
      </div>
      {g.description && <p className="muted">{g.description}</p>}
      {(chat ?? g.chat_id) && <p className="small" role="status">Group chat: <Badge tone="good">{chat ? 'ready' : 'exists'}</Badge> <span className="mono">{chat ?? g.chat_id}</span></p>}
      <h4>{g.members.length} member{g.members.length === 1 ? '' : 's'}</h4>
      <ul className="member-list" aria-label={`Members of ${g.name}`}>
        {g.members.map((id) => (
          <li key={id}>
            {names.get(id) ?? id} <span className="muted mono small">{id}</span>
            {!ro && (
              <button type="button" className="btn-link" onClick={() => setMember(id, false)} aria-label={`Remove ${names.get(id) ?? id} from ${g.name}`}>Remove</button>
            )}
          </li>
        ))}
      </ul>
      {!ro && <UserPicker label={`Add member to ${g.name}`} exclude={members} onPick={(u) => setMember(u.user_id, true)} />}
      <ErrorText error={act.error} />
      {editing && (
        <NameDialog title={`Edit group ${g.name}`} initial={g.name} description={g.description} confirm="Save" onClose={() => setEditing(false)}
          onSave={async (name, description) => { await api.updateGroup(g.group_id, { name, description }); onChanged(); }} />
      )}
      {deleting && (
        <ConfirmDialog title={`Delete group ${g.name}?`} confirmLabel="Delete group" danger onClose={() => setDeleting(false)}
          onConfirm={async () => { await api.deleteGroup(g.group_id); onChanged(); }}>
          <p>The group is removed. Its members stay, and so does its chat if one was made.</p>
        </ConfirmDialog>
      )}
    </article>
  );
}
