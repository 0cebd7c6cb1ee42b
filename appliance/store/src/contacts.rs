//! Contact lists.

use serde_json::json;

use crate::records::ContactRec;
use crate::{Result, Store};

impl Store {
    pub async fn add_contact(&self, owner: &str, contact: &str, at: i64) -> Result<()> {
        self.exec(
            "UPSERT type::record('contact', [$o, $c]) SET owner = $o, contact = $c, added_at = $at",
            json!({ "o": owner, "c": contact, "at": at }),
        )
        .await
    }

    pub async fn remove_contact(&self, owner: &str, contact: &str) -> Result<()> {
        self.exec("DELETE type::record('contact', [$o, $c])", json!({ "o": owner, "c": contact })).await
    }

    pub async fn contacts(&self, owner: &str) -> Result<Vec<ContactRec>> {
        self.fetch("SELECT * FROM contact WHERE owner = $o", json!({ "o": owner }), 0).await
    }

    pub async fn is_contact(&self, owner: &str, contact: &str) -> Result<bool> {
        Ok(self
            .fetch_one::<ContactRec>(
                "SELECT * FROM type::record('contact', [$o, $c])",
                json!({ "o": owner, "c": contact }),
                0,
            )
            .await?
            .is_some())
    }
}
