//! The cached view of each chat's kind, active members and last seq, used for every
//! authorization check on the hot path. Only the writer replaces an entry after a commit;
//! readers fill a missing entry from the database and never overwrite (see `Inner::chat_state`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};

use parley_types::api::{ChatKind, Role};
use parley_types::{Seq, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInfo {
    pub role: Role,
    /// First seq this member may see.
    pub joined_seq: Seq,
}

#[derive(Debug)]
pub struct ChatState {
    pub kind: ChatKind,
    /// Active members only.
    pub members: HashMap<UserId, MemberInfo>,
    /// Shared across versions of the entry; advanced by the writer after each commit.
    pub last_seq: Arc<AtomicU64>,
    /// The `last_activity` the chat record holds on disk (heads are written behind the log,
    /// see `writer::deferred`); shared across versions like `last_seq`.
    pub stored_activity: Arc<AtomicI64>,
}

impl ChatState {
    pub fn member(&self, user: &UserId) -> Option<&MemberInfo> {
        self.members.get(user)
    }
    pub fn member_ids(&self) -> Vec<UserId> {
        self.members.keys().cloned().collect()
    }
}
