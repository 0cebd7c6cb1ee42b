//! Full-text search with Tantivy: the user directory and messages. The database stays the
//! source of truth; this index is derived from it and can always be rebuilt.
//!
//! One indexer thread owns both `IndexWriter`s. Changes arrive as [`Op`]s from the core's
//! write path and are committed together every [`COMMIT_EVERY`] (never per document), so a new
//! message is searchable within about a second. Each commit records in its payload the newest
//! entry time it covers; on start the core replays from the database what came after it.
//!
//! Privacy is part of the query, not a filter on results: message queries carry the caller's
//! visible chat ranges and Tantivy only ever scores documents inside them, so counts and pages
//! are right.

mod index;
mod query;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

pub use index::Opened;

/// How often pending changes are committed.
pub const COMMIT_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the search query is empty")]
    EmptyQuery,
    #[error("the search indexer has stopped")]
    Stopped,
}

pub type Result<T> = std::result::Result<T, SearchError>;

/// A chat message as indexed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDoc {
    pub chat_id: String,
    pub seq: u64,
    pub sender: String,
    /// Creation time, ms since the epoch.
    pub time: i64,
    pub text: String,
}

/// A user as indexed for the directory.
#[derive(Debug, Clone, PartialEq)]
pub struct UserDoc {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Disabled accounts stay indexed but never match.
    pub active: bool,
}

/// One change to the index.
#[derive(Debug, Clone)]
pub enum Op {
    /// A new message, or the current state of one (replays are idempotent).
    Message(MessageDoc),
    /// A message the chat log has just committed. Indexed without first deleting an older
    /// copy (a tenth of the indexer's work) once [`Search::caught_up`] says that nothing else
    /// indexes new messages; until then, and while the same message waits for the next commit,
    /// as `Message`.
    Appended(MessageDoc),
    /// New text for an indexed message; `at` is the edit's time.
    Edit {
        chat_id: String,
        seq: u64,
        text: String,
        at: i64,
    },
    /// A message deleted for everyone; `at` is the deletion's time.
    Delete {
        chat_id: String,
        seq: u64,
        at: i64,
    },
    User(UserDoc),
}

/// Where a user may see hits: messages of `chat_id` with `seq >= from_seq`.
#[derive(Debug, Clone)]
pub struct Visible {
    pub chat_id: String,
    pub from_seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    Newest,
    Best,
}

#[derive(Debug, Clone)]
pub struct MessageQuery {
    pub text: String,
    pub order: Order,
    pub offset: usize,
    pub limit: usize,
}

/// A highlighted excerpt: `text` with byte ranges to emphasise (no HTML, so clients cannot be
/// tricked into rendering markup from a message).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageHit {
    pub chat_id: String,
    pub seq: u64,
    pub sender: String,
    pub time: i64,
    pub snippet: Snippet,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageHits {
    /// Every match the caller may see, not just this page.
    pub total: usize,
    pub hits: Vec<MessageHit>,
}

enum Cmd {
    Ops(Vec<Op>),
    CaughtUp,
    Flush(mpsc::Sender<Result<()>>),
    Stop,
}

/// The search service; cheap to clone.
#[derive(Clone)]
pub struct Search {
    shared: Arc<index::Shared>,
    tx: mpsc::Sender<Cmd>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search").finish_non_exhaustive()
    }
}

impl Search {
    /// Opens the index in `dir` (created when missing; wiped and recreated when unreadable)
    /// and starts the indexer thread. [`Opened`] tells the caller whether to rebuild.
    pub fn open(dir: &Path) -> Result<(Self, Opened)> {
        let (shared, writers, opened) = index::open(dir)?;
        let shared = Arc::new(shared);
        let (tx, rx) = mpsc::channel();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("parley-indexer".into())
            .spawn(move || index::run(&s, writers, &rx))?;
        Ok((Self { shared, tx, thread: Arc::new(Mutex::new(Some(thread))) }, opened))
    }

    /// Removes the index in `dir` (for `parley search reindex`).
    pub fn wipe(dir: &Path) -> Result<()> {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The index directory under a data dir.
    pub fn dir_in(data_dir: &Path) -> PathBuf {
        data_dir.join("search")
    }

    /// Queues changes; they become searchable at the next commit.
    pub fn submit(&self, ops: Vec<Op>) {
        if !ops.is_empty() {
            let _ = self.tx.send(Cmd::Ops(ops));
        }
    }

    /// Catch-up from the database is over: from here on only the writers submit new messages,
    /// each once, so `Op::Appended` needs no delete. Ops queued before this still get one.
    pub fn caught_up(&self) {
        let _ = self.tx.send(Cmd::CaughtUp);
    }

    /// Commits everything queued so far and waits until it is searchable (blocking).
    pub fn flush(&self) -> Result<()> {
        let (tx, rx) = mpsc::channel();
        self.tx.send(Cmd::Flush(tx)).map_err(|_| SearchError::Stopped)?;
        rx.recv().map_err(|_| SearchError::Stopped)?
    }

    /// Commits what is queued and stops the indexer (blocking).
    pub fn shutdown(&self) {
        let _ = self.tx.send(Cmd::Stop);
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }

    /// Messages matching `q` among those `visible` to the caller (blocking).
    pub fn messages(&self, q: &MessageQuery, visible: &[Visible]) -> Result<MessageHits> {
        query::messages(&self.shared, q, visible)
    }

    /// User IDs matching `q` (prefix and typo tolerant), best first (blocking).
    pub fn users(&self, q: &str, limit: usize) -> Result<Vec<String>> {
        query::users(&self.shared, q, limit)
    }

    /// The highest indexed seq of a chat (0 if none), for catching up after a restart.
    pub fn max_seq(&self, chat_id: &str) -> Result<u64> {
        query::max_seq(&self.shared, chat_id)
    }

    /// Whether the index can be searched (for readiness).
    pub fn usable(&self) -> bool {
        !self.shared.stopped.load(std::sync::atomic::Ordering::Relaxed)
    }
}
