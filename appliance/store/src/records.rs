//! Stored document shapes. IDs are kept as their string forms here; `core` converts to the
//! typed IDs of `parley-types` (they were validated before they were written).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
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
    /// `local` (absent) or `ldap`: directory users log in by binding to the directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The directory's stable key for the entry (its unique ID, else its DN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Closed for good by an admin: kept so the messages it sent keep a sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

impl UserRec {
    pub fn is_ldap(&self) -> bool {
        self.source.as_deref() == Some("ldap")
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted == Some(true)
    }
}

/// An organizational unit (a node of the directory tree).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnitRec {
    pub unit_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// `local` or `ldap`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap_key: Option<String>,
}

/// A directory group: a named set of users that can seed a group chat.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupRec {
    pub group_id: String,
    pub name: String,
    pub description: String,
    /// `local` or `ldap`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap_key: Option<String>,
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
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
    /// `sender|chat|client_id`.
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

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct InviteRec {
    pub code: String,
    pub created_by: String,
    pub expires_at: i64,
    pub uses_left: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<i64>,
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
