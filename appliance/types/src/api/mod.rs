//! REST request and response bodies (`/api/...`). Field names are the JSON names. The admin
//! console's (`/api/admin/...`, `docs/admin-api.md`) are in `admin`, re-exported here.

mod admin;

pub use admin::*;

use serde::{Deserialize, Serialize};

use crate::{ChatId, MediaId, Millis, Seq, SessionId, UserId};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Required when the registration policy is `invite_only`.
    #[serde(default)]
    pub invite: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Username, email address or phone number.
    pub login: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Issued on register, login and refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: every refresh returns a new one and retires this one.
    pub refresh_token: String,
    pub session_id: SessionId,
    pub user: Profile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Everyone,
    Contacts,
    Nobody,
}

/// A user's profile. `email` and `phone` are shown only to the user themself and to admins.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub about: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone: Option<String>,
    pub is_admin: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_seen_visibility: Option<Visibility>,
    /// Profile picture (an image; show `/api/media/{avatar}/thumbnail`).
    #[serde(default)]
    pub avatar: Option<MediaId>,
}

/// `PATCH /api/me`: absent fields are left unchanged; an empty email or phone clears it.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UpdateProfileRequest {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub about: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub last_seen_visibility: Option<Visibility>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contact {
    pub profile: Profile,
    /// True when added explicitly; false when only known from a 1:1 chat.
    pub added: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    Direct,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub user_id: UserId,
    pub role: Role,
    pub joined_at: Millis,
}

/// A chat as the requesting user sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatSummary {
    pub chat_id: ChatId,
    pub kind: ChatKind,
    /// Group name; for a 1:1 chat, the other user's display name.
    pub name: String,
    pub description: String,
    /// For 1:1 chats: the other user.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peer: Option<UserId>,
    pub members: Vec<Member>,
    pub last_seq: Seq,
    pub last_message: Option<crate::protocol::Message>,
    pub last_activity: Millis,
    pub unread: u64,
    /// Highest seq every *other* member has received / read: ticks for my own messages.
    pub others_delivered_seq: Seq,
    pub others_read_seq: Seq,
    pub my_read_seq: Seq,
    pub created_at: Millis,
    /// Group picture; for a 1:1 chat, the other user's profile picture.
    #[serde(default)]
    pub avatar: Option<MediaId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateDirectRequest {
    pub user_id: UserId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateGroupRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub members: Vec<UserId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UpdateGroupRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddMemberRequest {
    pub user_id: UserId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendMessageRequest {
    /// Idempotency key chosen by the client (1-64 chars): a resend returns the same message.
    pub client_id: String,
    /// The text, or the caption of `media` (may be empty then).
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub reply_to: Option<Seq>,
    /// An upload of the sender's (`POST /api/media`) to send as an image, video, audio or file.
    #[serde(default)]
    pub media_id: Option<MediaId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditMessageRequest {
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarkReadRequest {
    pub seq: Seq,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryPage {
    /// Newest first.
    pub messages: Vec<crate::protocol::Message>,
    /// Pass as `before` to get the next (older) page; absent at the start of the history.
    pub next_before: Option<Seq>,
}

/// Per-member delivery state of one message (`GET .../messages/{seq}/info`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageInfo {
    pub chat_id: ChatId,
    pub seq: Seq,
    pub members: Vec<MemberReceipt>,
    /// `sent`, `delivered` or `read`: the minimum over the members other than the sender.
    pub state: crate::protocol::ReceiptState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberReceipt {
    pub user_id: UserId,
    pub delivered_at: Option<Millis>,
    pub read_at: Option<Millis>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateInviteRequest {
    /// Hours until the invite expires (default 72).
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
    #[serde(default)]
    pub max_uses: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invite {
    pub code: String,
    pub expires_at: Millis,
    pub uses_left: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

/// Order of message search results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchOrder {
    #[default]
    Newest,
    Best,
}

/// One message search hit. `snippet` is plain text; `highlights` are byte ranges in it to
/// emphasise (clients render them as marks, never as HTML).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageSearchHit {
    pub chat_id: ChatId,
    pub seq: Seq,
    pub sender: UserId,
    pub created_at: Millis,
    pub snippet: String,
    pub highlights: Vec<[usize; 2]>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageSearchResults {
    /// All matches the caller may see (for pagination), not only this page.
    pub total: usize,
    pub offset: usize,
    pub hits: Vec<MessageSearchHit>,
}

/// `PUT /api/me/avatar`, `PUT /api/chats/{chat_id}/avatar`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetAvatarRequest {
    pub media_id: MediaId,
}
