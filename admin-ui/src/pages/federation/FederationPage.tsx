// Federation: this appliance's identity, invites for other appliances, adding a peer from
// theirs, and the peers with their live figures (refreshed every 5 s) and revocation.
import { useState, type FormEvent } from 'react';
import { useApi } from '../../api/context';
import type { CreatedFederationInvite, Federation, Peer } from '../../api/types';
import { ConfirmDialog } from '../../components/Dialog';
import { Badge, CopyButton, ErrorText, Field, Loading, PageHeader } from '../../components/ui';
import { formatRelative, formatTime } from '../../lib/format';
import { useAction, useInterval, useLoad } from '../../lib/hooks';
import {
  TTL_DEFAULT_HOURS, TTL_MAX_HOURS, TTL_MIN_HOURS, formatFingerprint, parseInviteInput, parseTtlHours, previewInvite,
} from './federation';
import { PeersTable, RevokedPeersTable } from './PeersTable';

const REFRESH_MS = 5000;

export function FederationPage() {
  const { api } = useApi();
  const fed = useLoad(() => api.federation(), []);
  const [revoking, setRevoking] = useState<Peer | null>(null);
  // Only an enabled federation has figures that move.
  useInterval(() => { if (fed.data?.enabled) fed.reload(); }, REFRESH_MS);
  const f = fed.data;

  return (
    <>
      <PageHeader title="Federation">
        {f && (f.enabled ? <Badge tone="good">On</Badge> : <Badge>Off</Badge>)}
        {f?.enabled && <span className="muted small">Refreshes every 5 s</span>}
      </PageHeader>
      {/* Keep the last figures on screen when a refresh fails; say so above them. */}
      <ErrorText error={fed.error} />
      {!f && !fed.error && <Loading what="federation" />}
      {f && !f.enabled && <FederationOff />}
      {f?.enabled && (
        <div className="stack-lg">
          <Identity f={f} />
          <div className="two-col">
            <CreateInvite />
            <AddPeer onAdded={fed.reload} />
          </div>
          <PeersTable peers={f.peers} onRevoke={setRevoking} />
          <RevokedPeersTable peers={f.peers} />
        </div>
      )}
      {revoking && (
        <ConfirmDialog title={`Revoke ${revoking.server_name}?`} confirmLabel="Revoke peer" danger password onClose={() => setRevoking(null)}
          onConfirm={async (pw) => {
            await api.revokePeer(revoking.server_name, pw);
            fed.reload();
          }}>
          <p><strong>{revoking.server_name}</strong> is cut off at once:</p>
          <ul className="consequences">
            <li>its connections are closed now, and its certificate is refused from then on, in both directions;</li>
            <li>nothing more is sent to it or accepted from it{revoking.queue_depth > 0 && <> (the {revoking.queue_depth} event(s) waiting for it are not delivered)</>};</li>
            <li>chats with people at {revoking.server_name} stop receiving their messages, and they stop receiving yours.</li>
          </ul>
          <p>It stays listed here as revoked.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

function FederationOff() {
  return (
    <section className="card stack fed-card narrow" aria-labelledby="fed-off">
      <h2 id="fed-off">Federation is off</h2>
      <p>This appliance does not talk to other organizations’ appliances: people here can only chat with each other.</p>
      <p>To turn it on, set this in <code>/etc/parley/parley.toml</code> on the appliance:</p>
      <pre className="config" aria-label="Configuration to add">{'[federation]\nenabled = true'}</pre>
      <p>then restart Parley (<code>sudo systemctl restart parley</code>). The federation endpoint listens on UDP port 8448
        (<code>listen</code>); other appliances must be able to reach it, at <code>public_address</code> if that differs.
        Then come back here to invite another appliance or add one.</p>
    </section>
  );
}

/** A fingerprint in groups of four; it wraps only between its two halves. */
function Fingerprint({ fp, testId }: { fp: string | null | undefined; testId?: string }) {
  const groups = formatFingerprint(fp).split(' ');
  const half = Math.ceil(groups.length / 2);
  return (
    <code className="fingerprint" data-testid={testId} title="SHA-256 of the federation certificate">
      <span>{groups.slice(0, half).join(' ')}</span>{groups.length > 1 && ' '}<span>{groups.slice(half).join(' ')}</span>
    </code>
  );
}

function Identity({ f }: { f: Federation }) {
  return (
    <section className="card fed-card" aria-labelledby="fed-identity">
      <h2 id="fed-identity">This appliance</h2>
      <dl className="kv">
        <dt>Server name</dt><dd className="mono" data-testid="fed-server-name">{f.server_name}</dd>
        <dt>Federation address</dt><dd className="mono" data-testid="fed-address">{f.address || '–'}</dd>
        <dt>Certificate fingerprint</dt>
        <dd>
          <div className="fingerprint-row">
            <Fingerprint fp={f.fingerprint} testId="fed-fingerprint" />
            {f.fingerprint && <CopyButton text={f.fingerprint} label="Copy fingerprint" />}
          </div>
          <div className="hint">Other administrators compare this with what their console shows for you, over a channel you trust (a call, in person).</div>
        </dd>
        <dt>Directory</dt>
        <dd>
          {f.directory === 'closed'
            ? <><Badge>closed</Badge> <span className="hint">peers cannot look up people here by address</span></>
            : <><Badge tone="info">open</Badge> <span className="hint">peers may look up people here by address (name@{f.server_name})</span></>}
        </dd>
      </dl>
    </section>
  );
}

function CreateInvite() {
  const { api } = useApi();
  const [hours, setHours] = useState(String(TTL_DEFAULT_HOURS));
  const [invalid, setInvalid] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedFederationInvite | null>(null);
  const act = useAction();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ttl = parseTtlHours(hours);
    if ('error' in ttl) {
      setInvalid(ttl.error);
      return;
    }
    setInvalid(null);
    setCreated(null);
    const r = await act.run(() => api.createFederationInvite(ttl.hours));
    if (r) setCreated(r);
  };

  return (
    <section className="card stack fed-card" aria-labelledby="fed-invite">
      <h2 id="fed-invite">Invite another appliance</h2>
      <p className="muted">Send the invite to the other organization’s administrator over a channel you trust; they paste it
        under “Add a peer” in their console.</p>
      <form className="toolbar" onSubmit={submit} aria-label="Create invite" noValidate>
        <Field label="Valid for (hours)" hint={`${TTL_MIN_HOURS}–${TTL_MAX_HOURS} hours (30 days)`}>
          <input type="number" min={TTL_MIN_HOURS} max={TTL_MAX_HOURS} step={1} value={hours} aria-invalid={invalid ? true : undefined}
            onChange={(e) => { setHours(e.target.value); setInvalid(null); }} required />
        </Field>
        <button type="submit" className="btn btn-primary" disabled={act.busy}>{act.busy ? 'Creating…' : 'Create invite'}</button>
      </form>
      <ErrorText error={invalid ? new Error(invalid) : act.error} />
      {created && (
        <div className="stack-sm new-invite" role="group" aria-label="New invite">
          <p className="notice"><strong>Shown once, works once.</strong> Copy it now: this appliance keeps only its hash, and the
            first appliance that uses it becomes a peer.</p>
          <textarea className="invite-text" readOnly rows={5} aria-label="Invite string" data-testid="fed-invite" value={created.invite}
            onFocus={(e) => e.currentTarget.select()} spellCheck={false} />
          <div className="action-row">
            <CopyButton text={created.invite} label="Copy invite" />
            <span className="muted small">Expires {formatTime(created.expires_at)} ({formatRelative(created.expires_at)})</span>
            <button type="button" className="btn btn-small" onClick={() => setCreated(null)}>Done</button>
          </div>
        </div>
      )}
    </section>
  );
}

function AddPeer({ onAdded }: { onAdded: () => void }) {
  const { api } = useApi();
  const [text, setText] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const [added, setAdded] = useState<Peer | null>(null);
  const act = useAction();
  const parsed = parseInviteInput(text);
  const preview = 'invite' in parsed ? previewInvite(parsed.invite) : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setAdded(null);
    if ('error' in parsed) {
      setInvalid(parsed.error);
      return;
    }
    setInvalid(null);
    const p = await act.run(() => api.addPeer(parsed.invite));
    if (p) {
      setAdded(p);
      setText('');
      onAdded();
    }
  };

  return (
    <section className="card stack fed-card" aria-labelledby="fed-add">
      <h2 id="fed-add">Add a peer</h2>
      <p className="muted">Paste an invite from another Parley appliance. This appliance connects to it, proves the invite’s
        secret, and both pin each other’s certificate.</p>
      <form className="stack-sm" onSubmit={submit} aria-label="Add peer" noValidate>
        <Field label="Invite from the other appliance">
          <textarea className="invite-text" rows={4} value={text} placeholder="parley-fed:…" spellCheck={false} autoComplete="off"
            aria-invalid={invalid ? true : undefined}
            onChange={(e) => { setText(e.target.value); setInvalid(null); setAdded(null); act.setError(null); }} />
        </Field>
        {preview && (
          <div className="invite-preview stack-sm" role="group" aria-label="Invite details">
            <dl className="kv small">
              <dt>From</dt><dd className="mono">{preview.server_name}</dd>
              <dt>Address</dt><dd className="mono">{preview.address}</dd>
              <dt>Fingerprint</dt><dd><Fingerprint fp={preview.fingerprint} /></dd>
              {preview.expires_at && <><dt>Expires</dt><dd>{formatTime(preview.expires_at)} ({formatRelative(preview.expires_at)})</dd></>}
            </dl>
            <p className="hint">Check this fingerprint with {preview.server_name}’s administrator before adding the peer.</p>
          </div>
        )}
        <div className="action-row">
          <button type="submit" className="btn btn-primary" disabled={act.busy}>{act.busy ? 'Connecting…' : 'Add peer'}</button>
          {added && <span role="status" className="ok-text">Peered with {added.server_name}</span>}
        </div>
        <ErrorText error={invalid ? new Error(invalid) : act.error} />
      </form>
    </section>
  );
}
