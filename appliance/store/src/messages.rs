//! Messages, written in grouped commits.
//!
//! The core's single writer collects many operations (messages, membership changes, new chats)
//! into one [`Batch`] and commits it in one transaction: one fsync for the lot.

use serde_json::{Value, json};

use crate::records::{ChatRec, IdemRec, MemberRec, MessageRec};
use crate::{Result, Store, doc};

#[derive(Debug, Clone, Default)]
pub struct ChatUpdate {
    pub chat_id: String,
    pub last_seq: i64,
    pub last_activity: i64,
    pub name: Option<String>,
    pub description: Option<String>,
}

/// Changes to an earlier message made by an `edit` or `delete` entry.
#[derive(Debug, Clone)]
pub struct MessagePatch {
    pub chat_id: String,
    pub seq: i64,
    /// `None` with `deleted` clears the text.
    pub text: Option<String>,
    pub edited_at: Option<i64>,
    pub deleted: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub new_chats: Vec<ChatRec>,
    /// (sorted pair key, chat id) for new 1:1 chats.
    pub directs: Vec<(String, String)>,
    pub chat_updates: Vec<ChatUpdate>,
    /// Full membership records to upsert (joins, leaves, role changes).
    pub members: Vec<MemberRec>,
    pub messages: Vec<MessageRec>,
    pub idem: Vec<IdemRec>,
    pub patches: Vec<MessagePatch>,
    /// Media IDs newly referenced by messages in this batch (one reference each).
    pub media_refs: Vec<String>,
    /// Events for other appliances, queued in the same transaction as the entries they carry.
    pub outbox: Vec<crate::OutboxRec>,
    /// Idempotency keys of forwarded sends that are now answered (see `fed_pending`).
    pub pending_done: Vec<String>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.new_chats.is_empty()
            && self.chat_updates.is_empty()
            && self.members.is_empty()
            && self.messages.is_empty()
    }
}

impl Store {
    /// Commits the whole batch in one transaction; either all of it is durable or none.
    /// Every write says `RETURN NONE`: the writer needs no records back, and building and
    /// converting them was a measurable share of each commit.
    pub async fn commit_batch(&self, b: &Batch) -> Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        let mut sql = String::from("BEGIN TRANSACTION;\n");
        let mut vars = serde_json::Map::new();
        let mut add = |name: &str, stmt: &str, v: Value| {
            sql.push_str(stmt);
            sql.push('\n');
            vars.insert(name.to_owned(), v);
        };
        if !b.new_chats.is_empty() {
            add(
                "chats",
                "FOR $c IN $chats { CREATE type::record('chat', $c.chat_id) CONTENT $c RETURN NONE; };",
                doc(&b.new_chats)?,
            );
        }
        if !b.directs.is_empty() {
            let d: Vec<Value> = b.directs.iter().map(|(k, c)| json!({ "k": k, "c": c })).collect();
            add(
                "directs",
                "FOR $d IN $directs { CREATE type::record('direct', $d.k) SET chat_id = $d.c RETURN NONE; };",
                Value::Array(d),
            );
        }
        if !b.members.is_empty() {
            add(
                "members",
                "FOR $m IN $members { UPSERT type::record('member', [$m.chat_id, $m.user_id]) CONTENT $m RETURN NONE; };",
                doc(&b.members)?,
            );
        }
        if !b.messages.is_empty() {
            let msgs: Vec<Value> = b
                .messages
                .iter()
                .map(|m| {
                    let mut v = doc(m)?;
                    v["id"] = Value::String(m.message_id.clone());
                    Ok(v)
                })
                .collect::<Result<_>>()?;
            add("msgs", "INSERT INTO message $msgs RETURN NONE;", Value::Array(msgs));
        }
        if !b.idem.is_empty() {
            let keys: Vec<Value> = b
                .idem
                .iter()
                .map(|i| {
                    json!({ "id": i.key, "key": i.key, "message_id": i.message_id, "chat_id": i.chat_id, "seq": i.seq })
                })
                .collect();
            add("idem", "INSERT INTO idem $idem RETURN NONE;", Value::Array(keys));
        }
        if !b.patches.is_empty() {
            let p: Vec<Value> = b
                .patches
                .iter()
                .map(|p| {
                    let mut v = json!({ "c": p.chat_id, "s": p.seq, "d": p.deleted });
                    if let Some(t) = &p.text {
                        v["t"] = json!(t);
                    }
                    if let Some(e) = p.edited_at {
                        v["e"] = json!(e);
                    }
                    v
                })
                .collect();
            // Deleting for everyone also releases the message's media, in the same transaction.
            add(
                "patches",
                "FOR $p IN $patches { UPDATE message SET text = $p.t, edited_at = $p.e, deleted = $p.d WHERE chat_id = $p.c AND seq = $p.s; };
                 FOR $p IN $patches { IF $p.d {
                   LET $m = (SELECT VALUE media_id FROM message WHERE chat_id = $p.c AND seq = $p.s)[0];
                   IF $m != NONE {
                     UPDATE type::record('media', $m) SET refs -= 1;
                     UPDATE type::record('media', $m) SET released = true WHERE refs <= 0;
                     UPDATE message SET media_id = NONE, media = NONE WHERE chat_id = $p.c AND seq = $p.s;
                   };
                 }; };",
                Value::Array(p),
            );
        }
        if !b.media_refs.is_empty() {
            add(
                "mrefs",
                "FOR $m IN $mrefs { UPDATE type::record('media', $m) SET refs += 1 RETURN NONE; };",
                json!(b.media_refs),
            );
        }
        if !b.chat_updates.is_empty() {
            let u: Vec<Value> = b
                .chat_updates
                .iter()
                .map(|u| {
                    let mut v = json!({ "c": u.chat_id, "s": u.last_seq, "a": u.last_activity });
                    if let Some(n) = &u.name {
                        v["n"] = json!(n);
                    }
                    if let Some(d) = &u.description {
                        v["d"] = json!(d);
                    }
                    v
                })
                .collect();
            add(
                "updates",
                "FOR $u IN $updates { UPDATE type::record('chat', $u.c) SET last_seq = $u.s, last_activity = $u.a, name = $u.n ?? name, description = $u.d ?? description RETURN NONE; };",
                Value::Array(u),
            );
        }
        if !b.outbox.is_empty() {
            add(
                "outbox",
                "FOR $o IN $outbox { CREATE type::record('fed_outbox', [$o.dest, $o.n]) CONTENT $o RETURN NONE; };",
                doc(&b.outbox)?,
            );
        }
        if !b.pending_done.is_empty() {
            add(
                "pdone",
                "FOR $k IN $pdone { DELETE type::record('fed_pending', $k) RETURN NONE; };",
                json!(b.pending_done),
            );
        }
        sql.push_str("COMMIT TRANSACTION;");
        self.exec(&sql, Value::Object(vars)).await
    }

    /// Writes chat heads and senders' marks that the writer left behind its log (see the
    /// core's `writer::deferred`). Never moves either backwards: a head or mark written in a
    /// later writer batch may already be on disk.
    pub async fn write_heads(
        &self,
        heads: &[ChatUpdate],
        marks: &[(String, String, i64, i64)],
    ) -> Result<()> {
        let h: Vec<Value> =
            heads.iter().map(|u| json!({ "c": u.chat_id, "s": u.last_seq, "a": u.last_activity })).collect();
        let m: Vec<Value> =
            marks.iter().map(|(c, u, s, at)| json!({ "c": c, "u": u, "s": s, "at": at })).collect();
        self.exec(
            "BEGIN TRANSACTION;
             FOR $h IN $heads {
               UPDATE type::record('chat', $h.c) SET last_seq = $h.s WHERE last_seq < $h.s RETURN NONE;
               UPDATE type::record('chat', $h.c) SET last_activity = $h.a WHERE last_activity < $h.a RETURN NONE;
             };
             FOR $m IN $marks {
               UPDATE type::record('member', [$m.c, $m.u]) SET delivered_seq = $m.s, delivered_at = $m.at WHERE delivered_seq < $m.s RETURN NONE;
               UPDATE type::record('member', [$m.c, $m.u]) SET read_seq = $m.s, read_at = $m.at WHERE read_seq < $m.s RETURN NONE;
             };
             COMMIT TRANSACTION;",
            json!({ "heads": h, "marks": m }),
        )
        .await
    }

    /// The highest seq in a chat's log after `from` (`from` itself when nothing follows it).
    pub async fn log_end(&self, chat_id: &str, from: i64) -> Result<i64> {
        let last: Option<i64> = self
            .fetch_one(
                "SELECT VALUE seq FROM message WHERE chat_id = $c AND seq > $s ORDER BY seq DESC LIMIT 1",
                json!({ "c": chat_id, "s": from }),
                0,
            )
            .await?;
        Ok(last.unwrap_or(from).max(from))
    }

    /// Entries with `after < seq <= upto`, oldest first, at most `limit`.
    pub async fn messages_after(
        &self,
        chat_id: &str,
        after: i64,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<MessageRec>> {
        self.fetch(
            "SELECT * FROM message WHERE chat_id = $c AND seq > $a AND seq <= $u ORDER BY seq ASC LIMIT $l",
            json!({ "c": chat_id, "a": after, "u": upto, "l": limit }),
            0,
        )
        .await
    }

    /// Entries with `min_seq <= seq < before`, newest first, at most `limit`.
    pub async fn history(
        &self,
        chat_id: &str,
        before: i64,
        min_seq: i64,
        limit: usize,
    ) -> Result<Vec<MessageRec>> {
        self.fetch(
            "SELECT * FROM message WHERE chat_id = $c AND seq < $b AND seq >= $m ORDER BY seq DESC LIMIT $l",
            json!({ "c": chat_id, "b": before, "m": min_seq, "l": limit }),
            0,
        )
        .await
    }

    pub async fn message_at(&self, chat_id: &str, seq: i64) -> Result<Option<MessageRec>> {
        self.fetch_one(
            "SELECT * FROM message WHERE chat_id = $c AND seq = $s",
            json!({ "c": chat_id, "s": seq }),
            0,
        )
        .await
    }

    /// The newest entry a chat list shows (a text or system message), at or after `min_seq`.
    pub async fn last_visible_message(&self, chat_id: &str, min_seq: i64) -> Result<Option<MessageRec>> {
        self.fetch_one(
            "SELECT * FROM message WHERE chat_id = $c AND seq >= $m AND kind IN ['text', 'system'] ORDER BY seq DESC LIMIT 1",
            json!({ "c": chat_id, "m": min_seq }),
            0,
        )
        .await
    }

    /// Messages from others after `after` that count as unread.
    pub async fn unread_count(&self, chat_id: &str, after: i64, me: &str) -> Result<u64> {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u64,
        }
        Ok(self
            .fetch_one::<Count>(
                "SELECT count() FROM message WHERE chat_id = $c AND seq > $a AND sender != $me AND kind = 'text' AND deleted = false GROUP ALL",
                json!({ "c": chat_id, "a": after, "me": me }),
                0,
            )
            .await?
            .map_or(0, |c| c.count))
    }

    /// Idempotency records for these `sender|client_id` keys (only those that exist).
    pub async fn idem_lookup(&self, keys: &[String]) -> Result<Vec<IdemRec>> {
        self.fetch(
            "SELECT * FROM array::map($keys, |$k| type::record('idem', $k)) WHERE message_id != NONE",
            json!({ "keys": keys }),
            0,
        )
        .await
    }
}

/// A message removed by the retention policy.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Expired {
    pub chat_id: String,
    pub seq: i64,
}

impl Store {
    /// Blanks up to `limit` user messages created before `before` (text and media gone, the
    /// row kept as deleted so every chat's seqs stay contiguous) and releases their media.
    pub async fn expire_messages(&self, before: i64, limit: usize) -> Result<Vec<Expired>> {
        let rows: Vec<Expired> = self
            .fetch(
                "BEGIN TRANSACTION;
                 LET $old = SELECT chat_id, seq, media_id FROM message
                     WHERE created_at < $before AND deleted = false AND kind IN ['text', 'image', 'video', 'audio', 'file']
                     LIMIT $limit;
                 FOR $m IN $old {
                     UPDATE message SET text = NONE, media = NONE, media_id = NONE, deleted = true
                         WHERE chat_id = $m.chat_id AND seq = $m.seq;
                     IF $m.media_id != NONE {
                         UPDATE type::record('media', $m.media_id) SET refs -= 1;
                         UPDATE type::record('media', $m.media_id) SET released = true WHERE refs <= 0;
                     };
                 };
                 RETURN $old;
                 COMMIT TRANSACTION;",
                json!({ "before": before, "limit": limit }),
                // BEGIN, LET, FOR, RETURN, COMMIT.
                3,
            )
            .await?;
        Ok(rows)
    }
}
