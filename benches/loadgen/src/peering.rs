//! Two peered appliances for the federation scenario: started (`--spawn`, each on its own temp
//! data dir with federation on a loopback UDP port, `a.test` and `b.test`, and an admin account)
//! or given (`--target`, `--peer-target`, `--admin LOGIN:PASSWORD`). They are peered through the
//! admin API, as an admin would do it from the console (`docs/admin-api.md`, "Federation"):
//! an invite from the first, pasted into the second. The admin API also gives each side's
//! outbox queue depth, which the scenario reads while and after it sends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::json;

use crate::client::{Api, Sources};
use crate::transport::Dialer;
use crate::{Args, Ctx, Prepared, procfs, register_users, server, wait_ready};

/// The admin account made on spawned appliances.
const ADMIN: (&str, &str) = ("benchadmin", "bench-admin-password-1");

/// The second appliance and what both sides need for federation.
pub struct Federated {
    /// Server names: the first appliance (where the chats are homed) and the second.
    pub home_name: String,
    pub peer_name: String,
    pub home_admin: String,
    pub peer_admin: String,
    pub peer_api: Api,
    pub peer_dialer: Dialer,
    pub peer_server: Option<server::Spawned>,
    pub peer_pid: Option<u32>,
    pub peer_sampler: Option<procfs::RssSampler>,
    /// Users from this index on live on the second appliance.
    pub first_peer_user: usize,
}

/// What `GET /api/admin/federation` says (the fields used here).
#[derive(Debug, Clone, Deserialize)]
pub struct FederationInfo {
    pub enabled: bool,
    pub server_name: String,
    #[serde(default)]
    pub peers: Vec<PeerInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PeerInfo {
    pub server_name: String,
    #[serde(default)]
    pub revoked_at: Option<i64>,
    pub connected: bool,
    pub queue_depth: u64,
    #[serde(default)]
    pub frames_out: u64,
    #[serde(default)]
    pub cutoffs: u64,
}

impl FederationInfo {
    /// The active (not revoked) peer record of `name`.
    pub fn peer(&self, name: &str) -> Option<&PeerInfo> {
        self.peers.iter().find(|p| p.server_name == name && p.revoked_at.is_none())
    }
}

pub async fn federation_info(api: &Api, admin: &str) -> anyhow::Result<FederationInfo> {
    let v = api.get("/api/admin/federation", admin).await?;
    serde_json::from_value(v).context("GET /api/admin/federation")
}

/// The settings each spawned appliance gets over the benchmark config.
fn spawn_env(name: &str) -> Vec<(String, String)> {
    [
        ("PARLEY__SERVER_NAME", name),
        ("PARLEY__FEDERATION__ENABLED", "true"),
        // Loopback and an ephemeral port: the invite carries the bound address.
        ("PARLEY__FEDERATION__LISTEN", "127.0.0.1:0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// The config the report shows: the benchmark settings plus federation.
fn spawn_config() -> String {
    format!(
        "{}\n# Over the file, per appliance (environment):\n#   PARLEY__SERVER_NAME=a.test | b.test\n\
         #   PARLEY__FEDERATION__ENABLED=true\n#   PARLEY__FEDERATION__LISTEN=127.0.0.1:0\n",
        server::BENCH_CONFIG
    )
}

/// Starts or finds both appliances, peers them, registers `--fed-pairs` users on each.
pub async fn prepare(args: &Args, run_id: String) -> anyhow::Result<Prepared> {
    let mut work_dirs = Vec::new();
    let mut spawned = Vec::new();
    let (home_addr, peer_addr, (login, password)) = match (&args.target, &args.spawn) {
        (Some(a), _) => {
            let peer = args.peer_target.context("federation with --target needs --peer-target too")?;
            let admin =
                args.admin.as_deref().context("federation with --target needs --admin LOGIN:PASSWORD")?;
            let (l, p) = admin.split_once(':').context("--admin is LOGIN:PASSWORD")?;
            (*a, peer, (l.to_owned(), p.to_owned()))
        }
        (None, Some(bin)) => {
            for (side, name) in [("a", "a.test"), ("b", "b.test")] {
                let dir = std::env::temp_dir().join(format!("parley-bench-{}-{side}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir)?;
                eprintln!("loadgen: starting {} as {name} in {}", bin.display(), dir.display());
                spawned.push(server::Spawned::start_with(bin, &dir, spawn_env(name), Some(ADMIN))?);
                work_dirs.push(dir);
            }
            (spawned[0].addr, spawned[1].addr, (ADMIN.0.to_owned(), ADMIN.1.to_owned()))
        }
        (None, None) => bail!("give --target ADDR --peer-target ADDR or --spawn PATH_TO_PARLEY"),
    };
    let (home_api, peer_api) = (Api::new(home_addr), Api::new(peer_addr));
    wait_ready(&home_api, Duration::from_secs(120)).await?;
    wait_ready(&peer_api, Duration::from_secs(120)).await?;
    let home_admin = home_api.login(&login, &password).await.context("admin login on the first appliance")?;
    let peer_admin =
        peer_api.login(&login, &password).await.context("admin login on the second appliance")?;
    let mut setup = BTreeMap::new();

    let t = Instant::now();
    let (home_name, peer_name) = peer(&home_api, &home_admin, &peer_api, &peer_admin).await?;
    setup.insert("peering: invite, accept, both connected (s)".into(), t.elapsed().as_secs_f64());

    let n = args.fed_pairs();
    eprintln!("loadgen: registering {n} users on {home_name} and {n} on {peer_name}");
    let t = Instant::now();
    let (home_users, peer_users) = tokio::try_join!(
        register_users(&home_api, &run_id, n, args.register_concurrency),
        register_users(&peer_api, &run_id, n, args.register_concurrency),
    )?;
    let secs = t.elapsed().as_secs_f64();
    setup.insert(format!("registering {n} users on each appliance (s)"), secs);
    setup.insert("registrations/s (both appliances)".into(), 2.0 * n as f64 / secs);

    let mut spawned = spawned.into_iter();
    let (home_server, peer_server) = (spawned.next(), spawned.next());
    let home_pid = home_server.as_ref().map(|s| s.pid()).or(args.server_pid);
    let peer_pid = peer_server.as_ref().map(|s| s.pid()).or(args.peer_pid);
    let sources = Arc::new(Sources::new(args.sources));
    let mut users = home_users;
    users.extend(peer_users);
    let fed = Federated {
        home_name: home_name.clone(),
        peer_name: peer_name.clone(),
        home_admin,
        peer_admin,
        peer_dialer: Dialer::new(args.transport, peer_api.clone(), sources.count()),
        peer_api,
        peer_server,
        peer_pid,
        peer_sampler: peer_pid.map(procfs::RssSampler::start),
        first_peer_user: n,
    };
    let ctx = Ctx {
        dialer: Dialer::new(args.transport, home_api.clone(), sources.count()),
        api: home_api,
        cursors: vec![BTreeMap::new(); users.len()],
        users,
        sources,
        server: home_server,
        pid: home_pid,
        sampler: home_pid.map(procfs::RssSampler::start),
        stored_messages: 0,
        run_id,
        args: args.clone(),
        fed: Some(fed),
    };
    let target = match &args.spawn {
        Some(bin) => format!("two spawned {} ({home_name}, {peer_name})", bin.display()),
        None => format!("{home_addr} ({home_name}) and {peer_addr} ({peer_name})"),
    };
    let server_config = args.spawn.is_some().then(spawn_config);
    Ok(Prepared { ctx, setup, work_dirs, target, server_config })
}

/// Peers the two appliances unless they already are (an invite from the first, accepted by the
/// second), then waits until each shows the other connected. Returns their server names.
async fn peer(
    home: &Api,
    home_admin: &str,
    peer: &Api,
    peer_admin: &str,
) -> anyhow::Result<(String, String)> {
    let (h, p) = (federation_info(home, home_admin).await?, federation_info(peer, peer_admin).await?);
    if !h.enabled || !p.enabled {
        bail!("federation is not enabled on {}", if h.enabled { &p.server_name } else { &h.server_name });
    }
    if h.server_name == p.server_name {
        bail!("both appliances are called {}; federation needs two server names", h.server_name);
    }
    if h.peer(&p.server_name).is_none() || p.peer(&h.server_name).is_none() {
        let v = home
            .expect(
                reqwest::Method::POST,
                "/api/admin/federation/invites",
                Some(home_admin),
                Some(&json!({})),
                201,
            )
            .await?;
        let invite = v["invite"].as_str().context("invite")?;
        peer.expect(
            reqwest::Method::POST,
            "/api/admin/federation/peers",
            Some(peer_admin),
            Some(&json!({ "invite": invite })),
            201,
        )
        .await?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (hi, pi) = (federation_info(home, home_admin).await?, federation_info(peer, peer_admin).await?);
        let up = |i: &FederationInfo, other: &str| i.peer(other).is_some_and(|p| p.connected);
        if up(&hi, &p.server_name) && up(&pi, &h.server_name) {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "peered, but not connected within 30 s: {} sees {:?}, {} sees {:?}",
                h.server_name,
                hi.peer(&p.server_name),
                p.server_name,
                pi.peer(&h.server_name)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((h.server_name, p.server_name))
}
