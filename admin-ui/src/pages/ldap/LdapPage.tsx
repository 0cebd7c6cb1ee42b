// LDAP: connection settings (bind password write-only), enable + interval, test, sync now.
import { useState, type FormEvent } from 'react';
import { useApi } from '../../api/context';
import type { LdapAttributes, LdapConfig, SyncReport, TestReport } from '../../api/types';
import { ConfirmDialog } from '../../components/Dialog';
import { Badge, ErrorText, Field, Loading, PageHeader } from '../../components/ui';
import { useAction, useLoad } from '../../lib/hooks';
import { ATTRIBUTE_LABELS, formFromConfig, needsReauth, updateFromForm, type LdapForm } from './ldapForm';
import { SyncReportView, TestReportView } from './Reports';

export function LdapPage() {
  const { api } = useApi();
  const cfg = useLoad(() => api.ldap(), []);
  // Lives here because saving remounts the editor (see key below).
  const [justSaved, setJustSaved] = useState(false);
  return (
    <>
      <PageHeader title="LDAP" />
      <ErrorText error={cfg.error} />
      {!cfg.data && !cfg.error && <Loading what="LDAP settings" />}
      {/* key: a fresh form for each saved config, so the typed password is cleared after saving. */}
      {cfg.data && (
        <LdapEditor key={JSON.stringify(cfg.data)} saved={cfg.data} justSaved={justSaved} onEdit={() => setJustSaved(false)}
          onSaved={(c) => { setJustSaved(true); cfg.setData(c); }} />
      )}
    </>
  );
}

function LdapEditor({ saved, onSaved, justSaved, onEdit }: { saved: LdapConfig; onSaved: (c: LdapConfig) => void; justSaved: boolean; onEdit: () => void }) {
  const { api } = useApi();
  const [f, setF] = useState<LdapForm>(() => formFromConfig(saved));
  const [askPw, setAskPw] = useState(false);
  const [test, setTest] = useState<TestReport | null>(null);
  const [sync, setSync] = useState<SyncReport | null>(null);
  const saving = useAction();
  const testing = useAction();
  const syncing = useAction();

  const set = <K extends keyof LdapForm>(k: K, v: LdapForm[K]) => { setF({ ...f, [k]: v }); onEdit(); };
  const text = (k: 'url' | 'bind_dn' | 'base_dn' | 'user_filter' | 'group_filter' | 'sync_interval_minutes' | 'ca_pem' | 'bind_password') =>
    ({ value: f[k], onChange: (e: { target: { value: string } }) => set(k, e.target.value) });
  const setAttr = (k: keyof LdapAttributes, v: string) => set('attributes', { ...f.attributes, [k]: v });

  const save = async (password?: string) => {
    onSaved(await api.saveLdap(updateFromForm(f, password)));
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (needsReauth(saved, f)) setAskPw(true);
    else await saving.run(() => save());
  };
  const runTest = async () => {
    setTest(null);
    const r = await testing.run(() => api.testLdap(updateFromForm(f).settings));
    if (r) setTest(r);
  };
  const runSync = async () => {
    setSync(null);
    const r = await syncing.run(() => api.syncLdap());
    if (r) setSync(r);
  };

  return (
    <div className="stack-lg">
      <section className="card" aria-label="Sync state">
        <div className="card-head">
          <h2>Sync {saved.enabled ? <Badge tone="good">Enabled</Badge> : <Badge>Off</Badge>}</h2>
          <button type="button" className="btn" onClick={runSync} disabled={syncing.busy || !saved.enabled}
            title={saved.enabled ? undefined : 'Enable and save the LDAP settings first'}>
            {syncing.busy ? 'Syncing…' : 'Sync now'}
          </button>
        </div>
        <ErrorText error={syncing.error} />
        {sync && <SyncReportView r={sync} label="Sync now report" />}
        {!sync && saved.last_sync && <SyncReportView r={saved.last_sync} label="Last sync" />}
        {!sync && !saved.last_sync && <p className="muted">No sync has run yet.</p>}
      </section>

      <form className="card form-grid" onSubmit={submit} aria-label="LDAP settings">
        <h2 className="span-2">Connection</h2>
        <label className="check span-2">
          <input type="checkbox" checked={f.enabled} onChange={(e) => set('enabled', e.target.checked)} /> Enable LDAP sync and directory logins
        </label>
        <Field label="Sync interval (minutes)" hint="0 = manual only">
          <input type="number" min={0} {...text('sync_interval_minutes')} />
        </Field>
        <Field label="Server URL" hint="ldap://host:389 or ldaps://host:636"><input {...text('url')} placeholder="ldaps://ldap.example.org" /></Field>
        <label className="check span-2">
          <input type="checkbox" checked={f.starttls} onChange={(e) => set('starttls', e.target.checked)} /> Use StartTLS (for ldap:// URLs)
        </label>
        <Field label="CA certificate (PEM)" hint="Only for a private CA; empty = system roots">
          <textarea rows={3} {...text('ca_pem')} placeholder="-----BEGIN CERTIFICATE-----" className="mono" />
        </Field>
        <Field label="Bind DN"><input {...text('bind_dn')} placeholder="cn=parley,ou=services,dc=example,dc=org" /></Field>
        <Field label="Bind password"
          hint={saved.settings.bind_password_set ? 'A password is set. Leave empty to keep it; type a new one to replace it.' : 'Not set.'}>
          <input type="password" autoComplete="new-password" {...text('bind_password')}
            placeholder={saved.settings.bind_password_set ? '•••••••• (set)' : ''} />
        </Field>
        <Field label="Base DN"><input {...text('base_dn')} placeholder="dc=example,dc=org" /></Field>
        <Field label="User filter"><input {...text('user_filter')} className="mono" /></Field>
        <Field label="Group filter"><input {...text('group_filter')} className="mono" /></Field>

        <fieldset className="span-2 form-grid">
          <legend>Attribute mapping</legend>
          {(Object.keys(ATTRIBUTE_LABELS) as (keyof LdapAttributes)[]).map((k) => (
            <Field key={k} label={`${ATTRIBUTE_LABELS[k]} attribute`}>
              <input value={f.attributes[k] ?? ''} onChange={(e) => setAttr(k, e.target.value)} className="mono" />
            </Field>
          ))}
        </fieldset>

        <div className="span-2"><ErrorText error={saving.error} /></div>
        <div className="action-row span-2">
          <button type="submit" className="btn btn-primary" disabled={saving.busy}>Save</button>
          <button type="button" className="btn" onClick={runTest} disabled={testing.busy}>
            {testing.busy ? 'Testing…' : 'Test connection'}
          </button>
          {justSaved && <span role="status" className="ok-text">Saved</span>}
        </div>
        <div className="span-2" aria-live="polite">
          {testing.error && (
            <div className="report report-bad" role="alert" aria-label="Test failed">
              <Badge tone="bad">Failed</Badge> <span data-testid="ldap-test-error">{testing.error.message}</span>
            </div>
          )}
          {test && <TestReportView r={test} />}
        </div>
      </form>

      {askPw && (
        <ConfirmDialog title="Turn LDAP sync off?" confirmLabel="Turn off and save" danger password onClose={() => setAskPw(false)}
          onConfirm={(pw) => save(pw)}>
          <p>Directory users can no longer log in with their LDAP password, and the directory stops syncing.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
