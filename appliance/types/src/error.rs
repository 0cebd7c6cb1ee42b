//! Stable error codes: the contract with clients. The server maps each to an HTTP status and
//! sends the same code in protocol `error` frames; the text is for humans and may change.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or a parameter failed validation.
    InvalidInput,
    /// No valid access token, or it expired.
    Unauthenticated,
    /// The session was revoked (logout, password change, account disabled).
    SessionRevoked,
    /// Wrong login or password.
    InvalidCredentials,
    /// The account is disabled by an administrator.
    AccountDisabled,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// Not a member of that chat (or it does not exist, which we do not distinguish).
    NotMember,
    /// Only group admins may do this.
    NotAdmin,
    /// The last admin cannot leave or be demoted.
    LastAdmin,
    NotFound,
    UsernameTaken,
    EmailTaken,
    PhoneTaken,
    /// Registration is closed or needs an invite.
    RegistrationClosed,
    InviteInvalid,
    /// The refresh token is unknown, expired or was already used.
    InvalidRefreshToken,
    RateLimited,
    PayloadTooLarge,
    /// The uploader's storage quota would be exceeded.
    QuotaExceeded,
    /// An upload that claims to be an image but cannot be decoded safely.
    InvalidMedia,
    /// A frame that is not valid JSON or not a known frame type.
    MalformedFrame,
    /// The origin of a WebSocket upgrade is not allowed.
    OriginNotAllowed,
    /// A conflicting state change (e.g. 1:1 chat with yourself).
    Conflict,
    /// A destructive admin action needs the admin's password again, and it was missing or wrong.
    ReauthRequired,
    /// The LDAP directory could not be reached or refused us (the message says why).
    DirectoryError,
    /// Another appliance could not be reached or refused the request (the message says why).
    FederationError,
    /// A backup archive is corrupt, truncated or from an incompatible build.
    BackupInvalid,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::Unauthenticated => "unauthenticated",
            Self::SessionRevoked => "session_revoked",
            Self::InvalidCredentials => "invalid_credentials",
            Self::AccountDisabled => "account_disabled",
            Self::Forbidden => "forbidden",
            Self::NotMember => "not_member",
            Self::NotAdmin => "not_admin",
            Self::LastAdmin => "last_admin",
            Self::NotFound => "not_found",
            Self::UsernameTaken => "username_taken",
            Self::EmailTaken => "email_taken",
            Self::PhoneTaken => "phone_taken",
            Self::RegistrationClosed => "registration_closed",
            Self::InviteInvalid => "invite_invalid",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::RateLimited => "rate_limited",
            Self::PayloadTooLarge => "payload_too_large",
            Self::QuotaExceeded => "quota_exceeded",
            Self::InvalidMedia => "invalid_media",
            Self::MalformedFrame => "malformed_frame",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::Conflict => "conflict",
            Self::ReauthRequired => "reauth_required",
            Self::DirectoryError => "directory_error",
            Self::FederationError => "federation_error",
            Self::BackupInvalid => "backup_invalid",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// The one JSON error shape of the REST API: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}
