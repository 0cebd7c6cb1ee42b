//! The core's error type. Each variant has a stable [`ErrorCode`]; the server maps codes to
//! HTTP statuses and protocol error frames.

use parley_store::StoreError;
use parley_types::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("this session has been signed out")]
    SessionRevoked,
    #[error("wrong login or password")]
    InvalidCredentials,
    #[error("this account is disabled; ask an administrator")]
    AccountDisabled,
    #[error("{0}")]
    Forbidden(String),
    #[error("you are not a member of this chat")]
    NotMember,
    #[error("only group admins can do this")]
    NotAdmin,
    #[error("a group needs an admin: promote another member first")]
    LastAdmin,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("that {0} is already taken")]
    Taken(&'static str),
    #[error("{0}")]
    RegistrationClosed(String),
    #[error("the invite is unknown, expired or used up")]
    InviteInvalid,
    #[error("the refresh token is invalid, expired or already used; log in again")]
    InvalidRefreshToken,
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    InvalidMedia(String),
    #[error("the server is shutting down")]
    Unavailable,
    #[error("enter your password again to confirm this action")]
    ReauthRequired,
    #[error("directory: {0}")]
    Directory(#[from] parley_ldap::Error),
    #[error("{0}")]
    BackupInvalid(String),
    #[error("federation: {0}")]
    Federation(String),
    #[error("storage failure")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::InvalidInput,
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::SessionRevoked => ErrorCode::SessionRevoked,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::AccountDisabled => ErrorCode::AccountDisabled,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotMember => ErrorCode::NotMember,
            Self::NotAdmin => ErrorCode::NotAdmin,
            Self::LastAdmin => ErrorCode::LastAdmin,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Taken("email") => ErrorCode::EmailTaken,
            Self::Taken("phone") => ErrorCode::PhoneTaken,
            Self::Taken(_) => ErrorCode::UsernameTaken,
            Self::RegistrationClosed(_) => ErrorCode::RegistrationClosed,
            Self::InviteInvalid => ErrorCode::InviteInvalid,
            Self::InvalidRefreshToken => ErrorCode::InvalidRefreshToken,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            Self::InvalidMedia(_) => ErrorCode::InvalidMedia,
            Self::Unavailable => ErrorCode::Unavailable,
            Self::ReauthRequired => ErrorCode::ReauthRequired,
            Self::Directory(parley_ldap::Error::Config(_)) => ErrorCode::InvalidInput,
            Self::Directory(_) => ErrorCode::DirectoryError,
            Self::BackupInvalid(_) => ErrorCode::BackupInvalid,
            Self::Federation(_) => ErrorCode::FederationError,
            Self::Store(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidInput(msg.into())
    }
}

/// Maps a store uniqueness conflict on a login name to the matching "taken" error.
pub(crate) fn taken(e: StoreError) -> CoreError {
    match e {
        StoreError::Conflict(k) if k == "email" => CoreError::Taken("email"),
        StoreError::Conflict(k) if k == "phone" => CoreError::Taken("phone"),
        StoreError::Conflict(k) if k == "username" => CoreError::Taken("username"),
        other => CoreError::Store(other),
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
