// Backups: list, back up now, download, delete, schedule, restore.
import { useEffect, useState, type FormEvent } from 'react';
import { useApi } from '../api/context';
import type { Backup, Schedule } from '../api/types';
import { ConfirmDialog } from '../components/Dialog';
import { Badge, ErrorText, Field, Loading, PageHeader } from '../components/ui';
import { saveBlob } from '../lib/download';
import { formatBytes, formatNumber, formatRelative, formatTime } from '../lib/format';
import { useAction, useLoad } from '../lib/hooks';
import { waitForRestart } from '../lib/restart';

export function BackupsPage() {
  const { api } = useApi();
  const list = useLoad(() => api.backups(), []);
  const [deleting, setDeleting] = useState<Backup | null>(null);
  const [restoring, setRestoring] = useState<Backup | null>(null);
  const [restarting, setRestarting] = useState(false);
  const act = useAction();

  const create = async () => {
    if (await act.run(() => api.createBackup())) list.reload();
  };
  const download = (b: Backup) =>
    act.run(async () => {
      const { blob, filename } = await api.downloadBackup(b.name);
      saveBlob(blob, filename ?? b.name);
    });

  if (restarting) return <RestartScreen />;
  const backups = list.data?.backups ?? [];
  return (
    <>
      <PageHeader title="Backups">
        <button type="button" className="btn btn-primary" onClick={create} disabled={act.busy}>{act.busy ? 'Working…' : 'Back up now'}</button>
      </PageHeader>
      {list.data && <p className="muted">Archives are kept in <code>{list.data.dir}</code> on the appliance.</p>}
      <ErrorText error={act.error ?? list.error} />
      {!list.data && !list.error && <Loading what="backups" />}
      <div className="table-wrap">
        <table className="table" aria-label="Backups">
          <thead>
            <tr>
              <th scope="col">Name</th><th scope="col">Created</th><th scope="col">Size</th><th scope="col">Kind</th>
              <th scope="col">Contents</th><th scope="col">Version</th><th scope="col"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {backups.map((b) => (
              <tr key={b.name} data-testid="backup-row">
                <td className="mono small" title={`sha256 ${b.sha256}`}>{b.name}</td>
                <td title={formatTime(b.created_at)}>{formatTime(b.created_at)}<div className="muted small">{formatRelative(b.created_at)}</div></td>
                <td className="num">{formatBytes(b.size_bytes)}</td>
                <td>{b.kind === 'scheduled' ? <Badge tone="info">scheduled</Badge> : <Badge>manual</Badge>}</td>
                <td className="small">{formatNumber(b.users)} users · {formatNumber(b.chats)} chats · {formatNumber(b.messages)} messages · {formatNumber(b.media_files)} files</td>
                <td className="small">{b.parley_version} (schema {b.schema_version})</td>
                <td>
                  <div className="action-row">
                    <button type="button" className="btn btn-small" onClick={() => download(b)} aria-label={`Download ${b.name}`}>Download</button>
                    <button type="button" className="btn btn-small" onClick={() => setRestoring(b)} aria-label={`Restore ${b.name}`}>Restore</button>
                    <button type="button" className="btn btn-small btn-danger" onClick={() => setDeleting(b)} aria-label={`Delete ${b.name}`}>Delete</button>
                  </div>
                </td>
              </tr>
            ))}
            {list.data && backups.length === 0 && <tr><td colSpan={7} className="muted">No backups yet.</td></tr>}
          </tbody>
        </table>
      </div>
      {list.data && <ScheduleForm schedule={list.data.schedule} onSaved={(s) => list.setData({ ...list.data!, schedule: s })} />}

      {deleting && (
        <ConfirmDialog title="Delete backup?" confirmLabel="Delete backup" danger onClose={() => setDeleting(null)}
          onConfirm={async () => { await api.deleteBackup(deleting.name); list.reload(); }}>
          <p>The archive <code>{deleting.name}</code> is removed from the appliance. Copies you downloaded are not affected.</p>
        </ConfirmDialog>
      )}
      {restoring && (
        <ConfirmDialog title="Restore this backup?" confirmLabel="Restore and restart" danger password onClose={() => setRestoring(null)}
          onConfirm={async (pw) => { await api.restoreBackup(restoring.name, pw); setRestarting(true); }}>
          <p>Everything is replaced by the state of <code>{restoring.name}</code> ({formatTime(restoring.created_at)}): messages, users and
            settings made since then are lost. The appliance restarts to apply it and every user is disconnected for a moment.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

function RestartScreen() {
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const signal = { cancelled: false };
    waitForRestart('/health/ready', { signal }).then((ok) => {
      if (ok) location.reload();
      else if (!signal.cancelled) setFailed(true);
    });
    return () => { signal.cancelled = true; };
  }, []);
  return (
    <section className="center-screen" role="status" aria-live="polite">
      <div className="card login-card stack">
        <h1>Restoring</h1>
        {failed ? (
          <p className="error">The appliance has not come back after 10 minutes. Check the service on the host (journalctl -u parley).</p>
        ) : (
          <p><span className="spinner" aria-hidden="true" /> Restarting, reconnecting…</p>
        )}
      </div>
    </section>
  );
}

function ScheduleForm({ schedule, onSaved }: { schedule: Schedule; onSaved: (s: Schedule) => void }) {
  const { api } = useApi();
  const [enabled, setEnabled] = useState(schedule.enabled);
  const [hours, setHours] = useState(String(schedule.interval_hours));
  const [keep, setKeep] = useState(String(schedule.keep));
  const [saved, setSaved] = useState(false);
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const s = await act.run(() => api.saveSchedule({ enabled, interval_hours: Number(hours), keep: Number(keep) }));
    if (s) {
      onSaved(s);
      setSaved(true);
    }
  };
  return (
    <form className="card form-grid narrow" onSubmit={submit} aria-label="Backup schedule" onChange={() => setSaved(false)}>
      <h2 className="span-2">Schedule</h2>
      <label className="check span-2">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Make backups automatically
      </label>
      <Field label="Every (hours)"><input type="number" min={1} max={720} value={hours} onChange={(e) => setHours(e.target.value)} required /></Field>
      <Field label="Keep the newest"><input type="number" min={1} max={1000} value={keep} onChange={(e) => setKeep(e.target.value)} required /></Field>
      {schedule.enabled && schedule.next_at && <p className="muted span-2">Next backup {formatRelative(schedule.next_at)} ({formatTime(schedule.next_at)}).</p>}
      <div className="span-2"><ErrorText error={act.error} /></div>
      <div className="action-row span-2">
        <button type="submit" className="btn btn-primary" disabled={act.busy}>Save schedule</button>
        {saved && <span role="status" className="ok-text">Saved</span>}
      </div>
    </form>
  );
}
