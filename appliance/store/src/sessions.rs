//! Login sessions and their (hashed, rotating) refresh tokens.

use serde_json::json;

use crate::records::SessionRec;
use crate::{Result, Store, doc};

impl Store {
    pub async fn create_session(&self, s: &SessionRec) -> Result<()> {
        self.exec("CREATE type::record('session', $s.session_id) CONTENT $s", json!({ "s": doc(s)? })).await
    }

    pub async fn session(&self, session_id: &str) -> Result<Option<SessionRec>> {
        self.fetch_one("SELECT * FROM type::record('session', $id)", json!({ "id": session_id }), 0).await
    }

    /// Replaces the refresh hash only if it still is `old_hash` and the session is live, so two
    /// concurrent refreshes with the same token cannot both succeed. Returns whether it did.
    pub async fn rotate_refresh(
        &self,
        session_id: &str,
        old_hash: &str,
        new_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool> {
        let rows: Vec<SessionRec> = self
            .fetch(
                "UPDATE type::record('session', $id) SET refresh_hash = $new, expires_at = $exp
                 WHERE refresh_hash = $old AND revoked = false AND expires_at > $now RETURN AFTER",
                json!({ "id": session_id, "old": old_hash, "new": new_hash, "exp": expires_at, "now": now }),
                0,
            )
            .await?;
        Ok(!rows.is_empty())
    }

    pub async fn revoke_session(&self, session_id: &str) -> Result<()> {
        self.exec("UPDATE type::record('session', $id) SET revoked = true", json!({ "id": session_id })).await
    }

    /// Revokes every live session of the user except `keep`; returns the revoked IDs.
    pub async fn revoke_user_sessions(&self, user_id: &str, keep: Option<&str>) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Id {
            session_id: String,
        }
        let rows: Vec<Id> = self
            .fetch(
                "UPDATE session SET revoked = true
                 WHERE user_id = $u AND revoked = false AND session_id != $keep RETURN session_id",
                json!({ "u": user_id, "keep": keep.unwrap_or("") }),
                0,
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.session_id).collect())
    }
}
