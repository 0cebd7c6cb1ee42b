// Audit log: filters (actor, action prefix, target, date range), pagination, expandable details.
import { useState, type FormEvent } from 'react';
import { useApi } from '../api/context';
import type { AuditQuery } from '../api/types';
import { ErrorText, Field, Pager, PageHeader } from '../components/ui';
import { dateInputToMs, formatTime } from '../lib/format';
import { useLoad } from '../lib/hooks';

const LIMIT = 50;
// Suggestions: the prefixes of the actions the appliance records, and a few exact names.
const ACTIONS = [
  'user.', 'login.', 'login.failed', 'session.', 'password.', 'admin.', 'invite.', 'unit.', 'group.', 'ldap.',
  'backup.', 'settings.', 'retention.',
];

interface Filters { actor: string; action: string; target: string; from: string; to: string }
const EMPTY: Filters = { actor: '', action: '', target: '', from: '', to: '' };

export function toAuditQuery(f: Filters, offset: number): AuditQuery {
  return {
    actor: f.actor.trim() || undefined,
    action: f.action.trim() || undefined,
    target: f.target.trim() || undefined,
    from: dateInputToMs(f.from, false),
    to: dateInputToMs(f.to, true),
    offset,
    limit: LIMIT,
  };
}

export function AuditPage() {
  const { api } = useApi();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [offset, setOffset] = useState(0);
  const page = useLoad(() => api.audit(toAuditQuery(applied, offset)), [applied, offset]);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setApplied(draft);
    setOffset(0);
  };
  const entries = page.data?.entries ?? [];
  return (
    <>
      <PageHeader title="Audit log" />
      <form className="toolbar card" onSubmit={apply} aria-label="Audit filters">
        <Field label="Actor"><input value={draft.actor} onChange={set('actor')} placeholder="user ID" /></Field>
        <Field label="Action" hint="Exact, or a prefix ending in “.”">
          <input value={draft.action} onChange={set('action')} list="audit-actions" placeholder="user." />
        </Field>
        <datalist id="audit-actions">{ACTIONS.map((a) => <option key={a} value={a} />)}</datalist>
        <Field label="Target"><input value={draft.target} onChange={set('target')} /></Field>
        <Field label="From"><input type="date" value={draft.from} onChange={set('from')} /></Field>
        <Field label="To"><input type="date" value={draft.to} onChange={set('to')} /></Field>
        <button type="submit" className="btn btn-primary">Apply</button>
        <button type="button" className="btn" onClick={() => { setDraft(EMPTY); setApplied(EMPTY); setOffset(0); }}>Clear</button>
      </form>
      <ErrorText error={page.error} />
      <div className="table-wrap">
        <table className="table" aria-label="Audit entries" aria-busy={page.loading}>
          <thead>
            <tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">IP</th><th scope="col">Details</th></tr>
          </thead>
          <tbody>
            {entries.map((e, i) => (
              <tr key={`${e.at}-${offset + i}`} data-testid="audit-row">
                <td className="nowrap">{formatTime(e.at)}</td>
                <td>{e.actor_name ?? e.actor ?? <span className="muted">system</span>}{e.actor && e.actor_name && <div className="muted small mono">{e.actor}</div>}</td>
                <td className="mono">{e.action}</td>
                <td className="mono small">{e.target ?? '–'}</td>
                <td className="mono small">{e.ip ?? '–'}</td>
                <td>
                  {e.details !== null && e.details !== undefined && !(typeof e.details === 'object' && Object.keys(e.details as object).length === 0) ? (
                    <details>
                      <summary>Show</summary>
                      <pre className="json">{JSON.stringify(e.details, null, 2)}</pre>
                    </details>
                  ) : <span className="muted">–</span>}
                </td>
              </tr>
            ))}
            {page.data && entries.length === 0 && <tr><td colSpan={6} className="muted">No entries match.</td></tr>}
          </tbody>
        </table>
      </div>
      {page.data && <Pager label="Audit pages" offset={offset} limit={LIMIT} total={page.data.total} onChange={setOffset} />}
    </>
  );
}
