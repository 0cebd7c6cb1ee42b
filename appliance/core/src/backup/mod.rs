//! Backups: one `.tar.gz` per backup in `<data_dir>/backups` holding a consistent database
//! dump (`db.surql`, from one read transaction), the media blobs, the signing keys, and a
//! `manifest.json` (written last) with every file's size and SHA-256. A sidecar
//! `<name>.json` repeats the manifest plus the archive's own checksum, so listing does not
//! read archives. The search index is not backed up: it is rebuilt from the database.
//!
//! Restore is offline ([`restore_archive`], used by `parley restore` and by a restore staged
//! from the console and applied at the next start): the archive is unpacked and checked into a
//! staging dir inside the data dir, imported there, compared with the manifest's counts, and
//! only then swapped in; the replaced contents are kept in `.pre-restore-<time>/`. Anything
//! wrong leaves the current data untouched.
//!
//! Layout: this module (the service: make, list, download, delete, schedule, stage a restore),
//! `archive` (the file format, writing and verifying), `restore` (the offline restore).

mod archive;
mod restore;

use std::io;
use std::path::{Path, PathBuf};

use archive::{FORMAT, chrono_stamp, io_err, sha256_file, write_archive};
pub use archive::{Manifest, ManifestFile, unpack_verified, verify_archive};
use parley_store::SCHEMA_VERSION;
use parley_types::api::{BackupInfo, BackupList, BackupSchedule};
use parley_types::now_millis;
pub use restore::{Restored, restore_archive};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::{AuthContext, Core, Inner};

const SCHEDULE_KEY: &str = "backup_schedule";
/// A restore staged from the console, applied by the next start.
pub const PENDING_RESTORE: &str = "restore-pending.tar.gz";

/// The sidecar next to each archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sidecar {
    manifest: Manifest,
    size_bytes: u64,
    sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSchedule {
    enabled: bool,
    interval_hours: u32,
    keep: u32,
}

impl Default for StoredSchedule {
    fn default() -> Self {
        Self { enabled: false, interval_hours: 24, keep: 7 }
    }
}

/// Checks a backup name from a URL: our own file names only, never a path.
fn check_name(name: &str) -> Result<()> {
    let ok = name.starts_with("parley-")
        && name.ends_with(".tar.gz")
        && name.len() < 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.contains("..");
    if ok { Ok(()) } else { Err(CoreError::NotFound("backup")) }
}

impl Inner {
    pub(crate) fn backup_dir(&self) -> PathBuf {
        self.settings.storage.data_dir.join("backups")
    }
}

impl Core {
    /// Makes a backup now. Online: writers keep going; the dump is one snapshot.
    pub async fn create_backup(&self, kind: &str) -> Result<BackupInfo> {
        let _one_at_a_time = self.inner.backup_lock.lock().await;
        let result = self.create_backup_inner(kind).await;
        self.inner.metrics.backup_done(result.is_ok());
        let details = match &result {
            Ok(b) => serde_json::json!({ "name": b.name, "size_bytes": b.size_bytes, "kind": kind }),
            Err(e) => serde_json::json!({ "error": e.to_string(), "kind": kind }),
        };
        let action = if result.is_ok() { "backup.created" } else { "backup.failed" };
        self.inner.audit(None, action, None, None, details).await;
        result
    }

    async fn create_backup_inner(&self, kind: &str) -> Result<BackupInfo> {
        let dir = self.inner.backup_dir();
        let tmp = dir.join("tmp");
        tokio::fs::create_dir_all(&tmp).await.map_err(io_err("creating the backup dir"))?;
        let created_at = now_millis();
        let stamp = chrono_stamp(created_at);
        let name = format!("parley-{stamp}-{}.tar.gz", crate::tokens::random_code(3).to_lowercase());
        let dump = tmp.join(format!("{name}.surql"));
        let partial = tmp.join(format!("{name}.partial"));
        // The media collector pauses while blobs are copied, so none the dump names goes.
        self.inner.backup_running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let result = async {
            self.inner.store.export_to(&dump).await?;
            let counts = self.inner.store.counts().await?;
            let manifest = Manifest {
                format: FORMAT,
                parley_version: env!("CARGO_PKG_VERSION").to_owned(),
                schema_version: SCHEMA_VERSION,
                server_name: self.inner.server.to_string(),
                created_at,
                kind: kind.to_owned(),
                counts,
                files: Vec::new(),
            };
            let data_dir = self.inner.settings.storage.data_dir.clone();
            let (d, p) = (dump.clone(), partial.clone());
            tokio::task::spawn_blocking(move || write_archive(&p, &data_dir, &d, manifest))
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))?
                .map_err(io_err("writing the backup archive"))
        }
        .await;
        self.inner.backup_running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        let _ = tokio::fs::remove_file(&dump).await;
        let manifest = match result {
            Ok(m) => m,
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(e);
            }
        };
        let p = partial.clone();
        let (size, sha) = tokio::task::spawn_blocking(move || sha256_file(&p))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?
            .map_err(io_err("hashing the backup"))?;
        let sidecar = Sidecar { manifest, size_bytes: size, sha256: sha };
        let sidecar_json =
            serde_json::to_vec_pretty(&sidecar).map_err(|e| CoreError::Internal(e.to_string()))?;
        tokio::fs::write(dir.join(format!("{name}.json")), sidecar_json)
            .await
            .map_err(io_err("writing the sidecar"))?;
        tokio::fs::rename(&partial, dir.join(&name)).await.map_err(io_err("publishing the backup"))?;
        Ok(info(&name, &sidecar))
    }

    /// Every backup, newest first.
    pub async fn backups(&self) -> Result<Vec<BackupInfo>> {
        let dir = self.inner.backup_dir();
        let mut out = Vec::new();
        let Ok(mut entries) = tokio::fs::read_dir(&dir).await else { return Ok(out) };
        while let Ok(Some(e)) = entries.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            if check_name(&name).is_err() {
                continue;
            }
            let Ok(raw) = tokio::fs::read(dir.join(format!("{name}.json"))).await else { continue };
            if let Ok(sidecar) = serde_json::from_slice::<Sidecar>(&raw) {
                out.push(info(&name, &sidecar));
            }
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.name.cmp(&a.name)));
        Ok(out)
    }

    /// `GET /api/admin/backups`
    pub async fn backup_list(&self, ctx: &AuthContext) -> Result<BackupList> {
        self.require_admin(ctx).await?;
        let backups = self.backups().await?;
        Ok(BackupList {
            schedule: self.schedule_for(&backups).await?,
            backups,
            dir: self.inner.backup_dir().display().to_string(),
        })
    }

    /// `POST /api/admin/backups`
    pub async fn admin_create_backup(&self, ctx: &AuthContext) -> Result<BackupInfo> {
        self.require_admin(ctx).await?;
        let b = self.create_backup("manual").await?;
        self.inner.audit_by(ctx, "backup.requested", Some(b.name.clone()), serde_json::json!({})).await;
        Ok(b)
    }

    /// The archive's path, for downloads.
    pub async fn backup_path(&self, ctx: &AuthContext, name: &str) -> Result<PathBuf> {
        self.require_admin(ctx).await?;
        check_name(name)?;
        let path = self.inner.backup_dir().join(name);
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Err(CoreError::NotFound("backup"));
        }
        self.inner.audit_by(ctx, "backup.downloaded", Some(name.to_owned()), serde_json::json!({})).await;
        Ok(path)
    }

    /// `DELETE /api/admin/backups/{name}`
    pub async fn delete_backup(&self, ctx: &AuthContext, name: &str) -> Result<()> {
        self.require_admin(ctx).await?;
        check_name(name)?;
        self.remove_backup(name).await?;
        self.inner.audit_by(ctx, "backup.deleted", Some(name.to_owned()), serde_json::json!({})).await;
        Ok(())
    }

    async fn remove_backup(&self, name: &str) -> Result<()> {
        let dir = self.inner.backup_dir();
        tokio::fs::remove_file(dir.join(name)).await.map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CoreError::NotFound("backup"),
            _ => CoreError::Internal(format!("deleting the backup: {e}")),
        })?;
        let _ = tokio::fs::remove_file(dir.join(format!("{name}.json"))).await;
        Ok(())
    }

    async fn backup_schedule(&self) -> Result<BackupSchedule> {
        self.schedule_for(&self.backups().await?).await
    }

    /// The schedule, with its next run computed from `backups` (newest first).
    async fn schedule_for(&self, backups: &[BackupInfo]) -> Result<BackupSchedule> {
        let s = self.inner.store.setting::<StoredSchedule>(SCHEDULE_KEY).await?.unwrap_or_default();
        let last_scheduled = backups.iter().find(|b| b.kind == "scheduled").map(|b| b.created_at);
        let next_at = s
            .enabled
            .then(|| last_scheduled.map_or_else(now_millis, |t| t + i64::from(s.interval_hours) * 3_600_000));
        Ok(BackupSchedule { enabled: s.enabled, interval_hours: s.interval_hours, keep: s.keep, next_at })
    }

    /// `PUT /api/admin/backups/schedule`
    pub async fn set_backup_schedule(
        &self,
        ctx: &AuthContext,
        req: BackupSchedule,
    ) -> Result<BackupSchedule> {
        self.require_admin(ctx).await?;
        if !(1..=720).contains(&req.interval_hours) {
            return Err(CoreError::invalid("interval_hours must be 1-720"));
        }
        if !(1..=1000).contains(&req.keep) {
            return Err(CoreError::invalid("keep must be 1-1000"));
        }
        let s = StoredSchedule { enabled: req.enabled, interval_hours: req.interval_hours, keep: req.keep };
        self.inner.store.put_setting(SCHEDULE_KEY, &s).await?;
        let details =
            serde_json::json!({ "enabled": s.enabled, "interval_hours": s.interval_hours, "keep": s.keep });
        self.inner.audit_by(ctx, "backup.schedule_changed", None, details).await;
        self.inner.backup_wake.notify_one();
        self.backup_schedule().await
    }

    /// One scheduled backup, then pruning to the newest `keep`.
    pub async fn run_scheduled_backup(&self, keep: u32) -> Result<BackupInfo> {
        let b = self.create_backup("scheduled").await?;
        if let Err(e) = self.prune_scheduled(keep).await {
            tracing::warn!(error = %e, "pruning old backups failed");
        }
        Ok(b)
    }

    /// Writes a SurrealQL export of the whole database to `path` (a consistent snapshot).
    pub async fn export_database(&self, path: &Path) -> Result<()> {
        Ok(self.inner.store.export_to(path).await?)
    }

    /// Keeps the newest `keep` scheduled backups (manual ones are the admin's to delete).
    async fn prune_scheduled(&self, keep: u32) -> Result<()> {
        let scheduled: Vec<BackupInfo> =
            self.backups().await?.into_iter().filter(|b| b.kind == "scheduled").collect();
        for old in scheduled.iter().skip(keep as usize) {
            self.remove_backup(&old.name).await?;
            self.inner
                .audit(None, "backup.pruned", Some(old.name.clone()), None, serde_json::json!({}))
                .await;
        }
        Ok(())
    }

    /// `POST /api/admin/backups/{name}/restore`: checks the archive, stages it, and asks the
    /// process to restart; the next start applies it before opening the database.
    pub async fn stage_restore(&self, ctx: &AuthContext, name: &str, password: Option<&str>) -> Result<()> {
        self.require_admin(ctx).await?;
        self.reauthenticate(ctx, password).await?;
        check_name(name)?;
        let dir = self.inner.backup_dir();
        let src = dir.join(name);
        if !tokio::fs::try_exists(&src).await.unwrap_or(false) {
            return Err(CoreError::NotFound("backup"));
        }
        let server = self.inner.server.to_string();
        let s = src.clone();
        tokio::task::spawn_blocking(move || verify_archive(&s, &server))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??;
        let pending = self.inner.settings.storage.data_dir.join(PENDING_RESTORE);
        tokio::fs::copy(&src, &pending).await.map_err(io_err("staging the restore"))?;
        self.inner.audit_by(ctx, "backup.restore_staged", Some(name.to_owned()), serde_json::json!({})).await;
        tracing::warn!(backup = name, "restore staged by an administrator; restarting to apply it");
        self.inner.restart.cancel();
        Ok(())
    }

    /// Resolves when an admin staged a restore and the process should exit to apply it.
    pub async fn restart_requested(&self) {
        self.inner.restart.cancelled().await;
    }
}

fn info(name: &str, s: &Sidecar) -> BackupInfo {
    let m = &s.manifest;
    BackupInfo {
        name: name.to_owned(),
        created_at: m.created_at,
        size_bytes: s.size_bytes,
        sha256: s.sha256.clone(),
        kind: m.kind.clone(),
        users: m.counts.users,
        chats: m.counts.chats,
        messages: m.counts.messages,
        media_files: m.files.iter().filter(|f| f.path.starts_with("media/")).count() as u64,
        schema_version: m.schema_version,
        parley_version: m.parley_version.clone(),
    }
}

/// Runs scheduled backups (checked every minute and when the schedule changes) and prunes.
pub(crate) fn spawn_scheduler(core: Core) {
    crate::spawn_periodic(core, 60, Some(|i: &Inner| &i.backup_wake), false, |core| async move {
        let Ok(s) = core.backup_schedule().await else { return };
        if s.enabled
            && s.next_at.is_some_and(|t| t <= now_millis())
            && let Err(e) = core.run_scheduled_backup(s.keep).await
        {
            tracing::error!(error = %e, "scheduled backup failed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_civil_dates() {
        assert_eq!(chrono_stamp(0), "19700101-000000");
        assert_eq!(chrono_stamp(1_795_305_599_000), "20261121-235959");
    }

    #[test]
    fn names_are_ours_only() {
        assert!(check_name("parley-20261121-235959-abcd.tar.gz").is_ok());
        for bad in [
            "../x.tar.gz",
            "parley-../../etc.tar.gz",
            "other.tar.gz",
            "parley-x.tar.gz/..",
            "parley-a b.tar.gz",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
