//! The offline restore (`parley restore`, and a restore staged from the console, applied at
//! the next start): unpack and check, import into a staging dir, compare the counts, then
//! swap the data dir's contents.

use std::fs;
use std::path::{Path, PathBuf};

use parley_store::Store;
use parley_types::now_millis;

use super::archive::{Manifest, check_compatible, chrono_stamp, invalid, io_err, unpack_verified};
use crate::error::{CoreError, Result};

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Where the data dir that was replaced now is.
    pub previous: Option<PathBuf>,
}

/// Restores `archive` into the data dir of `settings` (Parley must not be running on it).
/// Everything is checked in a staging dir inside the data dir first; only then are the current
/// contents moved aside (into `.pre-restore-<time>`, also inside it: the service may write only
/// there) and the staged ones moved in, so a failure leaves the data untouched.
pub async fn restore_archive(settings: &parley_config::Settings, archive: &Path) -> Result<Restored> {
    let data_dir = settings.storage.data_dir.clone();
    fs::create_dir_all(&data_dir).map_err(io_err("creating the data dir"))?;
    let staging = data_dir.join(format!(".restore-{}", crate::tokens::random_code(4).to_lowercase()));
    let manifest = match restore_into(settings, archive, &staging).await {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let aside = data_dir.join(format!(".pre-restore-{}", chrono_stamp(now_millis())));
    fs::create_dir_all(&aside).map_err(io_err("making room for the current data"))?;
    let mut moved = 0;
    for entry in fs::read_dir(&data_dir).map_err(io_err("reading the data dir"))? {
        let entry = entry.map_err(io_err("reading the data dir"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Backups, earlier restores and the archive being restored are not the data.
        let keep = name == "backups"
            || name.starts_with(".pre-restore-")
            || name.starts_with(".restore-")
            || name.starts_with("restore-");
        if !keep {
            fs::rename(entry.path(), aside.join(&name)).map_err(io_err("moving the current data aside"))?;
            moved += 1;
        }
    }
    for entry in fs::read_dir(&staging).map_err(io_err("reading the staging dir"))? {
        let entry = entry.map_err(io_err("reading the staging dir"))?;
        fs::rename(entry.path(), data_dir.join(entry.file_name()))
            .map_err(io_err("moving the restored data in"))?;
    }
    let _ = fs::remove_dir_all(&staging);
    let previous = if moved > 0 {
        Some(aside)
    } else {
        let _ = fs::remove_dir(&aside);
        None
    };
    Ok(Restored { manifest, previous })
}

async fn restore_into(
    settings: &parley_config::Settings,
    archive: &Path,
    staging: &Path,
) -> Result<Manifest> {
    let (a, s) = (archive.to_path_buf(), staging.to_path_buf());
    let manifest = tokio::task::spawn_blocking(move || unpack_verified(&a, &s))
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))??;
    check_compatible(&manifest, settings.server_name().as_str())?;
    let dump =
        tokio::fs::read_to_string(staging.join("db.surql")).await.map_err(io_err("reading the dump"))?;
    let url = format!("surrealkv://{}?sync=every", staging.join("db").display());
    let (ns, db) = (&settings.storage.namespace, &settings.storage.database);
    Store::import_new(&url, ns, db, &dump)
        .await
        .map_err(|e| invalid(format!("the dump does not import: {e}")))?;
    drop(dump);
    let _ = tokio::fs::remove_file(staging.join("db.surql")).await;
    // Open it as the appliance will (migrating an older schema) and compare the counts.
    let limits = parley_store::EngineLimits { block_cache_bytes: 64 << 20, memtable_bytes: 256 << 20 };
    let store = Store::open(&url, ns, db, limits).await?;
    let counts = store.counts().await;
    store.close().await;
    let counts = counts?;
    if counts != manifest.counts {
        return Err(invalid(format!(
            "the restored database does not match the manifest ({counts:?} vs {:?})",
            manifest.counts
        )));
    }
    Ok(manifest)
}
