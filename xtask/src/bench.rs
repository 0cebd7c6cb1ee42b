//! `cargo xtask bench`: builds `parley` and `parley-loadgen`, lets the load generator start the
//! appliance on a temp data dir (durable commits on, benchmark limits from
//! `benches/loadgen/src/server.rs`), runs the standard scenarios, runs the micro-benchmarks,
//! and writes `BENCHMARKS.md`.
//!
//! - `--quick`: small, short scenarios and no micro-benchmarks: a smoke test of the pipeline.
//! - `--profile dev`: a debug build, to check the pipeline without a release build. Its numbers
//!   are not results: the report says so and goes to `target/bench/`, not `BENCHMARKS.md`.
//! - `--micro` / `--no-micro`: force the micro-benchmarks on or off.
//! - `--out FILE`: where the report goes. Arguments after `--` go to `parley-loadgen`.
//! - `--transports`: instead of the standard run, the transport comparison: `pairs`,
//!   `group100` and `idle` over WebSocket, then over WebTransport, each on a freshly spawned
//!   appliance of the same build, written as the "WebSocket vs WebTransport" table.
//! - `--federation`: instead of the standard run, the federation scenarios: the load generator
//!   starts two appliances of the release build (`a.test`, `b.test`, each on a temp data dir
//!   with durable commits), peers them by invite, and measures 1:1 chats between their users in
//!   both directions, first paced (`federation-paced`), then in a closed loop (`federation`);
//!   written as the "Federation" section.
//!
//! Each command rewrites only its own section of `BENCHMARKS.md`, between
//! `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers; everything else (the search index
//! table, "Where we stand and what limits us") is kept as written.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, root, step, target_dir};

const STANDING: &str = "## Where we stand and what limits us";

struct Options {
    quick: bool,
    profile: String,
    micro: Option<bool>,
    out: Option<PathBuf>,
    loadgen: Vec<String>,
    transports: bool,
    federation: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        quick: false,
        profile: "release".into(),
        micro: None,
        out: None,
        loadgen: Vec::new(),
        transports: false,
        federation: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--profile" => o.profile = it.next().ok_or("--profile needs a value")?.clone(),
            "--micro" => o.micro = Some(true),
            "--no-micro" => o.micro = Some(false),
            "--out" => o.out = Some(it.next().ok_or("--out needs a value")?.into()),
            "--transports" => o.transports = true,
            "--federation" => o.federation = true,
            "--" => o.loadgen.extend(it.by_ref().cloned()),
            other => return Err(format!("bench: unknown option {other}")),
        }
    }
    if o.transports && o.federation {
        return Err("bench: --transports and --federation are separate runs; give one".into());
    }
    Ok(o)
}

/// The directory cargo puts a profile's binaries in.
fn profile_dir(profile: &str) -> PathBuf {
    target_dir().join(if profile == "dev" { "debug" } else { profile })
}

fn output(cmd: &mut Command) -> String {
    cmd.output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
}

pub fn bench(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let results = o.profile == "release" && !o.quick;
    let bench_dir = target_dir().join("bench");
    std::fs::create_dir_all(&bench_dir).map_err(|e| format!("{}: {e}", bench_dir.display()))?;

    let mut build = cargo();
    build.current_dir(root()).args(["build", "--profile", &o.profile]);
    if o.transports {
        // Only the two binaries it runs, as the usual release build of them.
        build.args(["-p", "parley", "-p", "parley-loadgen"]);
    } else {
        // The whole workspace, so features unify as in every other build of that profile and no
        // dependency is rebuilt (dev: exactly what `cargo xtask test` builds).
        build.arg("--workspace").arg(if o.profile == "dev" { "--all-targets" } else { "--bins" });
    }
    step(&format!("cargo build --profile {}", o.profile), &mut build)?;
    let bin = profile_dir(&o.profile);
    let out = o.out.clone().unwrap_or_else(|| {
        if results {
            root().join("BENCHMARKS.md")
        } else {
            let kind = if o.transports {
                "-transports"
            } else if o.federation {
                "-federation"
            } else {
                ""
            };
            bench_dir.join(format!(
                "BENCHMARKS{kind}-{}{}.md",
                o.profile,
                if o.quick { "-quick" } else { "" }
            ))
        }
    });
    if o.transports {
        return transports(&o, &bin, &bench_dir, &out);
    }
    if o.federation {
        return federation(&o, &bin, &bench_dir, &out);
    }
    let json = bench_dir.join("loadgen.json");
    let md = bench_dir.join("loadgen.md");
    let _ = std::fs::remove_file(&md);
    let mut loadgen = Command::new(bin.join("parley-loadgen"));
    loadgen.arg("--spawn").arg(bin.join("parley")).arg("--json").arg(&json).arg("--markdown").arg(&md);
    if o.quick {
        loadgen.arg("--quick");
    }
    loadgen.args(&o.loadgen);
    let started = std::time::Instant::now();
    let load_result = step("parley-loadgen (standard scenarios)", &mut loadgen);
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let body =
        std::fs::read_to_string(&md).map_err(|e| format!("the load generator wrote no report ({e})"))?;

    let micro = if o.micro.unwrap_or(!o.quick) { Some(micro(&o.profile, &bench_dir)?) } else { None };

    write_section(&out, "standard", &standard(&o, &body, micro.as_deref(), minutes))?;
    eprintln!("xtask: wrote {} (load generator JSON: {})", out.display(), json.display());
    load_result
}

/// `--transports`: the same scenarios over each transport, each on its own fresh appliance,
/// then their comparison table.
fn transports(o: &Options, bin: &Path, bench_dir: &Path, out: &Path) -> Result<(), String> {
    let started = std::time::Instant::now();
    let mut jsons = Vec::new();
    let mut quiet = Vec::new();
    let mut result = Ok(());
    for transport in ["websocket", "webtransport"] {
        quiet.push(wait_for_quiet());
        let json = bench_dir.join(format!("transport-{transport}.json"));
        let _ = std::fs::remove_file(&json);
        let mut loadgen = Command::new(bin.join("parley-loadgen"));
        loadgen.arg("--spawn").arg(bin.join("parley")).args(["--transport", transport]);
        loadgen
            .arg("--json")
            .arg(&json)
            .arg("--markdown")
            .arg(bench_dir.join(format!("transport-{transport}.md")));
        if !o.loadgen.iter().any(|a| a == "--scenarios") {
            loadgen.args(["--scenarios", "pairs,group100,idle"]);
        }
        if o.quick {
            loadgen.arg("--quick");
        }
        loadgen.args(&o.loadgen);
        // A failed check still writes its report (marked failed); keep going and say so.
        if let Err(e) = step(&format!("parley-loadgen over {transport}"), &mut loadgen) {
            result = Err(e);
        }
        if !json.exists() {
            return Err(format!("the load generator wrote no report over {transport}"));
        }
        jsons.push(json);
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let table = bench_dir.join("transports.md");
    let mut compare = Command::new(bin.join("parley-loadgen"));
    for j in &jsons {
        compare.arg("--compare").arg(j);
    }
    step("parley-loadgen --compare", compare.arg("--markdown").arg(&table))?;
    let body = std::fs::read_to_string(&table).map_err(|e| format!("{}: {e}", table.display()))?;
    let mut s = String::from("## WebSocket vs WebTransport\n\n");
    s.push_str(&label(o));
    s.push_str(&format!(
        "{} {minutes:.1} minutes. Each transport ran `pairs`, `group100` and `idle` (parameters as in \
         the standard run) on its own freshly spawned appliance of the same build, one after the other; \
         `idle` holds its connections on a freshly restarted server. Other compiles running when a run \
         started: {}.\n\n",
        written_by(o, "bench --transports"),
        quiet
            .iter()
            .map(|q| if *q { "none" } else { "**yes** (waited 15 minutes, then ran anyway)" })
            .collect::<Vec<_>>()
            .join(", then "),
    ));
    s.push_str(&body);
    s.push_str(
        "\nLatencies in ms. The load average includes the run itself (server and load generator \
         share the 2 cores); the value at the start shows what else was running. What the \
         differences come from is under \"Where we stand and what limits us\".\n",
    );
    write_section(out, "transports", &s)?;
    eprintln!("xtask: wrote {} (JSON reports in {})", out.display(), bench_dir.display());
    result
}

/// `--federation`: two appliances peered by the load generator, 1:1 chats across them.
fn federation(o: &Options, bin: &Path, bench_dir: &Path, out: &Path) -> Result<(), String> {
    let quiet = wait_for_quiet();
    let json = bench_dir.join("federation.json");
    let md = bench_dir.join("federation.md");
    let _ = std::fs::remove_file(&json);
    let _ = std::fs::remove_file(&md);
    let mut loadgen = Command::new(bin.join("parley-loadgen"));
    loadgen.arg("--spawn").arg(bin.join("parley"));
    if !o.loadgen.iter().any(|a| a == "--scenarios") {
        // Paced first, on a fresh link: latency at a moderate load; then the closed loop, which
        // pushes the link as hard as it goes.
        loadgen.args(["--scenarios", "federation-paced,federation"]);
    }
    loadgen.arg("--json").arg(&json).arg("--markdown").arg(&md);
    if o.quick {
        loadgen.arg("--quick");
    }
    loadgen.args(&o.loadgen);
    let started = std::time::Instant::now();
    // A failed check still writes its report (marked failed); write it and say so.
    let result = step("parley-loadgen (federation)", &mut loadgen);
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let body =
        std::fs::read_to_string(&md).map_err(|e| format!("the load generator wrote no report ({e})"))?;
    let mut s = String::from("## Federation (issue 9)\n\n");
    s.push_str(&label(o));
    s.push_str(&format!(
        "{} {minutes:.1} minutes. Two appliances of the same build ran side by side on this machine, \
         peered by invite over QUIC on loopback; the load generator (on the same 2 cores) drove both. \
         Reproduce with `cargo xtask bench --federation`; `benches/README.md` explains the scenario. \
         Other compiles running when the run started: {}.\n",
        written_by(o, "bench --federation"),
        if quiet { "none" } else { "**yes** (waited 15 minutes, then ran anyway)" },
    ));
    s.push_str(&body);
    write_section(out, "federation", &s)?;
    eprintln!("xtask: wrote {} (load generator JSON: {})", out.display(), json.display());
    result
}

/// Waits (up to 15 minutes) until no other `rustc` runs on this shared machine; returns
/// whether it got there.
fn wait_for_quiet() -> bool {
    let busy = || Command::new("pgrep").args(["-x", "rustc"]).output().is_ok_and(|o| o.status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15 * 60);
    if busy() {
        eprintln!("xtask: waiting for other compiles (rustc) to finish before measuring");
    }
    while busy() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    true
}

/// Runs the divan benchmarks of `parley-micro`; returns their table.
fn micro(profile: &str, dir: &Path) -> Result<String, String> {
    // `cargo bench` uses the `bench` profile (release settings) unless told otherwise.
    let mut cmd = cargo();
    cmd.current_dir(root()).args(["bench", "-p", "parley-micro"]);
    if profile != "release" {
        cmd.args(["--profile", profile]);
    }
    eprintln!("xtask: cargo bench -p parley-micro");
    let out = cmd.output().map_err(|e| format!("cargo bench: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = std::fs::write(dir.join("micro.txt"), &text);
    if !out.status.success() {
        return Err(format!("cargo bench -p parley-micro failed:\n{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(text)
}

/// "Not results" for a quick or debug run; empty for a real one.
fn label(o: &Options) -> String {
    if o.profile == "release" && !o.quick {
        return String::new();
    }
    format!(
        "> **Not results: a {} run{}. Numbers from it only show that the pipeline works.**\n\n",
        if o.profile == "release" { "release" } else { "debug (dev profile)" },
        if o.quick { " with --quick (small and short)" } else { "" }
    )
}

/// "Written by `cargo xtask COMMAND` on DATE at commit C (rustc, profile P); the load generator
/// ran for" (the caller adds the minutes).
fn written_by(o: &Options, command: &str) -> String {
    let commit = output(Command::new("git").current_dir(root()).args(["rev-parse", "--short=12", "HEAD"]));
    let dirty = !output(Command::new("git").current_dir(root()).args(["status", "--porcelain"])).is_empty();
    let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
    let rustc = output(Command::new("rustc").arg("--version"));
    format!(
        "Written by `cargo xtask {command}{}{}` on {date} at commit `{commit}`{} ({rustc}, profile `{}`); the \
         load generator ran for",
        if o.quick { " --quick" } else { "" },
        if o.profile != "release" { format!(" --profile {}", o.profile) } else { String::new() },
        if dirty { " with uncommitted changes" } else { "" },
        o.profile,
    )
}

/// The standard run's section: how it was made, the load generator's report, the micro-benchmarks.
fn standard(o: &Options, body: &str, micro: Option<&str>, minutes: f64) -> String {
    let mut s = label(o);
    s.push_str(&format!("{} {minutes:.1} minutes.\n\n", written_by(o, "bench")));
    s.push_str(
        "Reproduce with `cargo xtask bench` (release build, about 15 minutes on 2 cores once built). \
         `benches/README.md` explains the scenarios, the delivery check and how to drive another \
         appliance with `parley-loadgen --target`.\n\n",
    );
    s.push_str(body);
    if let Some(m) = micro {
        s.push_str(
            "\n## Micro-benchmarks\n\n`cargo bench -p parley-micro` (divan; times per iteration, and \
             items/s where a benchmark counts items). The store benchmarks go through a real appliance \
             with durable commits.\n\n```text\n",
        );
        s.push_str(m.trim_end());
        s.push_str("\n```\n");
    }
    s
}

/// Replaces the section `name` of the report at `out` (or adds it before the hand-written
/// "Where we stand" section), keeping everything else.
fn write_section(out: &Path, name: &str, section: &str) -> Result<(), String> {
    let old = std::fs::read_to_string(out).unwrap_or_else(|_| {
        format!(
            "# Benchmarks\n\n{STANDING}\n\n_To be written from a release run: for each target, the \
             bottleneck the profile shows (writer commit time, fan-out, JSON, the load generator itself \
             sharing the 2 cores) and what would move it._\n"
        )
    });
    std::fs::write(out, splice(&old, name, section)).map_err(|e| format!("{}: {e}", out.display()))
}

fn splice(doc: &str, name: &str, section: &str) -> String {
    let (begin, end) = (format!("<!-- bench:{name} -->"), format!("<!-- /bench:{name} -->"));
    let block = format!("{begin}\n{}\n{end}", section.trim());
    if let (Some(b), Some(e)) = (doc.find(&begin), doc.find(&end))
        && b < e
    {
        return format!("{}{block}{}", &doc[..b], &doc[e + end.len()..]);
    }
    let at = doc.find(STANDING).unwrap_or(doc.len());
    let (head, tail) = (doc[..at].trim_end(), &doc[at..]);
    let mut s = String::new();
    if !head.is_empty() {
        s.push_str(head);
        s.push_str("\n\n");
    }
    s.push_str(&block);
    s.push('\n');
    if !tail.is_empty() {
        s.push('\n');
        s.push_str(tail);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_in_place_or_added_before_the_standing() {
        let doc = format!(
            "# Benchmarks\n\n<!-- bench:standard -->\nold\n<!-- /bench:standard -->\n\n## Search\n\nkept\n\n{STANDING}\n\nmine\n"
        );
        let doc = splice(&doc, "standard", "new\n");
        assert_eq!(
            doc,
            format!(
                "# Benchmarks\n\n<!-- bench:standard -->\nnew\n<!-- /bench:standard -->\n\n## Search\n\nkept\n\n{STANDING}\n\nmine\n"
            )
        );
        let doc = splice(&doc, "transports", "table");
        assert!(doc.contains(&format!(
            "kept\n\n<!-- bench:transports -->\ntable\n<!-- /bench:transports -->\n\n{STANDING}\n\nmine\n"
        )));
        // A rerun replaces it again and keeps the rest.
        let again = splice(&doc, "transports", "table 2");
        assert_eq!(again, doc.replace("table\n", "table 2\n"));
        assert_eq!(
            splice("# Benchmarks\n", "x", "y"),
            "# Benchmarks\n\n<!-- bench:x -->\ny\n<!-- /bench:x -->\n"
        );
    }
}
