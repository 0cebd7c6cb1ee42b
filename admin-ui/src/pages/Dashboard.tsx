// Dashboard: live figures from GET /api/admin/stats, refreshed every 5 s.
import { useMemo } from 'react';
import { useApi } from '../api/context';
import type { Stats } from '../api/types';
import { TimeChart, type Series } from '../components/Chart';
import { Badge, ErrorText, Loading, PageHeader } from '../components/ui';
import { formatBytes, formatDuration, formatNumber, formatRelative, formatTime } from '../lib/format';
import { useInterval, useLoad } from '../lib/hooks';

const REFRESH_MS = 5000;

function Figure({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <div className="figure" role="group" aria-label={label}>
      <div className="figure-label">{label}</div>
      <div className="figure-value" data-testid={`figure-${label}`}>{value}</div>
      {sub && <div className="figure-sub">{sub}</div>}
    </div>
  );
}

export function DashboardPage() {
  const { api } = useApi();
  const stats = useLoad(() => api.stats(), []);
  useInterval(stats.reload, REFRESH_MS);
  const s = stats.data;

  return (
    <>
      <PageHeader title="Dashboard">
        {s && <span className="muted">{s.server_name} · Parley {s.version} · up {formatDuration(s.uptime_secs)}</span>}
      </PageHeader>
      {/* Keep the last figures on screen when a refresh fails; say so above them. */}
      <ErrorText error={stats.error} />
      {!s && !stats.error && <Loading what="figures" />}
      {s && <DashboardBody s={s} />}
    </>
  );
}

function DashboardBody({ s }: { s: Stats }) {
  const msgTimes = useMemo(() => s.messages_per_minute.map((p) => p.at), [s]);
  const msgSeries = useMemo<Series[]>(() => [{ label: 'messages', color: '#2563eb', values: s.messages_per_minute.map((p) => p.count) }], [s]);
  const latTimes = useMemo(() => s.delivery_history.map((p) => p.at), [s]);
  const latSeries = useMemo<Series[]>(
    () => [
      { label: 'p50', color: '#059669', values: s.delivery_history.map((p) => p.p50) },
      { label: 'p99', color: '#d97706', values: s.delivery_history.map((p) => p.p99) },
    ],
    [s],
  );
  const conns = s.connections.websocket + s.connections.webtransport;
  const st = s.storage;
  const used = st.database_bytes + st.media_bytes + st.search_bytes + st.backups_bytes;
  const ldapSync = s.ldap.last_sync;
  return (
    <div className="stack-lg">
      <section aria-label="Figures" className="figures">
        <Figure label="Connections" value={formatNumber(conns)} sub={`${s.connections.websocket} WebSocket · ${s.connections.webtransport} WebTransport`} />
        {s.users.online !== undefined && <Figure label="Users online" value={formatNumber(s.users.online)} sub={`of ${formatNumber(s.users.total)} users`} />}
        <Figure label="Users" value={formatNumber(s.users.total)} sub={`${s.users.active} active · ${s.users.disabled} disabled · ${s.users.admins} admins`} />
        <Figure label="Messages" value={formatNumber(s.messages_total)} sub={s.chats !== undefined ? `in ${formatNumber(s.chats)} chats` : 'in total'} />
        <Figure label="Delivery latency" value={s.delivery_ms.p50 === null ? '–' : `${formatNumber(s.delivery_ms.p50, 1)} ms`}
          sub={s.delivery_ms.p99 === null ? 'p50 · no deliveries yet' : `p50 · p99 ${formatNumber(s.delivery_ms.p99, 1)} ms`} />
        <Figure label="Storage used" value={formatBytes(used)} sub={st.disk_free_bytes !== undefined ? `${formatBytes(st.disk_free_bytes)} free on disk` : 'database, media, search, backups'} />
      </section>

      <section className="charts" aria-label="Charts">
        <TimeChart title="Messages per minute" times={msgTimes} series={msgSeries} unit="msg/min" />
        <TimeChart title="Delivery latency" times={latTimes} series={latSeries} unit="ms" />
      </section>

      <section className="cards-3">
        <div className="card">
          <h2>Storage</h2>
          <dl className="kv">
            <dt>Database</dt><dd>{formatBytes(st.database_bytes)}</dd>
            <dt>Media</dt><dd>{formatBytes(st.media_bytes)}</dd>
            <dt>Search index</dt><dd>{formatBytes(st.search_bytes)}</dd>
            <dt>Backups</dt><dd>{formatBytes(st.backups_bytes)}</dd>
            {st.disk_free_bytes !== undefined && <><dt>Disk free</dt><dd>{formatBytes(st.disk_free_bytes)}</dd></>}
          </dl>
        </div>
        <div className="card">
          <h2>Last backup</h2>
          {s.last_backup ? (
            <dl className="kv">
              <dt>When</dt><dd>{formatTime(s.last_backup.created_at)} ({formatRelative(s.last_backup.created_at)})</dd>
              <dt>Size</dt><dd>{formatBytes(s.last_backup.size_bytes)}</dd>
              <dt>Kind</dt><dd>{s.last_backup.kind}</dd>
            </dl>
          ) : (
            <p><Badge tone="warn">None yet</Badge> <a href="#/backups">Make one</a></p>
          )}
        </div>
        <div className="card">
          <h2>LDAP sync</h2>
          {!s.ldap.enabled ? (
            <p><Badge>Off</Badge></p>
          ) : ldapSync ? (
            <dl className="kv">
              <dt>State</dt><dd>{ldapSync.ok ? <Badge tone="good">OK</Badge> : <Badge tone="bad">Failed</Badge>}</dd>
              <dt>Finished</dt><dd>{formatTime(ldapSync.finished_at)}</dd>
              <dt>Summary</dt><dd>{ldapSync.error ?? ldapSync.summary}</dd>
            </dl>
          ) : (
            <p><Badge tone="info">On</Badge> no sync yet</p>
          )}
        </div>
      </section>
    </div>
  );
}
