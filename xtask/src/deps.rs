//! Debian packages the checks need (chromium, prometheus, lintian, ...), installed when missing so
//! the test command works on a fresh Debian machine with nothing installed by hand.

use std::path::Path;
use std::process::Command;

/// Installs the Debian package of every `(file, package)` pair whose file is missing.
/// Needs root (CI runs as root); otherwise says what to install and fails.
pub fn ensure(wanted: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> =
        wanted.iter().filter(|(file, _)| !Path::new(file).exists()).map(|(_, pkg)| *pkg).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !is_root {
        return Err(format!(
            "missing Debian packages; install them with: sudo apt-get install {}",
            missing.join(" ")
        ));
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(args)
            .status()
            .map_err(|e| format!("apt-get: {e}"))
            .and_then(|s| if s.success() { Ok(()) } else { Err(format!("apt-get {} failed ({s})", args[0])) })
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install)
}

/// Node.js 20+ and npm for the browser UIs: the machine's own, else Debian's `nodejs`.
pub fn ensure_node() -> Result<(), String> {
    let version = || {
        Command::new("node")
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if version().is_none() || Command::new("npm").arg("--version").output().is_err() {
        ensure(&[("/usr/bin/node", "nodejs"), ("/usr/bin/npm", "npm")])?;
    }
    let found = version().ok_or("node is not runnable after installing nodejs")?;
    let major: u32 =
        found.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        return Err(format!("the web client needs Node.js 20 or newer (Vite); found {found}"));
    }
    Ok(())
}
