//! The archive format: a `.tar.gz` with the database dump, the keys and the media blobs, and a
//! `manifest.json` (written last) listing every file's size and SHA-256. Writing hashes each
//! file as it streams in; reading unpacks and checks every file against the manifest.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use parley_store::{Counts, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

pub(super) const FORMAT: u32 = 1;

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

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn io_err(what: &str) -> impl Fn(io::Error) -> CoreError + '_ {
    move |e| CoreError::Internal(format!("{what}: {e}"))
}

pub(super) fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::BackupInvalid(msg.into())
}

/// Reads through, hashing what passes.
pub(super) struct Hashing<R> {
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

pub(super) fn sha256_file(path: &Path) -> io::Result<(u64, String)> {
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
pub(super) fn write_archive(
    out: &Path,
    data_dir: &Path,
    dump: &Path,
    mut manifest: Manifest,
) -> io::Result<Manifest> {
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

/// `20261121-235959` in UTC, for file names.
pub(super) fn chrono_stamp(ms: i64) -> String {
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

pub(super) fn check_compatible(m: &Manifest, server_name: &str) -> Result<()> {
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
