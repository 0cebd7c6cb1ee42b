//! Prometheus metrics: one registry per appliance (not the global default, so several
//! appliances in one test process stay apart). Names follow Prometheus conventions: `parley_`
//! prefix, base units (seconds, bytes), `_total` on counters, HELP on everything. Labels have
//! small fixed value sets: never a user, chat or session ID.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Latency buckets from 0.5 ms to 10 s: commits and acks sit in the low milliseconds.
const LATENCY: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Why a login failed (the `reason` label of `parley_login_failures_total`).
#[derive(Debug, Clone, Copy)]
pub enum LoginFailure {
    BadCredentials,
    Disabled,
}

/// What was rate-limited (the `scope` label of `parley_rate_limited_total`).
#[derive(Debug, Clone, Copy)]
pub enum Limited {
    LoginPerIp,
    LoginPerAccount,
    ClientFrames,
}

/// Every metric the appliance exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    pub connected_clients: IntGaugeVec,
    pub handshake_failures: IntCounterVec,
    pub messages_accepted: IntCounter,
    pub messages_delivered: IntCounter,
    pub send_ack: Histogram,
    pub send_deliver: Histogram,
    pub db_commit: Histogram,
    pub db_commit_entries: Histogram,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    login_failures: IntCounterVec,
    rate_limited: IntCounterVec,
    /// Observed by message and user search (the search issue).
    pub search_query: Histogram,
    /// Incremented by backups (the admin console issue), `result` = `success` or `failure`.
    pub backups: IntCounterVec,
    /// Unix time of the last successful backup.
    pub last_backup: IntGauge,
    ldap_syncs: IntCounterVec,
    /// Unix time of the last LDAP sync that succeeded.
    pub ldap_last_sync: IntGauge,
    /// Bytes on disk, by `kind` (database, media, search, backups); refreshed every minute.
    pub storage_bytes: IntGaugeVec,
    /// Federation, by `peer` (server names an admin peered with: a small, admin-made set).
    pub fed: FedMetrics,
}

/// Per-peer federation figures, refreshed every few seconds from the federation handle and
/// the outbox (see `federation::outbox::spawn_upkeep`).
#[derive(Debug, Clone)]
pub struct FedMetrics {
    pub connected: IntGaugeVec,
    pub rtt: prometheus::GaugeVec,
    pub last_delivery: IntGaugeVec,
    pub frames_in: IntCounterVec,
    pub frames_out: IntCounterVec,
    pub cutoffs: IntCounterVec,
    pub queue_depth: IntGaugeVec,
    pub oldest_age: prometheus::GaugeVec,
}

impl FedMetrics {
    fn new() -> Self {
        let g = |n: &str, h: &str| IntGaugeVec::new(Opts::new(n, h), &["peer"]).expect("valid metric");
        let f =
            |n: &str, h: &str| prometheus::GaugeVec::new(Opts::new(n, h), &["peer"]).expect("valid metric");
        let c = |n: &str, h: &str| IntCounterVec::new(Opts::new(n, h), &["peer"]).expect("valid metric");
        Self {
            connected: g("parley_federation_peer_connected", "1 when a connection to the peer is up."),
            rtt: f("parley_federation_rtt_seconds", "Smoothed round-trip time of the peer's connection."),
            last_delivery: g(
                "parley_federation_last_delivery_timestamp_seconds",
                "Unix time the peer last acknowledged a transaction from this server (0: never).",
            ),
            frames_in: c("parley_federation_frames_in_total", "Frames received from the peer."),
            frames_out: c("parley_federation_frames_out_total", "Frames sent to the peer."),
            cutoffs: c(
                "parley_federation_cutoffs_total",
                "Connections to the peer closed for breaking a rule.",
            ),
            queue_depth: g("parley_federation_queue_depth", "Events in the outbox for the peer."),
            oldest_age: f(
                "parley_federation_oldest_undelivered_age_seconds",
                "Age of the oldest event in the outbox for the peer (0 when empty).",
            ),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.connected.clone()),
            Box::new(self.rtt.clone()),
            Box::new(self.last_delivery.clone()),
            Box::new(self.frames_in.clone()),
            Box::new(self.frames_out.clone()),
            Box::new(self.cutoffs.clone()),
            Box::new(self.queue_depth.clone()),
            Box::new(self.oldest_age.clone()),
        ]
    }
}

fn hist(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec())).expect("valid metric")
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let m = Self {
            connected_clients: IntGaugeVec::new(
                Opts::new("parley_connected_clients", "Live client connections, by transport."),
                &["transport"],
            )
            .expect("valid metric"),
            handshake_failures: IntCounterVec::new(
                Opts::new(
                    "parley_transport_handshake_failures_total",
                    "Client connections that failed before a session started, by transport.",
                ),
                &["transport"],
            )
            .expect("valid metric"),
            messages_accepted: IntCounter::new(
                "parley_messages_accepted_total",
                "Chat messages committed to the database and acknowledged to their sender.",
            )
            .expect("valid metric"),
            messages_delivered: IntCounter::new(
                "parley_messages_delivered_total",
                "Chat messages written to recipients' live connections (live and sync).",
            )
            .expect("valid metric"),
            send_ack: hist(
                "parley_send_ack_duration_seconds",
                "Time from receiving a send to acknowledging it (includes the durable commit).",
                LATENCY,
            ),
            send_deliver: hist(
                "parley_send_deliver_duration_seconds",
                "Time from receiving a send to writing it to a recipient's live connection.",
                LATENCY,
            ),
            db_commit: hist(
                "parley_db_commit_duration_seconds",
                "Duration of the writer's grouped database commits (synced to disk).",
                LATENCY,
            ),
            db_commit_entries: hist(
                "parley_db_commit_entries",
                "Chat log entries per grouped database commit.",
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
            ),
            http_requests: IntCounterVec::new(
                Opts::new("parley_http_requests_total", "HTTP requests, by route template and status."),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
            http_duration: HistogramVec::new(
                HistogramOpts::new(
                    "parley_http_request_duration_seconds",
                    "HTTP request durations, by route template.",
                )
                .buckets(LATENCY.to_vec()),
                &["method", "route"],
            )
            .expect("valid metric"),
            login_failures: IntCounterVec::new(
                Opts::new("parley_login_failures_total", "Failed logins, by reason."),
                &["reason"],
            )
            .expect("valid metric"),
            rate_limited: IntCounterVec::new(
                Opts::new(
                    "parley_rate_limited_total",
                    "Requests or frames refused by a rate limit, by scope.",
                ),
                &["scope"],
            )
            .expect("valid metric"),
            search_query: hist("parley_search_query_duration_seconds", "Search query durations.", LATENCY),
            backups: IntCounterVec::new(
                Opts::new("parley_backups_total", "Backups attempted, by result."),
                &["result"],
            )
            .expect("valid metric"),
            last_backup: IntGauge::new(
                "parley_last_backup_timestamp_seconds",
                "Unix time of the last successful backup (0: none since start).",
            )
            .expect("valid metric"),
            ldap_syncs: IntCounterVec::new(
                Opts::new("parley_ldap_syncs_total", "LDAP directory syncs, by result."),
                &["result"],
            )
            .expect("valid metric"),
            ldap_last_sync: IntGauge::new(
                "parley_ldap_last_sync_timestamp_seconds",
                "Unix time of the last successful LDAP sync (0: none since start).",
            )
            .expect("valid metric"),
            storage_bytes: IntGaugeVec::new(
                Opts::new("parley_storage_bytes", "Bytes on disk, by kind of data."),
                &["kind"],
            )
            .expect("valid metric"),
            fed: FedMetrics::new(),
            registry,
        };
        let build = IntGaugeVec::new(
            Opts::new("parley_build_info", "Always 1; the labels carry the running version."),
            &["version"],
        )
        .expect("valid metric");
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let mut collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(build),
            Box::new(m.connected_clients.clone()),
            Box::new(m.handshake_failures.clone()),
            Box::new(m.messages_accepted.clone()),
            Box::new(m.messages_delivered.clone()),
            Box::new(m.send_ack.clone()),
            Box::new(m.send_deliver.clone()),
            Box::new(m.db_commit.clone()),
            Box::new(m.db_commit_entries.clone()),
            Box::new(m.http_requests.clone()),
            Box::new(m.http_duration.clone()),
            Box::new(m.login_failures.clone()),
            Box::new(m.rate_limited.clone()),
            Box::new(m.search_query.clone()),
            Box::new(m.backups.clone()),
            Box::new(m.last_backup.clone()),
            Box::new(m.ldap_syncs.clone()),
            Box::new(m.ldap_last_sync.clone()),
            Box::new(m.storage_bytes.clone()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        collectors.extend(m.fed.collectors());
        for c in collectors {
            m.registry.register(c).expect("metric names are unique");
        }
        // Show the label sets from the start, so dashboards and rate() see zeros, not gaps.
        for t in ["websocket", "webtransport"] {
            m.connected_clients.with_label_values(&[t]).set(0);
            m.handshake_failures.with_label_values(&[t]).inc_by(0);
        }
        for r in ["success", "failure"] {
            m.backups.with_label_values(&[r]).inc_by(0);
            m.ldap_syncs.with_label_values(&[r]).inc_by(0);
        }
        for k in ["database", "media", "search", "backups"] {
            m.storage_bytes.with_label_values(&[k]).set(0);
        }
        for r in [LoginFailure::BadCredentials, LoginFailure::Disabled] {
            m.login_failures.with_label_values(&[r.label()]).inc_by(0);
        }
        for s in [Limited::LoginPerIp, Limited::LoginPerAccount, Limited::ClientFrames] {
            m.rate_limited.with_label_values(&[s.label()]).inc_by(0);
        }
        m
    }

    pub fn login_failed(&self, why: LoginFailure) {
        self.login_failures.with_label_values(&[why.label()]).inc();
    }

    pub fn rate_limited(&self, scope: Limited) {
        self.rate_limited.with_label_values(&[scope.label()]).inc();
    }

    pub fn ldap_sync(&self, ok: bool) {
        self.ldap_syncs.with_label_values(&[if ok { "success" } else { "failure" }]).inc();
        if ok {
            self.ldap_last_sync.set(parley_types::now_millis() / 1000);
        }
    }

    pub fn backup_done(&self, ok: bool) {
        self.backups.with_label_values(&[if ok { "success" } else { "failure" }]).inc();
        if ok {
            self.last_backup.set(parley_types::now_millis() / 1000);
        }
    }

    /// Every metric family as Prometheus gathers it: the dashboard reads the same numbers.
    pub fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.registry.gather()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec only fails on invalid metric families, which `new` rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl LoginFailure {
    fn label(self) -> &'static str {
        match self {
            Self::BadCredentials => "bad_credentials",
            Self::Disabled => "account_disabled",
        }
    }
}

impl Limited {
    fn label(self) -> &'static str {
        match self {
            Self::LoginPerIp => "login_per_ip",
            Self::LoginPerAccount => "login_per_account",
            Self::ClientFrames => "client_frames",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_help_and_the_parley_prefix() {
        let m = Metrics::new();
        m.messages_accepted.inc();
        m.http_requests.with_label_values(&["GET", "/api/chats", "200"]).inc();
        let text = m.render();
        for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
            let name = line.split_whitespace().nth(2).unwrap();
            assert!(name.starts_with("parley_") || name.starts_with("process_"), "{name}");
            assert!(text.contains(&format!("# HELP {name} ")), "no HELP for {name}");
        }
        assert!(text.contains("parley_messages_accepted_total 1"));
        assert!(text.contains("parley_build_info{version="));
    }
}
