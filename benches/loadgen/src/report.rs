//! Results: latency histograms (`hdrhistogram`, microseconds), one [`Outcome`] per scenario,
//! and their JSON and Markdown forms. A scenario whose delivery check failed keeps its
//! problems but not its numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::procfs::Machine;
use crate::transport::Transport;

/// Latencies in microseconds, 1 µs to 5 min, 3 significant digits.
#[derive(Debug, Clone)]
pub struct Lat(pub Histogram<u64>);

impl Default for Lat {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, 300_000_000, 3).expect("valid bounds"))
    }
}

impl Lat {
    pub fn record(&mut self, d: std::time::Duration) {
        self.record_us(d.as_micros() as u64);
    }
    pub fn record_us(&mut self, us: u64) {
        self.0.saturating_record(us.max(1));
    }
    pub fn add(&mut self, other: &Lat) {
        let _ = self.0.add(&other.0);
    }
    pub fn summary(&self) -> Option<Percentiles> {
        if self.0.is_empty() {
            return None;
        }
        let ms = |q: f64| self.0.value_at_quantile(q) as f64 / 1000.0;
        Some(Percentiles {
            count: self.0.len(),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: self.0.max() as f64 / 1000.0,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// What the server process used during a scenario (when its pid is known).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerUsage {
    pub cpu_secs: f64,
    /// Server CPU seconds per 1,000 acknowledged messages (compares across machines).
    pub cpu_secs_per_1000_msgs: Option<f64>,
    pub rss_start_mib: f64,
    pub rss_end_mib: f64,
    pub peak_rss_mib: f64,
}

/// One direction of federated traffic: senders on one appliance, their chat partners on the other.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Direction {
    /// `from → to` (server names).
    pub name: String,
    pub senders: usize,
    /// Acknowledged messages (whole run, warm-up included).
    pub acked: u64,
    /// Acks received in the measured window, per second.
    pub acked_per_sec: f64,
    /// Deliveries to the receiving appliance's users in the measured window, per second.
    pub deliveries_per_sec: f64,
    pub send_ack: Option<Percentiles>,
    /// Send → the `message` frame at the partner, through the other appliance.
    pub send_deliver: Option<Percentiles>,
}

/// One scenario's result.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Outcome {
    pub name: String,
    pub description: String,
    pub params: BTreeMap<String, serde_json::Value>,
    /// Creating users' chats, connecting and syncing before the measurement.
    pub setup_secs: f64,
    pub measured_secs: f64,
    pub passed: bool,
    /// Why the delivery check failed (lost, duplicated, reordered, errors).
    pub problems: Vec<String>,
    pub acked: Option<u64>,
    pub acked_per_sec: Option<f64>,
    pub deliveries: Option<u64>,
    pub deliveries_per_sec: Option<f64>,
    pub send_ack: Option<Percentiles>,
    pub send_deliver: Option<Percentiles>,
    /// Other latencies (connect→synced, history page, search query...).
    pub latencies: BTreeMap<String, Percentiles>,
    /// Other figures (bytes per idle connection, storm duration, pages/s...).
    pub figures: BTreeMap<String, f64>,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub server: Option<ServerUsage>,
    /// Federation: the second appliance (`server` is the chats' home).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_server: Option<ServerUsage>,
    /// Federation: the traffic of each direction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directions: Vec<Direction>,
    pub loadgen_cpu_secs: Option<f64>,
}

impl Outcome {
    pub fn new(name: &str, description: &str) -> Self {
        Self { name: name.into(), description: description.into(), passed: true, ..Default::default() }
    }

    pub fn param(&mut self, key: &str, v: impl Serialize) {
        self.params.insert(key.into(), serde_json::to_value(v).unwrap_or_default());
    }

    pub fn fail(&mut self, problem: impl Into<String>) {
        self.passed = false;
        if self.problems.len() < 20 {
            self.problems.push(problem.into());
        }
    }

    pub fn error(&mut self, e: impl std::fmt::Display) {
        self.errors += 1;
        if self.error_samples.len() < 10 {
            self.error_samples.push(e.to_string());
        }
    }

    /// Drops the numbers of a failed run: they are not to be reported.
    pub fn finish(&mut self) {
        if !self.passed {
            self.acked_per_sec = None;
            self.deliveries_per_sec = None;
            self.send_ack = None;
            self.send_deliver = None;
            self.latencies.clear();
            self.figures.clear();
            self.directions.clear();
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub label: String,
    /// How the simulated devices connected.
    pub transport: Transport,
    /// `/proc/loadavg` (1, 5, 15 min) when the run started and when it ended; the run itself
    /// loads the machine, so the first says what else was running.
    pub load_average: [String; 2],
    pub target: String,
    pub spawned: bool,
    pub machine: Machine,
    pub server_config: Option<String>,
    pub setup: BTreeMap<String, f64>,
    pub scenarios: Vec<Outcome>,
    pub passed: bool,
}

pub fn num(v: f64) -> String {
    if v >= 100.0 {
        // Thousands separated by commas, as the issue's targets are written.
        let s = format!("{:.0}", v);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_else(|| "-".into())
}

fn pct(p: &Option<Percentiles>) -> String {
    match p {
        Some(p) => format!("{} / {} / {} / {}", num(p.p50_ms), num(p.p90_ms), num(p.p99_ms), num(p.p999_ms)),
        None => "-".into(),
    }
}

impl Report {
    /// The Markdown body: machine, settings, one results table, details per scenario and the
    /// comparison with the issue's targets.
    pub fn markdown(&self) -> String {
        // A federation report has its own tables (two appliances, two directions) and no
        // targets; it is a section of BENCHMARKS.md, so its results come first, one level down.
        if !self.scenarios.is_empty() && self.scenarios.iter().all(|o| o.name.starts_with("federation")) {
            let mut s = String::new();
            for o in &self.scenarios {
                s.push_str(&federation_markdown(o));
            }
            s.push('\n');
            s.push_str(&self.header("###", "Each appliance ran"));
            return s;
        }
        let mut s = self.header("##", "The appliance ran");
        let _ = writeln!(s, "\n## Results ({})\n", self.transport.label());
        let _ = writeln!(
            s,
            "Latencies in ms as p50 / p90 / p99 / p99.9. CPU is the server's user+system time during the \
             measurement.\n"
        );
        let _ = writeln!(
            s,
            "| scenario | check | acked msg/s | deliveries/s | send→ack | send→deliver | errors | server CPU s | CPU s / 1k msgs | peak RSS MiB |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
        for o in &self.scenarios {
            let srv = o.server.as_ref();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                o.name,
                if o.passed { "ok" } else { "**FAILED**" },
                opt(o.acked_per_sec),
                opt(o.deliveries_per_sec),
                pct(&o.send_ack),
                pct(&o.send_deliver),
                o.errors,
                opt(srv.map(|u| u.cpu_secs)),
                opt(srv.and_then(|u| u.cpu_secs_per_1000_msgs)),
                opt(srv.map(|u| u.peak_rss_mib)),
            );
        }
        for o in &self.scenarios {
            let _ = writeln!(s, "\n### {}\n\n{}\n", o.name, o.description);
            let params: Vec<String> = o.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(s, "- parameters: {}", params.join(", "));
            let _ = writeln!(s, "- setup {:.1} s, measured {:.1} s", o.setup_secs, o.measured_secs);
            if !o.passed {
                let _ = writeln!(s, "- **check failed; numbers not reported**:");
                for p in &o.problems {
                    let _ = writeln!(s, "  - {p}");
                }
            }
            if let Some(a) = o.acked {
                let _ =
                    writeln!(s, "- acknowledged messages: {}; deliveries: {}", a, o.deliveries.unwrap_or(0));
            }
            for (k, v) in &o.figures {
                let _ = writeln!(s, "- {k}: {}", num(*v));
            }
            for (k, p) in &o.latencies {
                let _ = writeln!(s, "- {k} (ms, p50 / p90 / p99 / p99.9): {}", pct(&Some(p.clone())));
            }
            if let Some(u) = &o.server {
                let _ = writeln!(
                    s,
                    "- server: {:.2} CPU s, RSS {:.0} → {:.0} MiB (peak {:.0})",
                    u.cpu_secs, u.rss_start_mib, u.rss_end_mib, u.peak_rss_mib
                );
            }
            if let Some(c) = o.loadgen_cpu_secs {
                let _ = writeln!(s, "- load generator: {c:.2} CPU s");
            }
            if o.errors > 0 {
                let _ = writeln!(s, "- errors: {} (e.g. {})", o.errors, o.error_samples.join("; "));
            }
        }
        s.push_str(&self.targets());
        s
    }

    /// Machine, settings and setup, under `h` headings.
    fn header(&self, h: &str, ran: &str) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(s, "{h} Machine\n");
        let _ = writeln!(s, "- CPU: {} ({} logical CPUs)", m.cpu_model, m.cpus);
        let _ = writeln!(s, "- Memory: {:.1} GiB; kernel {}", m.mem_gib, m.kernel);
        let _ = writeln!(s, "- Open files limit (soft / hard): {}", m.open_files_limit);
        let _ = writeln!(
            s,
            "- Load generator on the same machine, over 127.0.0.x; target {}; devices connect over {}",
            self.target,
            self.transport.label()
        );
        let _ = writeln!(
            s,
            "- Load average (1 / 5 / 15 min): {} at the start, {} at the end",
            self.load_average[0], self.load_average[1]
        );
        if !self.label.is_empty() {
            let _ = writeln!(s, "\n**{}**", self.label);
        }
        if let Some(cfg) = &self.server_config {
            let _ = writeln!(
                s,
                "\n{h} Settings\n\n{ran} on a fresh temp data dir with the shipped defaults \
                 (durable commits: `sync=every`) plus:\n\n```toml\n{}```",
                cfg
            );
        }
        if !self.setup.is_empty() {
            let _ = writeln!(s, "\n{h} Setup (not part of any measurement)\n");
            for (k, v) in &self.setup {
                let _ = writeln!(s, "- {k}: {}", num(*v));
            }
        }
        s
    }

    pub fn find(&self, name: &str) -> Option<&Outcome> {
        self.scenarios.iter().find(|o| o.name == name && o.passed)
    }

    /// The issue's targets next to what this run measured.
    fn targets(&self) -> String {
        let mut s = String::from(
            "\n## Against the targets\n\n| target | goal | measured | met |\n|---|---|---|---|\n",
        );
        let mut row = |t: &str, goal: &str, measured: Option<String>, met: Option<bool>| {
            let _ = writeln!(
                s,
                "| {t} | {goal} | {} | {} |",
                measured.unwrap_or_else(|| "not measured".into()),
                match met {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                }
            );
        };
        let pairs = self.find("pairs");
        row(
            "1:1 chat, 50+ pairs among 1,000 connected users",
            "≥ 30,000 acked msg/s",
            pairs.and_then(|o| o.acked_per_sec).map(num),
            pairs.and_then(|o| o.acked_per_sec).map(|v| v >= 30_000.0),
        );
        let p99 = |o: Option<&Outcome>, f: fn(&Outcome) -> &Option<Percentiles>| {
            o.and_then(|o| f(o).as_ref().map(|p| p.p99_ms))
        };
        row(
            "1:1 chat send→ack p99",
            "≤ 10 ms",
            p99(pairs, |o| &o.send_ack).map(|v| format!("{} ms", num(v))),
            p99(pairs, |o| &o.send_ack).map(|v| v <= 10.0),
        );
        // Not a target of its own: the closed loop above queues its 400 messages in flight, so
        // this shows the same path's latency at a load it keeps up with.
        let paced = self.find("pairs-paced");
        row(
            "(context) 1:1 chat send→ack p99 when paced below capacity",
            "-",
            p99(paced, |o| &o.send_ack)
                .zip(paced.and_then(|o| o.acked_per_sec))
                .map(|(v, r)| format!("{} ms at {} msg/s", num(v), num(r))),
            None,
        );
        let g = self.find("group100");
        row(
            "Groups of 100 members",
            "≥ 150,000 deliveries/s",
            g.and_then(|o| o.deliveries_per_sec).map(num),
            g.and_then(|o| o.deliveries_per_sec).map(|v| v >= 150_000.0),
        );
        // The target asks for both at once: the paced run holds just over 150,000 deliveries/s
        // and measures the tail there; the closed loop's own p99 is its window's queueing.
        let gp = self.find("group100-paced");
        let gp_rate = gp.and_then(|o| o.deliveries_per_sec);
        row(
            "Groups of 100 send→deliver p99 at ≥ 150,000 deliveries/s (paced)",
            "≤ 20 ms",
            p99(gp, |o| &o.send_deliver)
                .zip(gp_rate)
                .map(|(v, r)| format!("{} ms at {} deliveries/s", num(v), num(r))),
            p99(gp, |o| &o.send_deliver).zip(gp_rate).map(|(v, r)| v <= 20.0 && r >= 150_000.0),
        );
        row(
            "(context) Groups of 100 send→deliver p99, closed loop",
            "-",
            p99(g, |o| &o.send_deliver).map(|v| format!("{} ms", num(v))),
            None,
        );
        let idle = self.find("idle");
        let per_conn = idle.and_then(|o| o.figures.get("server bytes per connection").copied());
        let conns = idle.and_then(|o| o.figures.get("connections").copied()).unwrap_or(0.0);
        row(
            "50,000 idle authenticated WebSockets",
            "≤ 12 KiB each",
            per_conn.map(|b| {
                let note =
                    if conns < 50_000.0 { " (fewer than 50,000: see the open files limit)" } else { "" };
                format!("{:.1} KiB each at {} connections{note}", b / 1024.0, num(conns))
            }),
            per_conn.filter(|_| conns >= 50_000.0).map(|b| b <= 12.0 * 1024.0),
        );
        let restart = self.find("restart");
        let fig = |o: Option<&Outcome>, k: &str| o.and_then(|o| o.figures.get(k).copied());
        let stored = fig(restart, "stored messages").unwrap_or(0.0);
        let ready = fig(restart, "restart: ready after (s)");
        row(
            "Restart with 1,000,000 stored messages",
            "ready ≤ 2 s",
            ready.map(|v| format!("{v:.2} s with {} messages", num(stored))),
            ready.filter(|_| stored >= 1_000_000.0).map(|v| v <= 2.0),
        );
        let k9 = fig(restart, "kill -9: ready after (s)");
        row(
            "After `kill -9` under load",
            "ready ≤ 10 s",
            k9.map(|v| format!("{v:.2} s")),
            k9.map(|v| v <= 10.0),
        );
        s
    }
}

/// A federation scenario: the two directions side by side, then the two appliances.
pub fn federation_markdown(o: &Outcome) -> String {
    let mut s = String::new();
    let param = |k: &str| o.params.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
    let (home, peer) = (param("home"), param("peer"));
    let _ = writeln!(s, "\n### {}\n\n{}\n", o.name, o.description);
    let params: Vec<String> = o.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(s, "- parameters: {}", params.join(", "));
    let _ = writeln!(
        s,
        "- check: {}; setup {:.1} s, measured {:.1} s",
        if o.passed {
            "ok (every acknowledged message delivered to the other side exactly once, in order)"
        } else {
            "**FAILED**"
        },
        o.setup_secs,
        o.measured_secs
    );
    if !o.passed {
        let _ = writeln!(s, "- **check failed; numbers not reported**:");
        for p in &o.problems {
            let _ = writeln!(s, "  - {p}");
        }
    }
    if o.errors > 0 {
        let _ = writeln!(s, "- errors: {} (e.g. {})", o.errors, o.error_samples.join("; "));
    }
    if !o.directions.is_empty() {
        let _ = writeln!(s, "\nLatencies in ms as p50 / p90 / p99 / p99.9.\n");
        let _ = write!(s, "| |");
        for d in &o.directions {
            let _ = write!(s, " {} |", d.name);
        }
        let _ = writeln!(s, " both |\n|---|{}---|", "---|".repeat(o.directions.len()));
        let mut row = |label: &str, cells: Vec<String>, total: String| {
            let _ = writeln!(s, "| {label} | {} | {total} |", cells.join(" | "));
        };
        let ds = &o.directions;
        row(
            "senders",
            ds.iter().map(|d| d.senders.to_string()).collect(),
            ds.iter().map(|d| d.senders).sum::<usize>().to_string(),
        );
        row("acked msg/s", ds.iter().map(|d| num(d.acked_per_sec)).collect(), opt(o.acked_per_sec));
        row(
            "delivered at the other appliance, msg/s",
            ds.iter().map(|d| num(d.deliveries_per_sec)).collect(),
            opt(o.deliveries_per_sec),
        );
        row("send→ack", ds.iter().map(|d| pct(&d.send_ack)).collect(), pct(&o.send_ack));
        row("send→remote deliver", ds.iter().map(|d| pct(&d.send_deliver)).collect(), pct(&o.send_deliver));
    }
    let usage = [(format!("{home} (home of the chats)"), &o.server), (peer, &o.peer_server)];
    if usage.iter().any(|(_, u)| u.is_some()) {
        let _ = writeln!(
            s,
            "\n| server | CPU s | CPU s / 1,000 acked msgs | RSS start → end MiB | peak RSS MiB |\n|---|---|---|---|---|"
        );
        for (name, u) in usage {
            if let Some(u) = u {
                let _ = writeln!(
                    s,
                    "| {name} | {} | {} | {:.0} → {:.0} | {:.0} |",
                    num(u.cpu_secs),
                    opt(u.cpu_secs_per_1000_msgs),
                    u.rss_start_mib,
                    u.rss_end_mib,
                    u.peak_rss_mib
                );
            }
        }
    }
    s.push('\n');
    if let Some(a) = o.acked {
        let _ = writeln!(s, "- acknowledged messages: {}; deliveries: {}", a, o.deliveries.unwrap_or(0));
    }
    for (k, v) in &o.figures {
        let _ = writeln!(s, "- {k}: {}", num(*v));
    }
    for (k, p) in &o.latencies {
        let _ = writeln!(s, "- {k} (ms, p50 / p90 / p99 / p99.9): {}", pct(&Some(p.clone())));
    }
    if let Some(c) = o.loadgen_cpu_secs {
        let _ = writeln!(s, "- load generator: {c:.2} CPU s");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(p50: f64, p99: f64) -> Option<Percentiles> {
        Some(Percentiles { count: 10, p50_ms: p50, p90_ms: p50, p99_ms: p99, p999_ms: p99, max_ms: p99 })
    }

    #[test]
    fn a_federation_run_has_a_column_per_direction_and_a_row_per_server() {
        let mut o = Outcome::new("federation", "Two appliances.");
        o.param("home", "a.test");
        o.param("peer", "b.test");
        o.acked_per_sec = Some(1500.0);
        o.deliveries_per_sec = Some(1490.0);
        o.send_ack = p(5.0, 50.0);
        o.send_deliver = p(20.0, 90.0);
        let dir = |name: &str, acked: f64, ack: f64| Direction {
            name: name.into(),
            senders: 200,
            acked: 10,
            acked_per_sec: acked,
            deliveries_per_sec: acked,
            send_ack: p(ack, ack * 10.0),
            send_deliver: p(20.0, 90.0),
        };
        o.directions = vec![dir("a.test → b.test", 1000.0, 5.0), dir("b.test → a.test", 500.0, 30.0)];
        let usage = |cpu: f64| ServerUsage {
            cpu_secs: cpu,
            cpu_secs_per_1000_msgs: Some(cpu / 10.0),
            rss_start_mib: 100.0,
            rss_end_mib: 150.0,
            peak_rss_mib: 160.0,
        };
        o.server = Some(usage(20.0));
        o.peer_server = Some(usage(30.0));
        let md = federation_markdown(&o);
        assert!(md.contains("| | a.test → b.test | b.test → a.test | both |\n|---|---|---|---|\n"), "{md}");
        assert!(md.contains("| senders | 200 | 200 | 400 |"), "{md}");
        assert!(md.contains("| acked msg/s | 1,000 | 500 | 1,500 |"), "{md}");
        assert!(md.contains("| send→ack | 5.00 / 5.00 / 50.0 / 50.0 | 30.0 / 30.0 / 300 / 300 | 5.00 / 5.00 / 50.0 / 50.0 |"), "{md}");
        assert!(md.contains("| a.test (home of the chats) | 20.0 | 2.00 | 100 → 150 | 160 |"), "{md}");
        assert!(md.contains("| b.test | 30.0 | 3.00 | 100 → 150 | 160 |"), "{md}");

        // A failed run shows its problems and no numbers.
        o.fail("lost one");
        o.finish();
        let md = federation_markdown(&o);
        assert!(md.contains("**FAILED**") && md.contains("  - lost one"), "{md}");
        assert!(!md.contains("acked msg/s"), "{md}");
    }
}
