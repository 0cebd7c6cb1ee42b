// Create-user and manage-user dialogs (profile edit, disable, reset password, admin role, delete).
import { useState, type FormEvent } from 'react';
import { useApi } from '../../api/context';
import type { AdminUser, CreatedUser, NewUser, UserPatch } from '../../api/types';
import { ConfirmDialog, Dialog } from '../../components/Dialog';
import { Badge, ErrorText, Field, SourceBadge } from '../../components/ui';
import { formatTime } from '../../lib/format';
import { useAction } from '../../lib/hooks';
import { UnitSelect } from '../directory/UnitSelect';

export function CreateUserDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (r: CreatedUser) => void }) {
  const { api } = useApi();
  const [f, setF] = useState({ username: '', display_name: '', email: '', phone: '', password: '', title: '', unit_id: '', is_admin: false });
  const act = useAction();
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    // Send only what was filled in: empty optional fields mean "not given".
    const body: NewUser = { username: f.username.trim(), is_admin: f.is_admin };
    for (const k of ['display_name', 'email', 'phone', 'title', 'unit_id'] as const) if (f[k].trim()) body[k] = f[k].trim();
    if (f.password) body.password = f.password;
    const r = await act.run(() => api.createUser(body));
    if (r) onCreated(r);
  };
  return (
    <Dialog title="Create user" onClose={onClose}>
      <form onSubmit={submit} className="form-grid">
        <Field label="Username"><input value={f.username} onChange={set('username')} required autoFocus autoComplete="off" /></Field>
        <Field label="Display name"><input value={f.display_name} onChange={set('display_name')} /></Field>
        <Field label="Email"><input type="email" value={f.email} onChange={set('email')} /></Field>
        <Field label="Phone"><input type="tel" value={f.phone} onChange={set('phone')} /></Field>
        <Field label="Unit"><UnitSelect value={f.unit_id} onChange={(v) => setF({ ...f, unit_id: v })} /></Field>
        <Field label="Title"><input value={f.title} onChange={set('title')} /></Field>
        <Field label="Password" hint="Leave empty to generate a temporary password (shown once).">
          <input type="password" value={f.password} onChange={set('password')} autoComplete="new-password" />
        </Field>
        <label className="check span-2">
          <input type="checkbox" checked={f.is_admin} onChange={(e) => setF({ ...f, is_admin: e.target.checked })} /> Administrator
        </label>
        <div className="span-2"><ErrorText error={act.error} /></div>
        <div className="dialog-actions span-2">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button type="submit" className="btn btn-primary" disabled={act.busy}>Create user</button>
        </div>
      </form>
    </Dialog>
  );
}

type Pending = 'delete' | 'reset' | 'disable' | null;

export function ManageUserDialog({ user, onClose, onChanged, onSecret }: {
  user: AdminUser;
  onClose: () => void;
  /** The updated user, or null when it was deleted. */
  onChanged: (u: AdminUser | null) => void;
  onSecret: (password: string) => void;
}) {
  const { api, me } = useApi();
  const ldap = user.source === 'ldap';
  const [pending, setPending] = useState<Pending>(null);
  const act = useAction();

  const toggleAdmin = async () => {
    const u = await act.run(() => api.setAdmin(user.user_id, !user.is_admin));
    if (u) onChanged({ ...user, ...u });
  };
  const enable = async () => {
    const p = await act.run(() => api.setDisabled(user.user_id, false));
    if (p) onChanged({ ...user, ...p, disabled: false });
  };

  return (
    <Dialog title={`Manage ${user.username}`} onClose={onClose} wide>
      <div className="stack">
        <div className="user-summary">
          <span className="mono">{user.user_id}</span> <SourceBadge source={user.source} />
          {user.disabled ? <Badge tone="bad">Disabled</Badge> : <Badge tone="good">Active</Badge>}
          {user.is_admin && <Badge tone="info">Admin</Badge>}
          <span className="muted small">created {formatTime(user.created_at)}</span>
          {!!user.groups?.length && <span className="muted small">groups: {user.groups.map((g) => g.name).join(', ')}</span>}
        </div>

        <ProfileForm user={user} onSaved={onChanged} />

        <section aria-label="Account actions" className="stack">
          <h3>Account</h3>
          <div className="action-row">
            {user.disabled ? (
              <button type="button" className="btn" onClick={enable} disabled={act.busy}>Enable</button>
            ) : (
              <button type="button" className="btn" onClick={() => setPending('disable')} disabled={act.busy || user.user_id === me.user_id}>Disable</button>
            )}
            <button type="button" className="btn" onClick={() => setPending('reset')} disabled={act.busy || ldap}
              title={ldap ? 'Directory users log in with their LDAP password; change it in the directory' : undefined}>
              Reset password
            </button>
            <button type="button" className="btn" onClick={toggleAdmin} disabled={act.busy}>
              {user.is_admin ? 'Remove admin' : 'Make admin'}
            </button>
            <button type="button" className="btn btn-danger" onClick={() => setPending('delete')} disabled={act.busy || user.user_id === me.user_id}>
              Delete user
            </button>
          </div>
          {ldap && <p className="hint">Password actions are off for LDAP users: they log in with their directory password.</p>}
          <ErrorText error={act.error} />
        </section>
      </div>

      {pending === 'disable' && (
        <ConfirmDialog title={`Disable ${user.username}?`} confirmLabel="Disable" danger onClose={() => setPending(null)}
          onConfirm={async () => {
            const p = await api.setDisabled(user.user_id, true);
            onChanged({ ...user, ...p, disabled: true });
          }}>
          <p>They are signed out everywhere at once and cannot log in until enabled again. Their chats and messages stay.</p>
        </ConfirmDialog>
      )}
      {pending === 'reset' && (
        <ConfirmDialog title={`Reset the password of ${user.username}?`} confirmLabel="Reset password" onClose={() => setPending(null)}
          onConfirm={async () => {
            const r = await api.resetPassword(user.user_id);
            onSecret(r.temporary_password);
          }}>
          <p>A new temporary password is generated and shown once. All of their sessions end.</p>
        </ConfirmDialog>
      )}
      {pending === 'delete' && (
        <ConfirmDialog title={`Delete ${user.username}?`} confirmLabel="Delete user" danger password onClose={() => setPending(null)}
          onConfirm={async (pw) => {
            await api.deleteUser(user.user_id, pw);
            onChanged(null);
          }}>
          <p>The account is closed for good: sessions end, and the username, email and phone become free again.</p>
          <p><strong>Their messages stay</strong> in the chats they were sent to, shown as from “Deleted user”. They leave every
            group and directory group; media only they used is removed later.</p>
          {user.source === 'ldap' && <p>This user comes from LDAP: if still in the directory, the next sync brings them back as a new account.</p>}
        </ConfirmDialog>
      )}
    </Dialog>
  );
}

const PROFILE_FIELDS = ['display_name', 'email', 'phone', 'title', 'unit_id', 'about'] as const;

function ProfileForm({ user, onSaved }: { user: AdminUser; onSaved: (u: AdminUser) => void }) {
  const { api } = useApi();
  const initial = Object.fromEntries(PROFILE_FIELDS.map((k) => [k, (user[k] as string | null | undefined) ?? ''])) as Record<(typeof PROFILE_FIELDS)[number], string>;
  const [f, setF] = useState(initial);
  const [saved, setSaved] = useState(false);
  const act = useAction();
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => { setF({ ...f, [k]: e.target.value }); setSaved(false); };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    // PATCH only what changed; "" clears email, phone, title and unit.
    const patch: UserPatch = {};
    for (const k of PROFILE_FIELDS) if (f[k] !== initial[k]) patch[k] = f[k].trim();
    if (Object.keys(patch).length === 0) return;
    const u = await act.run(() => api.updateUser(user.user_id, patch));
    if (u) {
      setSaved(true);
      onSaved({ ...user, ...u });
    }
  };
  return (
    <form onSubmit={submit} className="form-grid" aria-label="Profile">
      <h3 className="span-2">Profile</h3>
      <Field label="Display name"><input value={f.display_name} onChange={set('display_name')} /></Field>
      <Field label="Email"><input type="email" value={f.email} onChange={set('email')} /></Field>
      <Field label="Phone"><input type="tel" value={f.phone} onChange={set('phone')} /></Field>
      <Field label="Title"><input value={f.title} onChange={set('title')} /></Field>
      <Field label="Unit"><UnitSelect value={f.unit_id} onChange={(v) => { setF({ ...f, unit_id: v }); setSaved(false); }} /></Field>
      <Field label="About"><input value={f.about} onChange={set('about')} /></Field>
      <div className="span-2"><ErrorText error={act.error} /></div>
      <div className="action-row span-2">
        <button type="submit" className="btn btn-primary" disabled={act.busy}>Save profile</button>
        {saved && <span role="status" className="ok-text">Saved</span>}
      </div>
    </form>
  );
}
