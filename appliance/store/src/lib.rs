//! Storage: the only crate that speaks SurrealQL. It opens the database (embedded SurrealKV by
//! default, or a SurrealDB server), applies the versioned schema, and exposes typed repository
//! functions. No business rules live here: callers (the `core` crate) decide what may be
//! written; this crate decides only how.
//!
//! Layout: `schema` (DDL and migrations), `records` (the stored document shapes), and one
//! module per aggregate: `users`, `sessions`, `chats`, `messages`, `receipts`, `contacts`,
//! `invites`, `directory` (units, groups, settings documents), `federation` (peers,
//! deduplication, the outbox, remote profiles), `backup` (export, import).

mod audit;
mod backup;
mod chats;
mod contacts;
mod directory;
mod federation;
mod invites;
mod media;
mod messages;
mod receipts;
pub mod records;
mod schema;
mod sessions;
mod users;

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use surrealdb_cnf::ConfigMap;
use surrealdb_core::dbs::Session;
use surrealdb_core::kvs::Datastore;

pub use audit::AuditFilter;
pub use backup::Counts;
pub use federation::{OutboxDepth, OutboxRec};
pub use media::Picture;
pub use messages::{Batch, ChatUpdate, Expired, MessagePatch};
pub use schema::SCHEMA_VERSION;
pub use users::UserFilter;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] surrealdb::Error),
    /// A uniqueness rule was violated; the payload names the unique key (e.g. `username`).
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("stored document could not be decoded: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("the data dir was written by a newer Parley (schema {found}, this build knows {known})")]
    SchemaTooNew { found: i64, known: i64 },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Memory bounds for the embedded engine.
#[derive(Debug, Clone, Copy)]
pub struct EngineLimits {
    /// SurrealKV block cache capacity, bytes.
    pub block_cache_bytes: u64,
    /// SurrealKV memtable size, bytes (also the largest single transaction).
    pub memtable_bytes: u64,
}

#[derive(Clone)]
enum Conn {
    /// The embedded engine, opened through `surrealdb-core` so its memory can be bounded.
    Embedded { ds: Arc<Datastore>, session: Box<Session> },
    /// A SurrealDB server (or any other engine URL) through the SDK.
    Sdk(Surreal<Any>),
}

/// One statement's outcome: its value as JSON, or its error.
type Outcome = std::result::Result<serde_json::Value, surrealdb::Error>;

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Conn,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens `url` (e.g. `surrealkv:///var/lib/parley/db?sync=every`), selects the namespace and
    /// database, and migrates the schema to [`SCHEMA_VERSION`]. `limits` bound the embedded
    /// engine's memory (SurrealKV otherwise takes about half of the machine's RAM for cache).
    pub async fn open(url: &str, namespace: &str, database: &str, limits: EngineLimits) -> Result<Self> {
        let conn = if url.starts_with("surrealkv://") {
            open_embedded(url, namespace, database, limits).await?
        } else {
            let db = surrealdb::engine::any::connect(url).await?;
            db.use_ns(namespace).use_db(database).await?;
            Conn::Sdk(db)
        };
        let store = Self { conn };
        schema::migrate(&store).await?;
        Ok(store)
    }

    /// Opens the database the settings describe (`storage.*`).
    pub async fn open_configured(settings: &parley_config::Settings) -> Result<Self> {
        const MIB: u64 = 1 << 20;
        let limits = EngineLimits {
            block_cache_bytes: settings.storage.cache_mib * MIB,
            memtable_bytes: settings.storage.memtable_mib * MIB,
        };
        Self::open(&settings.storage_url(), &settings.storage.namespace, &settings.storage.database, limits)
            .await
    }

    /// Stops the embedded engine's background tasks and closes it (releasing its lock).
    pub async fn close(&self) {
        if let Conn::Embedded { ds, .. } = &self.conn
            && let Err(e) = ds.shutdown().await
        {
            tracing::warn!(error = %e, "database shutdown");
        }
    }

    /// A cheap query proving the database answers (for `/health/ready`).
    pub async fn ping(&self) -> Result<()> {
        self.exec("RETURN 1", serde_json::json!({})).await
    }

    /// Runs `sql` with `vars` (a JSON object); one outcome per statement.
    async fn run(&self, sql: &str, vars: serde_json::Value) -> Result<Vec<Outcome>> {
        match &self.conn {
            Conn::Embedded { ds, session } => {
                let vars = match surrealdb::types::SurrealValue::into_value(vars) {
                    surrealdb::types::Value::Object(o) => surrealdb::types::Variables::from(o),
                    _ => surrealdb::types::Variables::new(),
                };
                let results = ds.execute(sql, session, Some(vars)).await?;
                Ok(results.into_iter().map(|r| r.result.map(|v| v.into_json_value())).collect())
            }
            Conn::Sdk(db) => {
                let mut res = db.query(sql).bind(vars).await?;
                let n = res.num_statements();
                let mut errors = res.take_errors();
                let mut out = Vec::with_capacity(n);
                for i in 0..n {
                    match errors.remove(&i) {
                        Some(e) => out.push(Err(e)),
                        None => {
                            out.push(Ok(serde_json::Value::Array(res.take::<Vec<serde_json::Value>>(i)?)))
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    /// Runs `sql`; fails with the statement error that caused a failure. In a transaction
    /// every statement reports "not executed due to a failed transaction" except the one that
    /// actually failed, which is the one reported.
    async fn checked(&self, sql: &str, vars: serde_json::Value) -> Result<Vec<serde_json::Value>> {
        let outcomes = self.run(sql, vars).await?;
        let mut values = Vec::with_capacity(outcomes.len());
        let mut first_err: Option<surrealdb::Error> = None;
        for o in outcomes {
            match o {
                Ok(v) => values.push(v),
                Err(e) => {
                    let replace = match &first_err {
                        None => true,
                        Some(prev) => {
                            prev.to_string().contains("failed transaction")
                                && !e.to_string().contains("failed transaction")
                        }
                    };
                    if replace {
                        first_err = Some(e);
                    }
                    values.push(serde_json::Value::Null);
                }
            }
        }
        match first_err {
            Some(e) => Err(map_conflict(e)),
            None => Ok(values),
        }
    }

    /// Runs `sql` with `vars` and decodes statement `idx` as a list of `T`.
    async fn fetch<T: DeserializeOwned>(
        &self,
        sql: &str,
        vars: serde_json::Value,
        idx: usize,
    ) -> Result<Vec<T>> {
        let mut values = self.checked(sql, vars).await?;
        let v = if idx < values.len() { values.swap_remove(idx) } else { serde_json::Value::Null };
        let rows = match v {
            serde_json::Value::Array(rows) => rows,
            serde_json::Value::Null => Vec::new(),
            other => vec![other],
        };
        rows.into_iter()
            .filter(|r| !r.is_null())
            .map(|r| serde_json::from_value(r).map_err(Into::into))
            .collect()
    }

    async fn fetch_one<T: DeserializeOwned>(
        &self,
        sql: &str,
        vars: serde_json::Value,
        idx: usize,
    ) -> Result<Option<T>> {
        Ok(self.fetch(sql, vars, idx).await?.into_iter().next())
    }

    /// Runs statements for their effect only; any failing statement fails the call.
    async fn exec(&self, sql: &str, vars: serde_json::Value) -> Result<()> {
        self.checked(sql, vars).await.map(|_| ())
    }
}

/// The runtime SurrealKV's background work runs on, shared by every datastore of the process.
/// On the server's runtime a flush or compaction held one of its few workers (and whatever task
/// sat in that worker's LIFO slot, which no other worker steals) for its whole run: commits
/// stalled 30–80 ms behind each flush (BENCHMARKS.md, session 9).
fn engine_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("surrealkv-bg")
            .enable_all()
            .build()
            .expect("starting the storage engine's runtime")
    })
}

async fn open_embedded(url: &str, namespace: &str, database: &str, limits: EngineLimits) -> Result<Conn> {
    let config = ConfigMap::empty()
        .with_key_value("surrealkv_block_cache_capacity", limits.block_cache_bytes.to_string())
        .with_key_value("surrealkv_max_memtable_size", limits.memtable_bytes.to_string());
    let internal = |e: anyhow::Error| StoreError::Db(surrealdb::Error::internal(format!("{e:#}")));
    // A datastore closed a moment ago in this process (a restart) may still hold its lock.
    let mut attempts = 0;
    let ds = loop {
        let builder = Datastore::builder().with_config(config.clone()).without_maintenance_tasks();
        let path = url.to_owned();
        // Built on the engine's own runtime: SurrealKV spawns its memtable flushes and level
        // compactions where it is opened, and each runs synchronously for 0.1–1 s.
        let built = engine_runtime().spawn(async move { builder.build_with_path(&path).await });
        match built.await.map_err(|e| internal(e.into()))? {
            Ok(ds) => break ds,
            Err(e) if format!("{e:#}").contains("already locked") && attempts < 200 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(internal(e)),
        }
    };
    // The same start-up sequence as the SDK's embedded engine: check the on-disk version
    // before anything writes, then bootstrap, then start the maintenance tasks.
    ds.check_version().await.map_err(internal)?;
    ds.bootstrap().await.map_err(internal)?;
    ds.start_maintenance_tasks();
    let define = format!(
        "DEFINE NAMESPACE IF NOT EXISTS `{namespace}`; USE NS `{namespace}`; DEFINE DATABASE IF NOT EXISTS `{database}`;"
    );
    for r in ds.execute(&define, &Session::owner(), None).await? {
        r.result?;
    }
    Ok(Conn::Embedded { ds, session: Box::new(Session::owner().with_ns(namespace).with_db(database)) })
}

/// Turns SurrealDB's "record already exists" / unique-index errors into [`StoreError::Conflict`]
/// naming the key, so callers can answer "username taken" rather than "database error".
fn map_conflict(e: surrealdb::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("already exists") || text.contains("already contains") {
        // Login keys look like login:`e:ana@x.org`; report the kind of key that clashed.
        if text.contains("record `user:") {
            return StoreError::Conflict("username".to_owned());
        }
        for (tag, name) in [("u:", "username"), ("e:", "email"), ("p:", "phone")] {
            if text.contains(&format!("login:⟨{tag}")) || text.contains(&format!("login:`{tag}")) {
                return StoreError::Conflict(name.to_owned());
            }
        }
        return StoreError::Conflict(text);
    }
    StoreError::Db(e)
}

/// Serializes a record for binding, dropping `null` fields: SurrealDB's `option<T>` accepts
/// an absent field (NONE) but not NULL.
fn doc<T: Serialize>(value: &T) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(value)?;
    strip_nulls(&mut v);
    Ok(v)
}

fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}
