//! The sends each writer remembers, to recognise a resend (same sender, same `client_id`, same
//! chat) and answer it with the stored message instead of storing it twice.
//!
//! Nothing extra is written for this: an entry already holds its sender and `client_id`, so a
//! chat's recent log is the record of its keys. A writer loads a chat's keys from the tail of
//! its log the first time it plans a send there (after a start, or after the chat was idle and
//! its keys were dropped) and adds each committed send. One idempotency record per message was
//! about a third of the store's work per message (`BENCHMARKS.md`, sessions 6 and 7).
//!
//! What is remembered: the sends of the last [`WINDOW_MS`], at most [`PER_CHAT`] per chat, the
//! same whether the keys were loaded or added (so a restart changes nothing). Synapse keeps
//! transaction IDs for the same 24 hours; the web client also drops outbox items whose message
//! comes back in its sync, so it does not depend on the window. Each chat has one writer, so its
//! keys need no lock. Keys are 64-bit hashes; a hit is checked against the stored entry.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use parley_types::{ChatId, Seq, UserId};

use crate::Inner;
use crate::error::Result;

/// How long a send is recognised when resent.
pub(crate) const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// At most this many of a chat's newest sends are recognised.
pub(crate) const PER_CHAT: usize = 5_000;
/// A chat without a send for this long has its keys dropped (they are loaded again on demand).
const IDLE_MS: i64 = 10 * 60 * 1000;
/// How often idle chats are looked for.
const SWEEP_EVERY_MS: i64 = 60 * 1000;

/// The hash a send is remembered by.
pub(crate) fn key(sender: &UserId, client_id: &str) -> u64 {
    // A fixed-key SipHash: stable for the life of the process, which is all the cache lives.
    let mut h = std::hash::DefaultHasher::new();
    (sender.as_str(), client_id).hash(&mut h);
    h.finish()
}

#[derive(Default)]
struct ChatKeys {
    seqs: HashMap<u64, Seq>,
    /// (seq, created_at, key), oldest first.
    order: VecDeque<(Seq, i64, u64)>,
    last_used: i64,
}

impl ChatKeys {
    fn add(&mut self, key: u64, seq: Seq, at: i64) {
        self.seqs.insert(key, seq);
        self.order.push_back((seq, at, key));
    }

    fn trim(&mut self, now: i64) {
        while let Some(&(seq, at, key)) = self.order.front() {
            if self.order.len() <= PER_CHAT && at >= now - WINDOW_MS {
                break;
            }
            self.order.pop_front();
            // A later send with a colliding hash keeps its own seq.
            if self.seqs.get(&key) == Some(&seq) {
                self.seqs.remove(&key);
            }
        }
    }
}

/// A chat's sends within the window, read from its log backwards from `last_seq` a history
/// page at a time.
async fn load(inner: &Inner, chat: &ChatId, last_seq: Seq, now: i64) -> Result<ChatKeys> {
    const PAGE: usize = 1000;
    let mut newest_first = Vec::new();
    let mut before = last_seq as i64 + 1;
    'pages: while before > 1 && newest_first.len() < PER_CHAT {
        let page = inner.store.history(chat.as_str(), before, 1, PAGE).await?;
        let Some(oldest) = page.last() else { break };
        before = oldest.seq;
        for m in page {
            if m.created_at < now - WINDOW_MS || newest_first.len() == PER_CHAT {
                break 'pages;
            }
            if let (Ok(sender), Some(client_id)) = (UserId::parse(&m.sender), m.client_id) {
                newest_first.push((key(&sender, &client_id), m.seq as Seq, m.created_at));
            }
        }
    }
    let mut keys = ChatKeys { last_used: now, ..ChatKeys::default() };
    for (k, seq, at) in newest_first.into_iter().rev() {
        keys.add(k, seq, at);
    }
    Ok(keys)
}

/// One writer's remembered sends, by chat.
#[derive(Default)]
pub(crate) struct Recent {
    chats: HashMap<ChatId, ChatKeys>,
    swept_at: i64,
}

impl Recent {
    /// The seq of the send remembered under `key` in `chat`, loading the chat's keys from its
    /// log first if they are not here. `last_seq` is the end of the chat's log.
    pub(crate) async fn find(
        &mut self,
        inner: &Inner,
        chat: &ChatId,
        last_seq: Seq,
        key: u64,
        now: i64,
    ) -> Result<Option<Seq>> {
        if !self.chats.contains_key(chat) {
            let keys = load(inner, chat, last_seq, now).await?;
            self.chats.insert(chat.clone(), keys);
        }
        let Some(keys) = self.chats.get_mut(chat) else { return Ok(None) };
        keys.last_used = now;
        Ok(keys.seqs.get(&key).copied())
    }

    /// Remembers committed sends: (chat, key, seq), all created at `now`.
    pub(crate) fn committed(&mut self, sends: impl IntoIterator<Item = (ChatId, u64, Seq)>, now: i64) {
        for (chat, key, seq) in sends {
            // Only chats whose keys were loaded: a partial set would hide older sends.
            if let Some(k) = self.chats.get_mut(&chat) {
                k.add(key, seq, now);
                k.trim(now);
            }
        }
        if now - self.swept_at >= SWEEP_EVERY_MS {
            self.swept_at = now;
            self.chats.retain(|_, k| now - k.last_used < IDLE_MS);
        }
    }

    #[cfg(test)]
    fn len(&self, chat: &ChatId) -> usize {
        self.chats.get(chat).map_or(0, |k| k.seqs.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> ChatId {
        ChatId::generate(&parley_types::ServerName::parse("example.org").unwrap())
    }

    #[test]
    fn keys_age_out_by_time_and_count() {
        let c = chat();
        let mut r = Recent::default();
        let now = 10 * WINDOW_MS;
        r.chats.insert(c.clone(), ChatKeys { last_used: now, ..ChatKeys::default() });
        // Two old sends, then more than a chat keeps.
        r.committed([(c.clone(), 1, 1), (c.clone(), 2, 2)], now - WINDOW_MS - 1);
        assert_eq!(r.len(&c), 2);
        r.committed([(c.clone(), 3, 3)], now);
        assert_eq!(r.len(&c), 1, "sends older than the window are forgotten");
        r.committed((4..4 + PER_CHAT as u64).map(|i| (c.clone(), i, i)), now);
        assert_eq!(r.len(&c), PER_CHAT);
        assert!(!r.chats[&c].seqs.contains_key(&3), "the oldest beyond the cap is forgotten");
        // A colliding hash reused by a later send keeps the later seq when the first ages out.
        let mut k = ChatKeys::default();
        k.add(9, 1, 0);
        k.add(9, 2, now);
        k.trim(now);
        assert_eq!(k.seqs.get(&9), Some(&2));
    }

    #[test]
    fn chats_not_loaded_are_not_filled_in() {
        let c = chat();
        let mut r = Recent::default();
        r.committed([(c.clone(), 1, 1)], 0);
        assert!(!r.chats.contains_key(&c), "a partial key set would hide older sends");
    }

    #[test]
    fn idle_chats_are_dropped() {
        let (a, b) = (chat(), chat());
        let mut r = Recent::default();
        for c in [&a, &b] {
            r.chats.insert(c.clone(), ChatKeys { last_used: 0, ..ChatKeys::default() });
        }
        r.chats.get_mut(&b).unwrap().last_used = IDLE_MS;
        r.committed([(b.clone(), 1, 1)], IDLE_MS + 1);
        assert!(!r.chats.contains_key(&a) && r.chats.contains_key(&b));
    }
}
