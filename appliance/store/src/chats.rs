//! Chats, 1:1 pair lookups and memberships (reads; writes go through `messages::Batch`).

use serde_json::json;

use crate::records::{ChatRec, MemberRec};
use crate::{Result, Store};

impl Store {
    pub async fn chat(&self, chat_id: &str) -> Result<Option<ChatRec>> {
        self.fetch_one("SELECT * FROM type::record('chat', $id)", json!({ "id": chat_id }), 0).await
    }

    pub async fn chats(&self, chat_ids: &[String]) -> Result<Vec<ChatRec>> {
        self.fetch(
            "SELECT * FROM array::map($ids, |$i| type::record('chat', $i)) WHERE chat_id != NONE",
            json!({ "ids": chat_ids }),
            0,
        )
        .await
    }

    /// The 1:1 chat of a sorted pair key, if any.
    pub async fn direct_chat(&self, pair_key: &str) -> Result<Option<String>> {
        #[derive(serde::Deserialize)]
        struct D {
            chat_id: String,
        }
        Ok(self
            .fetch_one::<D>("SELECT chat_id FROM type::record('direct', $k)", json!({ "k": pair_key }), 0)
            .await?
            .map(|d| d.chat_id))
    }

    /// Every membership record of the chat, current and past.
    pub async fn members(&self, chat_id: &str) -> Result<Vec<MemberRec>> {
        self.fetch("SELECT * FROM member WHERE chat_id = $c", json!({ "c": chat_id }), 0).await
    }

    pub async fn member(&self, chat_id: &str, user_id: &str) -> Result<Option<MemberRec>> {
        self.fetch_one(
            "SELECT * FROM type::record('member', [$c, $u])",
            json!({ "c": chat_id, "u": user_id }),
            0,
        )
        .await
    }

    /// The user's current memberships.
    pub async fn memberships(&self, user_id: &str) -> Result<Vec<MemberRec>> {
        self.fetch("SELECT * FROM member WHERE user_id = $u AND active = true", json!({ "u": user_id }), 0)
            .await
    }

    /// Chats with activity at or after `since_ms` (every chat for 0), for search catch-up.
    pub async fn chats_active_since(&self, since_ms: i64) -> Result<Vec<ChatRec>> {
        self.fetch("SELECT * FROM chat WHERE last_activity >= $t", json!({ "t": since_ms }), 0).await
    }

    pub async fn count_chats(&self) -> Result<u64> {
        #[derive(serde::Deserialize)]
        struct N {
            n: u64,
        }
        Ok(self
            .fetch_one::<N>("SELECT count() AS n FROM chat GROUP ALL", json!({}), 0)
            .await?
            .map_or(0, |c| c.n))
    }
}
