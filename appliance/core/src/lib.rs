//! The domain: accounts, sessions, chats, messages, receipts, presence and fan-out. The only
//! place business rules live. Transport-free: the server crate turns HTTP requests and
//! protocol frames into calls on [`Core`] and maps [`CoreError`] codes back.
//!
//! Layout: `accounts` (registration, login, tokens, profiles, contacts), `chats` (chat
//! queries and membership commands), `live` (connections, sync, receipts, typing, presence),
//! `writer` (the tasks that order and commit every chat change, each owning a share of the
//! chats), `hub` (connection
//! registry and fan-out), `chat_state` (membership cache), `tokens` and `passwords`.

// The embedded database's query futures are deep; computing their layout (release builds)
// needs a higher limit.
#![recursion_limit = "256"]

mod accounts;
pub mod admin;
mod audit;
pub mod backup;
mod chat_state;
mod chats;
mod convert;
mod directory;
mod error;
mod federation;
pub mod hub;
mod ldap_sync;
mod live;
pub mod media;
pub mod metrics;
mod passwords;
mod runtime;
mod search;
pub mod stats;
pub mod tokens;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use parking_lot::RwLock;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use parley_config::Settings;
use parley_store::Store;
use parley_types::{ChatId, ServerName, SessionId, UserId};

pub use accounts::{AuthContext, DirectoryLink, NewUser};
pub use chat_state::{ChatState, MemberInfo};
pub use error::{CoreError, Result};
pub use live::Connection;
pub use parley_store::AuditFilter;

pub(crate) struct Inner {
    pub settings: Settings,
    pub server: ServerName,
    pub store: Store,
    pub tokens: tokens::TokenService,
    pub hub: hub::Hub,
    pub chats: DashMap<ChatId, Arc<ChatState>>,
    /// session -> (user, revoked); filled from the database on first use.
    pub sessions: DashMap<SessionId, (UserId, bool)>,
    /// Console-managed settings over the config file's (see `runtime`).
    pub runtime: RwLock<Arc<parley_types::api::RuntimeSettings>>,
    pub limiters: RwLock<Arc<runtime::Limiters>>,
    pub settings_lock: Mutex<()>,
    /// One queue per writer shard; a chat always goes to the same shard (`writer::shard_of`).
    pub writers: Vec<mpsc::Sender<writer::Job>>,
    writer_tasks: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Chat heads and senders' marks committed but not yet written (see `writer::deferred`).
    pub deferred: writer::Deferred,
    /// The newest chat-summary notification issued per (chat, user) and not yet sent (see
    /// `notify_chat_changed`).
    pub summary_gens: parking_lot::Mutex<chats::SummaryGens>,
    /// Stops the writers (they hold an `Inner`, so they would otherwise keep the store open).
    pub stop: tokio_util::sync::CancellationToken,
    pub metrics: metrics::Metrics,
    pub search: parley_search::Search,
    /// True once the index has caught up with the database after start.
    pub search_caught_up: tokio::sync::watch::Sender<bool>,
    /// Serialises storing blobs with collecting them, so a deduplicated upload never loses
    /// its blob to a concurrent collection.
    pub media_lock: tokio::sync::Mutex<()>,
    /// Wakes the media collector early (after deletions and picture changes).
    pub media_gc: tokio::sync::Notify,
    /// Set once shutdown begins: readiness turns false so load balancers drain first.
    pub stopping: std::sync::atomic::AtomicBool,
    /// One LDAP sync (or settings change) at a time; the scheduler wakes on changes.
    pub ldap_lock: Mutex<()>,
    pub ldap_wake: Notify,
    /// One backup at a time; while any runs, the media collector waits.
    pub backup_lock: Mutex<()>,
    pub backup_running: AtomicUsize,
    pub backup_wake: Notify,
    pub retention_wake: Notify,
    /// Cancelled when an admin staged a restore: the process exits to apply it.
    pub restart: CancellationToken,
    pub history: parking_lot::Mutex<stats::History>,
    pub started: std::time::Instant,
    /// Set once federation starts (`Core::start_federation`).
    pub fed: std::sync::OnceLock<Arc<federation::Fed>>,
}

/// The appliance's domain services; cheap to clone.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("server", &self.inner.server).finish_non_exhaustive()
    }
}

impl Core {
    /// Starts the core over an opened store: loads the signing keys from the data dir and the
    /// console's settings from the database, and starts the chat writers and the background
    /// jobs (LDAP sync, backups, retention, dashboard sampling).
    pub async fn start(settings: Settings, store: Store) -> Result<Self> {
        let server = settings.server_name();
        let (search, opened) =
            parley_search::Search::open(&parley_search::Search::dir_in(&settings.storage.data_dir))?;
        let key_path = settings.storage.data_dir.join("keys").join("jwt.json");
        let tokens = tokens::TokenService::load(&key_path, &server, settings.auth.access_token_ttl_secs)?;
        let (txs, rxs): (Vec<_>, Vec<_>) =
            (0..writer::shards()).map(|_| mpsc::channel(settings.storage.max_batch * 8)).unzip();
        let rt = runtime::from_config(&settings);
        let inner = Arc::new(Inner {
            limiters: RwLock::new(Arc::new(runtime::Limiters::new(&rt))),
            runtime: RwLock::new(Arc::new(rt)),
            settings_lock: Mutex::new(()),
            settings,
            server,
            store,
            tokens,
            hub: hub::Hub::default(),
            chats: DashMap::new(),
            sessions: DashMap::new(),
            writers: txs,
            writer_tasks: parking_lot::Mutex::new(Vec::new()),
            deferred: writer::Deferred::default(),
            summary_gens: parking_lot::Mutex::default(),
            stop: tokio_util::sync::CancellationToken::new(),
            metrics: metrics::Metrics::new(),
            search,
            search_caught_up: tokio::sync::watch::Sender::new(false),
            media_lock: tokio::sync::Mutex::new(()),
            media_gc: tokio::sync::Notify::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            ldap_lock: Mutex::new(()),
            ldap_wake: Notify::new(),
            backup_lock: Mutex::new(()),
            backup_running: AtomicUsize::new(0),
            backup_wake: Notify::new(),
            retention_wake: Notify::new(),
            restart: CancellationToken::new(),
            history: parking_lot::Mutex::new(stats::History::default()),
            started: std::time::Instant::now(),
            fed: std::sync::OnceLock::new(),
        });
        let tasks = rxs.into_iter().map(|rx| writer::spawn(inner.clone(), rx)).collect();
        *inner.writer_tasks.lock() = tasks;
        writer::spawn_flusher(inner.clone());
        // The index is derived data: bring it up to date in the background while serving.
        let catching_up = inner.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match catching_up.catch_up_search(opened).await {
                Ok((users, entries)) => tracing::info!(
                    users,
                    entries,
                    ?opened,
                    took_ms = started.elapsed().as_millis() as u64,
                    "search index caught up"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "search index catch-up failed; run `parley search reindex`")
                }
            }
            catching_up.search_caught_up.send_replace(true);
        });
        let collector = inner.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = collector.stop.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
                    _ = collector.media_gc.notified() => {}
                }
                if let Err(e) = collector.collect_media().await {
                    tracing::warn!(error = %e, "media collection failed");
                }
            }
        });
        let core = Self { inner };
        core.load_runtime().await?;
        ldap_sync::spawn_scheduler(core.clone());
        backup::spawn_scheduler(core.clone());
        runtime::spawn_retention(core.clone());
        stats::spawn_sampler(core.clone());
        Ok(core)
    }

    /// Commits what is queued, stops the writers and releases the database once the last
    /// `Core` handle is dropped.
    pub async fn shutdown(&self) {
        if let Some(fed) = self.inner.fed() {
            fed.handle.shutdown().await;
        }
        self.inner.stop.cancel();
        let tasks = std::mem::take(&mut *self.inner.writer_tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
        self.inner.deferred.flush(&self.inner).await;
        let search = self.inner.search.clone();
        let _ = tokio::task::spawn_blocking(move || search.shutdown()).await;
        self.inner.store.close().await;
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn server_name(&self) -> &ServerName {
        &self.inner.server
    }

    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    /// Marks the appliance as stopping: `ready` answers false from now on.
    pub fn begin_shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
    }

    pub fn connection_count(&self) -> usize {
        self.inner.hub.connection_count()
    }

    /// Whether the appliance can serve: not stopping, and the database answers.
    pub async fn ready(&self) -> std::result::Result<(), &'static str> {
        if self.inner.stopping.load(Ordering::Relaxed) {
            return Err("shutting down");
        }
        if !self.inner.search.usable() {
            return Err("search index unavailable");
        }
        self.inner.store.ping().await.map_err(|_| "database unavailable")
    }
}

/// Runs `job` every `every_secs` (first at once when `run_first`), and early when `wake`'s
/// notifier fires, until the core stops. The console's background work: LDAP sync, backups,
/// retention, dashboard sampling.
pub(crate) fn spawn_periodic<F, Fut>(
    core: Core,
    every_secs: u64,
    wake: Option<fn(&Inner) -> &Notify>,
    run_first: bool,
    job: F,
) where
    F: Fn(Core) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        if run_first {
            job(core.clone()).await;
        }
        loop {
            let woken = async {
                match wake {
                    Some(w) => w(&core.inner).notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = core.inner.stop.cancelled() => return,
                () = woken => {}
                () = tokio::time::sleep(std::time::Duration::from_secs(every_secs)) => {}
            }
            job(core.clone()).await;
        }
    });
}

impl Inner {
    /// The cached state of a chat, loaded from the database on a miss; `None` if no such chat.
    pub(crate) async fn chat_state(&self, chat: &ChatId) -> Result<Option<Arc<ChatState>>> {
        if let Some(s) = self.chats.get(chat) {
            return Ok(Some(s.clone()));
        }
        let Some(rec) = self.store.chat(chat.as_str()).await? else {
            return Ok(None);
        };
        let mut members = std::collections::HashMap::new();
        for m in self.store.members(chat.as_str()).await?.into_iter().filter(|m| m.active) {
            members.insert(
                convert::user_id(&m.user_id)?,
                MemberInfo { role: convert::role(&m.role), joined_seq: m.joined_seq as u64 },
            );
        }
        let kind = if rec.kind == "direct" {
            parley_types::api::ChatKind::Direct
        } else {
            parley_types::api::ChatKind::Group
        };
        // The stored head may be behind the log (heads are written after it).
        let last_seq = self.store.log_end(chat.as_str(), rec.last_seq).await?;
        let state = Arc::new(ChatState {
            kind,
            members,
            last_seq: Arc::new(AtomicU64::new(last_seq as u64)),
            stored_activity: Arc::new(std::sync::atomic::AtomicI64::new(rec.last_activity)),
        });
        // Never overwrite: the writer's entry is newer than anything read here.
        Ok(Some(self.chats.entry(chat.clone()).or_insert(state).clone()))
    }

    /// The chat's state if `user` is an active member, else `NotMember`.
    pub(crate) async fn member_state(&self, chat: &ChatId, user: &UserId) -> Result<Arc<ChatState>> {
        match self.chat_state(chat).await? {
            Some(s) if s.members.contains_key(user) => Ok(s),
            _ => Err(CoreError::NotMember),
        }
    }

    pub(crate) async fn submit(
        &self,
        op: writer::Op,
        origin: Option<hub::ConnId>,
    ) -> Result<writer::Outcome> {
        let home = self.remote_home(&op);
        let rx = self.enqueue(op, origin).await?;
        self.outcome(rx, home.as_deref()).await
    }

    /// Waits for a queued operation's outcome. One ordered by another appliance (`remote_home`)
    /// answers within 30 s: it stays queued there, and a resend picks up its result.
    pub(crate) async fn outcome(
        &self,
        rx: oneshot::Receiver<Result<writer::Outcome>>,
        remote_home: Option<&str>,
    ) -> Result<writer::Outcome> {
        let Some(home) = remote_home else {
            return rx.await.map_err(|_| CoreError::Unavailable)?;
        };
        match tokio::time::timeout(std::time::Duration::from_secs(30), rx).await {
            Ok(r) => r.map_err(|_| CoreError::Unavailable)?,
            Err(_) => Err(CoreError::Federation(format!(
                "{home} has not answered yet; the request is queued and will be applied when it is reachable"
            ))),
        }
    }

    /// The home server of the chat an operation changes, when it is another appliance (the
    /// operation goes there to be ordered).
    fn remote_home(&self, op: &writer::Op) -> Option<String> {
        if matches!(op, writer::Op::Apply { .. }) {
            return None;
        }
        op.chat().map(|c| c.home_server()).filter(|h| *h != self.server.as_str()).map(str::to_owned)
    }

    /// Queues an operation for the writer (or, for a chat homed elsewhere, for its home
    /// server); the receiver yields its outcome once committed here.
    pub(crate) async fn enqueue(
        &self,
        op: writer::Op,
        origin: Option<hub::ConnId>,
    ) -> Result<oneshot::Receiver<Result<writer::Outcome>>> {
        if self.remote_home(&op).is_some() {
            return federation::enqueue_remote(self, op, origin).await;
        }
        self.enqueue_job(op, origin, None).await
    }

    pub(crate) async fn enqueue_job(
        &self,
        op: writer::Op,
        origin: Option<hub::ConnId>,
        fed: Option<writer::FedSource>,
    ) -> Result<oneshot::Receiver<Result<writer::Outcome>>> {
        let (tx, rx) = oneshot::channel();
        let received = std::time::Instant::now();
        self.writers[writer::shard_of(&op, self.writers.len())]
            .send(writer::Job { op, origin, reply: tx, received, fed })
            .await
            .map_err(|_| CoreError::Unavailable)?;
        Ok(rx)
    }
}
