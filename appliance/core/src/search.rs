//! Search: feeding the index from the write path, catching it up from the database, and the
//! queries, with each caller's visibility computed from their memberships.

use parley_search::{MessageDoc, MessageQuery, Op, Opened, Search, UserDoc, Visible};
use parley_store::records::{MessageRec, UserRec};
use parley_types::api::{MessageSearchHit, MessageSearchResults, Profile, SearchOrder};
use parley_types::protocol::{Message, MessageKind};
use parley_types::{ChatId, UserId};

use crate::error::{CoreError, Result};
use crate::{AuthContext, Core, Inner, convert};

/// Entries per database page while rebuilding or catching up.
const PAGE: usize = 500;
/// Catch-up starts this long before the last commit's newest entry (clock steps, in-flight
/// batches); replays are idempotent, so more is only slower.
const CATCH_UP_MARGIN_MS: i64 = 60_000;

impl From<parley_search::SearchError> for CoreError {
    fn from(e: parley_search::SearchError) -> Self {
        match e {
            parley_search::SearchError::EmptyQuery => CoreError::invalid("type something to search for"),
            other => CoreError::Internal(format!("search: {other}")),
        }
    }
}

pub(crate) fn user_doc(u: &UserRec) -> Op {
    Op::User(UserDoc {
        user_id: u.user_id.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        email: u.email.clone(),
        phone: u.phone.clone(),
        active: !u.disabled,
    })
}

/// Index ops for entries just committed by the writer (only their text is copied).
pub(crate) fn entry_ops<'a>(entries: impl Iterator<Item = &'a Message>) -> Vec<Op> {
    entries
        .filter_map(|m| {
            let chat_id = m.chat_id.to_string();
            match m.kind {
                MessageKind::Text
                | MessageKind::Image
                | MessageKind::Video
                | MessageKind::Audio
                | MessageKind::File
                    if !m.deleted =>
                {
                    Some(Op::Appended(MessageDoc {
                        chat_id,
                        seq: m.seq,
                        sender: m.sender.to_string(),
                        time: m.created_at,
                        text: searchable_text(m.text.as_deref(), m.media.as_ref().map(|x| x.name.as_str())),
                    }))
                }
                MessageKind::Edit => Some(Op::Edit {
                    chat_id,
                    seq: m.target?,
                    text: m.text.clone().unwrap_or_default(),
                    at: m.created_at,
                }),
                MessageKind::Delete => Some(Op::Delete { chat_id, seq: m.target?, at: m.created_at }),
                _ => None,
            }
        })
        .collect()
}

/// What is indexed of a message: its text or caption, and a file's name.
fn searchable_text(text: Option<&str>, file_name: Option<&str>) -> String {
    match (text.unwrap_or_default(), file_name) {
        (t, Some(name)) if !t.is_empty() => format!("{t}\n{name}"),
        (_, Some(name)) => name.to_owned(),
        (t, None) => t.to_owned(),
    }
}

/// The current state of a stored message as an op (replays converge on the database).
fn stored_op(r: &MessageRec) -> Option<Op> {
    if !matches!(r.kind.as_str(), "text" | "image" | "video" | "audio" | "file") {
        return None;
    }
    let file_name = r
        .media
        .as_deref()
        .and_then(|m| serde_json::from_str::<parley_types::protocol::Media>(m).ok())
        .map(|m| m.name);
    let chat_id = r.chat_id.clone();
    let seq = r.seq as u64;
    Some(if r.deleted {
        Op::Delete { chat_id, seq, at: r.created_at }
    } else {
        Op::Message(MessageDoc {
            chat_id,
            seq,
            sender: r.sender.clone(),
            time: r.created_at,
            text: searchable_text(r.text.as_deref(), file_name.as_deref()),
        })
    })
}

impl Inner {
    /// Brings the index up to date with the database: everything when it is new, else the
    /// chats active since its last commit, replayed from each chat's highest indexed seq.
    pub(crate) async fn catch_up_search(&self, opened: Opened) -> Result<(usize, usize)> {
        let (since, full) = match opened {
            Opened::Fresh => (0, true),
            Opened::Existing { through_ms } => ((through_ms - CATCH_UP_MARGIN_MS).max(0), false),
        };
        let mut users = 0;
        let mut after = String::new();
        loop {
            let page = self.store.users_page(&after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.user_id.clone();
            users += page.len();
            self.search.submit(page.iter().map(user_doc).collect());
        }
        let mut entries = 0;
        for chat in self.store.chats_active_since(since).await? {
            let search = self.search.clone();
            let id = chat.chat_id.clone();
            let mut from = if full {
                0
            } else {
                tokio::task::spawn_blocking(move || search.max_seq(&id))
                    .await
                    .map_err(|e| CoreError::Internal(e.to_string()))??
                    .saturating_sub(1) as i64
            };
            // To the end of the log: the stored head may be behind it (`writer::deferred`).
            loop {
                let rows = self.store.messages_after(&chat.chat_id, from, i64::MAX, PAGE).await?;
                let Some(last) = rows.last().map(|r| r.seq) else { break };
                let mut ops = Vec::with_capacity(rows.len());
                for r in &rows {
                    match r.kind.as_str() {
                        "edit" | "delete" => {
                            if let Some(t) = r.target
                                && let Some(target) = self.store.message_at(&r.chat_id, t).await?
                            {
                                ops.extend(stored_op(&target));
                            }
                        }
                        _ => ops.extend(stored_op(r)),
                    }
                }
                entries += rows.len();
                self.search.submit(ops);
                from = last;
            }
        }
        self.search.caught_up();
        Ok((users, entries))
    }

    pub(crate) fn index_user(&self, u: &UserRec) {
        self.search.submit(vec![user_doc(u)]);
    }
}

impl Core {
    /// `GET /api/search/messages`: the caller's chats (or one of them), only messages from
    /// their join onwards.
    pub async fn search_messages(
        &self,
        ctx: &AuthContext,
        text: String,
        chat: Option<ChatId>,
        order: SearchOrder,
        offset: usize,
        limit: usize,
    ) -> Result<MessageSearchResults> {
        let visible: Vec<Visible> = match &chat {
            Some(c) => {
                let state = self.inner.member_state(c, &ctx.user).await?;
                let from = state.member(&ctx.user).map_or(u64::MAX, |m| m.joined_seq);
                vec![Visible { chat_id: c.to_string(), from_seq: from }]
            }
            None => self
                .inner
                .store
                .memberships(ctx.user.as_str())
                .await?
                .into_iter()
                .map(|m| Visible { chat_id: m.chat_id, from_seq: m.joined_seq.max(0) as u64 })
                .collect(),
        };
        let order = match order {
            SearchOrder::Newest => parley_search::Order::Newest,
            SearchOrder::Best => parley_search::Order::Best,
        };
        let q = MessageQuery { text, order, offset: offset.min(10_000), limit };
        let timer = self.inner.metrics.search_query.start_timer();
        let found = match self.blocking_search(move |s| s.messages(&q, &visible)).await {
            // Input with no searchable word ("***", an emoji) simply finds nothing.
            Err(CoreError::InvalidInput(_)) => parley_search::MessageHits { total: 0, hits: Vec::new() },
            other => other?,
        };
        timer.observe_duration();
        let hits = found
            .hits
            .into_iter()
            .filter_map(|h| {
                Some(MessageSearchHit {
                    chat_id: ChatId::parse(&h.chat_id).ok()?,
                    seq: h.seq,
                    sender: UserId::parse(&h.sender).ok()?,
                    created_at: h.time,
                    snippet: h.snippet.text,
                    highlights: h.snippet.highlights.into_iter().map(|(a, b)| [a, b]).collect(),
                })
            })
            .collect();
        Ok(MessageSearchResults { total: found.total, offset, hits })
    }

    /// `GET /api/search/users`: the directory, prefix and typo tolerant, best first.
    pub async fn search_users(&self, _ctx: &AuthContext, text: String, limit: usize) -> Result<Vec<Profile>> {
        let timer = self.inner.metrics.search_query.start_timer();
        let ids = match self.blocking_search(move |s| s.users(&text, limit)).await {
            Err(CoreError::InvalidInput(_)) => Vec::new(),
            other => other?,
        };
        timer.observe_duration();
        let mut recs = self.inner.store.users(&ids).await?;
        recs.retain(|u| !u.disabled);
        let mut out = Vec::with_capacity(recs.len());
        for id in &ids {
            if let Some(u) = recs.iter().find(|u| &u.user_id == id) {
                out.push(convert::profile(u, false)?);
            }
        }
        Ok(out)
    }

    /// Rebuilds the whole index from the database and waits until it is searchable.
    pub async fn reindex(&self) -> Result<(usize, usize)> {
        let counts = self.inner.catch_up_search(Opened::Fresh).await?;
        self.blocking_search(|s| s.flush()).await?;
        Ok(counts)
    }

    /// Waits until the start-up catch-up (a full rebuild for a new index) is done and
    /// searchable.
    pub async fn search_caught_up(&self) -> Result<()> {
        let mut rx = self.inner.search_caught_up.subscribe();
        rx.wait_for(|done| *done).await.map_err(|_| CoreError::Unavailable)?;
        self.flush_search().await
    }

    /// Waits until everything submitted so far is searchable (tests, CLI).
    pub async fn flush_search(&self) -> Result<()> {
        self.blocking_search(|s| s.flush()).await
    }

    async fn blocking_search<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Search) -> parley_search::Result<T> + Send + 'static,
    ) -> Result<T> {
        let search = self.inner.search.clone();
        Ok(tokio::task::spawn_blocking(move || f(&search))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??)
    }
}
