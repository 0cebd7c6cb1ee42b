// Views of the LDAP test and sync reports.
import type { SyncReport, TestReport } from '../../api/types';
import { Badge } from '../../components/ui';
import { formatTime } from '../../lib/format';

export function TestReportView({ r }: { r: TestReport }) {
  return (
    <div className="report" role="status" aria-label="Test report">
      <p><Badge tone="good">Connected</Badge> {r.summary}</p>
      <dl className="kv">
        <dt>Users</dt><dd>{r.users}</dd>
        <dt>Groups</dt><dd>{r.groups}</dd>
        <dt>Units</dt><dd>{r.units}</dd>
        {r.sample_users.length > 0 && <><dt>Sample users</dt><dd>{r.sample_users.join(', ')}</dd></>}
        {r.sample_groups.length > 0 && <><dt>Sample groups</dt><dd>{r.sample_groups.join(', ')}</dd></>}
      </dl>
      {r.warnings.length > 0 && (
        <ul className="warnings" aria-label="Warnings">{r.warnings.map((w, i) => <li key={i}>{w}</li>)}</ul>
      )}
    </div>
  );
}

export function SyncReportView({ r, label = 'Sync report' }: { r: SyncReport; label?: string }) {
  return (
    <div className="report" aria-label={label}>
      <p>
        {r.ok ? <Badge tone="good">OK</Badge> : <Badge tone="bad">Failed</Badge>} {r.error ?? r.summary}
      </p>
      <dl className="kv">
        <dt>Finished</dt><dd>{formatTime(r.finished_at)} ({Math.max(0, r.finished_at - r.started_at)} ms)</dd>
        <dt>Created</dt><dd>{r.created}</dd>
        <dt>Updated</dt><dd>{r.updated}</dd>
        <dt>Disabled</dt><dd>{r.disabled}</dd>
        <dt>Re-enabled</dt><dd>{r.reenabled}</dd>
        <dt>Units</dt><dd>{r.units}</dd>
        <dt>Groups</dt><dd>{r.groups}</dd>
        <dt>Skipped</dt><dd>{r.skipped}</dd>
      </dl>
    </div>
  );
}
