//! The wire format: versioned, length-prefixed JSON frames, one request and one response per
//! QUIC bidirectional stream. See `docs/federation.md` for every frame with examples.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of JSON (the framing of
//! `tokio_util`'s `LengthDelimitedCodec`), read by hand here so that a media response can
//! switch to raw bytes right after its header frame without a codec buffering past it.

use parley_types::{ChatId, MediaId, ServerName, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ids::{EventId, Fingerprint, PublicKey, TxnId};
use crate::invite::InviteSecret;
use crate::signing::Signature;

/// TLS ALPN protocol of this wire format; a new incompatible format gets a new ALPN.
pub const ALPN: &[u8] = b"parley-fed/1";
/// The `v` field of every frame.
pub const WIRE_VERSION: u16 = 1;
/// Largest signed event, measured as its canonical JSON encoding.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Most events in one transaction.
pub const MAX_EVENTS_PER_TXN: usize = 50;
/// Largest frame: a full transaction of maximal events plus envelope.
pub const MAX_FRAME_BYTES: usize = MAX_EVENTS_PER_TXN * MAX_EVENT_BYTES + 256 * 1024;

/// One codes table for error responses and for QUIC `CONNECTION_CLOSE` application codes.
/// Codes 0–14 close the connection (1–13: the peer is cut off); 15 and up are per-request or
/// per-event answers that leave the connection open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Orderly shutdown, no fault.
    Shutdown,
    /// The certificate was revoked by the admin.
    Revoked,
    /// Unpinned certificate that did not (or failed to) run the peering handshake.
    Unpinned,
    /// Unparsable frame or a frame not allowed here.
    Malformed,
    UnsupportedVersion,
    FrameTooLarge,
    EventTooLarge,
    TooManyEvents,
    /// The transaction's `origin` (or an event's) is not the server the certificate names.
    OriginMismatch,
    /// An event acts for a user of another domain.
    ForeignUser,
    /// A relayed event from a server that is not the chat's home server.
    ForbiddenRelay,
    BadSignature,
    /// Kept sending far past the rate limit after being told to slow down.
    RateLimited,
    /// The peering handshake failed (unknown, used or expired secret; name already pinned).
    PeeringFailed,
    /// A newer connection to the same peer replaced this one.
    Superseded,
    // --- soft: the connection stays up ---
    /// Over the rate limit: retry after a short wait.
    SlowDown,
    /// The event's origin key is unknown here (relayed from a server this one never met).
    UnknownOrigin,
    NotFound,
    Forbidden,
    NotMember,
    UnknownChat,
    /// The content is invalid for the core (not a transport fault).
    Invalid,
    /// The receiver could not process it now (storage busy): retry.
    TryLater,
    Internal,
    /// Request kind this server does not know (newer peer).
    Unsupported,
}

impl ErrorCode {
    const ALL: [ErrorCode; 25] = [
        Self::Shutdown,
        Self::Revoked,
        Self::Unpinned,
        Self::Malformed,
        Self::UnsupportedVersion,
        Self::FrameTooLarge,
        Self::EventTooLarge,
        Self::TooManyEvents,
        Self::OriginMismatch,
        Self::ForeignUser,
        Self::ForbiddenRelay,
        Self::BadSignature,
        Self::RateLimited,
        Self::PeeringFailed,
        Self::Superseded,
        Self::SlowDown,
        Self::UnknownOrigin,
        Self::NotFound,
        Self::Forbidden,
        Self::NotMember,
        Self::UnknownChat,
        Self::Invalid,
        Self::TryLater,
        Self::Internal,
        Self::Unsupported,
    ];

    /// The QUIC application error code (the position in the table above, from 0).
    pub fn as_u32(self) -> u32 {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0) as u32
    }
    pub fn from_u32(n: u32) -> Option<Self> {
        Self::ALL.get(n as usize).copied()
    }
    /// Whether resending the same content later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Shutdown
                | Self::Superseded
                | Self::SlowDown
                | Self::RateLimited
                | Self::UnknownOrigin
                | Self::TryLater
                | Self::Internal
        )
    }
}

/// An error answer to a request: `{"type":"error","code":"bad_signature","message":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// An event as its origin server created it. `chat_id` and `sender` sit outside `content` so
/// the transport can check who may speak for whom without knowing the event kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: EventId,
    pub origin: ServerName,
    /// Milliseconds since the Unix epoch, origin's clock.
    pub origin_ts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<ChatId>,
    /// The user acting; must belong to `origin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<UserId>,
    pub content: EventContent,
}

/// What happened. Bodies the core owns (message content, profile fields) are opaque JSON here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventContent {
    /// A remote member's message, sent to the chat's home server to be sequenced. The home
    /// server's ack carries the sequence number (`accepted.seq`).
    MessageSend { message_id: parley_types::MessageId, body: Value },
    /// The home server's fan-out of message number `seq`: the original signed `message_send`
    /// (from whichever server its sender lives on), relayed unchanged.
    MessageSequenced { seq: u64, message: Box<SignedEvent> },
    /// A membership change, decided by the chat's home server (or asked of it by a member's
    /// server). `seq` orders it among the chat's messages when the home server sends it.
    Membership {
        target: UserId,
        membership: Membership,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// `sender`'s delivered/read high-water marks in `chat_id`.
    Receipt {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivered_seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        read_seq: Option<u64>,
    },
    /// `sender` started or stopped typing in `chat_id`.
    Typing { typing: bool },
    /// `sender`'s presence (no chat: sent to each server that shares a chat with the user).
    Presence {
        presence: PresenceState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_active_ts: Option<u64>,
    },
    /// Room for the core to add kinds without a change here; receivers that do not know a
    /// `custom_kind` reject that event with `unsupported`.
    Custom { custom_kind: String, body: Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    Invited,
    Joined,
    Left,
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    Online,
    Away,
    Offline,
}

/// An event with its origin's signature over the canonical encoding of `event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedEvent {
    pub event: Event,
    pub signature: Signature,
}

/// A batch of events from one server to one peer, acknowledged as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub txn_id: TxnId,
    /// The sender; must equal the server named by its certificate.
    pub origin: ServerName,
    pub events: Vec<SignedEvent>,
}

impl Transaction {
    pub fn new(origin: ServerName, events: Vec<SignedEvent>) -> Self {
        Self { txn_id: TxnId::generate(), origin, events }
    }
}

/// The receiver's answer to a transaction: one result per event, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub txn_id: TxnId,
    pub results: Vec<EventAck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventAck {
    pub event_id: EventId,
    pub result: EventResult,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventResult {
    /// Stored. `seq` is set when the receiver sequenced it (a `message_send` at the home server).
    Accepted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Seen before (another transaction carried it); `seq` as first acknowledged.
    Duplicate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    Rejected {
        code: ErrorCode,
        reason: String,
    },
}

impl EventResult {
    pub fn accepted() -> Self {
        Self::Accepted { seq: None }
    }
    pub fn rejected(code: ErrorCode, reason: impl Into<String>) -> Self {
        Self::Rejected { code, reason: reason.into() }
    }
    /// Done with this event: drop it from the outbox (accepted, duplicate, or refused for good).
    pub fn is_final(&self) -> bool {
        match self {
            Self::Accepted { .. } | Self::Duplicate { .. } => true,
            Self::Rejected { code, .. } => !code.is_retryable(),
        }
    }
}

/// A question that needs an answer (no state change on the receiver).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "snake_case")]
pub enum Query {
    /// Look up `name@domain` on its home server, subject to its directory policy.
    Profile {
        user: UserId,
    },
    /// Ask a peer for the signing key it pinned for a third server (to verify relayed events).
    ServerKey {
        server_name: ServerName,
    },
    Custom {
        custom_kind: String,
        body: Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    Profile {
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        avatar: Option<MediaId>,
        /// Other profile fields the core chooses to share.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        extra: Value,
    },
    ServerKey {
        server_name: ServerName,
        public_key: PublicKey,
        fingerprint: Fingerprint,
    },
    Custom {
        body: Value,
    },
}

/// The first frame on a stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// From an invitee on a not-yet-pinned connection: proves the invite secret. `address` is
    /// where the inviter can reach the invitee (host:port) for its own sends.
    Peering {
        secret: InviteSecret,
        address: String,
    },
    Transaction(Transaction),
    Query(Query),
    /// Answered by a `media` header frame and then `length` raw bytes on the same stream.
    MediaFetch {
        media_id: MediaId,
    },
}

/// The answer frame on a stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    Peered { server_name: ServerName },
    Ack(Ack),
    Answer(Answer),
    Media { content_type: String, length: u64 },
    Error(WireError),
}

/// `{"v":1, …}`: the version travels in every frame so either side can refuse a newer one.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Frame<T> {
    pub v: u16,
    #[serde(flatten)]
    pub body: T,
}

#[derive(Deserialize)]
struct VersionProbe {
    v: u16,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("frame of {0} bytes is over the {MAX_FRAME_BYTES}-byte cap")]
    TooLarge(usize),
    #[error("stream ended")]
    Closed,
    #[error("io: {0}")]
    Io(String),
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("frame version {0} is not supported")]
    Version(u16),
}

impl FrameError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge(_) => ErrorCode::FrameTooLarge,
            Self::Version(_) => ErrorCode::UnsupportedVersion,
            Self::Closed | Self::Io(_) | Self::Malformed(_) => ErrorCode::Malformed,
        }
    }
}

pub(crate) fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    // Serializing our own types to JSON cannot fail (string keys only, no non-finite floats
    // are constructed by the crate).
    serde_json::to_vec(&Frame { v: WIRE_VERSION, body }).expect("frame serializes")
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, FrameError> {
    let probe: VersionProbe =
        serde_json::from_slice(bytes).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if probe.v != WIRE_VERSION {
        return Err(FrameError::Version(probe.v));
    }
    let frame: Frame<T> = serde_json::from_slice(bytes).map_err(|e| FrameError::Malformed(e.to_string()))?;
    Ok(frame.body)
}

pub(crate) async fn write_raw<W: AsyncWrite + Unpin>(w: &mut W, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(|_| std::io::Error::other("frame over 4 GiB"))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(payload).await
}

pub(crate) async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    body: &T,
) -> std::io::Result<()> {
    write_raw(w, &encode(body)).await
}

/// Reads one frame, refusing a declared length over `max` before reading its body.
pub(crate) async fn read_frame_bytes<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(FrameError::Io(e.to_string())),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(FrameError::TooLarge(len));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await.map_err(|e| FrameError::Io(e.to_string()))?;
    Ok(buf)
}

pub(crate) async fn read_frame<R: AsyncRead + Unpin, T: for<'de> Deserialize<'de>>(
    r: &mut R,
    max: usize,
) -> Result<T, FrameError> {
    decode(&read_frame_bytes(r, max).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_u32() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_u32(c.as_u32()), Some(c));
        }
        assert_eq!(ErrorCode::Revoked.as_u32(), 1);
        assert_eq!(ErrorCode::Superseded.as_u32(), 14);
        assert_eq!(ErrorCode::SlowDown.as_u32(), 15);
    }

    #[test]
    fn frames_carry_their_version_and_refuse_others() {
        let req = Request::Query(Query::ServerKey { server_name: ServerName::parse("c.test").unwrap() });
        let bytes = encode(&req);
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains(r#""v":1"#), "{text}");
        assert!(text.contains(r#""type":"query""#), "{text}");
        assert!(matches!(decode::<Request>(&bytes).unwrap(), Request::Query(Query::ServerKey { .. })));
        let newer = text.replace(r#""v":1"#, r#""v":2"#);
        assert!(matches!(decode::<Request>(newer.as_bytes()), Err(FrameError::Version(2))));
        assert!(matches!(decode::<Request>(b"{\"v\":1,\"type\":\"nope\"}"), Err(FrameError::Malformed(_))));
    }

    #[tokio::test]
    async fn oversized_frames_are_refused_before_reading_them() {
        let mut bytes = ((MAX_FRAME_BYTES + 1) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let err = read_frame_bytes(&mut bytes.as_slice(), MAX_FRAME_BYTES).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLarge(_)));
    }
}
