//! The connection manager: the [`Federation`] handle the core holds. One QUIC endpoint serves
//! inbound connections and makes outbound ones; each peer has at most one connection in use
//! (the newest), reused for every request, a stream per request.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use parley_types::{MediaId, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{Semaphore, broadcast};

use crate::backoff::PeerWatch;
use crate::error::{FederationError, Result};
use crate::identity::Identity;
use crate::ids::{Fingerprint, PeerId, PublicKey};
use crate::invite::{Invite, unix_now};
use crate::outbound::{conn_error, peer_certificate, read_response, request};
use crate::peers::{Link, PeerTable};
use crate::store::{Dedup, InboundHandler, PeerRecord, PeerStore, Trust};
use crate::tls::{self, CaTrust, CaVerifiers, Expect};
use crate::wire::{
    self, Ack, Answer, ErrorCode, MAX_EVENT_BYTES, MAX_EVENTS_PER_TXN, Query, Request, Response, Transaction,
};

/// Tunables; [`FederationConfig::default`] suits production, tests shorten the timers.
#[derive(Debug, Clone)]
pub struct FederationConfig {
    /// `host:port` peers use to reach this server (goes into invites and peering requests);
    /// `None`: the bound socket address (tests).
    pub public_address: Option<String>,
    pub keep_alive: Duration,
    /// A connection silent this long (keep-alives included) is dropped; it is re-made on the
    /// next send.
    pub idle_timeout: Duration,
    pub connect_timeout: Duration,
    /// Limit for one request: sending it and reading the answer.
    pub request_timeout: Duration,
    /// Time an unpinned connection gets to complete the peering handshake.
    pub peering_timeout: Duration,
    /// Inbound requests per second per peer, and the burst allowed above it.
    pub rate_per_sec: f64,
    pub rate_burst: f64,
    pub max_concurrent_streams: u32,
    /// Unpinned connections (invitees) handled at once; more are refused.
    pub max_unpinned_connections: usize,
    pub max_media_bytes: u64,
    /// Optional CA trust (peers without invite).
    pub ca: Option<CaTrust>,
    /// Port assumed for CA-trusted peers first reached by name.
    pub default_port: u16,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            public_address: None,
            keep_alive: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            peering_timeout: Duration::from_secs(10),
            rate_per_sec: 200.0,
            rate_burst: 400.0,
            max_concurrent_streams: 64,
            max_unpinned_connections: 16,
            max_media_bytes: 100 * 1024 * 1024,
            ca: None,
            default_port: 8448,
        }
    }
}

/// Something the console or the outbox may want to react to.
#[derive(Debug, Clone)]
pub enum PeerEvent {
    /// A connection to the peer is up (and there was none): flush its outbox now.
    Connected(PeerId),
    Disconnected {
        peer: PeerId,
        reason: String,
    },
    /// A new peer was pinned (by either side of an invite, or by CA trust).
    Peered(PeerRecord),
    Revoked(PeerId),
    /// The peer broke a rule and its connection was closed.
    CutOff {
        peer: PeerId,
        code: ErrorCode,
        reason: String,
    },
}

/// Per-peer numbers for the console and Prometheus (the core exports them).
#[derive(Debug, Clone)]
pub struct PeerStats {
    pub peer: PeerId,
    pub address: String,
    pub fingerprint: Fingerprint,
    pub trust: Trust,
    pub revoked: bool,
    pub connected: bool,
    /// Live connections (1 normally; 2 briefly after a simultaneous connect).
    pub connections: usize,
    /// Smoothed RTT of the connection in use, from quinn.
    pub rtt: Option<Duration>,
    /// Last transaction this server sent and the peer acknowledged.
    pub last_delivery: Option<SystemTime>,
    pub frames_in: u64,
    pub frames_out: u64,
    pub cutoffs: u64,
}

pub(crate) struct Inner {
    pub identity: Identity,
    pub config: FederationConfig,
    pub endpoint: quinn::Endpoint,
    pub table: Arc<RwLock<PeerTable>>,
    pub ca: Option<Arc<CaVerifiers>>,
    pub transport: Arc<quinn::TransportConfig>,
    pub links: Mutex<HashMap<PeerId, Arc<Link>>>,
    pub store: Arc<dyn PeerStore>,
    pub dedup: Arc<dyn Dedup>,
    pub handler: Arc<dyn InboundHandler>,
    pub events: broadcast::Sender<PeerEvent>,
    pub unpinned: Arc<Semaphore>,
    pub public_address: String,
}

/// The handle the core holds (cheap to clone). See the crate docs for how it plugs in.
#[derive(Clone)]
pub struct Federation {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("server_name", self.inner.identity.server_name())
            .field("local_addr", &self.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// A media item being received: `length` bytes to read from `reader`.
pub struct MediaDownload {
    pub content_type: String,
    pub length: u64,
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
}

impl std::fmt::Debug for MediaDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaDownload")
            .field("content_type", &self.content_type)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl Federation {
    /// Starts federation on an already-bound UDP socket: loads the peers from `store`, then
    /// accepts connections until [`Federation::shutdown`].
    pub async fn start(
        socket: UdpSocket,
        identity: Identity,
        config: FederationConfig,
        store: Arc<dyn PeerStore>,
        dedup: Arc<dyn Dedup>,
        handler: Arc<dyn InboundHandler>,
    ) -> Result<Self> {
        let mut table = PeerTable::default();
        for r in store.load_peers().await? {
            table.insert(r);
        }
        let table = Arc::new(RwLock::new(table));
        let ca = match &config.ca {
            Some(ca) => Some(Arc::new(CaVerifiers::new(ca, &tls::provider())?)),
            None => None,
        };
        let mut transport = quinn::TransportConfig::default();
        transport
            .keep_alive_interval(Some(config.keep_alive))
            .max_idle_timeout(Some(
                quinn::IdleTimeout::try_from(config.idle_timeout)
                    .map_err(|e| FederationError::Connect(format!("idle timeout: {e}")))?,
            ))
            .max_concurrent_bidi_streams(config.max_concurrent_streams.into())
            // Every exchange is request/response on a bidi stream.
            .max_concurrent_uni_streams(0u32.into());
        let transport = Arc::new(transport);
        let server = tls::server_config(&identity, table.clone(), ca.clone(), transport.clone())?;
        let local = socket.local_addr()?;
        socket.set_nonblocking(true)?;
        let endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(server),
            socket,
            Arc::new(quinn::TokioRuntime),
        )?;
        let public_address = config.public_address.clone().unwrap_or_else(|| local.to_string());
        let inner = Arc::new(Inner {
            identity,
            unpinned: Arc::new(Semaphore::new(config.max_unpinned_connections)),
            config,
            endpoint,
            table,
            ca,
            transport,
            links: Mutex::new(HashMap::new()),
            store,
            dedup,
            handler,
            events: broadcast::channel(256).0,
            public_address,
        });
        tokio::spawn(crate::inbound::accept_loop(inner.clone()));
        Ok(Self { inner })
    }

    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }
    /// The `host:port` peers dial (what invites carry).
    pub fn public_address(&self) -> &str {
        &self.inner.public_address
    }
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.inner.endpoint.local_addr()?)
    }
    /// Console and outbox notifications.
    pub fn subscribe(&self) -> broadcast::Receiver<PeerEvent> {
        self.inner.events.subscribe()
    }
    /// Fires whenever a connection to `peer` comes up: pass it to [`crate::Backoff::wait`].
    pub fn watch_peer(&self, peer: &PeerId) -> PeerWatch {
        PeerWatch(self.inner.link(peer).generation.subscribe())
    }

    /// Active and revoked peers.
    pub fn peers(&self) -> Vec<PeerRecord> {
        self.inner.table.read().records.values().cloned().collect()
    }

    /// Creates a one-time invite valid for `ttl` and stores its hash; show `invite.encode()`
    /// to the admin.
    pub async fn create_invite(&self, ttl: Duration) -> Result<Invite> {
        let (invite, record) = Invite::create(&self.inner.identity, &self.inner.public_address, ttl)?;
        self.inner.store.save_invite(&record).await?;
        Ok(invite)
    }

    /// Peers with the server that issued `invite`: connects (pinning its fingerprint), proves
    /// the secret, and pins the inviter. The connection stays up for later traffic.
    pub async fn accept_invite(&self, invite: &str) -> Result<PeerRecord> {
        let invite = Invite::parse(invite, unix_now())?;
        let inner = &self.inner;
        if &invite.server_name == inner.identity.server_name() {
            return Err(FederationError::PeeringRefused("the invite is from this server".into()));
        }
        if inner.table.read().active(&invite.server_name).is_some() {
            return Err(FederationError::PeeringRefused(format!("{} is already a peer", invite.server_name)));
        }
        let conn = inner
            .connect_to(&invite.address, Expect::Pinned(invite.fingerprint), &invite.server_name)
            .await?;
        // The verifier checked the fingerprint; the name comes from that same certificate.
        let (fingerprint, info) = peer_certificate(&conn)?;
        if !info.dns_names.iter().any(|n| n == invite.server_name.as_str()) {
            conn.close(
                ErrorCode::PeeringFailed.as_u32().into(),
                b"certificate does not name the invite's server",
            );
            return Err(FederationError::Certificate(format!(
                "certificate does not name {}",
                invite.server_name
            )));
        }
        let public_key = info
            .public_key
            .ok_or_else(|| FederationError::Certificate("peer key is not ECDSA P-256".into()))?;
        let req = Request::Peering { secret: invite.secret.clone(), address: inner.public_address.clone() };
        match request(&conn, &req, inner.config.request_timeout).await {
            Ok(Response::Peered { server_name }) if server_name == invite.server_name => {}
            Ok(Response::Error(e)) => return Err(FederationError::PeeringRefused(e.message)),
            Err(FederationError::ClosedByPeer { reason, .. }) => {
                return Err(FederationError::PeeringRefused(reason));
            }
            Ok(other) => {
                return Err(FederationError::Frame(format!("unexpected answer to peering: {other:?}")));
            }
            Err(e) => return Err(e),
        }
        let record = PeerRecord {
            server_name: invite.server_name.clone(),
            fingerprint,
            public_key,
            address: invite.address.clone(),
            trust: Trust::Pinned,
            added_at: unix_now(),
            revoked_at: None,
        };
        inner.add_peer(record.clone()).await?;
        inner.register(record.peer_id(), conn, true);
        Ok(record)
    }

    /// Pins a peer directly (an admin who exchanged fingerprints out of band; tests).
    pub async fn pin_peer(&self, record: PeerRecord) -> Result<()> {
        self.inner.add_peer(record).await
    }

    /// Remembers the signing key of a server this one does not peer with, learned from a
    /// chat's home server (see [`Federation::query`] with [`Query::ServerKey`]), so events it
    /// relays from that server verify. The core persists these and re-adds them at start.
    pub fn learn_origin_key(&self, server: ServerName, key: PublicKey) {
        self.inner.table.write().learned_keys.insert(server, key);
    }

    /// Revokes a peer at once: its connections close, its certificate is refused from now on,
    /// and nothing more is sent to it.
    pub async fn revoke(&self, peer: &PeerId) -> Result<()> {
        let inner = &self.inner;
        let record = {
            let mut table = inner.table.write();
            let mut record = table
                .records
                .get(peer.server_name())
                .cloned()
                .ok_or_else(|| FederationError::NotPeered(peer.to_string()))?;
            record.revoked_at.get_or_insert(unix_now());
            table.insert(record.clone());
            record
        };
        inner.link(peer).close_all(ErrorCode::Revoked.as_u32(), b"revoked");
        tracing::warn!(%peer, "federation peer revoked");
        let _ = inner.events.send(PeerEvent::Revoked(peer.clone()));
        inner.store.save_peer(&record).await?;
        Ok(())
    }

    /// Sends a transaction and waits for its ack. Reuses the peer's connection, making one if
    /// needed. At-least-once: on error the core keeps the events and retries (same or new
    /// `txn_id`; receivers deduplicate both transactions and events).
    pub async fn send_transaction(&self, peer: &PeerId, txn: &Transaction) -> Result<Ack> {
        if txn.events.len() > MAX_EVENTS_PER_TXN {
            return Err(FederationError::Caps(format!(
                "{} events, cap {MAX_EVENTS_PER_TXN}",
                txn.events.len()
            )));
        }
        if let Some(e) = txn.events.iter().find(|e| e.encoded_len() > MAX_EVENT_BYTES) {
            return Err(FederationError::Caps(format!(
                "event {} over {MAX_EVENT_BYTES} bytes",
                e.event.event_id
            )));
        }
        let req = Request::Transaction(txn.clone());
        match self.inner.call(peer, &req).await? {
            Response::Ack(ack) if ack.txn_id == txn.txn_id && ack.results.len() == txn.events.len() => {
                *self.inner.link(peer).last_delivery.lock() = Some(SystemTime::now());
                Ok(ack)
            }
            Response::Error(e) => Err(FederationError::Remote(e)),
            other => Err(FederationError::Frame(format!("unexpected answer to a transaction: {other:?}"))),
        }
    }

    /// Asks `peer` a question (profile lookup, a third server's key, custom).
    pub async fn query(&self, peer: &PeerId, query: Query) -> Result<Answer> {
        match self.inner.call(peer, &Request::Query(query)).await? {
            Response::Answer(a) => Ok(a),
            Response::Error(e) => Err(FederationError::Remote(e)),
            other => Err(FederationError::Frame(format!("unexpected answer to a query: {other:?}"))),
        }
    }

    /// Fetches a media item from `peer`, streamed on its own QUIC stream.
    pub async fn fetch_media(&self, peer: &PeerId, media_id: &MediaId) -> Result<MediaDownload> {
        let inner = &self.inner;
        let conn = inner.connection(peer).await?;
        let link = inner.link(peer);
        let (mut send, mut recv) = conn.open_bi().await.map_err(conn_error)?;
        let req = Request::MediaFetch { media_id: media_id.clone() };
        let head = tokio::time::timeout(inner.config.request_timeout, async {
            wire::write_frame(&mut send, &req).await.map_err(|e| FederationError::Stream(e.to_string()))?;
            let _ = send.finish();
            link.frames_out.fetch_add(1, Ordering::Relaxed);
            read_response(&conn, &mut recv).await
        })
        .await
        .map_err(|_| FederationError::Timeout)??;
        link.frames_in.fetch_add(1, Ordering::Relaxed);
        match head {
            Response::Media { content_type, length } if length <= inner.config.max_media_bytes => {
                Ok(MediaDownload { content_type, length, reader: Box::new(recv.take(length)) })
            }
            Response::Media { length, .. } => Err(FederationError::Caps(format!("media of {length} bytes"))),
            Response::Error(e) => Err(FederationError::Remote(e)),
            other => Err(FederationError::Frame(format!("unexpected answer to a media fetch: {other:?}"))),
        }
    }

    /// Connects to every active peer in the background, so peers learn at once that this
    /// server is back and flush their outboxes (call once at start).
    pub fn announce(&self) {
        let peers: Vec<PeerId> = self
            .inner
            .table
            .read()
            .records
            .values()
            .filter(|r| !r.is_revoked())
            .map(|r| r.peer_id())
            .collect();
        for peer in peers {
            let inner = self.inner.clone();
            tokio::spawn(async move {
                if let Err(e) = inner.connection(&peer).await {
                    tracing::debug!(%peer, error = %e, "announce: peer unreachable");
                }
            });
        }
    }

    pub fn stats(&self) -> Vec<PeerStats> {
        let records: Vec<PeerRecord> = self.inner.table.read().records.values().cloned().collect();
        records
            .into_iter()
            .map(|r| {
                let peer = r.peer_id();
                let link = self.inner.link(&peer);
                let conn = link.current();
                PeerStats {
                    address: r.address.clone(),
                    fingerprint: r.fingerprint,
                    trust: r.trust,
                    revoked: r.is_revoked(),
                    connected: conn.is_some(),
                    connections: link.live_connections(),
                    rtt: conn.map(|c| c.rtt()),
                    last_delivery: *link.last_delivery.lock(),
                    frames_in: link.frames_in.load(Ordering::Relaxed),
                    frames_out: link.frames_out.load(Ordering::Relaxed),
                    cutoffs: link.cutoffs.load(Ordering::Relaxed),
                    peer,
                }
            })
            .collect()
    }

    /// Closes every connection and the endpoint, and waits until the peers were told.
    pub async fn shutdown(&self) {
        self.inner.endpoint.close(ErrorCode::Shutdown.as_u32().into(), b"shutdown");
        let _ = tokio::time::timeout(Duration::from_secs(2), self.inner.endpoint.wait_idle()).await;
    }
}
