//! Packages and their checks.
//!
//! `cargo xtask dist [--dev]` builds the `parley` binary (release, or the dev profile that
//! `cargo test` already built), strips it into a staging target dir, and hands that to cargo-deb
//! and cargo-generate-rpm, which read their metadata from `appliance/parley/Cargo.toml` and
//! `packaging/`. The packages land in `$CARGO_TARGET_DIR/dist/` (`dist/dev/` for `--dev`).
//!
//! `check()` (run by `cargo xtask test`) builds the `--dev` packages and checks them: the unit
//! with `systemd-analyze verify` and `security`, the .deb with lintian, the .rpm with rpmlint and
//! `rpm -qp`, the Grafana dashboard, and, as root, a real `dpkg -i` / `-r` / `-P` round trip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use crate::{cargo, deps, root, step, target_dir};

/// Versions `cargo xtask` installs when the tools are missing (their behaviour is relied on:
/// cargo-generate-rpm 0.21 takes scriptlet paths relative to the crate, cargo-deb 3 writes the
/// systemd snippets).
const CARGO_DEB: &str = "cargo-deb@3.8.0";
const CARGO_GENERATE_RPM: &str = "cargo-generate-rpm@0.21.1";
/// `systemd-analyze security` exposure above which the check fails.
const MAX_EXPOSURE: f64 = 2.0;

#[derive(Clone, Copy, PartialEq)]
enum Profile {
    Release,
    Dev,
}

struct Packages {
    deb: PathBuf,
    rpm: PathBuf,
}

/// `cargo xtask dist [--dev | --check]` (`--check`: only what `cargo xtask test` runs last).
pub fn dist(args: &[String]) -> Result<(), String> {
    let profile = match args {
        [] => Profile::Release,
        [flag] if flag == "--dev" => Profile::Dev,
        [flag] if flag == "--check" => return check(),
        _ => return Err("usage: cargo xtask dist [--dev | --check]".into()),
    };
    let p = build(profile)?;
    println!("{}\n{}", p.deb.display(), p.rpm.display());
    Ok(())
}

fn tools() -> Result<(), String> {
    deps::ensure(&[
        ("/usr/bin/strip", "binutils"),
        // cargo-deb computes the .deb's library dependencies with dpkg-shlibdeps.
        ("/usr/bin/dpkg-shlibdeps", "dpkg-dev"),
    ])?;
    for (sub, pinned) in [("deb", CARGO_DEB), ("generate-rpm", CARGO_GENERATE_RPM)] {
        let want = pinned.replace('@', " ");
        let have = cargo().args([sub, "--version"]).output().ok().filter(|o| o.status.success());
        let have = have.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        if have.as_deref() != Some(want.as_str()) {
            step(&format!("cargo install {pinned}"), cargo().args(["install", "--locked", pinned]))?;
        }
    }
    Ok(())
}

fn workspace_version() -> Result<String, String> {
    let toml = read(&root().join("Cargo.toml"))?;
    let section = toml.split("[workspace.package]").nth(1).ok_or("no [workspace.package]")?;
    section
        .lines()
        .find_map(|l| l.strip_prefix("version = ").map(|v| v.trim().trim_matches('"').to_owned()))
        .ok_or_else(|| "no version in [workspace.package]".into())
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Builds the binary and both packages, and returns their paths.
fn build(profile: Profile) -> Result<Packages, String> {
    let started = Instant::now();
    tools()?;
    let version = workspace_version()?;
    // The .deb is non-native (revision 1), so lintian wants a Debian changelog for its version.
    let changelog = read(&root().join("packaging/deb/changelog"))?;
    if !changelog.starts_with(&format!("parley ({version}-1) ")) {
        return Err(format!("packaging/deb/changelog: add an entry for {version}-1 at the top"));
    }
    let (built, out) = match profile {
        Profile::Release => {
            // The release binary embeds the browser UIs: build them first.
            crate::build_ui("web-client")?;
            crate::build_ui("admin-ui")?;
            step("cargo build --release", cargo().args(["build", "--release", "--locked", "-p", "parley"]))?;
            (target_dir().join("release/parley"), target_dir().join("dist"))
        }
        Profile::Dev => {
            // What `cargo test --workspace` builds (see `run`), so after the tests this is a no-op.
            step("cargo build (dev)", cargo().args(["build", "--workspace", "--all-targets"]))?;
            (target_dir().join("debug/parley"), target_dir().join("dist/dev"))
        }
    };
    // Both tools take `target/release/parley` from CARGO_TARGET_DIR / --target-dir: point them
    // at a staging dir that holds the stripped binary (Debian policy; 760 MB → 130 MB for dev).
    let stage = target_dir().join("dist/stage");
    std::fs::create_dir_all(stage.join("release")).map_err(|e| format!("{}: {e}", stage.display()))?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    for entry in std::fs::read_dir(&out).map_err(|e| e.to_string())?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("parley") && (name.ends_with(".deb") || name.ends_with(".rpm")) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    step(
        "strip",
        Command::new("strip")
            .args(["--strip-unneeded", "--remove-section=.comment", "-o"])
            .arg(stage.join("release/parley"))
            .arg(&built),
    )?;
    // Reproducible timestamps: the last commit's time.
    let epoch = Command::new("git")
        .current_dir(root())
        .args(["log", "-1", "--format=%ct"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());

    let mut deb = cargo();
    deb.current_dir(root())
        .env("CARGO_TARGET_DIR", &stage)
        .args(["deb", "-p", "parley", "--no-build", "--no-strip", "--no-dbgsym"])
        .args(["--no-separate-debug-symbols", "-o"])
        .arg(&out);
    let mut rpm = cargo();
    rpm.current_dir(root())
        .args(["generate-rpm", "-p", "appliance/parley", "--target-dir"])
        .arg(&stage)
        .arg("-o")
        .arg(&out);
    if profile == Profile::Dev {
        // xz and zstd take a minute each on the dev binary; these take seconds.
        deb.arg("--fast");
        rpm.args(["--payload-compress", "gzip"]);
    }
    if let Some(epoch) = &epoch {
        deb.env("SOURCE_DATE_EPOCH", epoch);
        rpm.env("SOURCE_DATE_EPOCH", epoch);
    }
    step("cargo deb", &mut deb)?;
    step("cargo generate-rpm", &mut rpm)?;

    let find = |ext: &str| -> Result<PathBuf, String> {
        std::fs::read_dir(&out)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == ext))
            .ok_or_else(|| format!("no .{ext} in {}", out.display()))
    };
    let p = Packages { deb: find("deb")?, rpm: find("rpm")? };
    let mib = |p: &Path| std::fs::metadata(p).map(|m| m.len() as f64 / 1048576.0).unwrap_or(0.0);
    eprintln!(
        "xtask: packages ({:.0} s): {} ({:.1} MiB), {} ({:.1} MiB)",
        started.elapsed().as_secs_f64(),
        p.deb.display(),
        mib(&p.deb),
        p.rpm.display(),
        mib(&p.rpm)
    );
    Ok(p)
}

/// `timeout SECS PROGRAM`: every check is bounded in time (exit 124 when it ran out).
fn bounded(secs: u32, program: &str) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["--kill-after=5", &secs.to_string(), program]);
    cmd
}

/// Runs a check command and returns its output; fails when it cannot start or times out.
fn run(name: &str, cmd: &mut Command) -> Result<Output, String> {
    let out = cmd.output().map_err(|e| format!("{name}: cannot start: {e}"))?;
    if out.status.code() == Some(124) {
        return Err(format!("{name}: timed out"));
    }
    Ok(out)
}

/// Runs a check command that must succeed, and returns its stdout.
fn ok(name: &str, cmd: &mut Command) -> Result<String, String> {
    let out = run(name, cmd)?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{name} failed ({}):\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(text)
}

fn both(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Builds the `--dev` packages and checks them (see the module doc).
pub fn check() -> Result<(), String> {
    let started = Instant::now();
    deps::ensure(&[
        ("/usr/bin/systemd-analyze", "systemd"),
        ("/usr/bin/lintian", "lintian"),
        ("/usr/bin/rpmlint", "rpmlint"),
        ("/usr/bin/rpm", "rpm"),
        ("/usr/bin/python3", "python3"),
        ("/usr/sbin/adduser", "adduser"),
    ])?;
    check_dashboard()?;
    let p = build(Profile::Dev)?;
    check_unit(&p.deb)?;
    check_deb(&p.deb)?;
    check_rpm(&p.rpm)?;
    install_round_trip(&p.deb)?;
    eprintln!("xtask: package checks passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The Grafana dashboard is valid JSON, uses the datasource variable, and queries only metrics
/// the appliance exports.
fn check_dashboard() -> Result<(), String> {
    let script = root().join("packaging/grafana/check_dashboard.py");
    let json = root().join("packaging/grafana/parley-dashboard.json");
    let out = ok("Grafana dashboard", bounded(30, "python3").arg(script).arg(json))?;
    eprint!("xtask: {out}");
    Ok(())
}

/// `systemd-analyze verify` (no output at all) and `security` (exposure ≤ MAX_EXPOSURE) of the
/// unit as the .deb ships it, offline: a root dir with the host's units and the package's files.
fn check_unit(deb: &Path) -> Result<(), String> {
    let dir = target_dir().join("dist/check-root");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("usr/lib/systemd")).map_err(|e| e.to_string())?;
    ok(
        "copy /usr/lib/systemd/system",
        Command::new("cp").arg("-a").arg("/usr/lib/systemd/system").arg(dir.join("usr/lib/systemd")),
    )?;
    ok("dpkg-deb -x", bounded(120, "dpkg-deb").arg("-x").arg(deb).arg(&dir))?;
    let root_arg = format!("--root={}", dir.display());

    let out = run(
        "systemd-analyze verify",
        bounded(60, "systemd-analyze").args(["verify", "--man=no", &root_arg, "parley.service"]),
    )?;
    let text = both(&out);
    if !out.status.success() || !text.trim().is_empty() {
        return Err(format!("systemd-analyze verify parley.service ({}):\n{text}", out.status));
    }
    eprintln!("xtask: systemd-analyze verify parley.service: clean");

    let out = run(
        "systemd-analyze security",
        bounded(60, "systemd-analyze").args(["security", "--offline=true", &root_arg, "parley.service"]),
    )?;
    let text = both(&out);
    let line = text.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_default();
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("systemd-analyze security: no exposure level in:\n{text}"))?;
    eprintln!(
        "xtask: systemd-analyze security parley.service: exposure {score:.1} (limit {MAX_EXPOSURE:.1})"
    );
    if score > MAX_EXPOSURE {
        return Err(format!("parley.service exposure {score} > {MAX_EXPOSURE}:\n{text}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// lintian: no errors (the overrides in packaging/lintian/parley say why each is intended).
fn check_deb(deb: &Path) -> Result<(), String> {
    let out = run("lintian", bounded(600, "lintian").args(["--fail-on", "error"]).arg(deb))?;
    let tags: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with("N:"))
        .collect();
    for t in &tags {
        eprintln!("xtask: lintian: {t}");
    }
    if !out.status.success() {
        return Err(format!("lintian reports errors ({}):\n{}", out.status, both(&out)));
    }
    eprintln!("xtask: lintian: no errors ({} other findings)", tags.len());
    Ok(())
}

/// rpmlint: no errors or warnings beyond the justified filters in packaging/rpm/rpmlint.toml;
/// and the header holds the scriptlets and file attributes (cargo-generate-rpm silently takes
/// a script path it cannot find as the script's text).
fn check_rpm(rpm: &Path) -> Result<(), String> {
    let config = root().join("packaging/rpm/rpmlint.toml");
    let out = run("rpmlint", bounded(300, "rpmlint").arg("-c").arg(config).arg(rpm))?;
    let text = both(&out);
    let summary = text.lines().find(|l| l.contains("packages and")).unwrap_or_default().trim().to_owned();
    if !out.status.success() || !summary.contains(" 0 errors, 0 warnings") {
        return Err(format!("rpmlint ({}):\n{text}", out.status));
    }
    eprintln!("xtask: rpmlint: {summary}");

    let scripts = ok("rpm -qp --scripts", bounded(60, "rpm").args(["-qp", "--scripts"]).arg(rpm))?;
    for want in ["useradd --system", "install -d -m 0750", "disable --now", "try-restart"] {
        if !scripts.contains(want) {
            return Err(format!("rpm scriptlets lack `{want}`:\n{scripts}"));
        }
    }
    let files = ok(
        "rpm -qp --qf",
        bounded(60, "rpm")
            .args([
                "-qp",
                "--qf",
                "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]",
            ])
            .arg(rpm),
    )?;
    for want in [
        "-rwxr-xr-x root:root  /usr/bin/parley",
        "-rw-r----- root:parley cn /etc/parley/parley.toml",
        "-rw-r--r-- root:root  /usr/lib/systemd/system/parley.service",
    ] {
        if !files.lines().any(|l| l == want) {
            return Err(format!("rpm file list lacks `{want}`:\n{files}"));
        }
    }
    eprintln!("xtask: rpm: scriptlets and file modes as intended");
    Ok(())
}

fn sh(name: &str, script: &str) -> Result<String, String> {
    ok(name, bounded(120, "sh").args(["-ec", script]))
}

/// As root: install, use, upgrade in place, remove and purge the .deb on this machine. Skipped
/// (with a message) when not root or when a parley installation or user already exists here,
/// since the purge would delete it.
fn install_round_trip(deb: &Path) -> Result<(), String> {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !is_root {
        eprintln!("xtask: SKIPPED the dpkg install/remove/purge check: it needs root (CI runs as root)");
        return Ok(());
    }
    let existing = sh(
        "look for an existing parley",
        "dpkg-query -W -f='${db:Status-Status}' parley 2>/dev/null | grep -qv not-installed && echo package; \
         getent passwd parley >/dev/null && echo user; [ -e /var/lib/parley ] && echo data; [ -e /etc/parley ] && echo config; true",
    )?;
    if !existing.trim().is_empty() {
        eprintln!(
            "xtask: SKIPPED the dpkg install/remove/purge check: this machine already has a parley {}, which the purge would delete",
            existing.split_whitespace().collect::<Vec<_>>().join(", ")
        );
        return Ok(());
    }
    let started = Instant::now();
    let result = round_trip(deb);
    // Whatever failed, leave the machine as it was.
    let _ = run("dpkg -P (cleanup)", bounded(120, "dpkg").args(["--purge", "parley"]));
    result?;
    eprintln!(
        "xtask: dpkg install, upgrade, remove and purge: ok ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn round_trip(deb: &Path) -> Result<(), String> {
    let deb = deb.to_str().ok_or("non-UTF-8 path")?;
    ok("dpkg -i", bounded(300, "dpkg").args(["-i", deb]))?;
    let version = ok("parley --version", bounded(30, "/usr/bin/parley").arg("--version"))?;
    eprintln!("xtask: installed {}", version.trim());
    // As the service runs it: the parley user reads the root:parley 0640 config.
    let checked = ok(
        "parley check-config (as parley)",
        bounded(60, "runuser").args([
            "-u",
            "parley",
            "--",
            "parley",
            "check-config",
            "--config",
            "/etc/parley/parley.toml",
        ]),
    )?;
    eprintln!("xtask: {}", checked.trim());
    sh(
        "installed files, owners and modes",
        r#"
        getent passwd parley | awk -F: '$3 >= 1000 { exit 1 } $6 != "/var/lib/parley" { exit 1 }'
        getent group parley >/dev/null
        test "$(stat -c '%a %U:%G' /etc/parley/parley.toml)" = "640 root:parley"
        test "$(stat -c '%a %U:%G' /var/lib/parley)" = "750 parley:parley"
        test "$(stat -c '%a %U:%G' /usr/bin/parley)" = "755 root:root"
        test -f /usr/lib/systemd/system/parley.service
        dpkg-query -W -f='${Conffiles}' parley | grep -q '/etc/parley/parley.toml'
        "#,
    )
    .map_err(|e| format!("installed package: {e}"))?;
    // The README's first-admin command, as written there.
    ok(
        "parley admin create-user (as parley)",
        bounded(120, "sh").args([
            "-ec",
            "echo 'a long test password' | runuser -u parley -- parley admin create-user \
             --config /etc/parley/parley.toml --username alice --admin",
        ]),
    )?;
    // Upgrade in place (the same version again): data and an edited config survive.
    sh(
        "edit the config",
        "echo '# edited by the operator' >> /etc/parley/parley.toml; touch /var/lib/parley/marker",
    )?;
    ok("dpkg -i (upgrade)", bounded(300, "dpkg").args(["-i", "--force-confold", deb]))?;
    sh(
        "after upgrade: data and config kept",
        "grep -q 'edited by the operator' /etc/parley/parley.toml; test -e /var/lib/parley/marker; \
         test \"$(stat -c '%a %U:%G' /etc/parley/parley.toml)\" = '640 root:parley'",
    )?;
    ok("dpkg -r", bounded(120, "dpkg").args(["-r", "parley"]))?;
    sh(
        "after remove: data, config and user kept, binary gone",
        "test ! -e /usr/bin/parley; test -e /var/lib/parley/marker; test -n \"$(ls /var/lib/parley/db)\"; \
         test -f /etc/parley/parley.toml; getent passwd parley >/dev/null",
    )?;
    ok("dpkg -P", bounded(120, "dpkg").args(["-P", "parley"]))?;
    sh(
        "after purge: nothing left",
        // (`set -e` ignores a failing `! cmd`, hence the `if`s.)
        "test ! -e /var/lib/parley; test ! -e /etc/parley; \
         if getent passwd parley; then echo 'user parley left'; exit 1; fi; \
         if getent group parley; then echo 'group parley left'; exit 1; fi; \
         if dpkg-query -W -f='${db:Status-Status}' parley 2>/dev/null | grep -qv not-installed; then exit 1; fi",
    )?;
    Ok(())
}
