//! Registration invites for the invite-only policy.

use serde_json::json;

use crate::records::InviteRec;
use crate::{Result, Store, doc};

impl Store {
    pub async fn create_invite(&self, invite: &InviteRec) -> Result<()> {
        self.exec("CREATE type::record('invite', $i.code) CONTENT $i", json!({ "i": doc(invite)? })).await
    }

    /// Uses one use of the invite if it is unexpired and has uses left; returns whether it did.
    pub async fn consume_invite(&self, code: &str, now: i64) -> Result<bool> {
        let rows: Vec<InviteRec> = self
            .fetch(
                "UPDATE type::record('invite', $c) SET uses_left -= 1
                 WHERE uses_left > 0 AND expires_at > $now RETURN AFTER",
                json!({ "c": code, "now": now }),
                0,
            )
            .await?;
        Ok(!rows.is_empty())
    }
}

impl Store {
    /// Every invite, newest first.
    pub async fn invites(&self) -> Result<Vec<InviteRec>> {
        self.fetch("SELECT * FROM invite ORDER BY created_at DESC, expires_at DESC", json!({}), 0).await
    }

    /// Revokes an invite; false if there was none.
    pub async fn delete_invite(&self, code: &str) -> Result<bool> {
        let rows: Vec<InviteRec> =
            self.fetch("DELETE type::record('invite', $c) RETURN BEFORE", json!({ "c": code }), 0).await?;
        Ok(!rows.is_empty())
    }
}
