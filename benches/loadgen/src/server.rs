//! The appliance under test when the load generator starts it itself (`--spawn BIN`): a temp
//! data dir, a config file with benchmark limits, `127.0.0.1:0` (the address is read from the
//! server's start-up line, so no port is guessed), and stop, restart and `kill -9`. The
//! federation scenario starts two, each with its own environment (server name, federation on)
//! and an admin account made with `parley admin create-user` before it serves.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Settings layered over the shipped defaults for benchmarks. Durable commits stay on (the
/// default `sync=every`); only the per-IP and per-connection abuse limits are raised, because
/// every simulated user comes from the same machine and the load generator sends faster than
/// a person types.
pub const BENCH_CONFIG: &str = r#"server_name = "bench.local"

[http]
listen = "127.0.0.1:0"

[auth]
# Every user registers and logs in from 127.0.0.x.
login_per_ip_per_minute = 10000000
login_per_account_per_minute = 10000000
# Tokens outlive the run (the reconnect storm reuses them).
access_token_ttl_secs = 86400

[limits]
# A benchmark sender exceeds a person's 30 frames/s.
frames_per_second = 1000000
frames_burst = 1000000

[metrics]
listen = ""

[log]
level = "warn"
format = "text"
"#;

/// A `parley serve` process started by the load generator.
pub struct Spawned {
    bin: PathBuf,
    dir: PathBuf,
    /// `PARLEY__…` settings over the config file.
    env: Vec<(String, String)>,
    child: Child,
    pub addr: SocketAddr,
    /// How long the last start took until the listener was up.
    pub started_in: Duration,
}

impl Spawned {
    /// Starts `bin` on a new data dir under `work` (removed by [`Spawned::stop`]'s caller).
    pub fn start(bin: &Path, work: &Path) -> anyhow::Result<Self> {
        Self::start_with(bin, work, Vec::new(), None)
    }

    /// [`Spawned::start`] with `PARLEY__…` variables over the config file, and first an admin
    /// account `(login, password)` made by `parley admin create-user --admin`.
    pub fn start_with(
        bin: &Path,
        work: &Path,
        env: Vec<(String, String)>,
        admin: Option<(&str, &str)>,
    ) -> anyhow::Result<Self> {
        let dir = work.join("data");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(work.join("parley.toml"), BENCH_CONFIG)?;
        if let Some((login, password)) = admin {
            create_admin(bin, work, &env, login, password)?;
        }
        let (child, addr, started_in) = launch(bin, work, &env)?;
        Ok(Self { bin: bin.to_owned(), dir: work.to_owned(), env, child, addr, started_in })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits for a clean exit; returns how long stopping took.
    pub fn stop(&mut self) -> anyhow::Result<Duration> {
        let t = Instant::now();
        signal(self.child.id(), "TERM")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("parley exited with {status} on SIGTERM");
                }
                return Ok(t.elapsed());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("parley did not stop within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process gets no chance to flush anything.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Starts the binary again on the same data dir (a new port).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let (child, addr, started_in) = launch(&self.bin, &self.dir, &self.env)?;
        self.child = child;
        self.addr = addr;
        self.started_in = started_in;
        Ok(())
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = signal(self.child.id(), "TERM");
            for _ in 0..300 {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let status = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status()?;
    if !status.success() {
        bail!("kill -{sig} {pid} failed");
    }
    Ok(())
}

/// `bin admin create-user --admin` on the data dir, the password on stdin (before `serve`: the
/// command opens the database itself).
fn create_admin(
    bin: &Path,
    work: &Path,
    env: &[(String, String)],
    login: &str,
    password: &str,
) -> anyhow::Result<()> {
    let mut child = Command::new(bin)
        .args(["admin", "create-user", "--admin", "--username", login, "--config"])
        .arg(work.join("parley.toml"))
        .env("PARLEY__STORAGE__DATA_DIR", work.join("data"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} admin create-user", bin.display()))?;
    child.stdin.take().context("stdin")?.write_all(format!("{password}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("parley admin create-user failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Runs `bin serve --config work/parley.toml`, waits for its "listening on" line and keeps
/// copying its log to `work/parley.log`.
fn launch(
    bin: &Path,
    work: &Path,
    env: &[(String, String)],
) -> anyhow::Result<(Child, SocketAddr, Duration)> {
    let t = Instant::now();
    let mut child = Command::new(bin)
        .arg("serve")
        .arg("--config")
        .arg(work.join("parley.toml"))
        .env("PARLEY__STORAGE__DATA_DIR", work.join("data"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stderr = child.stderr.take().context("stderr")?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let log_path = work.join("parley.log");
    std::thread::spawn(move || {
        let mut log = std::fs::OpenOptions::new().create(true).append(true).open(log_path).ok();
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(l) = log.as_mut() {
                let _ = writeln!(l, "{line}");
            }
            if let Some(addr) = line.split("listening on http://").nth(1)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(300)) {
        Ok(a) => a.parse().with_context(|| format!("parsing the listen address {a:?}"))?,
        Err(_) => {
            let _ = child.kill();
            bail!("parley did not start listening (see {})", work.join("parley.log").display());
        }
    };
    Ok((child, addr, t.elapsed()))
}
