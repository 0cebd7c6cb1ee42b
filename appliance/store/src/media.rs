//! Media records: uploads, their references from messages and pictures, and what the garbage
//! collector may remove. The bytes live on disk, content-addressed by the core.

use serde_json::json;

use crate::records::MediaRec;
use crate::{Result, Store, doc};

/// Whose picture [`Store::set_picture`] changes.
#[derive(Debug, Clone, Copy)]
pub enum Picture {
    User,
    Group,
}

impl Store {
    pub async fn insert_media(&self, m: &MediaRec) -> Result<()> {
        self.exec("CREATE type::record('media', $m.media_id) CONTENT $m;", json!({ "m": doc(m)? })).await
    }

    pub async fn media(&self, media_id: &str) -> Result<Option<MediaRec>> {
        self.fetch_one("SELECT * FROM type::record('media', $id)", json!({ "id": media_id }), 0).await
    }

    /// Bytes stored for `uploader` (for the quota).
    pub async fn uploaded_bytes(&self, uploader: &str) -> Result<i64> {
        #[derive(serde::Deserialize)]
        struct Sum {
            total: i64,
        }
        Ok(self
            .fetch_one::<Sum>(
                "SELECT math::sum(size) AS total FROM media WHERE uploader = $u GROUP ALL",
                json!({ "u": uploader }),
                0,
            )
            .await?
            .map_or(0, |s| s.total))
    }

    /// (chat, seq) of every live message carrying `media_id`.
    pub async fn media_messages(&self, media_id: &str) -> Result<Vec<(String, i64)>> {
        #[derive(serde::Deserialize)]
        struct At {
            chat_id: String,
            seq: i64,
        }
        let rows: Vec<At> = self
            .fetch("SELECT chat_id, seq FROM media_use WHERE media_id = $m", json!({ "m": media_id }), 0)
            .await?;
        Ok(rows.into_iter().map(|r| (r.chat_id, r.seq)).collect())
    }

    /// Points a user's or group's picture at `new`, moving the reference from the old
    /// picture, in one transaction.
    pub async fn set_picture(
        &self,
        of: Picture,
        id: &str,
        new: Option<&str>,
        old: Option<&str>,
    ) -> Result<()> {
        let table = match of {
            Picture::User => "user",
            Picture::Group => "chat",
        };
        self.exec(
            &format!(
                "BEGIN TRANSACTION;
                 UPDATE type::record('{table}', $id) SET avatar = $new;
                 IF $new != NONE {{ UPDATE type::record('media', $new) SET refs += 1, public = true; }};
                 IF $old != NONE {{
                   UPDATE type::record('media', $old) SET refs -= 1;
                   UPDATE type::record('media', $old) SET released = true WHERE refs <= 0;
                 }};
                 COMMIT TRANSACTION;"
            ),
            // Absent (not null) variables are NONE in SurrealQL.
            doc(&json!({ "id": id, "new": new, "old": old }))?,
        )
        .await
    }

    /// Unreferenced media: released by their last user, or never used and older than
    /// `unused_before` (ms).
    pub async fn collectable_media(&self, unused_before: i64) -> Result<Vec<MediaRec>> {
        self.fetch(
            "SELECT * FROM media WHERE refs <= 0 AND (released = true OR created_at < $t)",
            json!({ "t": unused_before }),
            0,
        )
        .await
    }

    /// Deletes a media record if it is still unreferenced; returns whether it did.
    pub async fn delete_media_if_unused(&self, media_id: &str) -> Result<bool> {
        let gone: Vec<serde_json::Value> = self
            .fetch(
                "DELETE type::record('media', $id) WHERE refs <= 0 RETURN BEFORE",
                json!({ "id": media_id }),
                0,
            )
            .await?;
        Ok(!gone.is_empty())
    }

    /// Whether any media record still uses the blob `sha` (as original or thumbnail).
    pub async fn blob_in_use(&self, sha: &str) -> Result<bool> {
        let rows: Vec<serde_json::Value> = self
            .fetch(
                "SELECT media_id FROM media WHERE sha256 = $s OR thumb_sha = $s LIMIT 1",
                json!({ "s": sha }),
                0,
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// Whether a cached remote user has this picture (so local users may fetch it).
    pub async fn remote_avatar_in_use(&self, media_id: &str) -> Result<bool> {
        let rows: Vec<serde_json::Value> = self
            .fetch(
                "SELECT user_id FROM user WHERE source = 'remote' AND avatar = $m LIMIT 1",
                json!({ "m": media_id }),
                0,
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// The file name a message gave this media, if any message here carries it.
    pub async fn media_name_in_messages(&self, media_id: &str) -> Result<Option<String>> {
        let Some((chat, seq)) = self.media_messages(media_id).await?.into_iter().next() else {
            return Ok(None);
        };
        let rows: Vec<Option<String>> =
            self.message_at(&chat, seq).await?.map(|m| m.media).into_iter().collect();
        // `media` is the message's media description as JSON.
        Ok(rows
            .into_iter()
            .flatten()
            .filter_map(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
            .find_map(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned)))
    }
}
