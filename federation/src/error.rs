//! The crate's error type. Wire-level refusals carry an [`ErrorCode`] so the core can tell "the
//! peer cut us off for breaking a rule" from "the network failed" (retry later).

use std::io;

use crate::wire::ErrorCode;

/// Everything that can go wrong in federation.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("identity: {0}")]
    Identity(String),
    #[error("io: {0}")]
    Io(#[from] io::Error),
    #[error("invalid invite: {0}")]
    Invite(#[from] InviteError),
    #[error("invite refused by the inviter: {0}")]
    PeeringRefused(String),
    #[error("unknown or revoked peer {0}")]
    NotPeered(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("connection lost: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("connection closed by peer with {code:?}: {reason}")]
    ClosedByPeer { code: ErrorCode, reason: String },
    #[error("stream: {0}")]
    Stream(String),
    #[error("timed out")]
    Timeout,
    #[error("frame: {0}")]
    Frame(String),
    #[error("over a cap: {0}")]
    Caps(String),
    #[error("peer answered with an error: {0}")]
    Remote(crate::wire::WireError),
    #[error("signature: {0}")]
    Signature(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("address {0:?} does not resolve")]
    Address(String),
}

impl FederationError {
    /// True when sending again later may succeed (network trouble, a busy peer); false when the
    /// peer or this crate refused the content itself, so retrying the same bytes is pointless.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Io(_)
            | Self::Connect(_)
            | Self::Connection(_)
            | Self::Stream(_)
            | Self::Timeout
            | Self::Address(_)
            | Self::Store(_) => true,
            Self::ClosedByPeer { code, .. } => code.is_retryable(),
            Self::Remote(e) => e.code.is_retryable(),
            _ => false,
        }
    }
}

/// Why an invite string is unusable. Each variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("an invite starts with `parley-fed:`")]
    Prefix,
    #[error("the invite is not valid base64url")]
    Base64,
    #[error("the invite is not valid JSON: {0}")]
    Json(String),
    #[error("invite version {0} is not supported (this server reads version 1)")]
    Version(u32),
    #[error("server_name is not a valid domain")]
    ServerName,
    #[error("address must be host:port")]
    Address,
    #[error("fingerprint must be 64 hex digits (SHA-256)")]
    Fingerprint,
    #[error("secret must be 32 bytes of base64url")]
    Secret,
    #[error("the invite expired")]
    Expired,
}

/// A failure reported by the core's storage (SurrealDB in the appliance).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl StoreError {
    pub fn new(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

pub type Result<T, E = FederationError> = std::result::Result<T, E>;
