//! The admin console's bodies (`/api/admin/...`, `docs/admin-api.md`).

use serde::{Deserialize, Serialize};

use super::Profile;
use crate::{ChatId, Millis, UserId};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    pub at: Millis,
    /// Who acted (a user ID); absent for the system, the command line or an anonymous client.
    #[serde(default)]
    pub actor: Option<String>,
    /// The actor's current username.
    #[serde(default)]
    pub actor_name: Option<String>,
    /// e.g. `login.failed`, `user.disabled`, `invite.created`.
    pub action: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditPage {
    /// Entries matching the filter, not only this page.
    pub total: u64,
    pub offset: usize,
    pub entries: Vec<AuditEntry>,
}

/// A user as admins see it (`/api/admin/users`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdminUser {
    #[serde(flatten)]
    pub profile: Profile,
    pub disabled: bool,
    pub created_at: Millis,
    #[serde(default)]
    pub last_seen: Option<Millis>,
    /// `local` or `ldap` (directory users log in with their directory password).
    pub source: String,
    #[serde(default)]
    pub unit_id: Option<String>,
    /// Unit names from the root, e.g. `["Engineering", "Backend"]`.
    #[serde(default)]
    pub unit_path: Vec<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub groups: Vec<GroupRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupRef {
    pub group_id: String,
    pub name: String,
}

/// An organizational unit; the console builds the tree from `parent_id`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unit {
    pub unit_id: String,
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    pub path: Vec<String>,
    pub source: String,
    pub user_count: u64,
}

/// A directory group: a set of users that can seed a group chat.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    pub group_id: String,
    pub name: String,
    pub description: String,
    pub source: String,
    pub members: Vec<UserId>,
    #[serde(default)]
    pub chat_id: Option<ChatId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DirectoryView {
    pub units: Vec<Unit>,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateUnitRequest {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenameRequest {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct GroupRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupChat {
    pub chat_id: ChatId,
}

/// The admin's own password, for destructive actions.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Reauth {
    #[serde(default)]
    pub password: Option<String>,
}

/// An invite as the console lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteInfo {
    pub code: String,
    #[serde(default)]
    pub created_at: Option<Millis>,
    pub created_by: String,
    pub expires_at: Millis,
    pub uses_left: u32,
    #[serde(default)]
    pub max_uses: Option<u32>,
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteList {
    pub invites: Vec<InviteInfo>,
}

/// LDAP sync configuration as the console shows it: the bind password is never sent back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LdapConfig {
    pub enabled: bool,
    /// 0 = sync only when asked.
    pub sync_interval_minutes: u32,
    /// The connection settings (see the LDAP section of `docs/admin-api.md`), with
    /// `bind_password_set` in place of the password.
    pub settings: serde_json::Value,
    #[serde(default)]
    pub last_sync: Option<SyncReport>,
}

/// `PUT /api/admin/ldap`: absent fields are kept; so is the bind password unless given.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LdapConfigUpdate {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub sync_interval_minutes: Option<u32>,
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// Needed to turn sync off.
    #[serde(default)]
    pub password: Option<String>,
}

/// What one directory sync did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SyncReport {
    pub started_at: Millis,
    pub finished_at: Millis,
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    pub created: u32,
    pub updated: u32,
    pub disabled: u32,
    pub reenabled: u32,
    pub units: u32,
    pub groups: u32,
    pub skipped: u32,
    pub summary: String,
}

/// One backup archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupInfo {
    pub name: String,
    pub created_at: Millis,
    pub size_bytes: u64,
    /// SHA-256 of the archive file.
    pub sha256: String,
    /// `manual` or `scheduled`.
    pub kind: String,
    pub users: u64,
    pub chats: u64,
    pub messages: u64,
    pub media_files: u64,
    pub schema_version: i64,
    pub parley_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupSchedule {
    pub enabled: bool,
    pub interval_hours: u32,
    pub keep: u32,
    #[serde(default)]
    pub next_at: Option<Millis>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupList {
    pub backups: Vec<BackupInfo>,
    pub schedule: BackupSchedule,
    pub dir: String,
}

/// Settings the console changes at run time (overriding the config file).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuntimeSettings {
    /// `open`, `invite_only` or `closed`.
    pub registration: String,
    pub max_upload_mib: u64,
    pub login_per_account_per_minute: u32,
    pub login_per_ip_per_minute: u32,
    pub ws_frames_per_second: u32,
    /// Delete messages older than this many days; `None` keeps them forever.
    #[serde(default)]
    pub retention_days: Option<u32>,
    pub allowed_origins: Vec<String>,
}

/// `PATCH /api/admin/settings`: any subset.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RuntimeSettingsUpdate {
    #[serde(default)]
    pub registration: Option<String>,
    #[serde(default)]
    pub max_upload_mib: Option<u64>,
    #[serde(default)]
    pub login_per_account_per_minute: Option<u32>,
    #[serde(default)]
    pub login_per_ip_per_minute: Option<u32>,
    #[serde(default)]
    pub ws_frames_per_second: Option<u32>,
    /// Absent: unchanged; `null` or `0`: keep forever; `N`: N days.
    #[serde(default, deserialize_with = "present")]
    pub retention_days: Option<Option<u32>>,
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
}

/// Tells a field that is present (even as `null`) from one that is absent.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdminUserPage {
    pub total: u64,
    pub offset: usize,
    pub users: Vec<AdminUser>,
}

/// `POST /api/admin/users`: without `password`, a temporary one is generated and returned once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminCreateUserRequest {
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub unit_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminCreatedUser {
    pub user: AdminUser,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_password: Option<String>,
}

/// `PATCH /api/admin/users/{user_id}`: absent fields unchanged; `""` clears email or phone.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AdminUpdateUserRequest {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub about: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// `""` takes the user out of their unit.
    #[serde(default)]
    pub unit_id: Option<String>,
    /// `""` clears it.
    #[serde(default)]
    pub title: Option<String>,
}

/// `POST /api/admin/users/{user_id}/reset-password`: shown once to the admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemporaryPassword {
    pub temporary_password: String,
}

/// `GET /api/admin/federation`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederationInfo {
    pub enabled: bool,
    pub server_name: String,
    /// `host:port` peers dial; `None` when federation is off.
    pub address: Option<String>,
    /// SHA-256 of this appliance's federation certificate, 64 hex digits.
    pub fingerprint: Option<String>,
    /// `open` or `closed`: whether peers may look up this appliance's users.
    pub directory: String,
    pub peers: Vec<FederationPeer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederationPeer {
    pub server_name: String,
    pub address: String,
    pub fingerprint: String,
    /// `pinned` or `ca`.
    pub trust: String,
    pub added_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Millis>,
    pub connected: bool,
    #[serde(default)]
    pub rtt_ms: Option<f64>,
    #[serde(default)]
    pub last_delivery_at: Option<Millis>,
    pub queue_depth: u64,
    #[serde(default)]
    pub oldest_undelivered_age_secs: Option<f64>,
    pub frames_in: u64,
    pub frames_out: u64,
    pub cutoffs: u64,
}

/// `POST /api/admin/federation/invites`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateFederationInviteRequest {
    #[serde(default)]
    pub ttl_hours: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederationInvite {
    pub invite: String,
    pub expires_at: Millis,
}

/// `POST /api/admin/federation/peers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptFederationInviteRequest {
    pub invite: String,
}
