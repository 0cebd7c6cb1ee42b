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
//!
//! The section "Where we stand and what limits us" of an existing `BENCHMARKS.md` is kept.

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
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o =
        Options { quick: false, profile: "release".into(), micro: None, out: None, loadgen: Vec::new() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--profile" => o.profile = it.next().ok_or("--profile needs a value")?.clone(),
            "--micro" => o.micro = Some(true),
            "--no-micro" => o.micro = Some(false),
            "--out" => o.out = Some(it.next().ok_or("--out needs a value")?.into()),
            "--" => o.loadgen.extend(it.by_ref().cloned()),
            other => return Err(format!("bench: unknown option {other}")),
        }
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

    // The whole workspace, so features unify as in every other build of that profile and no
    // dependency is rebuilt (dev: exactly what `cargo xtask test` builds).
    let mut build = cargo();
    build.current_dir(root()).args(["build", "--profile", &o.profile, "--workspace"]);
    build.arg(if o.profile == "dev" { "--all-targets" } else { "--bins" });
    step(&format!("cargo build --profile {} --workspace", o.profile), &mut build)?;
    let bin = profile_dir(&o.profile);
    let json = bench_dir.join("loadgen.json");
    let md = bench_dir.join("loadgen.md");
    let _ = std::fs::remove_file(&md);
    let label = if results {
        String::new()
    } else {
        format!(
            "Not results: a {} run{}. Numbers from it only show that the pipeline works.",
            if o.profile == "release" { "release" } else { "debug (dev profile)" },
            if o.quick { " with --quick (small and short)" } else { "" }
        )
    };
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

    let out = o.out.clone().unwrap_or_else(|| {
        if results {
            root().join("BENCHMARKS.md")
        } else {
            bench_dir.join(format!("BENCHMARKS-{}{}.md", o.profile, if o.quick { "-quick" } else { "" }))
        }
    });
    let doc = document(&o, &label, &body, micro.as_deref(), minutes, &out);
    std::fs::write(&out, doc).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("xtask: wrote {} (load generator JSON: {})", out.display(), json.display());
    load_result
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

fn document(o: &Options, label: &str, body: &str, micro: Option<&str>, minutes: f64, out: &Path) -> String {
    let commit = output(Command::new("git").current_dir(root()).args(["rev-parse", "--short=12", "HEAD"]));
    let dirty = !output(Command::new("git").current_dir(root()).args(["status", "--porcelain"])).is_empty();
    let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
    let rustc = output(Command::new("rustc").arg("--version"));
    let mut s = String::from("# Benchmarks\n\n");
    if !label.is_empty() {
        s.push_str(&format!("> **{label}**\n\n"));
    }
    s.push_str(&format!(
        "Written by `cargo xtask bench{}{}` on {date} at commit `{commit}`{} ({rustc}, profile `{}`); the \
         load generator ran for {minutes:.1} minutes.\n\n",
        if o.quick { " --quick" } else { "" },
        if o.profile != "release" { format!(" --profile {}", o.profile) } else { String::new() },
        if dirty { " with uncommitted changes" } else { "" },
        o.profile,
    ));
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
    // Keep what the lead wrote about the last real run.
    let kept = std::fs::read_to_string(out)
        .ok()
        .and_then(|old| old.find(STANDING).map(|i| old[i..].to_owned()))
        .unwrap_or_else(|| {
            format!(
                "{STANDING}\n\n_To be written from a release run: for each target, the bottleneck the \
                 profile shows (writer commit time, fan-out, JSON, the load generator itself sharing the \
                 2 cores) and what would move it._\n"
            )
        });
    s.push('\n');
    s.push_str(&kept);
    s
}
