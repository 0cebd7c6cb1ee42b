// The peers tables: active peers with their live figures, and revoked ones listed apart.
import type { Peer } from '../../api/types';
import { Badge } from '../../components/ui';
import { formatDuration, formatNumber, formatRelative, formatTime } from '../../lib/format';
import { STATUS_TONE, formatFingerprint, peerStatus, queueBacklog, shortFingerprint, splitPeers } from './federation';

function StatusBadge({ p }: { p: Peer }) {
  const s = peerStatus(p);
  return <Badge tone={STATUS_TONE[s]}>{s}</Badge>;
}

function TrustBadge({ p }: { p: Peer }) {
  return p.trust === 'ca'
    ? <Badge tone="info" title="Accepted because its certificate chains to the configured CA">CA</Badge>
    : <Badge title="Certificate pinned when the two appliances peered by invite">pinned</Badge>;
}

/** Name, then the address it is dialled at and the start of its certificate fingerprint. */
function PeerName({ p }: { p: Peer }) {
  return (
    <>
      <span className="mono">{p.server_name}</span>
      <div className="muted small mono nowrap" data-testid="peer-address">{p.address}</div>
      <div className="muted small mono nowrap" title={`Certificate fingerprint: ${formatFingerprint(p.fingerprint)}`}>
        <span className="sr-only">Fingerprint </span>{shortFingerprint(p.fingerprint)}
      </div>
    </>
  );
}

function When({ ms }: { ms: number | null | undefined }) {
  return ms ? <span title={formatTime(ms)}>{formatRelative(ms)}</span> : <span className="muted">never</span>;
}

export function PeersTable({ peers, onRevoke }: { peers: Peer[]; onRevoke: (p: Peer) => void }) {
  const { active } = splitPeers(peers);
  return (
    <section className="stack-sm" aria-labelledby="fed-peers">
      <h2 id="fed-peers">Peers</h2>
      <div className="table-wrap">
        <table className="table" aria-labelledby="fed-peers">
          <thead>
            <tr>
              <th scope="col">Server</th><th scope="col">Trust</th><th scope="col">Status</th>
              <th scope="col">RTT</th><th scope="col">Last delivery</th><th scope="col">Queue</th><th scope="col">Frames in / out</th>
              <th scope="col">Cut-offs</th><th scope="col">Added</th><th scope="col"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {active.map((p) => {
              const backlog = queueBacklog(p);
              return (
                <tr key={p.server_name} data-testid="peer-row" data-status={peerStatus(p)}>
                  <td><PeerName p={p} /></td>
                  <td><TrustBadge p={p} /></td>
                  <td><StatusBadge p={p} /></td>
                  <td className="num">{p.rtt_ms == null ? '–' : `${formatNumber(p.rtt_ms, 1)} ms`}</td>
                  <td className="nowrap"><When ms={p.last_delivery_at} /></td>
                  <td className={backlog ? 'nowrap queue-backlog' : 'nowrap'} data-testid="peer-queue">
                    {backlog ? (
                      <>
                        <Badge tone="warn">{formatNumber(p.queue_depth)} waiting</Badge>
                        {p.oldest_undelivered_age_secs != null && <div className="small">oldest {formatDuration(p.oldest_undelivered_age_secs)}</div>}
                      </>
                    ) : <span className="muted">empty</span>}
                  </td>
                  <td className="num">{formatNumber(p.frames_in)} / {formatNumber(p.frames_out)}</td>
                  <td className="num">{p.cutoffs > 0 ? <Badge tone="warn" title="Times this appliance cut the peer off for breaking a protocol rule (the log names the rule)">{formatNumber(p.cutoffs)}</Badge> : 0}</td>
                  <td className="nowrap"><When ms={p.added_at} /></td>
                  <td>
                    <button type="button" className="btn btn-small btn-danger" onClick={() => onRevoke(p)} aria-label={`Revoke ${p.server_name}`}>Revoke</button>
                  </td>
                </tr>
              );
            })}
            {active.length === 0 && (
              <tr><td colSpan={10} className="muted">No peers yet. Invite another appliance, or add one with the invite its administrator sent you.</td></tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function RevokedPeersTable({ peers }: { peers: Peer[] }) {
  const { revoked } = splitPeers(peers);
  if (revoked.length === 0) return null;
  return (
    <section className="stack-sm" aria-labelledby="fed-revoked">
      <h2 id="fed-revoked">Revoked peers</h2>
      <p className="muted small flush">Cut off for good: their certificates are refused and nothing is exchanged with them.</p>
      <div className="table-wrap">
        <table className="table" aria-labelledby="fed-revoked">
          <thead>
            <tr>
              <th scope="col">Server</th><th scope="col">Trust</th><th scope="col">Status</th>
              <th scope="col">Revoked</th><th scope="col">Frames in / out</th><th scope="col">Cut-offs</th><th scope="col">Added</th>
            </tr>
          </thead>
          <tbody>
            {revoked.map((p) => (
              <tr key={p.server_name} data-testid="peer-row" data-status="revoked" className="row-dim">
                <td><PeerName p={p} /></td>
                <td><TrustBadge p={p} /></td>
                <td><StatusBadge p={p} /></td>
                <td className="nowrap" title={formatRelative(p.revoked_at!)}>{formatTime(p.revoked_at)}</td>
                <td className="num">{formatNumber(p.frames_in)} / {formatNumber(p.frames_out)}</td>
                <td className="num">{formatNumber(p.cutoffs)}</td>
                <td className="nowrap">{formatTime(p.added_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
