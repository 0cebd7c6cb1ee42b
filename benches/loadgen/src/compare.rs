//! `--compare A.json B.json ...`: reports of the same scenarios (one per transport) side by side,
//! one column per report, one row per figure.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;

use crate::report::{Outcome, Percentiles, Report, num};

pub fn markdown(paths: &[PathBuf]) -> anyhow::Result<String> {
    let reports = paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str::<Report>(&text).with_context(|| format!("parsing {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(table(&reports))
}

/// p50 / p99 in ms.
fn p50_99(p: Option<&Percentiles>) -> String {
    p.map(|p| format!("{} / {}", num(p.p50_ms), num(p.p99_ms))).unwrap_or_else(|| "-".into())
}

/// A scenario's figure in one report; a failed or missing run says so instead.
fn at(r: &Report, name: &str, f: &dyn Fn(&Outcome) -> String) -> String {
    match r.scenarios.iter().find(|o| o.name == name) {
        Some(o) if o.passed => f(o),
        Some(_) => "**check failed**".into(),
        None => "not run".into(),
    }
}

fn table(reports: &[Report]) -> String {
    let mut s = String::new();
    let Some(first) = reports.first() else { return s };
    let _ = write!(s, "| |");
    for r in reports {
        let _ = write!(s, " {} |", r.transport.label());
    }
    let _ = writeln!(s, "\n|---|{}", "---|".repeat(reports.len()));
    let mut row = |label: &str, cell: &dyn Fn(&Report) -> String| {
        let _ = write!(s, "| {label} |");
        for r in reports {
            let _ = write!(s, " {} |", cell(r));
        }
        s.push('\n');
    };
    row("load average at start, end (1 min)", &|r| {
        let one_min = |l: &str| l.split_whitespace().next().unwrap_or("?").to_owned();
        format!("{}, {}", one_min(&r.load_average[0]), one_min(&r.load_average[1]))
    });
    let dash = || "-".to_owned();
    for o in &first.scenarios {
        let name = o.name.as_str();
        let head = format!("**{name}**{}", describe(o));
        if o.acked.is_some() {
            row(&format!("{head}: acked msg/s"), &|r| {
                at(r, name, &|o| o.acked_per_sec.map(num).unwrap_or_else(dash))
            });
            row(&format!("{name}: deliveries/s"), &|r| {
                at(r, name, &|o| o.deliveries_per_sec.map(num).unwrap_or_else(dash))
            });
            row(&format!("{name}: send→ack p50 / p99 (ms)"), &|r| {
                at(r, name, &|o| p50_99(o.send_ack.as_ref()))
            });
            row(&format!("{name}: send→deliver p50 / p99 (ms)"), &|r| {
                at(r, name, &|o| p50_99(o.send_deliver.as_ref()))
            });
            row(&format!("{name}: server CPU s / 1,000 msgs"), &|r| {
                at(r, name, &|o| {
                    o.server.as_ref().and_then(|u| u.cpu_secs_per_1000_msgs).map(num).unwrap_or_else(dash)
                })
            });
        } else if name == "idle" {
            row(&format!("{head}: server memory per connection"), &|r| {
                at(r, name, &|o| {
                    let n = o.figures.get("connections").copied().unwrap_or(0.0);
                    o.figures
                        .get("server bytes per connection")
                        .map(|b| format!("{:.1} KiB ({} connections)", b / 1024.0, num(n)))
                        .unwrap_or_else(dash)
                })
            });
            row(&format!("{name}: connections/s while opening"), &|r| {
                at(r, name, &|o| {
                    o.figures.get("connections/s while opening").copied().map(num).unwrap_or_else(dash)
                })
            });
            row(&format!("{name}: connect→sync_done p50 / p99 (ms)"), &|r| {
                at(r, name, &|o| p50_99(o.latencies.get("connect→sync_done")))
            });
        } else {
            row(&format!("{head}: check"), &|r| at(r, name, &|_| "ok".into()));
        }
        row(&format!("{name}: server peak RSS (MiB)"), &|r| {
            at(r, name, &|o| o.server.as_ref().map(|u| num(u.peak_rss_mib)).unwrap_or_else(dash))
        });
        row(&format!("{name}: load generator CPU s"), &|r| {
            at(r, name, &|o| o.loadgen_cpu_secs.map(num).unwrap_or_else(dash))
        });
    }
    s
}

/// A scenario's main parameters, for its first row.
fn describe(o: &Outcome) -> String {
    let keys = ["pairs", "connected", "groups", "members", "window", "connections"];
    let parts: Vec<String> =
        keys.iter().filter_map(|k| o.params.get(*k).map(|v| format!("{k} {v}"))).collect();
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ServerUsage;
    use crate::transport::Transport;

    fn report(transport: Transport, acked: f64, passed: bool) -> Report {
        let mut o = Outcome::new("pairs", "");
        o.param("pairs", 50);
        o.acked = Some(10);
        o.acked_per_sec = Some(acked);
        o.server = Some(ServerUsage {
            cpu_secs: 1.0,
            cpu_secs_per_1000_msgs: Some(0.25),
            rss_start_mib: 1.0,
            rss_end_mib: 2.0,
            peak_rss_mib: 3.0,
        });
        if !passed {
            o.fail("lost one");
        }
        let json = serde_json::json!({
            "label": "", "transport": transport, "load_average": ["0.50 0.40 0.30", "2.00 1.00 0.50"],
            "target": "x", "spawned": true,
            "machine": { "cpu_model": "c", "cpus": 2, "mem_gib": 1.0, "kernel": "k", "open_files_limit": "1" },
            "server_config": null, "setup": {}, "scenarios": [o], "passed": passed,
        });
        serde_json::from_value(json).expect("a report")
    }

    #[test]
    fn one_column_per_transport() {
        let t =
            table(&[report(Transport::Websocket, 5016.0, true), report(Transport::Webtransport, 1.0, false)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "| | WebSocket | WebTransport |");
        assert_eq!(lines[2], "| load average at start, end (1 min) | 0.50, 2.00 | 0.50, 2.00 |");
        assert_eq!(lines[3], "| **pairs** (pairs 50): acked msg/s | 5,016 | **check failed** |");
        assert!(t.contains("| pairs: server CPU s / 1,000 msgs | 0.25 | **check failed** |"));
    }
}
