//! What appliances say to each other about chats, as the core defines it: the home server's
//! `chat_entry` (an entry with, on membership changes, a snapshot of the chat) and a member
//! server's request (`FedOp`, the body of a `message_send`). `docs/federation.md` shows them.

use serde::{Deserialize, Serialize};

use parley_federation::SignedEvent;
use parley_types::api::{ChatKind, Role};
use parley_types::protocol::{Media, Message};
use parley_types::{ChatId, Seq, UserId};

use crate::error::{CoreError, Result};
use crate::writer::Op;

/// `custom_kind` of a home server's entry for member servers.
pub(crate) const ENTRY_KIND: &str = "chat_entry";

/// An entry of a chat, as its home server sends it to member servers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChatEntry {
    pub message: Message,
    /// The chat as it is after this entry: on every membership or group change, and on every
    /// entry of a 1:1 chat (so a server new to the chat learns what it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<ChatSnapshot>,
    /// The member server's signed request that produced the entry, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Box<SignedEvent>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChatSnapshot {
    pub kind: ChatKind,
    pub name: String,
    pub description: String,
    pub created_by: UserId,
    pub created_at: i64,
    pub members: Vec<SnapMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SnapMember {
    pub user_id: UserId,
    pub role: Role,
    pub joined_seq: Seq,
}

/// A member server's request to a chat's home server (the `body` of a `message_send`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum FedOp {
    Send {
        client_id: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<Seq>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media: Option<Media>,
    },
    Edit {
        target: Seq,
        text: String,
    },
    Delete {
        target: Seq,
    },
    AddMember {
        user: UserId,
    },
    RemoveMember {
        user: UserId,
    },
    Leave,
    SetRole {
        user: UserId,
        admin: bool,
    },
    UpdateGroup {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
}

impl FedOp {
    /// The writer operation for `actor` (a remote member) on `chat`.
    pub(crate) fn into_op(self, chat: ChatId, actor: UserId) -> Op {
        match self {
            FedOp::Send { client_id, text, reply_to, media } => {
                Op::Send { chat, sender: actor, client_id, text, reply_to, media }
            }
            FedOp::Edit { target, text } => Op::Edit { chat, actor, target, text },
            FedOp::Delete { target } => Op::Delete { chat, actor, target },
            FedOp::AddMember { user } => Op::AddMember { chat, actor, user },
            FedOp::RemoveMember { user } => Op::RemoveMember { chat, actor, user },
            FedOp::Leave => Op::Leave { chat, user: actor },
            FedOp::SetRole { user, admin } => Op::SetRole { chat, actor, user, admin },
            FedOp::UpdateGroup { name, description } => Op::UpdateGroup { chat, actor, name, description },
        }
    }

    /// The request to send the home server for a local operation on a remote chat:
    /// (chat, actor, request).
    pub(super) fn from_op(op: Op) -> Result<(ChatId, UserId, FedOp)> {
        Ok(match op {
            Op::Send { chat, sender, client_id, text, reply_to, media } => {
                (chat, sender, FedOp::Send { client_id, text, reply_to, media })
            }
            Op::Edit { chat, actor, target, text } => (chat, actor, FedOp::Edit { target, text }),
            Op::Delete { chat, actor, target } => (chat, actor, FedOp::Delete { target }),
            Op::AddMember { chat, actor, user } => (chat, actor, FedOp::AddMember { user }),
            Op::RemoveMember { chat, actor, user } => (chat, actor, FedOp::RemoveMember { user }),
            Op::Leave { chat, user } => (chat, user, FedOp::Leave),
            Op::SetRole { chat, actor, user, admin } => (chat, actor, FedOp::SetRole { user, admin }),
            Op::UpdateGroup { chat, actor, name, description } => {
                (chat, actor, FedOp::UpdateGroup { name, description })
            }
            other => return Err(CoreError::Internal(format!("not a remote operation: {other:?}"))),
        })
    }
}
