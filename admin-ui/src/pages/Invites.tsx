// Invites: list, create (expiry, max uses), copy link, revoke.
import { useState, type FormEvent } from 'react';
import { useApi } from '../api/context';
import type { CreatedInvite, Invite } from '../api/types';
import { ConfirmDialog } from '../components/Dialog';
import { Badge, CopyButton, ErrorText, Field, Loading, PageHeader } from '../components/ui';
import { formatRelative, formatTime } from '../lib/format';
import { useAction, useLoad } from '../lib/hooks';

export const inviteLink = (code: string, origin = location.origin) => `${origin}/?invite=${encodeURIComponent(code)}`;

export function InvitesPage() {
  const { api } = useApi();
  const list = useLoad(() => api.invites(), []);
  const [hours, setHours] = useState('72');
  const [uses, setUses] = useState('1');
  const [created, setCreated] = useState<CreatedInvite | null>(null);
  const [revoking, setRevoking] = useState<Invite | null>(null);
  const act = useAction();

  const create = async (e: FormEvent) => {
    e.preventDefault();
    const r = await act.run(() => api.createInvite({ expires_in_hours: Number(hours), max_uses: Number(uses) }));
    if (r) {
      setCreated(r);
      list.reload();
    }
  };

  const invites = list.data?.invites ?? [];
  return (
    <>
      <PageHeader title="Invites" />
      <p className="muted">Invites let people register while the registration policy is “invite only” (see Settings).</p>
      <form className="card toolbar" onSubmit={create} aria-label="New invite">
        <Field label="Expires in (hours)">
          <input type="number" min={1} max={8760} value={hours} onChange={(e) => setHours(e.target.value)} required />
        </Field>
        <Field label="Max uses">
          <input type="number" min={1} max={1000} value={uses} onChange={(e) => setUses(e.target.value)} required />
        </Field>
        <button type="submit" className="btn btn-primary" disabled={act.busy}>Create invite</button>
        <ErrorText error={act.error} />
      </form>
      {created && (
        <div className="card notice-card" role="status" aria-label="New invite link">
          <strong>Invite created.</strong> Link: <code data-testid="new-invite-link">{inviteLink(created.code)}</code>{' '}
          <CopyButton text={inviteLink(created.code)} label="Copy new invite link" /> · expires {formatTime(created.expires_at)} · {created.uses_left} use(s)
        </div>
      )}
      <ErrorText error={list.error} />
      {list.loading && !list.data && <Loading what="invites" />}
      <div className="table-wrap">
        <table className="table" aria-label="Invites">
          <thead>
            <tr>
              <th scope="col">Code</th><th scope="col">Link</th><th scope="col">Created</th><th scope="col">Expires</th>
              <th scope="col">Uses left</th><th scope="col">State</th><th scope="col"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {invites.map((i) => {
              const dead = i.expired || i.uses_left <= 0;
              return (
                <tr key={i.code} data-testid="invite-row" className={dead ? 'row-dim' : undefined}>
                  <td className="mono">{i.code}</td>
                  <td><span className="mono small">/?invite={i.code}</span> <CopyButton text={inviteLink(i.code)} label={`Copy link for invite ${i.code}`} /></td>
                  <td>{i.created_at ? formatTime(i.created_at) : '–'}{i.created_by && <div className="muted small">{i.created_by}</div>}</td>
                  <td title={formatTime(i.expires_at)}>{formatRelative(i.expires_at)}</td>
                  <td>{i.uses_left}{i.max_uses != null && ` / ${i.max_uses}`}</td>
                  <td>{i.expired ? <Badge tone="bad">Expired</Badge> : i.uses_left <= 0 ? <Badge>Used up</Badge> : <Badge tone="good">Valid</Badge>}</td>
                  <td><button type="button" className="btn btn-small btn-danger" onClick={() => setRevoking(i)} aria-label={`Revoke invite ${i.code}`}>Revoke</button></td>
                </tr>
              );
            })}
            {list.data && invites.length === 0 && <tr><td colSpan={7} className="muted">No invites.</td></tr>}
          </tbody>
        </table>
      </div>
      {revoking && (
        <ConfirmDialog title="Revoke invite?" confirmLabel="Revoke" danger onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api.revokeInvite(revoking.code);
            if (created?.code === revoking.code) setCreated(null);
            list.reload();
          }}>
          <p>Nobody can register with <code>{revoking.code}</code> any more. Accounts already made with it stay.</p>
        </ConfirmDialog>
      )}
    </>
  );
}
