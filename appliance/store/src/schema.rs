//! The schema, versioned. `migrate` brings any older data dir up to [`SCHEMA_VERSION`] on
//! start; each step is idempotent (`IF NOT EXISTS`) so a crash mid-migration is harmless.
//! Every table is defined up front: concurrent CREATEs into an undefined table conflict.

use serde::Deserialize;
use serde_json::json;

use crate::{Result, Store, StoreError};

pub const SCHEMA_VERSION: i64 = 6;

/// Step `n` migrates from version `n` to `n + 1`.
const STEPS: &[&str] = &[V1, V2, V3, V4, V5, V6];

const V1: &str = r#"
DEFINE TABLE IF NOT EXISTS user SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS user_id ON user TYPE string;
DEFINE FIELD IF NOT EXISTS username ON user TYPE string;
DEFINE FIELD IF NOT EXISTS display_name ON user TYPE string;
DEFINE FIELD IF NOT EXISTS about ON user TYPE string;
DEFINE FIELD IF NOT EXISTS email ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS phone ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS password_hash ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS is_admin ON user TYPE bool;
DEFINE FIELD IF NOT EXISTS disabled ON user TYPE bool;
DEFINE FIELD IF NOT EXISTS last_seen_visibility ON user TYPE string;
DEFINE FIELD IF NOT EXISTS last_seen ON user TYPE option<int>;
DEFINE FIELD IF NOT EXISTS created_at ON user TYPE int;

-- One record per login name (u:username, e:email, p:phone): the record key is the
-- uniqueness rule, so no unique index over optional fields is needed.
DEFINE TABLE IF NOT EXISTS login SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS user_id ON login TYPE string;

DEFINE TABLE IF NOT EXISTS session SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS session_id ON session TYPE string;
DEFINE FIELD IF NOT EXISTS user_id ON session TYPE string;
DEFINE FIELD IF NOT EXISTS refresh_hash ON session TYPE string;
DEFINE FIELD IF NOT EXISTS created_at ON session TYPE int;
DEFINE FIELD IF NOT EXISTS expires_at ON session TYPE int;
DEFINE FIELD IF NOT EXISTS revoked ON session TYPE bool;
DEFINE INDEX IF NOT EXISTS session_user ON session FIELDS user_id;

DEFINE TABLE IF NOT EXISTS chat SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS chat_id ON chat TYPE string;
DEFINE FIELD IF NOT EXISTS kind ON chat TYPE string;
DEFINE FIELD IF NOT EXISTS name ON chat TYPE string;
DEFINE FIELD IF NOT EXISTS description ON chat TYPE string;
DEFINE FIELD IF NOT EXISTS created_by ON chat TYPE string;
DEFINE FIELD IF NOT EXISTS created_at ON chat TYPE int;
DEFINE FIELD IF NOT EXISTS last_seq ON chat TYPE int;
DEFINE FIELD IF NOT EXISTS last_activity ON chat TYPE int;

-- 1:1 chats by their sorted pair of user IDs: at most one per pair.
DEFINE TABLE IF NOT EXISTS direct SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS chat_id ON direct TYPE string;

-- Membership plus the member's receipt high-water marks.
DEFINE TABLE IF NOT EXISTS member SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS chat_id ON member TYPE string;
DEFINE FIELD IF NOT EXISTS user_id ON member TYPE string;
DEFINE FIELD IF NOT EXISTS role ON member TYPE string;
DEFINE FIELD IF NOT EXISTS active ON member TYPE bool;
DEFINE FIELD IF NOT EXISTS joined_at ON member TYPE int;
DEFINE FIELD IF NOT EXISTS joined_seq ON member TYPE int;
DEFINE FIELD IF NOT EXISTS left_seq ON member TYPE option<int>;
DEFINE FIELD IF NOT EXISTS delivered_seq ON member TYPE int;
DEFINE FIELD IF NOT EXISTS delivered_at ON member TYPE int;
DEFINE FIELD IF NOT EXISTS read_seq ON member TYPE int;
DEFINE FIELD IF NOT EXISTS read_at ON member TYPE int;
DEFINE INDEX IF NOT EXISTS member_user ON member FIELDS user_id, active;
DEFINE INDEX IF NOT EXISTS member_chat ON member FIELDS chat_id;

DEFINE TABLE IF NOT EXISTS message SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS message_id ON message TYPE string;
DEFINE FIELD IF NOT EXISTS chat_id ON message TYPE string;
DEFINE FIELD IF NOT EXISTS seq ON message TYPE int;
DEFINE FIELD IF NOT EXISTS sender ON message TYPE string;
DEFINE FIELD IF NOT EXISTS kind ON message TYPE string;
DEFINE FIELD IF NOT EXISTS text ON message TYPE option<string>;
DEFINE FIELD IF NOT EXISTS reply_to ON message TYPE option<int>;
DEFINE FIELD IF NOT EXISTS target ON message TYPE option<int>;
DEFINE FIELD IF NOT EXISTS event ON message TYPE option<string>;
DEFINE FIELD IF NOT EXISTS client_id ON message TYPE option<string>;
DEFINE FIELD IF NOT EXISTS created_at ON message TYPE int;
DEFINE FIELD IF NOT EXISTS edited_at ON message TYPE option<int>;
DEFINE FIELD IF NOT EXISTS deleted ON message TYPE bool;
DEFINE INDEX IF NOT EXISTS message_chat_seq ON message FIELDS chat_id, seq UNIQUE;

-- Idempotency keys of sends into chats homed elsewhere: record key `sender|chat|client_id` -> the
-- message it produced (older builds wrote `sender|client_id` for every send; those are unused).
DEFINE TABLE IF NOT EXISTS idem SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS key ON idem TYPE string;
DEFINE FIELD IF NOT EXISTS message_id ON idem TYPE string;
DEFINE FIELD IF NOT EXISTS chat_id ON idem TYPE string;
DEFINE FIELD IF NOT EXISTS seq ON idem TYPE int;

-- Each advance of a member's delivered/read mark (not one row per message): the time a
-- message reached a member is the first advance at or past its seq.
DEFINE TABLE IF NOT EXISTS receipt SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS chat_id ON receipt TYPE string;
DEFINE FIELD IF NOT EXISTS user_id ON receipt TYPE string;
DEFINE FIELD IF NOT EXISTS kind ON receipt TYPE string;
DEFINE FIELD IF NOT EXISTS seq ON receipt TYPE int;
DEFINE FIELD IF NOT EXISTS at ON receipt TYPE int;
DEFINE INDEX IF NOT EXISTS receipt_chat_seq ON receipt FIELDS chat_id, seq;

DEFINE TABLE IF NOT EXISTS contact SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS owner ON contact TYPE string;
DEFINE FIELD IF NOT EXISTS contact ON contact TYPE string;
DEFINE FIELD IF NOT EXISTS added_at ON contact TYPE int;
DEFINE INDEX IF NOT EXISTS contact_owner ON contact FIELDS owner;

DEFINE TABLE IF NOT EXISTS invite SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS code ON invite TYPE string;
DEFINE FIELD IF NOT EXISTS created_by ON invite TYPE string;
DEFINE FIELD IF NOT EXISTS expires_at ON invite TYPE int;
DEFINE FIELD IF NOT EXISTS uses_left ON invite TYPE int;
"#;

/// Version 2: media (uploads, message attachments, profile and group pictures).
const V2: &str = r#"
DEFINE TABLE IF NOT EXISTS media SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS media_id ON media TYPE string;
DEFINE FIELD IF NOT EXISTS sha256 ON media TYPE string;
DEFINE FIELD IF NOT EXISTS size ON media TYPE int;
DEFINE FIELD IF NOT EXISTS mime ON media TYPE string;
DEFINE FIELD IF NOT EXISTS kind ON media TYPE string;
DEFINE FIELD IF NOT EXISTS name ON media TYPE string;
DEFINE FIELD IF NOT EXISTS uploader ON media TYPE string;
DEFINE FIELD IF NOT EXISTS width ON media TYPE option<int>;
DEFINE FIELD IF NOT EXISTS height ON media TYPE option<int>;
DEFINE FIELD IF NOT EXISTS preview ON media TYPE option<string>;
DEFINE FIELD IF NOT EXISTS thumb_sha ON media TYPE option<string>;
DEFINE FIELD IF NOT EXISTS created_at ON media TYPE int;
-- Messages and pictures using it; at 0 after having been used (`released`) or after a day
-- unused, the garbage collector removes it.
DEFINE FIELD IF NOT EXISTS refs ON media TYPE int;
DEFINE FIELD IF NOT EXISTS released ON media TYPE bool;
-- Profile and group pictures are visible to every logged-in user.
DEFINE FIELD IF NOT EXISTS public ON media TYPE bool;
DEFINE INDEX IF NOT EXISTS media_sha ON media FIELDS sha256;
DEFINE INDEX IF NOT EXISTS media_thumb ON media FIELDS thumb_sha;
DEFINE INDEX IF NOT EXISTS media_uploader ON media FIELDS uploader;
DEFINE INDEX IF NOT EXISTS media_refs ON media FIELDS refs;

DEFINE FIELD IF NOT EXISTS media_id ON message TYPE option<string>;
DEFINE FIELD IF NOT EXISTS media ON message TYPE option<string>;
DEFINE INDEX IF NOT EXISTS message_media ON message FIELDS media_id;
DEFINE FIELD IF NOT EXISTS avatar ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS avatar ON chat TYPE option<string>;
"#;

/// Version 3: the audit log (append-only: no route updates or deletes it).
const V3: &str = r#"
DEFINE TABLE IF NOT EXISTS audit SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS at ON audit TYPE int;
DEFINE FIELD IF NOT EXISTS actor ON audit TYPE option<string>;
DEFINE FIELD IF NOT EXISTS action ON audit TYPE string;
DEFINE FIELD IF NOT EXISTS target ON audit TYPE option<string>;
DEFINE FIELD IF NOT EXISTS ip ON audit TYPE option<string>;
DEFINE FIELD IF NOT EXISTS details ON audit TYPE option<string>;
DEFINE INDEX IF NOT EXISTS audit_at ON audit FIELDS at;
DEFINE INDEX IF NOT EXISTS audit_action ON audit FIELDS action, at;
DEFINE INDEX IF NOT EXISTS audit_actor ON audit FIELDS actor, at;
"#;

/// Version 4: the directory (units, groups, where users come from), runtime settings, and
/// invite bookkeeping for the console.
const V4: &str = r#"
DEFINE FIELD IF NOT EXISTS source ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS ldap_key ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS ldap_dn ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS unit_id ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS title ON user TYPE option<string>;
DEFINE FIELD IF NOT EXISTS deleted ON user TYPE option<bool>;
DEFINE INDEX IF NOT EXISTS user_ldap_key ON user FIELDS ldap_key;
DEFINE INDEX IF NOT EXISTS user_unit ON user FIELDS unit_id;

DEFINE TABLE IF NOT EXISTS unit SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS unit_id ON unit TYPE string;
DEFINE FIELD IF NOT EXISTS name ON unit TYPE string;
DEFINE FIELD IF NOT EXISTS parent_id ON unit TYPE option<string>;
DEFINE FIELD IF NOT EXISTS source ON unit TYPE string;
-- For directory units: the unit path joined with '/', the sync's key.
DEFINE FIELD IF NOT EXISTS ldap_key ON unit TYPE option<string>;

DEFINE TABLE IF NOT EXISTS dir_group SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS group_id ON dir_group TYPE string;
DEFINE FIELD IF NOT EXISTS name ON dir_group TYPE string;
DEFINE FIELD IF NOT EXISTS description ON dir_group TYPE string;
DEFINE FIELD IF NOT EXISTS source ON dir_group TYPE string;
DEFINE FIELD IF NOT EXISTS ldap_key ON dir_group TYPE option<string>;
DEFINE FIELD IF NOT EXISTS members ON dir_group TYPE array<string>;
DEFINE FIELD IF NOT EXISTS chat_id ON dir_group TYPE option<string>;

-- Console-managed settings, one JSON document per key (runtime, ldap, backup schedule).
DEFINE TABLE IF NOT EXISTS setting SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS json ON setting TYPE string;

DEFINE FIELD IF NOT EXISTS created_at ON invite TYPE option<int>;
DEFINE FIELD IF NOT EXISTS max_uses ON invite TYPE option<int>;
"#;

/// Version 5: federation (peers, invite hashes, deduplication, the outbox per destination,
/// sends waiting for a remote home server). Remote users are cached in `user` with
/// `source = 'remote'`.
const V5: &str = r#"
DEFINE TABLE IF NOT EXISTS fed_peer SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS json ON fed_peer TYPE string;

DEFINE TABLE IF NOT EXISTS fed_invite SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS json ON fed_invite TYPE string;
DEFINE FIELD IF NOT EXISTS expires_at ON fed_invite TYPE int;

DEFINE TABLE IF NOT EXISTS fed_txn SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS json ON fed_txn TYPE string;
DEFINE FIELD IF NOT EXISTS at ON fed_txn TYPE int;

DEFINE TABLE IF NOT EXISTS fed_event SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS json ON fed_event TYPE string;
DEFINE FIELD IF NOT EXISTS at ON fed_event TYPE int;

-- Record key [dest, n]; n only grows, so a destination's queue is read in order.
DEFINE TABLE IF NOT EXISTS fed_outbox SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS dest ON fed_outbox TYPE string;
DEFINE FIELD IF NOT EXISTS n ON fed_outbox TYPE int;
DEFINE FIELD IF NOT EXISTS event ON fed_outbox TYPE string;
DEFINE FIELD IF NOT EXISTS created_at ON fed_outbox TYPE int;
DEFINE INDEX IF NOT EXISTS fed_outbox_dest ON fed_outbox FIELDS dest, n;

-- Signing keys of servers this one does not peer with, learned from a chat's home server.
DEFINE TABLE IF NOT EXISTS fed_key SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS key ON fed_key TYPE string;

-- Key `sender|chat|client_id` -> the message ID of a send forwarded to a remote home server.
DEFINE TABLE IF NOT EXISTS fed_pending SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS message_id ON fed_pending TYPE string;
DEFINE FIELD IF NOT EXISTS at ON fed_pending TYPE int;
"#;

/// Version 6: chat log entries keyed by `[chat, seq]` in a schemaless table (`entry`), and
/// which messages carry which media in `media_use`. The record ID is the `(chat, seq)`
/// uniqueness rule and the order of history, sync and unread counts (range scans, no index);
/// SCHEMAFULL field checks and the two indexes of `message` were two thirds of the cost of
/// appending (`BENCHMARKS.md`). The records are typed by Parley's own structs on both sides.
/// Existing messages are moved by [`move_messages`] before the version is recorded.
const V6: &str = r#"
DEFINE TABLE IF NOT EXISTS entry SCHEMALESS;
DEFINE TABLE IF NOT EXISTS media_use SCHEMALESS;
DEFINE INDEX IF NOT EXISTS media_use_media ON media_use FIELDS media_id;
"#;

/// Moves every `message` record to `entry` (and its media to `media_use`), 1,000 per
/// transaction, then removes the old table. A crash leaves each chunk either moved or not, and
/// the next start continues.
async fn move_messages(store: &Store) -> Result<usize> {
    const CHUNK: usize = 1000;
    #[derive(Deserialize)]
    struct Old {
        key: serde_json::Value,
        #[serde(flatten)]
        rec: crate::records::MessageRec,
    }
    let mut moved = 0;
    loop {
        let rows: Vec<Old> = store
            .fetch("SELECT *, record::id(id) AS key OMIT id FROM message LIMIT $n", json!({ "n": CHUNK }), 0)
            .await?;
        if rows.is_empty() {
            break;
        }
        let keys: Vec<serde_json::Value> = rows.iter().map(|r| r.key.clone()).collect();
        let batch =
            crate::Batch { messages: rows.into_iter().map(|r| r.rec).collect(), ..Default::default() };
        moved += batch.messages.len();
        store.commit_moved(&batch, &keys).await?;
        tracing::info!(moved, "moving messages to the entry table");
    }
    store.exec("REMOVE TABLE IF EXISTS message;", json!({})).await?;
    Ok(moved)
}

#[derive(Deserialize)]
struct Meta {
    version: i64,
}

pub(crate) async fn migrate(store: &Store) -> Result<()> {
    store
        .exec(
            "DEFINE TABLE IF NOT EXISTS meta SCHEMAFULL; \
             DEFINE FIELD IF NOT EXISTS version ON meta TYPE int;",
            json!({}),
        )
        .await?;
    let current = store
        .fetch_one::<Meta>("SELECT version FROM meta:schema", json!({}), 0)
        .await?
        .map_or(0, |m| m.version);
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found: current, known: SCHEMA_VERSION });
    }
    for (from, step) in STEPS.iter().enumerate().skip(current as usize) {
        let to = from as i64 + 1;
        tracing::info!(from, to, "migrating database schema");
        if to == 6 {
            // The tables must exist before the move; defining them again below is a no-op.
            store.exec(step, json!({})).await?;
            let moved = move_messages(store).await?;
            tracing::info!(moved, "messages moved to the entry table");
        }
        store
            .exec(
                &format!(
                    "BEGIN TRANSACTION; {step}; UPSERT meta:schema SET version = $to; COMMIT TRANSACTION;"
                ),
                json!({ "to": to }),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data dir of schema 5 (messages in `message`, keyed by message ID) is moved to `entry`
    /// in chunks on start, and every read works on the moved log.
    #[tokio::test]
    async fn messages_move_to_the_entry_table() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("surrealkv://{}?sync=every", dir.path().join("db").display());
        let limits = crate::EngineLimits { block_cache_bytes: 16 << 20, memtable_bytes: 64 << 20 };
        let store = Store::open(&url, "parley", "parley", limits).await.unwrap();
        // Back to schema 5: the old table, 2,500 messages in two chats, one carrying media.
        store.exec(V1, json!({})).await.unwrap();
        store.exec(V2, json!({})).await.unwrap();
        let rows: Vec<serde_json::Value> = (1..=2500)
            .map(|i| {
                let chat = if i % 2 == 0 { "c1@x.org" } else { "c2@x.org" };
                let mut v = json!({ "id": format!("m{i}"), "message_id": format!("m{i}"), "chat_id": chat,
                    "seq": (i + 1) / 2, "sender": "ana@x.org", "kind": "text", "text": format!("t{i}"),
                    "created_at": i, "deleted": false });
                if i == 8 {
                    v["media_id"] = json!("med1");
                    v["media"] = json!(r#"{"name":"a.pdf"}"#);
                }
                v
            })
            .collect();
        store
            .exec(
                "INSERT INTO message $rows RETURN NONE; UPSERT meta:schema SET version = 5;",
                json!({ "rows": rows }),
            )
            .await
            .unwrap();

        migrate(&store).await.unwrap();
        let n: Option<serde_json::Value> =
            store.fetch_one("SELECT count() AS n FROM entry GROUP ALL", json!({}), 0).await.unwrap();
        assert_eq!(n.unwrap()["n"], 2500);
        let old: Vec<serde_json::Value> = store.fetch("INFO FOR DB", json!({}), 0).await.unwrap();
        assert!(old[0]["tables"].get("message").is_none(), "{old:?}");
        let page = store.history("c1@x.org", 1251, 1, 3).await.unwrap();
        assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1250, 1249, 1248]);
        assert_eq!(page[0].message_id, "m2500");
        let after = store.messages_after("c2@x.org", 10, 1250, 2).await.unwrap();
        assert_eq!(after.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![11, 12]);
        assert_eq!(store.log_end("c1@x.org", 1200).await.unwrap(), 1250);
        assert_eq!(store.media_messages("med1").await.unwrap(), vec![("c1@x.org".to_owned(), 4)]);
        assert_eq!(store.media_name_in_messages("med1").await.unwrap().as_deref(), Some("a.pdf"));
        assert_eq!(store.unread_count("c1@x.org", 1240, "bob@x.org").await.unwrap(), 10);
        assert_eq!(store.last_visible_message("c1@x.org", 1, 1250).await.unwrap().unwrap().seq, 1250);
        store.close().await;
    }
}
