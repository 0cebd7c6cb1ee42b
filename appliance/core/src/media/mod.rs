//! Media: uploads streamed to disk under a size limit, typed by their bytes, images decoded
//! under limits for a thumbnail and a BlurHash, stored content-addressed (the same bytes once),
//! access checked per request, and unreferenced uploads collected.
//!
//! Files of other appliances (`remote`) are fetched over federation when first opened and
//! cached like uploads; peers get this appliance's files under the same access rule.
//!
//! On disk: `<data_dir>/media/blobs/<2 hex>/<sha256>` and `<data_dir>/media/tmp/` for uploads
//! in progress. The database holds one `media` record per upload; several may share a blob.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use parley_store::Picture;
use parley_store::records::MediaRec;
use parley_types::api::{ChatKind, ChatSummary, Profile, Role};
use parley_types::protocol::{Media, MessageKind};
use parley_types::{ChatId, MediaId};

use crate::error::{CoreError, Result};
use crate::{AuthContext, ChatState, Core, Inner, convert};

mod remote;
use parley_types::now_millis;

const MIB: u64 = 1 << 20;
/// Thumbnails fit in this square (pixels) and are JPEG.
const THUMB_EDGE: u32 = 320;
/// Bytes kept from the start of an upload to recognise its type.
const SNIFF: usize = 8192;

/// A stored file ready to be served.
#[derive(Debug)]
pub struct MediaFile {
    pub path: PathBuf,
    pub mime: String,
    pub name: String,
    /// Safe to show in the page (images, audio, video); anything else is an attachment.
    pub inline: bool,
}

/// Deletes the temp file unless it was kept: an upload that fails leaves nothing behind.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What an upload's bytes are.
fn classify(head: &[u8]) -> (String, MessageKind, bool) {
    let mime = infer::get(head).map_or("application/octet-stream", |t| t.mime_type()).to_owned();
    // Formats the `image` crate decodes here; others (HEIC, TIFF...) travel as files.
    let decodable = matches!(mime.as_str(), "image/jpeg" | "image/png" | "image/gif" | "image/webp");
    let kind = if decodable {
        MessageKind::Image
    } else if mime.starts_with("video/") {
        MessageKind::Video
    } else if mime.starts_with("audio/") {
        MessageKind::Audio
    } else {
        MessageKind::File
    };
    (mime, kind, decodable)
}

/// Whether browsers may render it in place; everything else is served as an attachment.
fn inline_safe(mime: &str) -> bool {
    matches!(mime, "image/jpeg" | "image/png" | "image/gif" | "image/webp")
        || (mime.starts_with("audio/") || mime.starts_with("video/"))
}

/// The last path component, without control characters, at most 200 bytes; never empty.
pub fn sanitize_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut clean: String = base.chars().filter(|c| !c.is_control()).collect();
    clean = clean.trim().trim_start_matches('.').to_owned();
    while clean.len() > 200 {
        clean.pop();
    }
    if clean.is_empty() { "file".into() } else { clean }
}

struct Decoded {
    width: u32,
    height: u32,
    thumb: Vec<u8>,
    preview: Option<String>,
}

/// Decodes an image under limits (dimensions and allocation), so a decompression bomb fails
/// fast instead of exhausting memory; makes a JPEG thumbnail and a BlurHash.
fn decode_image(path: &Path, max_pixels: u64) -> std::result::Result<Decoded, String> {
    let mut reader = image::ImageReader::open(path).map_err(|e| e.to_string())?;
    reader = reader.with_guessed_format().map_err(|e| e.to_string())?;
    let (w, h) = reader.into_dimensions().map_err(|e| e.to_string())?;
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(format!("{w}x{h} pixels is more than this server decodes"));
    }
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // RGBA at 4 bytes per pixel, plus decoder slack.
    limits.max_alloc = Some(max_pixels.saturating_mul(4) + 64 * MIB);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    let thumb = img.thumbnail(THUMB_EDGE, THUMB_EDGE).to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&thumb)
        .map_err(|e| e.to_string())?;
    let tiny = img.thumbnail(32, 32).to_rgba8();
    let preview = blurhash::encode(4, 3, tiny.width(), tiny.height(), tiny.as_raw()).ok();
    Ok(Decoded { width: w, height: h, thumb: jpeg, preview })
}

/// A file received into the temp dir, hashed while it was written.
struct Received {
    tmp: TempFile,
    path: PathBuf,
    sha: String,
    size: u64,
    /// Its first bytes, to recognise its type.
    head: Vec<u8>,
}

impl Inner {
    /// Streams `body` into a temp file, hashing it as it goes; `check` sees the running size
    /// after each chunk (limits). An upload and a file fetched from another appliance both
    /// arrive this way.
    async fn receive<S, B, E>(
        &self,
        mut body: S,
        mut check: impl FnMut(u64) -> Result<()>,
    ) -> Result<Received>
    where
        S: Stream<Item = std::result::Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let tmp = self.temp_file().map_err(io)?;
        let path = tmp.0.clone().ok_or_else(|| CoreError::Internal("no temp file".into()))?;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(SNIFF);
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| CoreError::invalid(format!("the transfer was interrupted: {e}")))?;
            let bytes = chunk.as_ref();
            size += bytes.len() as u64;
            check(size)?;
            if head.len() < SNIFF {
                head.extend_from_slice(&bytes[..bytes.len().min(SNIFF - head.len())]);
            }
            hasher.update(bytes);
            file.write_all(bytes).map_err(io)?;
        }
        file.flush().map_err(io)?;
        drop(file);
        Ok(Received { tmp, path, sha: format!("{:x}", hasher.finalize()), size, head })
    }

    /// Types a received file by its bytes, decodes an image under limits for its thumbnail
    /// and BlurHash (`strict`: an image that fails to decode is refused; otherwise it is kept
    /// as a plain file), stores blob and thumbnail, and returns the record to insert.
    async fn keep(
        &self,
        mut r: Received,
        media_id: String,
        name: &str,
        uploader: String,
        refs: i64,
        strict: bool,
    ) -> Result<MediaRec> {
        let (mime, kind, decodable) = classify(&r.head);
        let decoded = if decodable {
            let max = self.settings.media.max_image_pixels;
            let p = r.path.clone();
            let d = tokio::task::spawn_blocking(move || decode_image(&p, max))
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))?;
            match d {
                Ok(d) => Some(d),
                Err(why) if strict => {
                    return Err(CoreError::InvalidMedia(format!("the image could not be used: {why}")));
                }
                Err(_) => None,
            }
        } else {
            None
        };
        let _guard = self.media_lock.lock().await;
        self.store_blob(&mut r.tmp, &r.sha).map_err(io)?;
        let thumb_sha = match &decoded {
            Some(d) => Some(self.store_bytes(&d.thumb).map_err(io)?),
            None => None,
        };
        Ok(MediaRec {
            media_id,
            sha256: r.sha,
            size: r.size as i64,
            mime,
            kind: convert::kind_str(kind).into(),
            name: sanitize_name(name),
            uploader,
            width: decoded.as_ref().map(|d| i64::from(d.width)),
            height: decoded.as_ref().map(|d| i64::from(d.height)),
            preview: decoded.as_ref().and_then(|d| d.preview.clone()),
            thumb_sha,
            created_at: now_millis(),
            refs,
            released: false,
            public: false,
        })
    }
}

impl Inner {
    fn media_dir(&self) -> PathBuf {
        self.settings.storage.data_dir.join("media")
    }

    pub(crate) fn blob_path(&self, sha: &str) -> PathBuf {
        self.media_dir().join("blobs").join(&sha[..2.min(sha.len())]).join(sha)
    }

    /// Moves a finished file into the blob store under its hash (or drops it when the same
    /// bytes are already there), synced to disk first so an acknowledged upload survives.
    fn store_blob(&self, tmp: &mut TempFile, sha: &str) -> std::io::Result<()> {
        let dest = self.blob_path(sha);
        if dest.exists() {
            return Ok(());
        }
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let src = tmp.0.take().ok_or_else(|| std::io::Error::other("temp file already used"))?;
        std::fs::File::open(&src)?.sync_all()?;
        std::fs::rename(&src, &dest)?;
        if let Some(dir) = dest.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    fn store_bytes(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha = format!("{:x}", Sha256::digest(bytes));
        let mut tmp = self.temp_file()?;
        if let Some(p) = &tmp.0 {
            std::fs::write(p, bytes)?;
        }
        self.store_blob(&mut tmp, &sha)?;
        Ok(sha)
    }

    fn temp_file(&self) -> std::io::Result<TempFile> {
        let dir = self.media_dir().join("tmp");
        std::fs::create_dir_all(&dir)?;
        Ok(TempFile(Some(dir.join(ulid::Ulid::new().to_string()))))
    }

    /// Whether `user` may fetch `m`: the uploader, anyone for pictures, and members of a chat
    /// it was sent in who joined before it was sent.
    async fn may_see(&self, user: &parley_types::UserId, m: &MediaRec) -> Result<bool> {
        if m.uploader == user.as_str() || m.public {
            return Ok(true);
        }
        self.sent_where(&m.media_id, |state, seq| state.member(user).is_some_and(|me| me.joined_seq <= seq))
            .await
    }

    /// Whether a message of a chat whose state satisfies `seen(state, seq)` carries the media.
    async fn sent_where(&self, media_id: &str, seen: impl Fn(&ChatState, u64) -> bool) -> Result<bool> {
        for (chat, seq) in self.store.media_messages(media_id).await? {
            let Ok(chat) = ChatId::parse(&chat) else { continue };
            if let Some(state) = self.chat_state(&chat).await?
                && seen(&state, seq as u64)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Removes unreferenced media (released, or unused for `media.unused_ttl_hours`) and the
    /// blobs no record uses any more. Returns how many records went.
    pub(crate) async fn collect_media(&self) -> Result<usize> {
        let ttl_ms = self.settings.media.unused_ttl_hours as i64 * 3_600_000;
        // A backup is copying blobs its dump refers to: collect next time.
        if self.backup_running.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            return Ok(0);
        }
        let _guard = self.media_lock.lock().await;
        let mut removed = 0;
        for m in self.store.collectable_media(now_millis() - ttl_ms).await? {
            if !self.store.delete_media_if_unused(&m.media_id).await? {
                continue;
            }
            removed += 1;
            for sha in std::iter::once(&m.sha256).chain(m.thumb_sha.iter()) {
                if !self.store.blob_in_use(sha).await? {
                    let _ = std::fs::remove_file(self.blob_path(sha));
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "unreferenced media collected");
        }
        Ok(removed)
    }
}

impl Core {
    /// `POST /api/media`: streams the body to disk (at most `media.max_upload_mib`), detects
    /// the type from the bytes, and stores it once per content.
    pub async fn upload_media<S, B, E>(
        &self,
        ctx: &AuthContext,
        name: &str,
        declared: Option<u64>,
        body: S,
    ) -> Result<Media>
    where
        S: Stream<Item = std::result::Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let inner = &self.inner;
        let cfg = &inner.settings.media;
        let max_upload_mib = inner.runtime().max_upload_mib;
        let limit = max_upload_mib * MIB;
        let too_large = || CoreError::PayloadTooLarge(format!("uploads are limited to {max_upload_mib} MiB"));
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let quota = cfg.quota_mib * MIB;
        let used =
            if quota > 0 { inner.store.uploaded_bytes(ctx.user.as_str()).await?.max(0) as u64 } else { 0 };
        let over_quota = || {
            CoreError::QuotaExceeded(format!("your uploads are limited to {} MiB in total", cfg.quota_mib))
        };
        if quota > 0 && used + declared.unwrap_or(0) > quota {
            return Err(over_quota());
        }

        let received = inner
            .receive(body, |size| {
                if size > limit {
                    return Err(too_large());
                }
                if quota > 0 && used + size > quota {
                    return Err(over_quota());
                }
                Ok(())
            })
            .await?;
        if received.size == 0 {
            return Err(CoreError::invalid("the upload is empty"));
        }
        let media_id = MediaId::generate(&inner.server).to_string();
        let rec = inner.keep(received, media_id, name, ctx.user.to_string(), 0, true).await?;
        inner.store.insert_media(&rec).await?;
        convert::media(&rec)
    }

    /// The upload behind `id` if the caller may see it (404 otherwise, without saying why).
    /// Media of another appliance is fetched over federation the first time and cached.
    pub async fn media_file(&self, ctx: &AuthContext, id: &MediaId, thumbnail: bool) -> Result<MediaFile> {
        let m = match self.inner.store.media(id.as_str()).await? {
            Some(m) => m,
            None if id.home_server() != self.inner.server.as_str() => {
                if !self.inner.may_see_remote(&ctx.user, id).await? {
                    return Err(CoreError::NotFound("media"));
                }
                self.inner.fetch_remote_media(id).await?
            }
            None => return Err(CoreError::NotFound("media")),
        };
        if !self.inner.may_see(&ctx.user, &m).await? {
            return Err(CoreError::NotFound("media"));
        }
        if thumbnail {
            let sha = m.thumb_sha.as_deref().ok_or(CoreError::NotFound("thumbnail"))?;
            return Ok(MediaFile {
                path: self.inner.blob_path(sha),
                mime: "image/jpeg".into(),
                name: format!("{}.thumb.jpg", m.name),
                inline: true,
            });
        }
        Ok(MediaFile {
            path: self.inner.blob_path(&m.sha256),
            inline: inline_safe(&m.mime),
            mime: m.mime,
            name: m.name,
        })
    }

    /// What a send with `media_id` attaches: the caller's own upload, or one they can see
    /// (forwarding).
    pub(crate) async fn media_to_send(&self, ctx: &AuthContext, id: &MediaId) -> Result<Media> {
        let m = self.inner.store.media(id.as_str()).await?.ok_or(CoreError::NotFound("media"))?;
        if !self.inner.may_see(&ctx.user, &m).await? {
            return Err(CoreError::NotFound("media"));
        }
        convert::media(&m)
    }

    async fn picture(&self, ctx: &AuthContext, id: &MediaId) -> Result<MediaRec> {
        let m = self.inner.store.media(id.as_str()).await?.ok_or(CoreError::NotFound("media"))?;
        if m.uploader != ctx.user.as_str() {
            return Err(CoreError::NotFound("media"));
        }
        if m.kind != "image" {
            return Err(CoreError::invalid("a picture must be an image (JPEG, PNG, GIF or WebP)"));
        }
        Ok(m)
    }

    /// `PUT/DELETE /api/me/avatar`.
    pub async fn set_my_avatar(&self, ctx: &AuthContext, media: Option<&MediaId>) -> Result<Profile> {
        if let Some(id) = media {
            self.picture(ctx, id).await?;
        }
        let me = self.inner.store.user(ctx.user.as_str()).await?.ok_or(CoreError::NotFound("user"))?;
        let new = media.map(MediaId::as_str);
        if me.avatar.as_deref() != new {
            self.inner.store.set_picture(Picture::User, ctx.user.as_str(), new, me.avatar.as_deref()).await?;
            self.inner.wake_media_gc();
            self.inner.notify_profile_changed(ctx.user.clone());
        }
        self.me(ctx).await
    }

    /// `PUT/DELETE /api/chats/{chat_id}/avatar`: group admins only.
    pub async fn set_group_avatar(
        &self,
        ctx: &AuthContext,
        chat: &ChatId,
        media: Option<&MediaId>,
    ) -> Result<ChatSummary> {
        let state = self.inner.member_state(chat, &ctx.user).await?;
        if state.kind != ChatKind::Group {
            return Err(CoreError::Conflict("1:1 chats show the other person's picture".into()));
        }
        if state.member(&ctx.user).is_none_or(|m| m.role != Role::Admin) {
            return Err(CoreError::NotAdmin);
        }
        if let Some(id) = media {
            self.picture(ctx, id).await?;
        }
        let rec = self.inner.store.chat(chat.as_str()).await?.ok_or(CoreError::NotFound("chat"))?;
        let new = media.map(MediaId::as_str);
        if rec.avatar.as_deref() != new {
            self.inner.store.set_picture(Picture::Group, chat.as_str(), new, rec.avatar.as_deref()).await?;
            self.inner.wake_media_gc();
            let members: Vec<_> = state.members.keys().cloned().collect();
            self.inner.notify_chat_changed(chat.clone(), members);
        }
        self.inner.summary(chat, &ctx.user).await
    }

    /// Runs the media garbage collector now (also runs hourly and after deletions).
    pub async fn collect_media(&self) -> Result<usize> {
        self.inner.collect_media().await
    }
}

impl Inner {
    pub(crate) fn wake_media_gc(&self) {
        self.media_gc.notify_one();
    }
}

fn io(e: std::io::Error) -> CoreError {
    CoreError::Internal(format!("media storage: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_or_hide() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("..\\..\\win.ini"), "win.ini");
        assert_eq!(sanitize_name("/"), "file");
        assert_eq!(sanitize_name(".."), "file");
        assert_eq!(sanitize_name(".bashrc"), "bashrc");
        assert_eq!(sanitize_name("a\u{0}b\nc.txt"), "abc.txt");
        assert!(sanitize_name(&"é".repeat(300)).len() <= 200);
    }

    #[test]
    fn types_come_from_bytes() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
        assert_eq!(classify(&png).1, MessageKind::Image);
        let (mime, kind, _) = classify(b"<html><script>alert(1)</script>");
        assert_eq!((kind, inline_safe(&mime)), (MessageKind::File, false), "{mime}");
        assert_eq!(classify(b"just some words").0, "application/octet-stream");
        assert_eq!(classify(b"%PDF-1.7\n").0, "application/pdf");
        assert!(
            !inline_safe("application/pdf") && !inline_safe("image/svg+xml") && !inline_safe("text/html")
        );
    }
}
