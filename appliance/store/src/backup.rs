//! Export and import of the whole database, for backups. An export runs in one read
//! transaction, so it is a consistent snapshot while writes go on.

use std::path::Path;

use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::{Conn, EngineLimits, Result, Store, StoreError};

/// Row counts recorded in a backup's manifest (and compared after a restore).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub users: u64,
    pub chats: u64,
    pub messages: u64,
    pub media: u64,
}

fn unsupported() -> StoreError {
    StoreError::Db(surrealdb::Error::internal(
        "backups need the embedded engine (storage.url = surrealkv://...)".to_owned(),
    ))
}

fn internal(e: anyhow::Error) -> StoreError {
    StoreError::Db(surrealdb::Error::internal(format!("{e:#}")))
}

impl Store {
    /// Writes a SurrealQL dump of the database (definitions and records) to `path`, fsynced.
    pub async fn export_to(&self, path: &Path) -> Result<()> {
        let Conn::Embedded { ds, session } = &self.conn else {
            return Err(unsupported());
        };
        let (tx, rx) = async_channel::bounded::<Vec<u8>>(64);
        let job = ds.export(session, tx).await.map_err(internal)?;
        let mut file = tokio::fs::File::create(path).await.map_err(io)?;
        // The export job fills the channel while this drains it into the file.
        let write = async {
            while let Ok(chunk) = rx.recv().await {
                file.write_all(&chunk).await?;
            }
            file.flush().await
        };
        let (exported, written) = tokio::join!(job, write);
        exported.map_err(internal)?;
        written.map_err(io)?;
        file.sync_all().await.map_err(io)?;
        Ok(())
    }

    /// Imports a dump made by [`Store::export_to`] into a new, empty embedded database at
    /// `url`, then closes it. The schema comes from the dump, not from this build's
    /// migrations, so the result is the exported database as it was.
    pub async fn import_new(url: &str, namespace: &str, database: &str, dump: &str) -> Result<()> {
        let limits = EngineLimits { block_cache_bytes: 64 << 20, memtable_bytes: 256 << 20 };
        let conn = crate::open_embedded(url, namespace, database, limits).await?;
        let Conn::Embedded { ds, session } = &conn else {
            return Err(unsupported());
        };
        let outcome = ds.import(dump, session).await.map_err(internal);
        let result = outcome.and_then(|results| {
            results.into_iter().try_for_each(|r| r.result.map(|_| ()).map_err(StoreError::from))
        });
        if let Err(e) = ds.shutdown().await {
            tracing::warn!(error = %e, "closing the restored database");
        }
        result
    }

    /// Row counts for a backup manifest.
    pub async fn counts(&self) -> Result<Counts> {
        #[derive(serde::Deserialize)]
        struct N {
            n: u64,
        }
        let mut out = Counts::default();
        for (table, slot) in [
            ("user", &mut out.users),
            ("chat", &mut out.chats),
            ("entry", &mut out.messages),
            ("media", &mut out.media),
        ] {
            *slot = self
                .fetch_one::<N>(&format!("SELECT count() AS n FROM {table} GROUP ALL"), json!({}), 0)
                .await?
                .map_or(0, |c| c.n);
        }
        Ok(out)
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Db(surrealdb::Error::internal(format!("backup file: {e}")))
}
