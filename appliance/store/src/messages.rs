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

/// Adds the statements that store `messages` as log entries (record ID `[chat, seq]`, the
/// uniqueness rule: a second entry at one seq fails the transaction) and their media uses.
fn append_messages(
    sql: &mut String,
    vars: &mut serde_json::Map<String, Value>,
    messages: &[MessageRec],
) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let msgs: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut v = doc(m)?;
            v["id"] = json!([m.chat_id, m.seq]);
            Ok(v)
        })
        .collect::<Result<_>>()?;
    sql.push_str("INSERT INTO entry $msgs RETURN NONE;\n");
    vars.insert("msgs".into(), Value::Array(msgs));
    let uses: Vec<Value> = messages
        .iter()
        .filter_map(|m| {
            let media = m.media_id.as_ref()?;
            Some(json!({ "id": [media, m.chat_id, m.seq], "media_id": media, "chat_id": m.chat_id, "seq": m.seq }))
        })
        .collect();
    if !uses.is_empty() {
        sql.push_str("INSERT INTO media_use $uses RETURN NONE;\n");
        vars.insert("uses".into(), Value::Array(uses));
    }
    Ok(())
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
        // Entries first: nothing in the batch refers to a record before it is written (patches
        // below may target an entry of this same batch).
        append_messages(&mut sql, &mut vars, &b.messages)?;
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
                "FOR $p IN $patches { UPDATE type::record('entry', [$p.c, $p.s]) SET text = $p.t, edited_at = $p.e, deleted = $p.d RETURN NONE; };
                 FOR $p IN $patches { IF $p.d {
                   LET $m = (SELECT VALUE media_id FROM type::record('entry', [$p.c, $p.s]))[0];
                   IF $m != NONE {
                     UPDATE type::record('media', $m) SET refs -= 1;
                     UPDATE type::record('media', $m) SET released = true WHERE refs <= 0;
                     UPDATE type::record('entry', [$p.c, $p.s]) SET media_id = NONE, media = NONE RETURN NONE;
                     DELETE type::record('media_use', [$m, $p.c, $p.s]);
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

    /// Schema v6's move: `batch`'s messages into `entry` and `media_use`, and the old
    /// `message` records (by record key) deleted, in one transaction.
    pub(crate) async fn commit_moved(&self, batch: &Batch, old_keys: &[Value]) -> Result<()> {
        let (mut sql, mut vars) = (String::from("BEGIN TRANSACTION;\n"), serde_json::Map::new());
        append_messages(&mut sql, &mut vars, &batch.messages)?;
        sql.push_str(
            "FOR $k IN $old { DELETE type::record('message', $k) RETURN NONE; };\nCOMMIT TRANSACTION;",
        );
        vars.insert("old".into(), Value::Array(old_keys.to_vec()));
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
        let seqs: Vec<i64> = self
            .fetch(
                "SELECT VALUE seq FROM entry:[$c, $f]..=[$c, $max]",
                json!({ "c": chat_id, "f": from.saturating_add(1), "max": i64::MAX }),
                0,
            )
            .await?;
        Ok(seqs.into_iter().max().unwrap_or(from).max(from))
    }

    /// Entries with `after < seq <= upto`, oldest first, at most `limit`: one range of record
    /// IDs (`[chat, seq]`), read in key order.
    pub async fn messages_after(
        &self,
        chat_id: &str,
        after: i64,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<MessageRec>> {
        if upto <= after || limit == 0 {
            return Ok(Vec::new());
        }
        let mut rows: Vec<MessageRec> = self
            .fetch(
                "SELECT * FROM entry:[$c, $f]..=[$c, $u] LIMIT $l",
                json!({ "c": chat_id, "f": after + 1, "u": upto, "l": limit }),
                0,
            )
            .await?;
        rows.sort_by_key(|r| r.seq);
        Ok(rows)
    }

    /// Entries with `min_seq <= seq < before`, newest first, at most `limit`. Seqs are dense,
    /// so the page is the `limit` seqs below `before`; a window is widened only where entries
    /// are missing (a replica's log may start later than its chat's). `before` should be at
    /// most one past the log's end: the windows walk down from it.
    pub async fn history(
        &self,
        chat_id: &str,
        before: i64,
        min_seq: i64,
        limit: usize,
    ) -> Result<Vec<MessageRec>> {
        let mut out: Vec<MessageRec> = Vec::new();
        let mut hi = before - 1;
        while out.len() < limit && hi >= min_seq {
            let lo = (hi - (limit - out.len()) as i64 + 1).max(min_seq);
            let mut rows: Vec<MessageRec> = self
                .fetch(
                    "SELECT * FROM entry:[$c, $lo]..=[$c, $hi]",
                    json!({ "c": chat_id, "lo": lo, "hi": hi }),
                    0,
                )
                .await?;
            rows.sort_by_key(|r| std::cmp::Reverse(r.seq));
            out.extend(rows);
            hi = lo - 1;
        }
        out.truncate(limit);
        Ok(out)
    }

    pub async fn message_at(&self, chat_id: &str, seq: i64) -> Result<Option<MessageRec>> {
        self.fetch_one("SELECT * FROM type::record('entry', [$c, $s])", json!({ "c": chat_id, "s": seq }), 0)
            .await
    }

    /// The newest entry a chat list shows (a text or system message) with
    /// `min_seq <= seq <= upto`, read backwards from `upto` a window at a time.
    pub async fn last_visible_message(
        &self,
        chat_id: &str,
        min_seq: i64,
        upto: i64,
    ) -> Result<Option<MessageRec>> {
        const WINDOW: i64 = 32;
        let mut hi = upto;
        while hi >= min_seq {
            let lo = (hi - WINDOW + 1).max(min_seq);
            let rows: Vec<MessageRec> = self
                .fetch(
                    "SELECT * FROM entry:[$c, $lo]..=[$c, $hi] WHERE kind IN ['text', 'system']",
                    json!({ "c": chat_id, "lo": lo, "hi": hi }),
                    0,
                )
                .await?;
            if let Some(m) = rows.into_iter().max_by_key(|r| r.seq) {
                return Ok(Some(m));
            }
            hi = lo - 1;
        }
        Ok(None)
    }

    /// Messages from others after `after` that count as unread.
    pub async fn unread_count(&self, chat_id: &str, after: i64, me: &str) -> Result<u64> {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u64,
        }
        Ok(self
            .fetch_one::<Count>(
                "SELECT count() FROM entry:[$c, $a]..=[$c, $max] WHERE sender != $me AND kind = 'text' AND deleted = false GROUP ALL",
                json!({ "c": chat_id, "a": after.saturating_add(1), "max": i64::MAX, "me": me }),
                0,
            )
            .await?
            .map_or(0, |c| c.count))
    }

    /// Idempotency records for these `sender|chat|client_id` keys (sends into chats homed elsewhere) (only those that exist).
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
                 LET $old = SELECT chat_id, seq, media_id FROM entry
                     WHERE created_at < $before AND deleted = false AND kind IN ['text', 'image', 'video', 'audio', 'file']
                     LIMIT $limit;
                 FOR $m IN $old {
                     UPDATE type::record('entry', [$m.chat_id, $m.seq])
                         SET text = NONE, media = NONE, media_id = NONE, deleted = true RETURN NONE;
                     IF $m.media_id != NONE {
                         UPDATE type::record('media', $m.media_id) SET refs -= 1;
                         UPDATE type::record('media', $m.media_id) SET released = true WHERE refs <= 0;
                         DELETE type::record('media_use', [$m.media_id, $m.chat_id, $m.seq]);
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
