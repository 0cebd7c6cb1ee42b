//! Storage: the only crate that speaks SurrealQL. It opens the database (embedded SurrealKV by
//! default, or a SurrealDB server), applies the versioned schema, and exposes typed repository
//! functions. No business rules live here: callers (the `core` crate) decide what may be
//! written; this crate decides only how.
//!
//! Layout: `schema` (DDL and migrations), `records` (the stored document shapes), and one
//! module per aggregate: `users`, `sessions`, `chats`, `messages`, `receipts`, `contacts`,
//! `invites`.

mod chats;
mod contacts;
mod invites;
mod messages;
mod receipts;
pub mod records;
mod schema;
mod sessions;
mod users;

use serde::Serialize;
use serde::de::DeserializeOwned;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;

pub use messages::{Batch, ChatUpdate, MessagePatch};
pub use schema::SCHEMA_VERSION;

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

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Surreal<Any>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens `url` (e.g. `surrealkv:///var/lib/parley/db?sync=every`), selects the namespace and
    /// database, and migrates the schema to [`SCHEMA_VERSION`].
    pub async fn open(url: &str, namespace: &str, database: &str) -> Result<Self> {
        // The SDK closes an embedded datastore in the background once the last handle drops,
        // so a reopen in the same process (a restart) may briefly find the lock still held.
        let mut attempts = 0;
        let db = loop {
            match surrealdb::engine::any::connect(url).await {
                Ok(db) => break db,
                Err(e) if e.to_string().contains("already locked") && attempts < 200 => {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        db.use_ns(namespace).use_db(database).await?;
        let store = Self { db };
        schema::migrate(&store).await?;
        Ok(store)
    }

    /// A cheap query proving the database answers (for `/health/ready`).
    pub async fn ping(&self) -> Result<()> {
        self.db.query("RETURN 1").await?.check()?;
        Ok(())
    }

    /// Runs `sql` with `vars` (a JSON object) and decodes statement `idx` as a list of `T`.
    async fn fetch<T: DeserializeOwned>(
        &self,
        sql: &str,
        vars: serde_json::Value,
        idx: usize,
    ) -> Result<Vec<T>> {
        let mut res = checked(self.db.query(sql).bind(vars).await?)?;
        let rows: Vec<serde_json::Value> = res.take(idx)?;
        rows.into_iter().map(|r| serde_json::from_value(r).map_err(Into::into)).collect()
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
        checked(self.db.query(sql).bind(vars).await?)?;
        Ok(())
    }
}

/// Fails with the statement error that caused a failure. In a transaction every statement
/// reports "not executed due to a failed transaction" except the one that actually failed.
fn checked(mut res: surrealdb::IndexedResults) -> Result<surrealdb::IndexedResults> {
    let mut errors: Vec<(usize, surrealdb::Error)> = res.take_errors().into_iter().collect();
    if errors.is_empty() {
        return Ok(res);
    }
    errors.sort_by_key(|(i, _)| *i);
    let pos = errors.iter().position(|(_, e)| !e.to_string().contains("failed transaction")).unwrap_or(0);
    Err(map_conflict(errors.swap_remove(pos).1))
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
