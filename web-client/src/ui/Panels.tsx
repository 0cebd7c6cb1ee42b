// Left-pane panels: new chat, new group, profile, contacts, connection diagnostics.
import { useEffect, useState } from 'react';
import type { Profile, Visibility } from '../api/types';
import { app, errorText, useApp } from '../state/store';
import { orgOf, withOrg } from '../api/address';
import { Avatar, Confirm, PanelHeader, PersonTitle, useServerName } from './common';
import { personName } from './format';
import { IconBack, IconCheckMark, IconGroup, IconPencil } from './icons';
import { AvatarEditor } from './Media';
import { UserPicker } from './UserPicker';

export function NewChatPanel({ onClose, onNewGroup }: { onClose: () => void; onNewGroup: () => void }) {
  return (
    <div className="panel" aria-label="New chat" role="region">
      <PanelHeader title="New chat" onBack={onClose} closeIcon={<IconBack />} />
      <div className="panel-body">
        <button type="button" className="list-row action-row" onClick={onNewGroup}>
          <span className="round-icon"><IconGroup /></span>
          <span className="row-title">New group</span>
        </button>
        <UserPicker
          actionLabel={(p) => `Chat with ${p.display_name}`}
          onPick={async (p) => {
            await app.startDirect(p.user_id);
            onClose();
          }}
        />
      </div>
    </div>
  );
}

export function NewGroupPanel({ onClose }: { onClose: () => void }) {
  const profiles = useApp((s) => s.profiles);
  const [step, setStep] = useState<'members' | 'name'>('members');
  const [members, setMembers] = useState<string[]>([]);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The profiles picked here (found by lookup, perhaps never seen in a chat) name the chips.
  const [picked, setPicked] = useState<Record<string, Profile>>({});
  const toggle = (p: Profile) => {
    setPicked((x) => ({ ...x, [p.user_id]: p }));
    setMembers((m) => (m.includes(p.user_id) ? m.filter((x) => x !== p.user_id) : [...m, p.user_id]));
  };
  const local = useServerName();
  const pname = (id: string) => personName(id, { ...picked, ...profiles }, undefined, local);

  if (step === 'members')
    return (
      <div className="panel" role="region" aria-label="Add group members">
        <PanelHeader title="Add group members" onBack={onClose} closeIcon={<IconBack />} />
        <div className="panel-body">
          {members.length > 0 && (
            <ul className="chips" aria-label="Selected members">
              {members.map((id) => (
                <li key={id} className="chip">
                  {pname(id)}
                  <button type="button" aria-label={`Remove ${pname(id)}`} onClick={() => setMembers((m) => m.filter((x) => x !== id))}>×</button>
                </li>
              ))}
            </ul>
          )}
          <UserPicker selected={members} onPick={toggle} actionLabel={(p) => `${members.includes(p.user_id) ? 'Unselect' : 'Select'} ${p.display_name}`} />
        </div>
        <div className="panel-footer">
          <button type="button" className="fab" aria-label="Next: name the group" title="Next" disabled={members.length === 0} onClick={() => setStep('name')}>→</button>
        </div>
      </div>
    );
  return (
    <div className="panel" role="region" aria-label="New group">
      <PanelHeader title="New group" onBack={() => setStep('members')} closeIcon={<IconBack />} />
      <form
        className="panel-body form-pad"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!name.trim()) return setError('Give the group a name.');
          setBusy(true);
          setError(null);
          try {
            await app.createGroup(name.trim(), members);
            onClose();
          } catch (err) {
            setError(errorText(err));
            setBusy(false);
          }
        }}
      >
        <div className="group-avatar-placeholder" aria-hidden="true"><IconGroup width={60} height={60} /></div>
        <label>Group name
          <input autoFocus value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required />
        </label>
        <p className="hint">{members.length} member{members.length === 1 ? '' : 's'}: {members.map(pname).join(', ')}</p>
        {error && <p className="form-error" role="alert">{error}</p>}
        <button type="submit" className="btn-primary" disabled={busy}>Create group</button>
      </form>
    </div>
  );
}

function EditableField({ label, value, onSave, maxLength, multiline, type = 'text', emptyText }: {
  label: string; value: string; onSave: (v: string) => Promise<void>; maxLength?: number; multiline?: boolean; type?: string; emptyText?: string;
}) {
  const [editing, setEditing] = useState(false);
  const [v, setV] = useState(value);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    try {
      setError(null);
      await onSave(v.trim());
      setEditing(false);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <div className="field">
      <div className="field-label">{label}</div>
      {editing ? (
        <form className="field-edit" onSubmit={(e) => { e.preventDefault(); save(); }}>
          {multiline ? (
            <textarea aria-label={label} autoFocus value={v} maxLength={maxLength} onChange={(e) => setV(e.target.value)}
              onKeyDown={(e) => { if (e.key === 'Escape') { setEditing(false); setV(value); } if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); save(); } }} />
          ) : (
            <input aria-label={label} type={type} autoFocus value={v} maxLength={maxLength} onChange={(e) => setV(e.target.value)}
              onKeyDown={(e) => { if (e.key === 'Escape') { setEditing(false); setV(value); } }} />
          )}
          <button type="submit" className="icon-btn" aria-label={`Save ${label.toLowerCase()}`} title="Save"><IconCheckMark /></button>
        </form>
      ) : (
        <div className="field-view">
          <span className={value ? '' : 'muted'}>{value || emptyText || 'Not set'}</span>
          <button type="button" className="icon-btn" aria-label={`Edit ${label.toLowerCase()}`} title="Edit" onClick={() => { setV(value); setEditing(true); }}><IconPencil /></button>
        </div>
      )}
      {error && <p className="form-error" role="alert">{error}</p>}
    </div>
  );
}

export function ProfilePanel({ onClose, onConnection }: { onClose: () => void; onConnection?: () => void }) {
  const me = useApp((s) => s.me)!;
  const [confirmAll, setConfirmAll] = useState(false);
  return (
    <div className="panel" role="region" aria-label="Profile">
      <PanelHeader title="Profile" onBack={onClose} closeIcon={<IconBack />} />
      <div className="panel-body">
        <div className="profile-top">
          <AvatarEditor id={me.user_id} name={me.display_name} media={me.avatar} editable what="profile photo"
            onSet={(file, onProgress, signal) => app.setAvatar(file, file.name || 'avatar', onProgress, signal)}
            onRemove={() => app.removeAvatar()} />
          <div className="muted small">@{me.username} · {me.user_id}</div>
        </div>
        <EditableField label="Your name" value={me.display_name} maxLength={64} onSave={(v) => app.updateProfile({ display_name: v })} />
        <EditableField label="About" value={me.about} maxLength={280} multiline emptyText="Add a few words about yourself" onSave={(v) => app.updateProfile({ about: v })} />
        <EditableField label="Phone" type="tel" value={me.phone ?? ''} onSave={(v) => app.updateProfile({ phone: v })} />
        <EditableField label="Email" type="email" value={me.email ?? ''} onSave={(v) => app.updateProfile({ email: v })} />
        <div className="field">
          <label className="field-label" htmlFor="lsv">Who can see my last seen and online</label>
          <select id="lsv" value={me.last_seen_visibility ?? 'everyone'} onChange={(e) => app.updateProfile({ last_seen_visibility: e.target.value as Visibility }).catch((err) => app.toast(errorText(err)))}>
            <option value="everyone">Everyone</option>
            <option value="contacts">My contacts</option>
            <option value="nobody">Nobody</option>
          </select>
        </div>
        {onConnection && (
          <div className="field">
            <div className="field-label">Connection</div>
            <button type="button" className="btn-text" onClick={onConnection}>Connection diagnostics</button>
          </div>
        )}
        <div className="field">
          <button type="button" className="btn-text danger" onClick={() => app.logout()}>Log out</button>
          <button type="button" className="btn-text danger" onClick={() => setConfirmAll(true)}>Log out on all devices</button>
        </div>
      </div>
      {confirmAll && (
        <Confirm title="Log out on all devices?" body="Every browser and app signed in to your account will be signed out." confirm="Log out everywhere" danger
          onCancel={() => setConfirmAll(false)} onConfirm={() => app.logout(true)} />
      )}
    </div>
  );
}

export function ContactsPanel({ onClose }: { onClose: () => void }) {
  const contacts = useApp((s) => s.contacts);
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Profile | null>(null);
  const added = (contacts ?? []).filter((c) => c.added).map((c) => c.profile.user_id);
  return (
    <div className="panel" role="region" aria-label="Contacts">
      <PanelHeader title={adding ? 'Add contact' : 'Contacts'} onBack={adding ? () => setAdding(false) : onClose} closeIcon={<IconBack />} />
      <div className="panel-body">
        {adding ? (
          <UserPicker
            exclude={added}
            actionLabel={(p) => `Add ${p.display_name} to contacts`}
            onPick={async (p) => {
              await app.api.addContact(p.user_id);
              await app.loadContacts();
              app.toast(`${p.display_name} added to your contacts`);
              setAdding(false);
            }}
          />
        ) : (
          <>
            <button type="button" className="list-row action-row" onClick={() => setAdding(true)}>
              <span className="round-icon">+</span>
              <span className="row-title">Add contact</span>
            </button>
            {error && <p className="form-error pad" role="alert">{error}</p>}
            <ContactsList onRemove={setRemoving} onError={setError} />
          </>
        )}
      </div>
      {removing && (
        <Confirm title={`Remove ${removing.display_name}?`} body="They will no longer be in your contacts. Your chats stay." confirm="Remove" danger
          onCancel={() => setRemoving(null)}
          onConfirm={async () => {
            await app.api.removeContact(removing.user_id);
            await app.loadContacts();
            setRemoving(null);
          }} />
      )}
    </div>
  );
}

function ContactsList({ onRemove, onError }: { onRemove: (p: Profile) => void; onError: (e: string) => void }) {
  const contacts = useApp((s) => s.contacts);
  const local = useServerName();
  useEffect(() => {
    app.loadContacts().catch((e) => onError(errorText(e)));
  }, [onError]);
  if (contacts === null) return <p className="empty">Loading…</p>;
  if (contacts.length === 0) return <p className="empty">No contacts yet.</p>;
  return (
    <ul className="plain-list" aria-label="Contact list">
      {contacts.map((c) => {
        // Someone of another organization: their address under the name, their domain in the labels.
        const org = orgOf(c.profile.user_id, local);
        const who = withOrg(c.profile.display_name, c.profile.user_id, local);
        return (
          <li key={c.profile.user_id} className="list-row static">
            <Avatar id={c.profile.user_id} name={c.profile.display_name} size={40} media={c.profile.avatar} />
            <span className="row-main">
              <PersonTitle id={c.profile.user_id} name={c.profile.display_name} />
              <span className="row-sub">{c.added ? (org ? c.profile.user_id : c.profile.about || `@${c.profile.username}`) : 'From your chats (not added)'}</span>
            </span>
            <button type="button" className="btn-small" aria-label={`Message ${who}`} onClick={() => app.startDirect(c.profile.user_id).catch((e) => onError(errorText(e)))}>Message</button>
            {c.added ? (
              <button type="button" className="btn-small danger" aria-label={`Remove ${who} from contacts`} onClick={() => onRemove(c.profile)}>Remove</button>
            ) : (
              <button type="button" className="btn-small" aria-label={`Add ${who} to contacts`}
                onClick={() => app.api.addContact(c.profile.user_id).then(() => app.loadContacts()).catch((e) => onError(errorText(e)))}>Add</button>
            )}
          </li>
        );
      })}
    </ul>
  );
}

const TRANSPORT_NAMES = { webtransport: 'WebTransport (HTTP/3 over QUIC)', websocket: 'WebSocket' } as const;

/** Connection diagnostics: transport in use, why it fell back, connect time, reconnects. */
export function ConnectionPanel({ onClose }: { onClose: () => void }) {
  const conn = useApp((s) => s.conn);
  const info = useApp((s) => s.connInfo);
  const forceWs = useApp((s) => s.forceWebSocket);
  const status = conn === 'online' ? 'Online' : conn === 'connecting' ? 'Connecting…' : 'Offline';
  return (
    <div className="panel" role="region" aria-label="Connection">
      <PanelHeader title="Connection" onBack={onClose} closeIcon={<IconBack />} />
      <div className="panel-body">
        <dl className="diag" aria-label="Connection diagnostics" data-testid="diagnostics">
          <dt>Status</dt>
          <dd data-testid="diag-status">{status}</dd>
          <dt>Transport</dt>
          <dd data-testid="diag-transport" data-kind={info?.transport ?? ''}>
            {info ? TRANSPORT_NAMES[info.transport] : '—'}
          </dd>
          <dt>Fallback reason</dt>
          <dd data-testid="diag-reason">
            {info?.fallbackReason ? `${info.fallbackReason}${info.remembered ? ' (remembered from an earlier try)' : ''}` : '—'}
          </dd>
          <dt>Connect time</dt>
          <dd data-testid="diag-connect">{info ? `${info.connectMs} ms` : '—'}</dd>
          <dt>Reconnects</dt>
          <dd data-testid="diag-reconnects">{info ? info.reconnects : 0}</dd>
          <dt>Connected since</dt>
          <dd data-testid="diag-since">{info ? new Date(info.connectedAt).toLocaleTimeString() : '—'}</dd>
        </dl>
        <div className="field">
          <label className="check-row">
            <input type="checkbox" checked={forceWs} onChange={(e) => app.setForceWebSocket(e.target.checked)} />
            Always use WebSocket (skip WebTransport)
          </label>
          <div className="muted small">
            WebTransport is tried first; when it is unavailable the app falls back to WebSocket within
            3 seconds and keeps using it for an hour before trying again.
          </div>
        </div>
      </div>
    </div>
  );
}
