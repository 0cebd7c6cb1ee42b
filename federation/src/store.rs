//! What the core provides: durable peer and invite records ([`PeerStore`]), transaction and
//! event deduplication ([`Dedup`]), and the handler of inbound traffic ([`InboundHandler`]).
//! All three are object-safe (`async_trait`) so the core can hand in `Arc<dyn …>`.

use async_trait::async_trait;
use parley_types::{MediaId, ServerName};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;

use crate::error::StoreError;
use crate::ids::{EventId, Fingerprint, PeerId, PublicKey, TxnId};
use crate::invite::{InviteRecord, SecretHash};
use crate::wire::{Ack, Answer, ErrorCode, EventResult, Query, SignedEvent, WireError};

/// How a peer's certificate is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// Its fingerprint was pinned by an invite.
    Pinned,
    /// It chained to the admin-configured CA and its name is on the allow list.
    Ca,
}

/// A peer as stored by the core (serde, so it can go into SurrealDB as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    pub server_name: ServerName,
    pub fingerprint: Fingerprint,
    /// Its event-signing key (from its certificate).
    pub public_key: PublicKey,
    /// Where to reach it, `host:port`.
    pub address: String,
    pub trust: Trust,
    /// Unix seconds.
    pub added_at: u64,
    /// Unix seconds; a revoked record is kept so its certificate stays refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
}

impl PeerRecord {
    pub fn peer_id(&self) -> PeerId {
        PeerId::new(self.server_name.clone())
    }
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// Durable peers and invites, kept by the core (SurrealDB). The crate keeps its own in-memory
/// copy of the pins for the TLS verifiers and writes through this trait.
#[async_trait]
pub trait PeerStore: Send + Sync + 'static {
    /// Every peer, revoked ones included (their certificates stay refused). Read once at start.
    async fn load_peers(&self) -> Result<Vec<PeerRecord>, StoreError>;
    /// Inserts or replaces the record of `peer.server_name`.
    async fn save_peer(&self, peer: &PeerRecord) -> Result<(), StoreError>;
    async fn save_invite(&self, invite: &InviteRecord) -> Result<(), StoreError>;
    /// Removes and returns the invite with this hash, atomically: an invite is usable once even
    /// if two invitees race. Expiry is checked by the crate on what this returns.
    async fn take_invite(&self, hash: &SecretHash) -> Result<Option<InviteRecord>, StoreError>;
}

/// Deduplication for at-least-once delivery. The crate asks before calling the handler and
/// records after it. It is a fast path, not a guarantee: after a crash between the handler and
/// `record_*`, a retried event reaches the handler again, so the core's writes must be
/// idempotent by `event_id` too.
#[async_trait]
pub trait Dedup: Send + Sync + 'static {
    /// The ack already sent for this transaction, if any (a replay gets the same answer).
    async fn txn_ack(&self, peer: &PeerId, txn_id: &TxnId) -> Result<Option<Ack>, StoreError>;
    async fn record_txn(&self, peer: &PeerId, ack: &Ack) -> Result<(), StoreError>;
    /// For each id (same order), the result first given for it, if it was seen.
    async fn seen_events(&self, ids: &[EventId]) -> Result<Vec<Option<EventResult>>, StoreError>;
    /// Called with accepted events only (a rejected event may be sent again and succeed).
    async fn record_events(&self, results: &[(EventId, EventResult)]) -> Result<(), StoreError>;
}

/// A verified transaction as the handler sees it: only events that passed every check and
/// were not seen before.
#[derive(Debug, Clone)]
pub struct InboundTransaction {
    pub txn_id: TxnId,
    pub events: Vec<SignedEvent>,
}

/// Bytes of a media item, streamed to the requesting peer.
pub struct MediaSource {
    pub content_type: String,
    pub length: u64,
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
}

impl std::fmt::Debug for MediaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSource")
            .field("content_type", &self.content_type)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// The core's side of inbound traffic. `peer` always comes from the verified certificate.
#[async_trait]
pub trait InboundHandler: Send + Sync + 'static {
    /// Store/apply the events; return one result per event of `txn.events`, in order (missing
    /// results are reported to the sender as `internal`). A `message_send` accepted by the
    /// chat's home server returns `Accepted { seq: Some(n) }`.
    async fn on_transaction(&self, peer: &PeerId, txn: InboundTransaction) -> Vec<EventResult>;

    /// Answer a query (profile lookup, custom). `ServerKey` never reaches here: the crate
    /// answers it from its pins.
    async fn on_query(&self, peer: &PeerId, query: Query) -> Result<Answer, WireError> {
        let _ = (peer, query);
        Err(WireError::new(ErrorCode::Unsupported, "no queries served"))
    }

    /// Open a media item for streaming to `peer` (check it may see it).
    async fn on_media(&self, peer: &PeerId, media_id: &MediaId) -> Result<MediaSource, WireError> {
        let _ = (peer, media_id);
        Err(WireError::new(ErrorCode::NotFound, "no media served"))
    }
}
