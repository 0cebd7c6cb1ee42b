// Settings: registration, limits, retention and allowed origins; applied without a restart.
import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../api/client';
import { useApi } from '../api/context';
import type { Registration, Settings } from '../api/types';
import { ErrorText, Loading, PageHeader } from '../components/ui';
import { useLoad } from '../lib/hooks';
import { fieldOfError, formFromSettings, settingsPatch, validateSettings, type SettingsForm } from './settingsForm';

export function SettingsPage() {
  const { api } = useApi();
  const s = useLoad(() => api.settings(), []);
  // Lives here because saving remounts the editor (see key below).
  const [justSaved, setJustSaved] = useState(false);
  return (
    <>
      <PageHeader title="Settings" />
      <ErrorText error={s.error} />
      {!s.data && !s.error && <Loading what="settings" />}
      {s.data && (
        <SettingsEditor key={JSON.stringify(s.data)} saved={s.data} justSaved={justSaved} onEdit={() => setJustSaved(false)}
          onSaved={(next) => { setJustSaved(true); s.setData(next); }} />
      )}
    </>
  );
}

function SettingsEditor({ saved, onSaved, justSaved, onEdit }: { saved: Settings; onSaved: (s: Settings) => void; justSaved: boolean; onEdit: () => void }) {
  const { api } = useApi();
  const [f, setF] = useState<SettingsForm>(() => formFromSettings(saved));
  const [error, setError] = useState<{ field: string | null; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const set = <K extends keyof SettingsForm>(k: K, v: SettingsForm[K]) => { setF({ ...f, [k]: v }); setStatus(null); onEdit(); };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const patch = settingsPatch(saved, f);
    if (Object.keys(patch).length === 0) {
      setStatus('Nothing changed.');
      return;
    }
    const local = validateSettings(patch);
    if (local) {
      setError(local);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const next = await api.saveSettings(patch);
      onSaved(next); // remounts the editor with the saved values
    } catch (err) {
      const msg = (err as Error).message;
      setError({ field: err instanceof ApiError ? fieldOfError(msg) : null, message: msg });
      setBusy(false);
    }
  };

  // The message goes next to the field it names, or at the bottom of the form otherwise.
  const errFor = (field: string) => (error?.field === field ? <p className="error" role="alert" id={`err-${field}`}>{error.message}</p> : null);
  const row = (field: string, label: string, input: ReactNode, hint?: string) => (
    <div className={`setting-row${error?.field === field ? ' has-error' : ''}`}>
      <label htmlFor={`set-${field}`} className="field-label">{label}</label>
      <div>{input}{hint && <div className="hint">{hint}</div>}{errFor(field)}</div>
    </div>
  );
  const numInput = (field: 'max_upload_mib' | 'login_per_account_per_minute' | 'login_per_ip_per_minute' | 'ws_frames_per_second', min: number, max?: number) => (
    <input id={`set-${field}`} type="number" min={min} max={max} value={f[field]} onChange={(e) => set(field, e.target.value)}
      aria-invalid={error?.field === field} aria-describedby={error?.field === field ? `err-${field}` : undefined} />
  );

  // noValidate: the server checks ranges, and its message is shown next to the field.
  return (
    <form className="card settings" onSubmit={submit} aria-label="Settings" noValidate>
      {row('registration', 'Registration', (
        <select id="set-registration" value={f.registration} onChange={(e) => set('registration', e.target.value as Registration)}>
          <option value="open">Open: anyone can create an account</option>
          <option value="invite_only">Invite only</option>
          <option value="closed">Closed: only admins create accounts</option>
        </select>
      ))}
      {row('max_upload_mib', 'Upload limit (MiB)', numInput('max_upload_mib', 1, 4096), '1–4096')}
      {row('login_per_account_per_minute', 'Login attempts per account per minute', numInput('login_per_account_per_minute', 1))}
      {row('login_per_ip_per_minute', 'Login attempts per IP per minute', numInput('login_per_ip_per_minute', 1))}
      {row('ws_frames_per_second', 'WebSocket frames per second (per connection)', numInput('ws_frames_per_second', 1))}
      <fieldset className={`setting-row${error?.field === 'retention_days' ? ' has-error' : ''}`}>
        <legend className="field-label">Message retention</legend>
        <div className="stack-sm">
          <label className="check"><input type="radio" name="retention" checked={f.retention === 'forever'} onChange={() => set('retention', 'forever')} /> Keep messages forever</label>
          <label className="check">
            <input type="radio" name="retention" checked={f.retention === 'days'} onChange={() => set('retention', 'days')} /> Delete messages older than
            <input type="number" min={1} max={36500} className="input-narrow" aria-label="Retention days" value={f.retention_days}
              disabled={f.retention !== 'days'} onChange={(e) => set('retention_days', e.target.value)} /> days
          </label>
          {errFor('retention_days')}
        </div>
      </fieldset>
      <fieldset className={`setting-row${error?.field === 'allowed_origins' ? ' has-error' : ''}`}>
        <legend className="field-label">Allowed web origins</legend>
        <div>
          <OriginsEditor value={f.allowed_origins} onChange={(v) => set('allowed_origins', v)} />
          <div className="hint">Origins allowed to open the chat socket (e.g. https://chat.example.org). Empty: same origin only.</div>
          {errFor('allowed_origins')}
        </div>
      </fieldset>
      {error && !error.field && <ErrorText error={new Error(error.message)} />}
      <div className="action-row">
        <button type="submit" className="btn btn-primary" disabled={busy}>Save settings</button>
        {status && <span role="status" className="muted">{status}</span>}
        {justSaved && !status && <span role="status" className="ok-text">Saved</span>}
      </div>
    </form>
  );
}

function OriginsEditor({ value, onChange }: { value: string[]; onChange: (v: string[]) => void }) {
  const [draft, setDraft] = useState('');
  const add = () => {
    const o = draft.trim().replace(/\/+$/, '');
    if (o && !value.includes(o)) onChange([...value, o]);
    setDraft('');
  };
  return (
    <div className="stack-sm">
      <ul className="origin-list" aria-label="Allowed origins">
        {value.map((o, i) => (
          <li key={o}>
            <span className="mono">{o}</span>
            <button type="button" className="btn-link" aria-label={`Remove origin ${o}`} onClick={() => onChange(value.filter((_, j) => j !== i))}>Remove</button>
          </li>
        ))}
        {value.length === 0 && <li className="muted">None</li>}
      </ul>
      <div className="action-row">
        <input aria-label="New origin" value={draft} placeholder="https://chat.example.org" onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } }} />
        <button type="button" className="btn btn-small" onClick={add} disabled={!draft.trim()}>Add origin</button>
      </div>
    </div>
  );
}
