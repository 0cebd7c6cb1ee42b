//! Server-to-server federation over mutual-TLS QUIC: peer identity and trust, transport, the
//! wire format and event signatures. It knows nothing of chats; `core` drives it. Protocol
//! reference (frames, event kinds, codes): `docs/federation.md`.
//!
//! # How the core plugs in
//!
//! The core **implements three traits** and **holds one handle**:
//!
//! - [`PeerStore`]: durable peers and invite hashes (SurrealDB). Read once at start
//!   ([`PeerStore::load_peers`]); written when a peer is pinned or revoked and when an invite is
//!   created or used ([`PeerStore::take_invite`] must remove atomically: invites are one-time).
//! - [`Dedup`]: transaction acks and event results already given, so a replay reaches the core
//!   at most once per (peer, transaction) and per event.
//! - [`InboundHandler`]: receives verified, deduplicated events
//!   ([`InboundHandler::on_transaction`], one [`EventResult`] per event), queries
//!   ([`InboundHandler::on_query`]) and media requests ([`InboundHandler::on_media`]).
//!
//! ```text
//! let identity = Identity::load_or_generate(&data_dir, &server_name)?;      // 0600 files
//! let socket = std::net::UdpSocket::bind(config.federation.listen)?;
//! let fed = Federation::start(socket, identity, FederationConfig { public_address, .. },
//!                             store, dedup, handler).await?;
//! fed.announce();                                   // peers flush their outboxes to us now
//! // console: fed.create_invite(ttl) -> show invite.encode(); fed.accept_invite(&pasted);
//! //          fed.peers(), fed.stats(), fed.revoke(&peer)
//! // outbox, per destination:
//! let txn = Transaction::new(me.clone(), events);   // events: Event::new(..).sign(fed.identity())
//! match fed.send_transaction(&peer, &txn).await {
//!     Ok(ack) => { /* drop events whose result is_final(), keep the others */ backoff.reset() }
//!     Err(e) if e.is_retryable() => { backoff.wait(&mut fed.watch_peer(&peer)).await; }
//!     Err(e) => { /* refused for good: log, surface on the console */ }
//! }
//! // shutdown: fed.shutdown().await
//! ```
//!
//! What stays in the core: the chat's home server sequencing messages and owning membership,
//! the durable outbox per destination (never dropping events), retries paced by [`Backoff`],
//! checking that the users inside event bodies may act in the chat (membership), directory
//! policy for profile lookups, and turning [`PeerStats`] into Prometheus metrics.
//!
//! # What this crate guarantees
//!
//! - A peer's identity comes only from its verified certificate (fingerprint → [`PeerRecord`]
//!   → `server_name`); frames that claim otherwise cut the connection.
//! - A peer speaks only for users of its own `server_name`, except a chat's home server
//!   relaying events signed by their origin servers; every event's signature is checked
//!   against its origin's key.
//! - Caps (64 KiB per event, 50 events per transaction, [`wire::MAX_FRAME_BYTES`] per frame),
//!   a per-peer rate limit, and the [`ErrorCode`] a peer is cut off with, logged with a reason.
//!
//! Layout: `identity` (key, certificate), `invite`, `tls` (verifiers), `wire` (frames, events),
//! `signing`, `rules` (checks on inbound transactions), `manager` (the [`Federation`] handle),
//! `peers` (pin table, per-peer state), `outbound` (connecting, requests), `inbound`
//! (accepting and serving), `store` (the core's traits), `backoff`, and `testing` (feature
//! `testing`: raw frames for rogue-peer tests).

mod backoff;
mod error;
mod identity;
mod ids;
mod inbound;
mod invite;
mod manager;
mod outbound;
mod peers;
mod rules;
mod signing;
mod store;
#[cfg(feature = "testing")]
mod testing;
mod tls;
pub mod wire;

pub use backoff::{Backoff, PeerWatch, Wake};
pub use error::{FederationError, InviteError, Result, StoreError};
pub use identity::Identity;
pub use ids::{EventId, FedIdError, Fingerprint, PeerId, PublicKey, TxnId};
pub use invite::{INVITE_PREFIX, INVITE_VERSION, Invite, InviteRecord, InviteSecret, SecretHash};
pub use manager::{Federation, FederationConfig, MediaDownload, PeerEvent, PeerStats};
pub use parley_types::ServerName;
pub use signing::{Signature, canonical_json};
pub use store::{Dedup, InboundHandler, InboundTransaction, MediaSource, PeerRecord, PeerStore, Trust};
pub use tls::CaTrust;
pub use wire::{
    ALPN, Ack, Answer, ErrorCode, Event, EventAck, EventContent, EventResult, Membership, PresenceState,
    Query, SignedEvent, Transaction, WireError,
};

/// Re-exported so implementors of the traits need no direct dependency.
pub use async_trait::async_trait;
