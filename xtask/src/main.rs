//! Project automation (`cargo xtask <command>`), in the style of rust-analyzer's xtask: plain
//! `std::process::Command`, no dependencies.
//!
//! - `run [ARGS]`: build and run the appliance with the dev defaults (`parley serve --dev`).
//! - `test`: everything CI checks: formatting, clippy with warnings denied, the test suite, the
//!   web client's and the admin console's unit tests and their end-to-end tests in Chromium, and
//!   the package checks.
//! - `dist [--dev]`: the .deb and .rpm packages (see `dist.rs`).
//! - `bench [--quick] [--profile dev] [--transports | --federation]`: the load generator and
//!   micro-benchmarks, or the WebSocket vs WebTransport comparison, or the federation scenario
//!   between two appliances, written to `BENCHMARKS.md` (see `bench.rs`).

mod bench;
mod deps;
mod dist;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(Into::into).unwrap_or_else(|| root().join("target"))
}

fn npm(dir: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(root().join(dir)).args(args);
    cmd
}

/// Installs a browser UI's locked dependencies (when needed) and builds it into `dist/`,
/// which the server embeds. Returns whether the folder holds a UI at all.
fn build_ui(dir: &str) -> Result<bool, String> {
    if !root().join(dir).join("package.json").exists() {
        return Ok(false);
    }
    deps::ensure_node()?;
    if !root().join(dir).join("node_modules").exists() {
        step(&format!("npm ci ({dir})"), &mut npm(dir, &["ci", "--no-audit", "--no-fund"]))?;
    }
    step(&format!("npm run build ({dir})"), &mut npm(dir, &["run", "build"]))?;
    Ok(true)
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // `cargo run` gave xtask its own package's variables and a library path; passed on, they
    // change build-script fingerprints and force a second build of every dependency.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_PKG_") || k.starts_with("CARGO_MANIFEST_") || k == "LD_LIBRARY_PATH" {
            cmd.env_remove(&key);
        }
    }
    cmd
}

fn step(name: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: {name}");
    let status = cmd.status().map_err(|e| format!("{name}: cannot start: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{name} failed ({status})")) }
}

fn test() -> Result<(), String> {
    deps::ensure(&[
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/promtool", "prometheus"),
        ("/usr/sbin/slapd", "slapd"),
        ("/usr/bin/ldapsearch", "ldap-utils"),
    ])?;
    let web = build_ui("web-client")?;
    if web {
        step("web client unit tests", &mut npm("web-client", &["test"]))?;
    }
    let admin = build_ui("admin-ui")?;
    if admin {
        step("admin console unit tests", &mut npm("admin-ui", &["test"]))?;
    }
    step("cargo fmt --check", cargo().args(["fmt", "--all", "--", "--check"]))?;
    step(
        "cargo clippy (warnings denied)",
        cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
    )?;
    step("cargo test", cargo().args(["test", "--workspace"]))?;
    // `cargo test` built the binary the end-to-end tests start.
    let bin = target_dir().join("debug").join("parley");
    if web {
        step(
            "web client end-to-end tests (Chromium)",
            npm("web-client", &["run", "e2e"]).env("PARLEY_BIN", &bin),
        )?;
    }
    if admin {
        step(
            "admin console end-to-end tests (Chromium)",
            npm("admin-ui", &["run", "e2e"]).env("PARLEY_BIN", &bin).env("ADMIN_UI_SERVE", "binary"),
        )?;
    }
    dist::check()
}

fn run(args: &[String]) -> Result<(), String> {
    // Build exactly what `cargo test --workspace` builds (rather than `cargo run -p parley`),
    // so features unify the same way and running and testing share one dependency build.
    build_ui("web-client")?;
    build_ui("admin-ui")?;
    step("cargo build", cargo().args(["build", "--workspace", "--all-targets"]))?;
    let mut cmd = Command::new(target_dir().join("debug").join("parley"));
    cmd.current_dir(root()).args(["serve", "--dev"]).args(args);
    step("parley serve --dev", &mut cmd)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        Some("dist") => dist::dist(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        _ => {
            Err("usage: cargo xtask <run [ARGS] | test | dist [--dev] | bench [--quick] [--profile dev] [--transports | --federation]>"
                .into())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
