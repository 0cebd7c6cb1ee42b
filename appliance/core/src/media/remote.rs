//! Media of other appliances: fetched from its home appliance (`media_fetch`) the first time
//! a local user who may see it opens it, and cached like an upload; and this appliance's media
//! handed to peers that may see it.

use std::path::PathBuf;

use parley_store::records::MediaRec;
use parley_types::MediaId;

use super::MIB;
use crate::Inner;
use crate::error::{CoreError, Result};

impl Inner {
    /// Whether `user` may fetch another appliance's media not cached here yet: it was sent in
    /// a chat they were in at the time, or it is the picture of a remote user.
    pub(super) async fn may_see_remote(&self, user: &parley_types::UserId, id: &MediaId) -> Result<bool> {
        let seen =
            self.sent_where(id.as_str(), |s, seq| s.member(user).is_some_and(|me| me.joined_seq <= seq));
        Ok(seen.await? || self.store.remote_avatar_in_use(id.as_str()).await?)
    }

    /// Downloads `id` from its home appliance into the blob store, as an uploader's file would
    /// be stored (typed by its bytes, images decoded under limits for a thumbnail).
    pub(super) async fn fetch_remote_media(&self, id: &MediaId) -> Result<MediaRec> {
        let fed = self.fed().ok_or(CoreError::NotFound("media"))?;
        let home = id.home_server();
        if !fed.is_peer(home) {
            return Err(CoreError::NotFound("media"));
        }
        let peer = parley_federation::PeerId::new(
            parley_federation::ServerName::parse(home).map_err(|e| CoreError::Internal(e.to_string()))?,
        );
        let dl = fed.handle.fetch_media(&peer, id).await.map_err(|e| match e {
            parley_federation::FederationError::Remote(w)
                if w.code == parley_federation::ErrorCode::NotFound =>
            {
                CoreError::NotFound("media")
            }
            other => CoreError::Federation(format!("{home}: {other}")),
        })?;
        let max = self.runtime().max_upload_mib.max(100) * MIB;
        if dl.length > max {
            return Err(CoreError::PayloadTooLarge(
                "the remote file is larger than this server accepts".into(),
            ));
        }
        let announced = dl.length;
        let received = self
            .receive(tokio_util::io::ReaderStream::new(dl.reader), |size| {
                if size > announced {
                    return Err(CoreError::Federation(format!("{home} sent more bytes than announced")));
                }
                Ok(())
            })
            .await?;
        if received.size != announced {
            return Err(CoreError::Federation(format!("{home} sent a truncated file")));
        }
        let name = self.store.media_name_in_messages(id.as_str()).await?.unwrap_or_else(|| "file".into());
        // Cached from another appliance: kept (one reference) for as long as this one keeps the
        // messages; its own server decides about the original.
        let rec = self.keep(received, id.to_string(), &name, format!("remote@{home}"), 1, false).await?;
        if let Err(e) = self.store.insert_media(&rec).await {
            // Two viewers fetched it at once: the other one stored it.
            if let Some(existing) = self.store.media(id.as_str()).await? {
                return Ok(existing);
            }
            return Err(e.into());
        }
        Ok(rec)
    }

    /// For a peer's `media_fetch`: a local upload the peer may see (sent in a chat where one
    /// of its users was a member at the time, or a profile or group picture).
    pub(crate) async fn media_for_peer(&self, peer: &str, id: &MediaId) -> Result<(MediaRec, PathBuf)> {
        let m = self.store.media(id.as_str()).await?.ok_or(CoreError::NotFound("media"))?;
        if id.home_server() != self.server.as_str() {
            return Err(CoreError::NotFound("media"));
        }
        let allowed = m.public
            || self
                .sent_where(&m.media_id, |s, seq| {
                    s.members.iter().any(|(u, i)| u.server() == peer && i.joined_seq <= seq)
                })
                .await?;
        if !allowed {
            return Err(CoreError::NotFound("media"));
        }
        let path = self.blob_path(&m.sha256);
        Ok((m, path))
    }
}
