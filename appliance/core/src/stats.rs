//! The console's dashboard: live figures read from the same Prometheus registry that
//! `/metrics` exposes, plus a one-point-per-minute history (kept in memory for the last hour)
//! for the small charts. Storage sizes are measured by the same sampler.

use std::collections::VecDeque;
use std::path::Path;

use parley_types::now_millis;
use prometheus::proto::MetricFamily;
use serde::Serialize;

use crate::error::Result;
use crate::{AuthContext, Core};

const HISTORY: usize = 60;

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub at: i64,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyPoint {
    pub at: i64,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Storage {
    pub database_bytes: u64,
    pub media_bytes: u64,
    pub search_bytes: u64,
    pub backups_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Connections {
    pub websocket: i64,
    pub webtransport: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserStats {
    /// Users with at least one live connection.
    pub online: usize,
    pub total: u64,
    pub active: u64,
    pub disabled: u64,
    pub admins: u64,
}

/// `GET /api/admin/stats`
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub version: &'static str,
    pub uptime_secs: u64,
    pub server_name: String,
    pub connections: Connections,
    pub users: UserStats,
    pub chats: u64,
    pub messages_total: u64,
    pub messages_per_minute: Vec<Point>,
    /// Send to delivery over the appliance's lifetime, in ms.
    pub delivery_ms: Latency,
    pub delivery_history: Vec<LatencyPoint>,
    pub storage: Storage,
    pub last_backup: Option<parley_types::api::BackupInfo>,
    pub ldap: LdapState,
}

#[derive(Debug, Clone, Serialize)]
pub struct LdapState {
    pub enabled: bool,
    pub last_sync: Option<parley_types::api::SyncReport>,
}

/// A histogram's cumulative bucket counts (upper bound, count).
type Buckets = Vec<(f64, u64)>;

/// The sampler's memory.
#[derive(Debug, Default)]
pub(crate) struct History {
    messages: VecDeque<Point>,
    latency: VecDeque<LatencyPoint>,
    last_accepted: Option<u64>,
    last_buckets: Option<Buckets>,
    pub storage: Storage,
}

fn family<'a>(fams: &'a [MetricFamily], name: &str) -> Option<&'a MetricFamily> {
    fams.iter().find(|f| f.name() == name)
}

fn counter(fams: &[MetricFamily], name: &str) -> u64 {
    family(fams, name).and_then(|f| f.get_metric().first()).map_or(0, |m| m.get_counter().get_value() as u64)
}

fn gauge_by_label(fams: &[MetricFamily], name: &str, label: &str) -> i64 {
    family(fams, name)
        .into_iter()
        .flat_map(|f| f.get_metric())
        .find(|m| m.get_label().iter().any(|l| l.value() == label))
        .map_or(0, |m| m.get_gauge().get_value() as i64)
}

fn buckets(fams: &[MetricFamily], name: &str) -> Buckets {
    family(fams, name)
        .and_then(|f| f.get_metric().first())
        .map(|m| {
            m.get_histogram().get_bucket().iter().map(|b| (b.upper_bound(), b.cumulative_count())).collect()
        })
        .unwrap_or_default()
}

/// A quantile from cumulative buckets, interpolated within the bucket (as PromQL's
/// `histogram_quantile` does), in ms.
fn quantile(b: &Buckets, q: f64) -> Option<f64> {
    let total = b.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut prev = (0.0, 0u64);
    for &(upper, count) in b {
        if count as f64 >= rank {
            let within = (count - prev.1).max(1) as f64;
            let frac = (rank - prev.1 as f64) / within;
            return Some((prev.0 + (upper - prev.0) * frac) * 1000.0);
        }
        prev = (upper, count);
    }
    // Beyond the last bucket: report its bound.
    b.last().map(|(u, _)| u * 1000.0)
}

fn delta(now: &Buckets, before: Option<&Buckets>) -> Buckets {
    match before {
        Some(b) if b.len() == now.len() => {
            now.iter().zip(b).map(|((u, n), (_, o))| (*u, n.saturating_sub(*o))).collect()
        }
        _ => now.clone(),
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

impl Core {
    /// Takes one history sample and measures storage (every minute, and at start).
    pub(crate) async fn sample_stats(&self) {
        let fams = self.inner.metrics.gather();
        let accepted = counter(&fams, "parley_messages_accepted_total");
        let now_b = buckets(&fams, "parley_send_deliver_duration_seconds");
        let data = self.inner.settings.storage.data_dir.clone();
        let storage = tokio::task::spawn_blocking(move || Storage {
            database_bytes: dir_size(&data.join("db")),
            media_bytes: dir_size(&data.join("media")),
            search_bytes: dir_size(&data.join("search")),
            backups_bytes: dir_size(&data.join("backups")),
        })
        .await
        .unwrap_or_default();
        for (kind, v) in [
            ("database", storage.database_bytes),
            ("media", storage.media_bytes),
            ("search", storage.search_bytes),
            ("backups", storage.backups_bytes),
        ] {
            self.inner.metrics.storage_bytes.with_label_values(&[kind]).set(v as i64);
        }
        let at = now_millis();
        let mut h = self.inner.history.lock();
        if let Some(prev) = h.last_accepted {
            h.messages.push_back(Point { at, count: accepted.saturating_sub(prev) });
            let d = delta(&now_b, h.last_buckets.as_ref());
            h.latency.push_back(LatencyPoint { at, p50: quantile(&d, 0.5), p99: quantile(&d, 0.99) });
        }
        while h.messages.len() > HISTORY {
            h.messages.pop_front();
        }
        while h.latency.len() > HISTORY {
            h.latency.pop_front();
        }
        h.last_accepted = Some(accepted);
        h.last_buckets = Some(now_b);
        h.storage = storage;
    }

    /// `GET /api/admin/stats`
    pub async fn stats(&self, ctx: &AuthContext) -> Result<Stats> {
        self.require_admin(ctx).await?;
        let fams = self.inner.metrics.gather();
        let deliver = buckets(&fams, "parley_send_deliver_duration_seconds");
        let (total, active, disabled, admins) = self.inner.store.user_stats().await?;
        let ldap = self.ldap_stored().await?;
        let (messages_per_minute, delivery_history, storage) = {
            let h = self.inner.history.lock();
            (h.messages.iter().cloned().collect(), h.latency.iter().cloned().collect(), h.storage.clone())
        };
        Ok(Stats {
            version: env!("CARGO_PKG_VERSION"),
            uptime_secs: self.inner.started.elapsed().as_secs(),
            server_name: self.inner.server.to_string(),
            connections: Connections {
                websocket: gauge_by_label(&fams, "parley_connected_clients", "websocket"),
                webtransport: gauge_by_label(&fams, "parley_connected_clients", "webtransport"),
            },
            users: UserStats { online: self.inner.hub.online_users(), total, active, disabled, admins },
            chats: self.inner.store.count_chats().await?,
            messages_total: counter(&fams, "parley_messages_accepted_total"),
            messages_per_minute,
            delivery_ms: Latency { p50: quantile(&deliver, 0.5), p99: quantile(&deliver, 0.99) },
            delivery_history,
            storage,
            last_backup: self.backups().await?.into_iter().next(),
            ldap: LdapState { enabled: ldap.enabled, last_sync: ldap.last_sync },
        })
    }
}

/// Samples once a minute, starting now.
pub(crate) fn spawn_sampler(core: Core) {
    crate::spawn_periodic(core, 60, None, true, |core| async move { core.sample_stats().await });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let b = vec![(0.001, 50), (0.01, 100), (f64::INFINITY, 100)];
        assert_eq!(quantile(&b, 0.5), Some(1.0));
        let p99 = quantile(&b, 0.99).unwrap();
        assert!((p99 - 9.82).abs() < 0.01, "{p99}");
        assert_eq!(quantile(&vec![(0.001, 0)], 0.5), None);
        let d = delta(&vec![(0.001, 70), (0.01, 130)], Some(&vec![(0.001, 50), (0.01, 100)]));
        assert_eq!(d, vec![(0.001, 20), (0.01, 30)]);
    }
}
