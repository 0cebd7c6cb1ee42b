//! Project automation (`cargo xtask <command>`), in the style of rust-analyzer's xtask: plain
//! `std::process::Command`, no dependencies.
//!
//! - `run [ARGS]`: build and run the appliance with the dev defaults (`parley serve --dev`).
//! - `test`: everything CI checks: formatting, clippy with warnings denied, the test suite.

use std::process::{Command, ExitCode};

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
    step("cargo fmt --check", cargo().args(["fmt", "--all", "--", "--check"]))?;
    step(
        "cargo clippy (warnings denied)",
        cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
    )?;
    step("cargo test", cargo().args(["test", "--workspace"]))
}

fn run(args: &[String]) -> Result<(), String> {
    // Build exactly what `cargo test --workspace` builds (rather than `cargo run -p parley`),
    // so features unify the same way and running and testing share one dependency build.
    step("cargo build", cargo().args(["build", "--workspace", "--all-targets"]))?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(Into::into).unwrap_or_else(|| root.join("target"));
    let mut cmd = Command::new(target.join("debug").join("parley"));
    cmd.current_dir(&root).args(["serve", "--dev"]).args(args);
    step("parley serve --dev", &mut cmd)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        _ => Err("usage: cargo xtask <run [ARGS] | test>".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
