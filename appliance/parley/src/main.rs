//! The `parley` binary: command line, configuration, logging, wiring and signals.
//!
//! `parley serve` runs the appliance; `parley serve --dev` needs no config file (data in
//! `./.parley-dev`, plain HTTP on 127.0.0.1:8080, an admin account printed on first start).

// The embedded database's query futures are deep; computing their layout (release builds)
// needs a higher limit.
#![recursion_limit = "256"]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use parley_config::{LogFormat, Settings, Source};
use parley_core::{Core, NewUser};
use parley_store::Store;

mod alloc;

#[global_allocator]
static GLOBAL: alloc::Alloc = alloc::Alloc;

/// Stack of the runtime's threads; SurrealDB's own server raises it for the same reason.
const RUNTIME_STACK: usize = 10 << 20;

#[derive(Parser)]
#[command(name = "parley", version, about = "Parley: a self-hosted, federated chat appliance")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ConfigArgs {
    /// Config file (default: /etc/parley/parley.toml if it exists).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Development defaults: data in ./.parley-dev, HTTP on 127.0.0.1:8080, no config file needed.
    #[arg(long)]
    dev: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance.
    Serve(ConfigArgs),
    /// Validate the configuration without starting.
    CheckConfig(ConfigArgs),
    /// Account administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The search index.
    Search {
        #[command(subcommand)]
        command: SearchCommand,
    },
    /// Back up the database, media and keys into one archive (with parley stopped; while it
    /// runs, use the admin console, which backs up online).
    Backup {
        #[command(flatten)]
        config: ConfigArgs,
        /// Also copy the archive here (it is always kept in <data_dir>/backups).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Replace the data with a backup archive (with parley stopped). The archive is checked
    /// completely first; the current data dir is kept next to it, renamed.
    Restore {
        #[command(flatten)]
        config: ConfigArgs,
        archive: PathBuf,
    },
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Delete the search index and rebuild it from the database (with parley stopped).
    Reindex(ConfigArgs),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account (e.g. the first admin). The password is read from stdin.
    CreateUser {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Start signing access tokens with a new key; tokens signed with the previous keys stay
    /// valid until they expire. Restart the appliance to apply.
    RotateJwt(ConfigArgs),
}

fn load_settings(args: &ConfigArgs) -> anyhow::Result<Settings> {
    let source = match &args.config {
        Some(p) => Source::File(p),
        None if args.dev => Source::DefaultsOnly,
        None => Source::System,
    };
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    if args.dev {
        // Dev defaults sit under the environment, so PARLEY__... still wins.
        let dev = [
            ("PARLEY__STORAGE__DATA_DIR", ".parley-dev"),
            ("PARLEY__HTTP__LISTEN", "127.0.0.1:8080"),
            ("PARLEY__LOG__FORMAT", "text"),
            ("PARLEY__METRICS__LISTEN", "127.0.0.1:0"),
        ];
        for (k, v) in dev {
            if !env.iter().any(|(ek, _)| ek == k) {
                env.push((k.into(), v.into()));
            }
        }
    }
    Ok(Settings::load_with_env(source, env)?)
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{},surrealdb=warn,surrealkv=warn", settings.log.level))
    });
    let json = match settings.log.format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    }
    Ok(())
}

async fn open(settings: &Settings) -> anyhow::Result<Core> {
    prepare_data_dir(&settings.storage.data_dir)?;
    let store = Store::open_configured(settings).await.with_context(|| {
        format!(
            "cannot open the database at {} (only one process may use it: if the parley service \
             is running, stop it first or use the admin console)",
            settings.storage_url()
        )
    })?;
    Ok(Core::start(settings.clone(), store).await?)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return ctrl_c.await.unwrap_or(()),
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// Sockets bound once and kept across in-process restarts (a restore from the console), so
/// the appliance comes back on the same ports.
struct Sockets {
    http: std::net::TcpListener,
    metrics: Option<std::net::TcpListener>,
    udp: Option<std::net::UdpSocket>,
    federation: Option<std::net::UdpSocket>,
}

fn bind(settings: &Settings) -> anyhow::Result<Sockets> {
    let http = std::net::TcpListener::bind(settings.http.listen)
        .with_context(|| format!("cannot listen on {} (http.listen)", settings.http.listen))?;
    let metrics = match settings.metrics.listen {
        Some(a) => Some(
            std::net::TcpListener::bind(a)
                .with_context(|| format!("cannot listen on {a} (metrics.listen)"))?,
        ),
        None => None,
    };
    let udp = if settings.webtransport.enabled {
        let udp_addr = settings.webtransport.listen.unwrap_or(http.local_addr()?);
        Some(
            std::net::UdpSocket::bind(udp_addr)
                .with_context(|| format!("cannot listen on UDP {udp_addr} (webtransport.listen)"))?,
        )
    } else {
        None
    };
    let federation = if settings.federation.enabled {
        let a = settings.federation.listen;
        Some(
            std::net::UdpSocket::bind(a)
                .with_context(|| format!("cannot listen on UDP {a} (federation.listen)"))?,
        )
    } else {
        None
    };
    Ok(Sockets { http, metrics, udp, federation })
}

/// Applies a restore an admin staged from the console. A failed one is set aside (and the
/// current data kept) so the appliance does not try it again on every start.
async fn apply_pending_restore(settings: &Settings) {
    let pending = settings.storage.data_dir.join(parley_core::backup::PENDING_RESTORE);
    if !pending.exists() {
        return;
    }
    tracing::warn!(archive = %pending.display(), "applying the restore staged in the console");
    match parley_core::backup::restore_archive(settings, &pending).await {
        Ok(r) => {
            eprintln!(
                "  Restored the backup of {} taken at {} ms",
                r.manifest.server_name, r.manifest.created_at
            );
            let _ = std::fs::remove_file(&pending);
            if let Some(prev) = &r.previous {
                tracing::warn!(previous = %prev.display(), "restore applied; the replaced data is kept there");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "the staged restore failed; the current data is unchanged");
            let _ = std::fs::rename(&pending, settings.storage.data_dir.join("restore-failed.tar.gz"));
        }
    }
}

async fn serve(args: ConfigArgs) -> anyhow::Result<()> {
    let settings = load_settings(&args)?;
    init_logging(&settings);
    let sockets = bind(&settings)?;
    loop {
        apply_pending_restore(&settings).await;
        match serve_once(&args, &settings, &sockets).await? {
            Exit::Stopped => return Ok(()),
            Exit::Restart => tracing::warn!("restarting in place"),
        }
    }
}

enum Exit {
    Stopped,
    /// An admin staged a restore: apply it and serve again on the same sockets.
    Restart,
}

async fn serve_once(args: &ConfigArgs, settings: &Settings, sockets: &Sockets) -> anyhow::Result<Exit> {
    let core = open(settings).await?;
    if args.dev && core.user_count().await? == 0 {
        let password = parley_core::tokens::random_code(12);
        core.create_user(NewUser {
            username: "admin".into(),
            password: password.clone(),
            display_name: Some("Administrator".into()),
            is_admin: true,
            ..Default::default()
        })
        .await?;
        eprintln!(
            "\n  Parley dev appliance: admin account created\n    login:    admin\n    password: {password}\n"
        );
    }
    let listener = sockets.http.try_clone()?;
    let addr = listener.local_addr()?;

    let stop = CancellationToken::new();
    let restart = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut helpers = tokio::task::JoinSet::new();
    helpers.spawn({
        let (stop, core, restart) = (stop.clone(), core.clone(), restart.clone());
        async move {
            tokio::select! {
                () = shutdown_signal() => {}
                () = core.restart_requested() => restart.store(true, std::sync::atomic::Ordering::SeqCst),
            }
            core.begin_shutdown();
            let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
            stop.cancel();
        }
    });
    if let Some(metrics) = &sockets.metrics {
        let l = metrics.try_clone()?;
        l.set_nonblocking(true)?;
        let l = tokio::net::TcpListener::from_std(l)?;
        eprintln!("  Prometheus metrics at http://{}/metrics", l.local_addr()?);
        let served = parley_server::serve_metrics(l, core.clone(), stop.clone().cancelled_owned());
        helpers.spawn(async move {
            if let Err(e) = served.await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    let mut watchdog_usec = 0;
    if sd_notify::watchdog_enabled(false, &mut watchdog_usec) {
        let core = core.clone();
        let every = std::time::Duration::from_micros(watchdog_usec / 2);
        helpers.spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if core.ready().await.is_ok() {
                    let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
                }
            }
        });
    }

    if let Some(udp) = &sockets.federation {
        core.start_federation(udp.try_clone()?).await.context("cannot start federation")?;
        if let Some(a) = core.federation_addr() {
            eprintln!("  Federation on {a} (QUIC, mutual TLS)");
        }
    }
    let mut wt_info = parley_server::webtransport::InfoCell::default();
    if let Some(udp) = &sockets.udp {
        let listener = parley_server::webtransport::start(core.clone(), udp.try_clone()?, stop.clone())
            .await
            .context("cannot start WebTransport")?;
        eprintln!("  WebTransport on https://{}/api/wt (UDP)", listener.addr);
        wt_info = listener.info.clone();
    }
    let served = if settings.tls_enabled() {
        tracing::info!(%addr, server_name = %settings.server_name, "serving HTTPS");
        eprintln!("  Parley is listening on https://{addr}");
        let _ = sd_notify::notify(false, &[NotifyState::Ready]);
        parley_server::serve_tls(
            listener,
            core.clone(),
            &settings.http.tls_cert,
            &settings.http.tls_key,
            wt_info,
            stop.clone().cancelled_owned(),
        )
        .await
        .context("HTTPS server failed (check http.tls_cert and http.tls_key)")
    } else {
        tracing::info!(%addr, server_name = %settings.server_name, "serving HTTP");
        eprintln!("  Parley is listening on http://{addr}");
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let _ = sd_notify::notify(false, &[NotifyState::Ready]);
        parley_server::serve_with(listener, core.clone(), wt_info, stop.clone().cancelled_owned())
            .await
            .context("HTTP server failed")
    };
    stop.cancel();
    helpers.abort_all();
    while helpers.join_next().await.is_some() {}
    core.shutdown().await;
    drop(core);
    tracing::info!("stopped");
    served?;
    Ok(if restart.load(std::sync::atomic::Ordering::SeqCst) { Exit::Restart } else { Exit::Stopped })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // One TLS implementation for the whole process (rustls with ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Query execution in the embedded database is deep (far deeper in debug builds); 2 MiB,
    // the default, overflows there. Stacks are reserved, not committed, until used.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().thread_stack_size(RUNTIME_STACK).enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::CheckConfig(args) => {
            let s = load_settings(&args)?;
            println!("configuration is valid (server_name = {}, listen = {})", s.server_name, s.http.listen);
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::CreateUser { config, username, display_name, email, admin },
        } => {
            let settings = load_settings(&config)?;
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            if password.is_empty() {
                bail!("give the password on stdin, e.g. `echo 'secret' | parley admin create-user ...`");
            }
            runtime.block_on(async {
                let core = open(&settings).await?;
                let p = core
                    .create_user(NewUser {
                        username,
                        password,
                        display_name,
                        email,
                        phone: None,
                        is_admin: admin,
                        ..Default::default()
                    })
                    .await?;
                let details = serde_json::json!({ "by": "command line", "admin": p.is_admin });
                core.audit_system("user.created", Some(p.user_id.to_string()), details).await;
                core.shutdown().await;
                println!("created {}{}", p.user_id, if p.is_admin { " (admin)" } else { "" });
                Ok(())
            })
        }
        Command::Search { command: SearchCommand::Reindex(args) } => {
            let settings = load_settings(&args)?;
            init_logging(&settings);
            let dir = parley_search::Search::dir_in(&settings.storage.data_dir);
            parley_search::Search::wipe(&dir).with_context(|| format!("cannot delete {}", dir.display()))?;
            runtime.block_on(async {
                let started = std::time::Instant::now();
                let core = open(&settings).await?;
                // A missing index is rebuilt from the database on open; wait for it.
                core.search_caught_up().await?;
                core.audit_system("search.reindexed", None, serde_json::json!({ "by": "command line" }))
                    .await;
                core.shutdown().await;
                println!("search index rebuilt in {:.1} s", started.elapsed().as_secs_f64());
                Ok(())
            })
        }
        Command::Backup { config, out } => {
            let settings = load_settings(&config)?;
            init_logging(&settings);
            runtime.block_on(async {
                let core = open(&settings).await?;
                let made = core.create_backup("manual").await;
                core.shutdown().await;
                let b = made?;
                let path = settings.storage.data_dir.join("backups").join(&b.name);
                if let Some(out) = out {
                    std::fs::copy(&path, &out).with_context(|| format!("cannot write {}", out.display()))?;
                    println!("{}", out.display());
                } else {
                    println!("{}", path.display());
                }
                println!(
                    "{} users, {} chats, {} messages, {} media files; {} bytes; sha256 {}",
                    b.users, b.chats, b.messages, b.media_files, b.size_bytes, b.sha256
                );
                Ok(())
            })
        }
        Command::Restore { config, archive } => {
            let settings = load_settings(&config)?;
            init_logging(&settings);
            runtime.block_on(async {
                // Refuse while another process holds the database.
                if settings.storage.data_dir.join("db").exists() {
                    let store = Store::open_configured(&settings).await.context(
                        "the database is in use or damaged: stop parley before restoring (or restore from the console)",
                    )?;
                    store.close().await;
                }
                let r = parley_core::backup::restore_archive(&settings, &archive).await?;
                let m = &r.manifest;
                println!(
                    "restored {} ({} users, {} chats, {} messages) into {}",
                    archive.display(),
                    m.counts.users,
                    m.counts.chats,
                    m.counts.messages,
                    settings.storage.data_dir.display()
                );
                if let Some(prev) = r.previous {
                    println!("the previous data is kept in {}", prev.display());
                }
                Ok(())
            })
        }
        Command::Keys { command: KeysCommand::RotateJwt(args) } => {
            let settings = load_settings(&args)?;
            let kid = parley_core::tokens::rotate_key_file(
                &settings.storage.data_dir.join("keys").join("jwt.json"),
            )?;
            println!("new signing key {kid}; restart parley to use it");
            Ok(())
        }
    }
}
