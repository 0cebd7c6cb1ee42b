//! The real-time protocol, version 1: JSON text frames, one object per frame, tagged by
//! `type`. Documented in `docs/protocol.md`. Transport-agnostic: the same frames run over a
//! WebSocket message or a length-delimited WebTransport stream.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::ChatSummary;
use crate::{ChatId, ErrorCode, MediaId, MessageId, Millis, Seq, SessionId, UserId};

pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Must be the first frame on a connection.
    Auth {
        token: String,
    },
    /// Send a message; answered by `ack` (or `error` with the same `client_id` as `ref`).
    Send {
        chat_id: ChatId,
        client_id: String,
        #[serde(default)]
        text: String,
        #[serde(default)]
        reply_to: Option<Seq>,
        /// Send an upload as an image, video, audio or file; `text` is then its caption.
        #[serde(default)]
        media_id: Option<MediaId>,
    },
    Edit {
        chat_id: ChatId,
        seq: Seq,
        text: String,
    },
    Delete {
        chat_id: ChatId,
        seq: Seq,
    },
    /// This device has received everything up to `seq` in the chat.
    Received {
        chat_id: ChatId,
        seq: Seq,
    },
    /// The user has read everything up to `seq` in the chat.
    Read {
        chat_id: ChatId,
        seq: Seq,
    },
    Typing {
        chat_id: ChatId,
        active: bool,
    },
    /// Catch up: for each chat, the last seq this device holds. Chats not listed resume from
    /// what no device of the user has received yet.
    Sync {
        #[serde(default)]
        cursors: BTreeMap<ChatId, Seq>,
    },
    /// Follow these users' presence (replaces the previous subscription).
    SubscribePresence {
        user_ids: Vec<UserId>,
    },
    Ping {
        #[serde(default)]
        nonce: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    /// A membership or group change, rendered by the client from `event`.
    System,
    /// Replaces the text of message `target`.
    Edit,
    /// Deletes message `target` for everyone.
    Delete,
    /// `media` is an image; `text` its caption.
    Image,
    Video,
    Audio,
    /// Any other file (`media.name`, `media.size`, `media.mime`).
    File,
}

impl MessageKind {
    /// Whether this kind carries `media`.
    pub fn is_media(self) -> bool {
        matches!(self, Self::Image | Self::Video | Self::Audio | Self::File)
    }
}

/// What a media message or profile picture points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    pub media_id: MediaId,
    /// `image`, `video`, `audio` or `file`: how clients show it.
    pub kind: MessageKind,
    /// Detected from the bytes, never taken from the uploader.
    pub mime: String,
    pub size: u64,
    /// The sanitised original file name.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// BlurHash placeholder for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// Whether `/api/media/{id}/thumbnail` exists.
    pub thumbnail: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SystemEvent {
    Created { by: UserId, name: String },
    MemberAdded { by: UserId, user_id: UserId },
    MemberRemoved { by: UserId, user_id: UserId },
    MemberLeft { user_id: UserId },
    AdminPromoted { by: UserId, user_id: UserId },
    AdminDemoted { by: UserId, user_id: UserId },
    Renamed { by: UserId, name: String },
    DescriptionChanged { by: UserId, description: String },
}

/// One entry in a chat's ordered log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub seq: Seq,
    pub sender: UserId,
    pub kind: MessageKind,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Seq>,
    /// For `edit` and `delete`: the seq of the message changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Seq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<SystemEvent>,
    /// The sender's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub created_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Millis>,
    #[serde(default)]
    pub deleted: bool,
    /// For image, video, audio and file messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptState {
    Sent,
    Delivered,
    Read,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Delivered,
    Read,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Ready {
        protocol: u32,
        user_id: UserId,
        session_id: SessionId,
        server_time: Millis,
    },
    /// The message is durable; `client_id` echoes the send.
    Ack {
        client_id: String,
        message: Message,
    },
    /// A message (new, or replayed by a sync) for this device.
    Message {
        message: Message,
    },
    /// Everything the sync asked for has been sent.
    SyncDone {
        chats: u32,
        messages: u64,
    },
    /// A member's delivered/read high-water mark moved.
    Receipt {
        chat_id: ChatId,
        user_id: UserId,
        kind: ReceiptKind,
        seq: Seq,
        at: Millis,
    },
    Typing {
        chat_id: ChatId,
        user_id: UserId,
        active: bool,
        /// The indicator disappears after this long unless repeated.
        expires_in_ms: u64,
    },
    Presence {
        user_id: UserId,
        online: bool,
        /// Absent when the user hides it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seen: Option<Millis>,
    },
    /// A chat the user belongs to was created or changed.
    Chat {
        chat: Box<ChatSummary>,
    },
    /// The user is no longer a member of this chat.
    ChatRemoved {
        chat_id: ChatId,
    },
    Error {
        /// The `client_id` of the send this answers, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<String>,
        code: ErrorCode,
        message: String,
    },
    Pong {
        #[serde(default)]
        nonce: Option<u64>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_by_type() {
        let f: ClientFrame = serde_json::from_str(
            r#"{"type":"send","chat_id":"01HZ0000000000000000000000@example.org","client_id":"k1","text":"hi"}"#,
        )
        .unwrap();
        assert!(matches!(f, ClientFrame::Send { .. }));
        let e = ServerFrame::Error { r#ref: None, code: ErrorCode::MalformedFrame, message: "x".into() };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(s, r#"{"type":"error","code":"malformed_frame","message":"x"}"#);
    }
}
