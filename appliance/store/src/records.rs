//! Stored document shapes. IDs are kept as their string forms here; `core` converts to the
//! typed IDs of `parley-types` (they were validated before they were written).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRec {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub about: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// PHC string (argon2id); absent for accounts that log in elsewhere (LDAP, later).
    #[serde(default)]
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    pub last_seen_visibility: String,
    #[serde(default)]
    pub last_seen: Option<i64>,
    pub created_at: i64,
    /// Profile picture (a media ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRec {
    pub session_id: String,
    pub user_id: String,
    /// SHA-256 of the current refresh token secret.
    pub refresh_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatRec {
    pub chat_id: String,
    /// `direct` or `group`.
    pub kind: String,
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_seq: i64,
    pub last_activity: i64,
    /// Group picture (a media ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRec {
    pub chat_id: String,
    pub user_id: String,
    /// `admin` or `member`.
    pub role: String,
    pub active: bool,
    pub joined_at: i64,
    /// First seq this member may see.
    pub joined_seq: i64,
    #[serde(default)]
    pub left_seq: Option<i64>,
    pub delivered_seq: i64,
    pub delivered_at: i64,
    pub read_seq: i64,
    pub read_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageRec {
    pub message_id: String,
    pub chat_id: String,
    pub seq: i64,
    pub sender: String,
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub reply_to: Option<i64>,
    #[serde(default)]
    pub target: Option<i64>,
    /// JSON of a system event.
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    pub created_at: i64,
    #[serde(default)]
    pub edited_at: Option<i64>,
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// JSON of the message's media description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdemRec {
    /// `sender|client_id`.
    pub key: String,
    pub message_id: String,
    pub chat_id: String,
    pub seq: i64,
}

/// The earliest time each member's mark reached a seq.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptTime {
    pub user_id: String,
    pub kind: String,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactRec {
    pub owner: String,
    pub contact: String,
    pub added_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteRec {
    pub code: String,
    pub created_by: String,
    pub expires_at: i64,
    pub uses_left: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaRec {
    pub media_id: String,
    /// Hex SHA-256 of the bytes: the blob's name on disk.
    pub sha256: String,
    pub size: i64,
    pub mime: String,
    /// `image`, `video`, `audio` or `file`.
    pub kind: String,
    pub name: String,
    pub uploader: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_sha: Option<String>,
    pub created_at: i64,
    pub refs: i64,
    pub released: bool,
    pub public: bool,
}

/// One audit log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRec {
    pub at: i64,
    /// The user who acted; absent for the system, the CLI or an anonymous client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// JSON object with action-specific details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}
