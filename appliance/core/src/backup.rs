//! Backups: one `.tar.gz` per backup in `<data_dir>/backups` holding a consistent database
//! dump (`db.surql`, from one read transaction), the media blobs, the signing keys, and a
//! `manifest.json` (written last) with every file's size and SHA-256. A sidecar
//! `<name>.json` repeats the manifest plus the archive's own checksum, so listing does not
//! read archives. The search index is not backed up: it is rebuilt from the database.
//!
//! Restore is offline ([`restore_archive`], used by `parley restore` and by a restore staged
//! from the console and applied at the next start): the archive is unpacked and checked into
//! a staging dir next to the data dir, imported there, compared with the manifest's counts,
//! and only then swapped in; the old data dir is kept aside. Anything wrong leaves the current
//! data untouched.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use parley_store::{Counts, SCHEMA_VERSION, Store};
use parley_types::api::{BackupInfo, BackupList, BackupSchedule};
use parley_types::now_millis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};
use crate::{AuthContext, Core, Inner};

const FORMAT: u32 = 1;
const SCHEDULE_KEY: &str = "backup_schedule";
/// A restore staged from the console, applied by the next start.
pub const PENDING_RESTORE: &str = "restore-pending.tar.gz";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What an archive holds; `manifest.json` inside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub parley_version: String,
    pub schema_version: i64,
    pub server_name: String,
    pub created_at: i64,
    pub kind: String,
    pub counts: Counts,
    pub files: Vec<ManifestFile>,
}

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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io_err(what: &str) -> impl Fn(io::Error) -> CoreError + '_ {
    move |e| CoreError::Internal(format!("{what}: {e}"))
}

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::BackupInvalid(msg.into())
}

/// Reads through, hashing what passes.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    size: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

fn sha256_file(path: &Path) -> io::Result<(u64, String)> {
    let mut r = Hashing { inner: BufReader::new(File::open(path)?), hash: Sha256::new(), size: 0 };
    io::copy(&mut r, &mut io::sink())?;
    Ok((r.size, hex(&r.hash.finalize())))
}

/// Every file under `dir`, as paths relative to `base` with `/` separators.
fn files_under(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            files_under(base, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push((rel.to_string_lossy().replace('\\', "/"), path));
        }
    }
    Ok(())
}

fn append(tar: &mut tar::Builder<impl Write>, name: &str, path: &Path) -> io::Result<ManifestFile> {
    let file = File::open(path)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(file.metadata()?.len());
    header.set_mode(0o600);
    header.set_mtime(0);
    let mut r = Hashing { inner: BufReader::new(file), hash: Sha256::new(), size: 0 };
    tar.append_data(&mut header, name, &mut r)?;
    Ok(ManifestFile { path: name.to_owned(), size: r.size, sha256: hex(&r.hash.finalize()) })
}

/// Writes the archive (blocking): the dump, keys and blobs, then the manifest.
fn write_archive(out: &Path, data_dir: &Path, dump: &Path, mut manifest: Manifest) -> io::Result<Manifest> {
    let file = File::create(out)?;
    let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    manifest.files.push(append(&mut tar, "db.surql", dump)?);
    let mut files = Vec::new();
    files_under(data_dir, &data_dir.join("keys"), &mut files)?;
    files_under(data_dir, &data_dir.join("media").join("blobs"), &mut files)?;
    files.sort();
    for (name, path) in files {
        match append(&mut tar, &name, &path) {
            Ok(f) => manifest.files.push(f),
            // A blob collected since the listing is no longer referenced by the dump.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let json = serde_json::to_vec_pretty(&manifest)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(0);
    tar.append_data(&mut header, "manifest.json", json.as_slice())?;
    let gz = tar.into_inner()?;
    let file = gz.finish()?.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    Ok(manifest)
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
        Ok(BackupList {
            backups: self.backups().await?,
            schedule: self.backup_schedule().await?,
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
        let s = self.inner.store.setting::<StoredSchedule>(SCHEDULE_KEY).await?.unwrap_or_default();
        let last_scheduled =
            self.backups().await?.into_iter().find(|b| b.kind == "scheduled").map(|b| b.created_at);
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

/// `20261121-235959` in UTC, for file names.
fn chrono_stamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Unpacks `archive` into `into` (which must not exist), checking every file against the
/// manifest. Returns the manifest.
pub fn unpack_verified(archive: &Path, into: &Path) -> Result<Manifest> {
    fs::create_dir_all(into).map_err(io_err("creating the staging dir"))?;
    let file = File::open(archive).map_err(|e| invalid(format!("cannot open {}: {e}", archive.display())))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    let mut seen: Vec<ManifestFile> = Vec::new();
    let mut manifest: Option<Manifest> = None;
    let broken = |e: io::Error| invalid(format!("the archive is corrupt or truncated: {e}"));
    for entry in tar.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let name = entry.path().map_err(broken)?.to_string_lossy().into_owned();
        let safe = !name.starts_with('/')
            && !name.split('/').any(|c| c == ".." || c.is_empty())
            && (name == "db.surql"
                || name == "manifest.json"
                || name.starts_with("keys/")
                || name.starts_with("media/blobs/"));
        if !safe {
            return Err(invalid(format!("unexpected file in the archive: {name}")));
        }
        if name == "manifest.json" {
            let mut raw = Vec::new();
            entry.read_to_end(&mut raw).map_err(broken)?;
            manifest = Some(serde_json::from_slice(&raw).map_err(|e| invalid(format!("bad manifest: {e}")))?);
            continue;
        }
        let dest = into.join(&name);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io_err("unpacking"))?;
        }
        let mut r = Hashing { inner: &mut entry, hash: Sha256::new(), size: 0 };
        let mut out = File::create(&dest).map_err(io_err("unpacking"))?;
        io::copy(&mut r, &mut out).map_err(broken)?;
        out.sync_all().map_err(io_err("unpacking"))?;
        seen.push(ManifestFile { path: name, size: r.size, sha256: hex(&r.hash.finalize()) });
    }
    let manifest = manifest.ok_or_else(|| invalid("the archive has no manifest (truncated?)"))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!("unknown backup format {}", manifest.format)));
    }
    let mut want = manifest.files.clone();
    want.sort_by(|a, b| a.path.cmp(&b.path));
    seen.sort_by(|a, b| a.path.cmp(&b.path));
    if want != seen {
        let bad = want
            .iter()
            .find(|w| !seen.contains(w))
            .map(|w| w.path.clone())
            .or_else(|| seen.iter().find(|s| !want.contains(s)).map(|s| s.path.clone()))
            .unwrap_or_default();
        return Err(invalid(format!("the archive does not match its manifest (first difference: {bad})")));
    }
    Ok(manifest)
}

/// Checks an archive fully (unpacking it into a temp dir that is then removed).
pub fn verify_archive(archive: &Path, server_name: &str) -> Result<Manifest> {
    let parent = archive.parent().unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".verify-{}", crate::tokens::random_code(6)));
    let result = unpack_verified(archive, &tmp).and_then(|m| check_compatible(&m, server_name).map(|()| m));
    let _ = fs::remove_dir_all(&tmp);
    result
}

fn check_compatible(m: &Manifest, server_name: &str) -> Result<()> {
    if m.schema_version > SCHEMA_VERSION {
        return Err(invalid(format!(
            "the backup is from a newer Parley (schema {}, this build knows {SCHEMA_VERSION}); upgrade first",
            m.schema_version
        )));
    }
    if m.server_name != server_name {
        return Err(invalid(format!(
            "the backup belongs to {}, this appliance is {server_name}",
            m.server_name
        )));
    }
    Ok(())
}

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
