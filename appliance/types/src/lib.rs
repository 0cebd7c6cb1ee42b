//! Parley's vocabulary: typed identifiers, the transport-free error codes, and the wire shapes
//! (REST bodies and real-time frames) shared by the server, the clients and the tests.
//!
//! Invariant: no I/O and no framework types here. Anything that parses user input into an ID
//! does it once, at the edge, through these types (`#[serde(try_from = "String")]`).

pub mod api;
mod error;
mod ids;
pub mod protocol;

pub use error::{ErrorBody, ErrorCode};
pub use ids::{ChatId, IdError, MediaId, MessageId, ServerName, SessionId, UserId, Username};

/// Milliseconds since the Unix epoch, the only timestamp format on the wire and in storage.
pub type Millis = i64;

/// Per-chat message sequence number; the first message of a chat is 1.
pub type Seq = u64;

/// Current wall-clock time in [`Millis`].
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}
