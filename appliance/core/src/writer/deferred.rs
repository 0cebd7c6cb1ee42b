//! Chat heads (last seq, last activity) and senders' own receipt marks, written behind the log.
//!
//! Updating an existing record costs SurrealDB ~70 µs; in a batch of 200 1:1 messages the
//! chat heads and the senders' marks were ~60 % of the commit (see `BENCHMARKS.md`). Neither
//! is the record of what was said: a chat's last seq is also the end of its log (which
//! `Inner::chat_state` reads on load), and a sender's mark only says they have read up to their
//! own message. So the writer commits the log and answers, and this task writes the newest
//! head and mark per chat and sender a moment later, one transaction for all of them.
//!
//! Until then readers overlay what is pending here (`head`, `mark`), looked up before their own
//! read (a flush may write and drop an entry while they read) and after it (what was added
//! meanwhile). After a crash a mark may be up to one flush interval behind (the chat looks
//! unread up to the sender's own message);
//! the writer still puts a head into its batch when the stored one is older than
//! [`HEAD_STALE_MS`], so the stored `last_activity` that search catch-up selects chats by is
//! never further behind than that.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::Mutex;

use parley_store::ChatUpdate;
use parley_store::records::MemberRec;
use parley_types::{ChatId, Seq, UserId};

use crate::Inner;

/// How often pending heads and marks are written.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// A head older than this on disk goes into the writer's own batch (search catch-up looks
/// back 60 s).
pub(crate) const HEAD_STALE_MS: i64 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub seq: Seq,
    pub at: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Deferred {
    heads: Mutex<HashMap<ChatId, Mark>>,
    marks: Mutex<HashMap<(ChatId, UserId), Mark>>,
}

impl Deferred {
    /// Records a committed chat head (only ever moves forward).
    pub(crate) fn head(&self, chat: &ChatId, seq: Seq, at: i64) {
        let mut heads = self.heads.lock();
        let e = heads.entry(chat.clone()).or_insert(Mark { seq, at });
        *e = Mark { seq: e.seq.max(seq), at: e.at.max(at) };
    }

    /// Records that `user` sent (so received and read) `chat` up to `seq`.
    pub(crate) fn mark(&self, chat: &ChatId, user: &UserId, seq: Seq, at: i64) {
        let mut marks = self.marks.lock();
        let e = marks.entry((chat.clone(), user.clone())).or_insert(Mark { seq, at });
        if seq > e.seq {
            *e = Mark { seq, at };
        }
    }

    /// The head not yet written, if any.
    pub(crate) fn pending_head(&self, chat: &ChatId) -> Option<Mark> {
        self.heads.lock().get(chat).copied()
    }

    /// The sender's mark not yet written, if any.
    fn pending_mark(&self, chat: &ChatId, user: &UserId) -> Option<Mark> {
        self.marks.lock().get(&(chat.clone(), user.clone())).copied()
    }

    /// The pending marks of `users` in `chat`, for a reader of member records to take before
    /// its read (see the module docs).
    pub(crate) fn marks_in<'a>(
        &self,
        chat: &ChatId,
        users: impl Iterator<Item = &'a UserId>,
    ) -> HashMap<UserId, Mark> {
        let marks = self.marks.lock();
        users.filter_map(|u| marks.get(&(chat.clone(), u.clone())).map(|m| (u.clone(), *m))).collect()
    }

    /// The pending marks of `user` in every chat (see `marks_in`).
    pub(crate) fn marks_of(&self, user: &UserId) -> HashMap<ChatId, Mark> {
        self.marks.lock().iter().filter(|((_, u), _)| u == user).map(|((c, _), m)| (c.clone(), *m)).collect()
    }

    /// After a read: the newer of the mark taken before it (`marks_in`, `marks_of`) and the one
    /// pending now.
    pub(crate) fn mark_since(&self, before: Option<&Mark>, chat: &ChatId, user: &UserId) -> Option<Mark> {
        before.copied().into_iter().chain(self.pending_mark(chat, user)).max_by_key(|m| m.seq)
    }

    /// Writes everything pending in one transaction. Entries that moved on meanwhile stay
    /// for the next flush; on failure everything stays.
    pub(crate) async fn flush(&self, inner: &Inner) {
        let heads: Vec<(ChatId, Mark)> = self.heads.lock().iter().map(|(c, m)| (c.clone(), *m)).collect();
        let marks: Vec<((ChatId, UserId), Mark)> =
            self.marks.lock().iter().map(|(k, m)| (k.clone(), *m)).collect();
        if heads.is_empty() && marks.is_empty() {
            return;
        }
        let updates: Vec<ChatUpdate> = heads
            .iter()
            .map(|(c, m)| ChatUpdate {
                chat_id: c.to_string(),
                last_seq: m.seq as i64,
                last_activity: m.at,
                name: None,
                description: None,
            })
            .collect();
        let rows: Vec<(String, String, i64, i64)> =
            marks.iter().map(|((c, u), m)| (c.to_string(), u.to_string(), m.seq as i64, m.at)).collect();
        if let Err(e) = inner.store.write_heads(&updates, &rows).await {
            tracing::warn!(error = %e, "writing chat heads and marks failed; will retry");
            return;
        }
        // Only the cached state's record of what is on disk; no lock of ours held meanwhile.
        for (c, m) in &heads {
            if let Some(s) = inner.chats.get(c) {
                s.stored_activity.fetch_max(m.at, Ordering::AcqRel);
            }
        }
        let mut pending = self.heads.lock();
        for (c, m) in &heads {
            if pending.get(c) == Some(m) {
                pending.remove(c);
            }
        }
        drop(pending);
        let mut pending = self.marks.lock();
        for (k, m) in &marks {
            if pending.get(k) == Some(m) {
                pending.remove(k);
            }
        }
    }
}

/// Flushes every [`FLUSH_EVERY`] until the core stops (`Core::shutdown` flushes once more
/// after the writers have stopped).
pub(crate) fn spawn_flusher(inner: Arc<Inner>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = inner.stop.cancelled() => return,
                () = tokio::time::sleep(FLUSH_EVERY) => {}
            }
            inner.deferred.flush(&inner).await;
        }
    });
}

/// Raises a member record to a pending mark (a sender has received and read their own entry).
pub(crate) fn overlay(rec: &mut MemberRec, mark: Mark) {
    let seq = mark.seq as i64;
    if seq > rec.delivered_seq {
        (rec.delivered_seq, rec.delivered_at) = (seq, mark.at);
    }
    if seq > rec.read_seq {
        (rec.read_seq, rec.read_at) = (seq, mark.at);
    }
}
