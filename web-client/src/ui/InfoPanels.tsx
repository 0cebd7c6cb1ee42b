import { useEffect, useState } from 'react';
import type { MessageInfo, Profile } from '../api/types';
import type { ChatData } from '../state/logic';
import { app, errorText, useApp } from '../state/store';
import { orgOf } from '../api/address';
import { Avatar, Confirm, MenuButton, OrgBadge, PanelHeader, PersonTitle, Ticks, useServerName, type MenuItem } from './common';
import { chatAvatar, dateTime, displayName, lastSeen, personName, timeOf } from './format';
import { IconCheckMark, IconClose, IconPencil } from './icons';
import { mediaPreview } from '../api/media';
import { AvatarEditor } from './Media';
import { UserPicker } from './UserPicker';

export function ContactInfo({ chat, onClose }: { chat: ChatData; onClose: () => void }) {
  const peer = chat.summary.peer!;
  const profile = useApp((s) => s.profiles[peer]);
  const presence = useApp((s) => s.presence[peer]);
  const contacts = useApp((s) => s.contacts);
  const [error, setError] = useState<string | null>(null);
  const org = orgOf(peer, useServerName());
  useEffect(() => {
    app.loadContacts().catch(() => {});
  }, []);
  const added = contacts?.some((c) => c.profile.user_id === peer && c.added) ?? false;
  const name = profile?.display_name ?? chat.summary.name;
  return (
    <div className="panel">
      <PanelHeader title="Contact info" onBack={onClose} closeIcon={<IconClose />} />
      <div className="panel-body">
        <div className="profile-top">
          <Avatar id={peer} name={name} size={160} media={chatAvatar(chat.summary, { ...(profile ? { [peer]: profile } : {}) })} />
          <h3>{name}<OrgBadge id={peer} /></h3>
          <div className="muted">{org ? peer : `@${profile?.username ?? peer.split('@')[0]} · ${peer}`}</div>
          {org && <div className="muted small">From {org}, another organization</div>}
          <div className="muted small">{presence?.online ? 'online' : presence?.last_seen ? lastSeen(presence.last_seen) : ''}</div>
        </div>
        <div className="field">
          <div className="field-label">About</div>
          <div>{profile?.about || <span className="muted">Nothing here yet</span>}</div>
        </div>
        <div className="field">
          {contacts !== null && (added ? (
            <button type="button" className="btn-text danger" onClick={() => app.api.removeContact(peer).then(() => app.loadContacts()).catch((e) => setError(errorText(e)))}>Remove from contacts</button>
          ) : (
            <button type="button" className="btn-text" onClick={() => app.api.addContact(peer).then(() => app.loadContacts()).catch((e) => setError(errorText(e)))}>Add to contacts</button>
          ))}
          {error && <p className="form-error" role="alert">{error}</p>}
        </div>
      </div>
    </div>
  );
}

export function GroupInfo({ chat, onClose }: { chat: ChatData; onClose: () => void }) {
  const me = useApp((s) => s.me)!.user_id;
  const profiles = useApp((s) => s.profiles);
  const s = chat.summary;
  const amAdmin = !chat.removed && s.members.some((m) => m.user_id === me && m.role === 'admin');
  const [adding, setAdding] = useState(false);
  const [renaming, setRenaming] = useState(false);
  const [newName, setNewName] = useState(s.name);
  const [editingDesc, setEditingDesc] = useState(false);
  const [desc, setDesc] = useState(s.description);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<{ title: string; body: string; confirm: string; run: () => Promise<void> } | null>(null);
  const local = useServerName();
  const name = (u: string) => displayName(u, profiles, me);
  const run = (p: Promise<unknown>) => p.then(() => setError(null)).catch((e) => setError(errorText(e)));

  if (adding)
    return (
      <div className="panel">
        <PanelHeader title="Add member" onBack={() => setAdding(false)} closeIcon={<IconClose />} />
        <div className="panel-body">
          <UserPicker exclude={s.members.map((m) => m.user_id)} actionLabel={(p: Profile) => `Add ${p.display_name} to the group`}
            onPick={async (p) => {
              const entry = await app.api.addMember(s.chat_id, p.user_id);
              app.applyOwnEntry(entry);
              await app.refreshChat(s.chat_id);
              setAdding(false);
            }} />
        </div>
      </div>
    );

  const members = s.members.slice().sort((a, b) => (a.user_id === me ? -1 : b.user_id === me ? 1 : name(a.user_id).localeCompare(name(b.user_id))));
  return (
    <div className="panel">
      <PanelHeader title="Group info" onBack={onClose} closeIcon={<IconClose />} />
      <div className="panel-body">
        <div className="profile-top">
          <AvatarEditor id={s.chat_id} name={s.name} media={s.avatar} group editable={amAdmin} what="group photo"
            onSet={(file, onProgress, signal) => app.setGroupAvatar(s.chat_id, file, file.name || 'group', onProgress, signal)}
            onRemove={() => app.removeGroupAvatar(s.chat_id)} />
          {renaming ? (
            <form className="field-edit" onSubmit={(e) => { e.preventDefault(); run(app.api.updateGroup(s.chat_id, { name: newName.trim() }).then(() => app.refreshChat(s.chat_id)).then(() => setRenaming(false))); }}>
              <input aria-label="Group name" autoFocus value={newName} maxLength={100} onChange={(e) => setNewName(e.target.value)} onKeyDown={(e) => e.key === 'Escape' && setRenaming(false)} />
              <button type="submit" className="icon-btn" aria-label="Save group name" title="Save"><IconCheckMark /></button>
            </form>
          ) : (
            <h3 className="with-edit">
              {s.name}
              {amAdmin && <button type="button" className="icon-btn" aria-label="Rename group" title="Rename group" onClick={() => { setNewName(s.name); setRenaming(true); }}><IconPencil /></button>}
            </h3>
          )}
          <div className="muted">Group · {s.members.length} member{s.members.length === 1 ? '' : 's'}</div>
        </div>
        <div className="field">
          <div className="field-label">Description</div>
          {editingDesc ? (
            <form className="field-edit" onSubmit={(e) => { e.preventDefault(); run(app.api.updateGroup(s.chat_id, { description: desc.trim() }).then(() => app.refreshChat(s.chat_id)).then(() => setEditingDesc(false))); }}>
              <textarea aria-label="Group description" autoFocus value={desc} maxLength={1000} onChange={(e) => setDesc(e.target.value)} />
              <button type="submit" className="icon-btn" aria-label="Save description" title="Save"><IconCheckMark /></button>
            </form>
          ) : (
            <div className="field-view">
              <span className={s.description ? '' : 'muted'}>{s.description || 'No description'}</span>
              {amAdmin && <button type="button" className="icon-btn" aria-label="Edit description" title="Edit description" onClick={() => { setDesc(s.description); setEditingDesc(true); }}><IconPencil /></button>}
            </div>
          )}
        </div>
        {error && <p className="form-error pad" role="alert">{error}</p>}
        <section className="field" aria-label="Members">
          <div className="field-label">{s.members.length} member{s.members.length === 1 ? '' : 's'}</div>
          {amAdmin && (
            <button type="button" className="list-row action-row" onClick={() => setAdding(true)}>
              <span className="round-icon">+</span><span className="row-title">Add member</span>
            </button>
          )}
          <ul className="plain-list" aria-label="Member list">
            {members.map((m) => {
              const items: MenuItem[] = [];
              // Menus and confirmations name other organizations too ("Bob Stone (b.test)").
              const n = personName(m.user_id, profiles, me, local);
              if (m.user_id !== me) {
                items.push({ label: `Message ${n}`, onSelect: () => run(app.startDirect(m.user_id)) });
                if (amAdmin) {
                  if (m.role === 'admin') items.push({ label: 'Dismiss as admin', onSelect: () => run(app.api.demote(s.chat_id, m.user_id).then(app.applyOwnEntry.bind(app)).then(() => app.refreshChat(s.chat_id))) });
                  else items.push({ label: 'Make group admin', onSelect: () => run(app.api.promote(s.chat_id, m.user_id).then(app.applyOwnEntry.bind(app)).then(() => app.refreshChat(s.chat_id))) });
                  items.push({
                    label: 'Remove from group', danger: true,
                    onSelect: () => setConfirm({
                      title: `Remove ${n}?`, body: `${n} will no longer receive messages from "${s.name}".`, confirm: 'Remove',
                      run: async () => {
                        const entry = await app.api.removeMember(s.chat_id, m.user_id);
                        app.applyOwnEntry(entry);
                        await app.refreshChat(s.chat_id);
                      },
                    }),
                  });
                }
              }
              return (
                <li key={m.user_id} className="list-row static" data-member={m.user_id}>
                  <Avatar id={m.user_id} name={displayName(m.user_id, profiles)} size={40} media={profiles[m.user_id]?.avatar} />
                  <span className="row-main">
                    <PersonTitle id={m.user_id} name={m.user_id === me ? 'You' : name(m.user_id)} />
                    <span className="row-sub">{orgOf(m.user_id, local) ? m.user_id : profiles[m.user_id]?.about || `@${profiles[m.user_id]?.username ?? m.user_id.split('@')[0]}`}</span>
                  </span>
                  {m.role === 'admin' && <span className="admin-badge">Group admin</span>}
                  {items.length > 0 && <MenuButton label={`Options for ${n}`} icon={<span aria-hidden="true">⌄</span>} items={items} className="icon-btn small" />}
                </li>
              );
            })}
          </ul>
        </section>
        {!chat.removed && (
          <div className="field">
            <button type="button" className="btn-text danger" onClick={() => setConfirm({
              title: `Exit "${s.name}"?`, body: 'You will stop receiving messages from this group.', confirm: 'Exit group',
              run: async () => {
                const entry = await app.api.leave(s.chat_id);
                app.applyOwnEntry(entry);
              },
            })}>Exit group</button>
          </div>
        )}
      </div>
      {confirm && (
        <Confirm title={confirm.title} body={confirm.body} confirm={confirm.confirm} danger onCancel={() => setConfirm(null)}
          onConfirm={async () => { await confirm.run(); setConfirm(null); }} />
      )}
    </div>
  );
}

export function MessageInfoPanel({ chat, seq, onClose }: { chat: ChatData; seq: number; onClose: () => void }) {
  const me = useApp((s) => s.me)!.user_id;
  const profiles = useApp((s) => s.profiles);
  const [info, setInfo] = useState<MessageInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const m = chat.messages.find((x) => x.seq === seq);
  const marks = JSON.stringify(chat.marks) + chat.summary.others_read_seq + chat.summary.others_delivered_seq;
  useEffect(() => {
    app.api.messageInfo(chat.summary.chat_id, seq).then(setInfo, (e) => setError(errorText(e)));
  }, [chat.summary.chat_id, seq, marks]);
  const others = info?.members.filter((x) => x.user_id !== me) ?? [];
  const read = others.filter((x) => x.read_at);
  const delivered = others.filter((x) => !x.read_at && x.delivered_at);
  const waiting = others.filter((x) => !x.read_at && !x.delivered_at);
  const row = (u: string, at: number | null) => (
    <li key={u} className="list-row static">
      <Avatar id={u} name={displayName(u, profiles)} size={40} media={profiles[u]?.avatar} />
      <span className="row-main">
        <PersonTitle id={u} name={displayName(u, profiles)} />
        <span className="row-sub">{at ? dateTime(at) : ''}</span>
      </span>
    </li>
  );
  return (
    <div className="panel">
      <PanelHeader title="Message info" onBack={onClose} closeIcon={<IconClose />} />
      <div className="panel-body info-body">
        {m && (
          <div className="msg-row out first info-preview">
            <div className="bubble"><span className="text">{m.deleted ? 'This message was deleted' : m.media ? mediaPreview(m.media, m.text) : m.text}</span>
              <span className="meta"><time>{timeOf(m.created_at)}</time>{info && <Ticks state={info.state} />}</span></div>
          </div>
        )}
        {error && <p className="form-error pad" role="alert">{error}</p>}
        {!info && !error && <p className="empty">Loading…</p>}
        {info && chat.summary.kind === 'direct' && others[0] && (
          <div className="field receipt-times">
            <div><Ticks state="read" /> <strong>Read</strong> <span data-testid="read-at">{others[0].read_at ? dateTime(others[0].read_at) : '—'}</span></div>
            <div><Ticks state="delivered" /> <strong>Delivered</strong> <span data-testid="delivered-at">{others[0].delivered_at ? dateTime(others[0].delivered_at) : '—'}</span></div>
          </div>
        )}
        {info && chat.summary.kind === 'group' && (
          <>
            <section className="field" aria-label="Read by">
              <div className="field-label"><Ticks state="read" /> Read by</div>
              {read.length ? <ul className="plain-list">{read.map((x) => row(x.user_id, x.read_at))}</ul> : <p className="muted">Nobody yet</p>}
            </section>
            <section className="field" aria-label="Delivered to">
              <div className="field-label"><Ticks state="delivered" /> Delivered to</div>
              {delivered.length ? <ul className="plain-list">{delivered.map((x) => row(x.user_id, x.delivered_at))}</ul> : <p className="muted">{read.length === others.length ? 'Everyone has read it' : 'Nobody else yet'}</p>}
            </section>
            {waiting.length > 0 && (
              <section className="field" aria-label="Not delivered yet">
                <div className="field-label"><Ticks state="sent" /> Not delivered yet</div>
                <ul className="plain-list">{waiting.map((x) => row(x.user_id, null))}</ul>
              </section>
            )}
          </>
        )}
      </div>
    </div>
  );
}
