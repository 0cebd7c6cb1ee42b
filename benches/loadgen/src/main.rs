//! `parley-loadgen`: drives a Parley appliance the way real clients do (REST to register and
//! create chats, one WebSocket or WebTransport session per device with `auth` and `sync`), runs
//! bounded scenarios that stop by themselves, checks delivery while it measures, and reports
//! JSON and Markdown. `--compare` turns several JSON reports into one comparison table.
//!
//! Layout: `client` (REST, frame parsing), `transport` (WebSocket and WebTransport connections
//! behind one type), `chat` (the chat engine and its delivery ledger), `scenarios` (each
//! scenario's setup and measurement), `server` (starting, stopping and killing a `parley` it was
//! given with `--spawn`), `peering` (the two peered appliances of the federation scenario),
//! `procfs` (CPU and memory of the server process), `report` (histograms, results, Markdown),
//! `compare` (reports side by side).

mod chat;
mod client;
mod compare;
mod peering;
mod procfs;
mod report;
mod scenarios;
mod server;
mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;

use client::{Api, Sources, User};
use report::{Outcome, Report, ServerUsage};
use transport::{Dialer, Transport};

/// The instant all send times are measured from (every task of this process shares it).
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

pub fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// Progress lines on stderr when `LOADGEN_DEBUG` is set.
pub fn debug(msg: std::fmt::Arguments<'_>) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("LOADGEN_DEBUG").is_some()) {
        eprintln!("loadgen: [{:.3}] {msg}", epoch().elapsed().as_secs_f64());
    }
}

pub const STANDARD: &str =
    "pairs,pairs-paced,group10,group100,group100-paced,group1000,storm,history,search,idle,restart";

#[derive(Parser, Debug, Clone)]
#[command(name = "parley-loadgen", about = "Load generator for Parley: real protocol, checked delivery")]
pub struct Args {
    /// Drive an appliance already running at this address (host:port).
    #[arg(long, conflicts_with = "spawn")]
    target: Option<SocketAddr>,
    /// How the simulated devices connect (the REST calls are the same either way).
    #[arg(long, value_enum, default_value = "websocket")]
    transport: Transport,
    /// Run nothing: write the comparison of these JSON reports (one per transport) as Markdown.
    #[arg(long, conflicts_with_all = ["target", "spawn"])]
    compare: Vec<PathBuf>,
    /// Start this `parley` binary on a temp data dir with benchmark limits, and stop it at the end.
    #[arg(long)]
    spawn: Option<PathBuf>,
    /// With --target: the server's pid, to report its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// `federation` with --target: the second appliance (peered with the first if it is not yet).
    #[arg(long, requires = "target")]
    peer_target: Option<SocketAddr>,
    /// With --peer-target: the second server's pid.
    #[arg(long)]
    peer_pid: Option<u32>,
    /// `federation` with --target: an admin account `LOGIN:PASSWORD` on both appliances (to peer
    /// them and read their federation queues). With --spawn the load generator makes one.
    #[arg(long)]
    admin: Option<String>,
    /// Pairs in `federation` (user i on the first appliance, user i on the second).
    #[arg(long)]
    fed_pairs: Option<usize>,
    /// Total send rate of `federation-paced` in messages/s (both directions together).
    #[arg(long)]
    fed_rate: Option<f64>,
    /// Comma-separated scenarios to run, in order.
    #[arg(long, default_value = STANDARD)]
    scenarios: String,
    /// Short, small runs to prove the pipeline works (not for results).
    #[arg(long)]
    quick: bool,
    /// Users registered (and connected in the chat scenarios).
    #[arg(long)]
    users: Option<usize>,
    /// Measured seconds of each chat scenario (after the warm-up).
    #[arg(long)]
    duration: Option<f64>,
    /// Unmeasured seconds before each measurement.
    #[arg(long)]
    warmup: Option<f64>,
    /// Chatting pairs in `pairs`.
    #[arg(long, default_value_t = 50)]
    pairs: usize,
    /// Unacknowledged messages each sender keeps in flight.
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Total send rate of `pairs` in messages/s (0: as fast as the window allows).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Characters of text per message.
    #[arg(long, default_value_t = 100)]
    text_len: usize,
    /// Connections held open in `idle`.
    #[arg(long)]
    idle: Option<usize>,
    /// Local addresses 127.0.0.1..=127.0.0.N the connections are spread over.
    #[arg(long, default_value_t = 8)]
    sources: usize,
    /// Messages stored before the `restart` measurement (filled by chatting pairs).
    #[arg(long)]
    restart_messages: Option<u64>,
    /// Most seconds spent filling the store for `restart`.
    #[arg(long, default_value_t = 180.0)]
    fill_limit: f64,
    /// Where the JSON report goes.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where the Markdown report goes.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// A line printed at the top of the report (e.g. "debug build: not results").
    #[arg(long, default_value = "")]
    label: String,
    /// Concurrent registrations during setup.
    #[arg(long, default_value_t = 16)]
    register_concurrency: usize,
}

impl Args {
    fn users(&self) -> usize {
        self.users.unwrap_or(if self.quick { 200 } else { 1000 })
    }
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.unwrap_or(if self.quick { 3.0 } else { 20.0 }))
    }
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup.unwrap_or(if self.quick { 0.5 } else { 2.0 }))
    }
    pub fn idle(&self) -> usize {
        self.idle.unwrap_or(if self.quick { 1000 } else { 18_000 })
    }
    pub fn restart_messages(&self) -> u64 {
        self.restart_messages.unwrap_or(if self.quick { 5_000 } else { 1_000_000 })
    }
    pub fn fed_pairs(&self) -> usize {
        self.fed_pairs.unwrap_or(if self.quick { 20 } else { 200 })
    }
    pub fn fed_rate(&self) -> f64 {
        self.fed_rate.unwrap_or(if self.quick { 50.0 } else { 100.0 })
    }
    /// The scenarios asked for, in order.
    fn scenario_names(&self) -> Vec<&str> {
        self.scenarios.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
    }
}

/// Everything the scenarios share.
pub struct Ctx {
    pub args: Args,
    pub api: Api,
    /// Opens the devices' connections over `--transport`.
    pub dialer: Dialer,
    pub users: Vec<User>,
    /// Per user: the last seq its one simulated device holds in each chat (sent with `sync`).
    pub cursors: Vec<BTreeMap<String, u64>>,
    pub sources: Arc<Sources>,
    pub server: Option<server::Spawned>,
    pub pid: Option<u32>,
    pub sampler: Option<procfs::RssSampler>,
    /// Acknowledged messages stored so far by this run.
    pub stored_messages: u64,
    pub run_id: String,
    /// Federation: the second appliance, whose users follow the first one's in `users`.
    pub fed: Option<peering::Federated>,
}

/// CPU and memory at the start of a measurement.
pub struct Usage {
    cpu: Option<f64>,
    rss: Option<u64>,
    peer_cpu: Option<f64>,
    peer_rss: Option<u64>,
    own_cpu: Option<f64>,
}

const MIB: f64 = 1024.0 * 1024.0;

/// What a server used since `cpu0`/`rss0` were read.
fn server_usage(
    pid: Option<u32>,
    cpu0: Option<f64>,
    rss0: Option<u64>,
    sampler: Option<&procfs::RssSampler>,
    msgs: Option<u64>,
) -> Option<ServerUsage> {
    let (pid, cpu0, rss0) = (pid?, cpu0?, rss0?);
    let cpu = procfs::cpu_secs(pid).unwrap_or(cpu0) - cpu0;
    let rss1 = procfs::rss(pid).unwrap_or(0);
    let peak = sampler.map(|s| s.peak()).unwrap_or(rss1).max(rss1);
    Some(ServerUsage {
        cpu_secs: cpu,
        cpu_secs_per_1000_msgs: msgs.filter(|m| *m > 0).map(|m| cpu * 1000.0 / m as f64),
        rss_start_mib: rss0 as f64 / MIB,
        rss_end_mib: rss1 as f64 / MIB,
        peak_rss_mib: peak as f64 / MIB,
    })
}

impl Ctx {
    pub fn usage_begin(&self) -> Usage {
        let peer_pid = self.fed.as_ref().and_then(|f| f.peer_pid);
        for s in [self.sampler.as_ref(), self.fed.as_ref().and_then(|f| f.peer_sampler.as_ref())]
            .into_iter()
            .flatten()
        {
            s.reset();
        }
        Usage {
            cpu: self.pid.and_then(procfs::cpu_secs),
            rss: self.pid.and_then(procfs::rss),
            peer_cpu: peer_pid.and_then(procfs::cpu_secs),
            peer_rss: peer_pid.and_then(procfs::rss),
            own_cpu: procfs::cpu_secs(std::process::id()),
        }
    }

    /// Fills the server usage of `out` (both servers' with federation); `msgs` gives CPU per
    /// 1,000 messages.
    pub fn usage_end(&self, u: Usage, out: &mut Outcome, msgs: Option<u64>) {
        out.server = server_usage(self.pid, u.cpu, u.rss, self.sampler.as_ref(), msgs);
        if let Some(f) = &self.fed {
            out.peer_server = server_usage(f.peer_pid, u.peer_cpu, u.peer_rss, f.peer_sampler.as_ref(), msgs);
        }
        if let (Some(c0), Some(c1)) = (u.own_cpu, procfs::cpu_secs(std::process::id())) {
            out.loadgen_cpu_secs = Some(c1 - c0);
        }
    }

    /// The dialer of the appliance `user` lives on.
    pub fn dialer_for(&self, user: usize) -> &Dialer {
        match &self.fed {
            Some(f) if user >= f.first_peer_user => &f.peer_dialer,
            _ => &self.dialer,
        }
    }

    /// Which appliance `user` lives on: 0 for the target, 1 for the federation peer.
    pub fn side_of(&self, user: usize) -> usize {
        match &self.fed {
            Some(f) if user >= f.first_peer_user => 1,
            _ => 0,
        }
    }

    /// Points the API at the server's new address (after a restart).
    pub fn retarget(&mut self, addr: SocketAddr) {
        self.api = Api::new(addr);
        self.dialer = self.dialer.retarget(self.api.clone());
        self.pid = self.server.as_ref().map(|s| s.pid());
        self.sampler = self.pid.map(procfs::RssSampler::start);
    }
}

pub async fn wait_ready(api: &Api, within: Duration) -> anyhow::Result<Duration> {
    let t = Instant::now();
    while t.elapsed() < within {
        if api.ready().await {
            return Ok(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("{} not ready within {within:?}", api.base)
}

/// Registers `n` users concurrently (argon2 makes this slow: it is setup, timed separately).
pub async fn register_users(
    api: &Api,
    run_id: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<User>> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (api, sem, name) = (api.clone(), sem.clone(), format!("b{run_id}u{i}"));
            tokio::spawn(async move {
                let _p = sem.acquire_owned().await?;
                api.register(&name).await
            })
        })
        .collect();
    let mut users = Vec::with_capacity(n);
    for t in tasks {
        users.push(t.await??);
    }
    Ok(users)
}

/// A run ready for its scenarios: the context and what the report says about the target.
pub struct Prepared {
    pub ctx: Ctx,
    /// Setup figures (registrations...), not part of any measurement.
    pub setup: BTreeMap<String, f64>,
    /// Temp dirs of spawned appliances: removed after a passing run, kept (with the server logs)
    /// after a failing one.
    pub work_dirs: Vec<PathBuf>,
    pub target: String,
    pub server_config: Option<String>,
}

/// One appliance, started (`--spawn`) or given (`--target`), with `--users` registered.
async fn prepare(args: &Args, run_id: String) -> anyhow::Result<Prepared> {
    let mut work_dirs = Vec::new();
    let (addr, spawned) = match (&args.target, &args.spawn) {
        (Some(a), _) => (*a, None),
        (None, Some(bin)) => {
            let dir = std::env::temp_dir().join(format!("parley-bench-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            eprintln!("loadgen: starting {} in {}", bin.display(), dir.display());
            let s = server::Spawned::start(bin, &dir)?;
            work_dirs.push(dir);
            (s.addr, Some(s))
        }
        (None, None) => bail!("give --target ADDR or --spawn PATH_TO_PARLEY"),
    };
    let api = Api::new(addr);
    wait_ready(&api, Duration::from_secs(120)).await?;
    let pid = spawned.as_ref().map(|s| s.pid()).or(args.server_pid);
    let mut setup = BTreeMap::new();

    let n = args.users();
    eprintln!("loadgen: registering {n} users");
    let t = Instant::now();
    let users = register_users(&api, &run_id, n, args.register_concurrency).await?;
    let secs = t.elapsed().as_secs_f64();
    setup.insert(format!("registering {n} users (s)"), secs);
    setup.insert("registrations/s".into(), n as f64 / secs);

    let sampler = pid.map(procfs::RssSampler::start);
    let sources = Arc::new(Sources::new(args.sources));
    let ctx = Ctx {
        dialer: Dialer::new(args.transport, api.clone(), sources.count()),
        api,
        cursors: vec![BTreeMap::new(); users.len()],
        users,
        sources,
        server: spawned,
        pid,
        sampler,
        stored_messages: 0,
        run_id,
        args: args.clone(),
        fed: None,
    };
    let target = match &args.spawn {
        Some(bin) => format!("spawned {}", bin.display()),
        None => addr.to_string(),
    };
    let server_config = args.spawn.is_some().then(|| server::BENCH_CONFIG.to_owned());
    Ok(Prepared { ctx, setup, work_dirs, target, server_config })
}

async fn run(args: Args) -> anyhow::Result<Report> {
    epoch();
    let machine = procfs::Machine::read();
    let load_before = procfs::loadavg();
    let names = args.scenario_names();
    // The federation scenarios need two peered appliances: a run of their own.
    let federated = names.iter().any(|n| n.starts_with("federation"));
    if federated && !names.iter().all(|n| n.starts_with("federation")) {
        bail!("the federation scenarios run on their own pair of appliances: give them alone in --scenarios");
    }
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() % 0xffffff
    );
    let prepared =
        if federated { peering::prepare(&args, run_id).await? } else { prepare(&args, run_id).await? };
    let Prepared { mut ctx, mut setup, work_dirs, target, server_config } = prepared;
    let mut outcomes = Vec::new();
    for name in names {
        eprintln!("loadgen: scenario {name}");
        let mut out = match scenarios::run(&mut ctx, name).await {
            Ok(o) => o,
            Err(e) => {
                let mut o = Outcome::new(name, "");
                o.fail(format!("scenario aborted: {e:#}"));
                o
            }
        };
        out.finish();
        eprintln!(
            "loadgen: {name}: {} acked/s {} deliveries/s {}",
            out.acked_per_sec.map(|v| format!("{v:.0}")).unwrap_or("-".into()),
            out.deliveries_per_sec.map(|v| format!("{v:.0}")).unwrap_or("-".into()),
            if out.passed { "ok".to_owned() } else { format!("FAILED: {:?}", out.problems) }
        );
        outcomes.push(out);
    }
    if args.transport == Transport::Webtransport {
        setup.insert("WebTransport handshakes retried (all scenarios)".into(), ctx.dialer.retries() as f64);
    }
    let passed = outcomes.iter().all(|o| o.passed);
    let peer_server = ctx.fed.as_mut().and_then(|f| f.peer_server.take());
    for mut s in ctx.server.take().into_iter().chain(peer_server) {
        s.stop().context("stopping the appliance")?;
    }
    for d in work_dirs {
        if passed {
            let _ = std::fs::remove_dir_all(d);
        } else {
            eprintln!("loadgen: a check failed; kept {} (parley.log holds the server's log)", d.display());
        }
    }
    Ok(Report {
        label: args.label.clone(),
        transport: args.transport,
        load_average: [load_before, procfs::loadavg()],
        target,
        spawned: args.spawn.is_some(),
        machine,
        server_config,
        setup,
        scenarios: outcomes,
        passed,
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.compare.is_empty() {
        let md = compare::markdown(&args.compare)?;
        match &args.markdown {
            Some(p) => std::fs::write(p, &md).with_context(|| format!("writing {}", p.display()))?,
            None => println!("{md}"),
        }
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(run(args.clone()))?;
    let json = serde_json::to_string_pretty(&report)?;
    let md = report.markdown();
    match &args.json {
        Some(p) => std::fs::write(p, &json).with_context(|| format!("writing {}", p.display()))?,
        None => println!("{json}"),
    }
    match &args.markdown {
        Some(p) => std::fs::write(p, &md).with_context(|| format!("writing {}", p.display()))?,
        None => eprintln!("{md}"),
    }
    // Runtime tasks (idle sockets, samplers) end with the process.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if !report.passed {
        bail!("a scenario failed its check; its numbers are not reported");
    }
    Ok(())
}
