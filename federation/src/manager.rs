//! The connection manager: the [`Federation`] handle the core holds. One QUIC endpoint serves
//! inbound connections and makes outbound ones; each peer has at most one connection in use
//! (the newest), reused for every request, a stream per request.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Mutex, RwLock};
use parley_types::{MediaId, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{Semaphore, broadcast, watch};

use crate::backoff::PeerWatch;
use crate::error::{FederationError, Result};
use crate::identity::{Identity, inspect_certificate};
use crate::ids::{Fingerprint, PeerId, PublicKey};
use crate::invite::{Invite, unix_now};
use crate::store::{Dedup, InboundHandler, PeerRecord, PeerStore, Trust};
use crate::tls::{self, CaTrust, CaVerifiers, Expect};
use crate::wire::{
    self, Ack, Answer, ErrorCode, MAX_EVENT_BYTES, MAX_EVENTS_PER_TXN, MAX_FRAME_BYTES, Query, Request,
    Response, Transaction,
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
    /// Smoothed RTT of the connection in use, from quinn.
    pub rtt: Option<Duration>,
    /// Last transaction this server sent and the peer acknowledged.
    pub last_delivery: Option<SystemTime>,
    pub frames_in: u64,
    pub frames_out: u64,
    pub cutoffs: u64,
}

/// The pins the TLS verifiers consult (in memory; the core's store is the durable copy).
#[derive(Debug, Default)]
pub(crate) struct PeerTable {
    records: HashMap<ServerName, PeerRecord>,
    by_fp: HashMap<Fingerprint, ServerName>,
    revoked: HashSet<Fingerprint>,
    learned_keys: HashMap<ServerName, PublicKey>,
}

impl PeerTable {
    pub fn is_revoked(&self, fp: &Fingerprint) -> bool {
        self.revoked.contains(fp)
    }
    pub fn by_fingerprint(&self, fp: &Fingerprint) -> Option<&PeerRecord> {
        self.by_fp.get(fp).and_then(|n| self.records.get(n))
    }
    pub fn active(&self, name: &ServerName) -> Option<&PeerRecord> {
        self.records.get(name).filter(|r| !r.is_revoked())
    }
    pub fn insert(&mut self, r: PeerRecord) {
        if r.is_revoked() {
            self.revoked.insert(r.fingerprint);
            self.by_fp.remove(&r.fingerprint);
        } else {
            if let Some(old) = self.records.get(&r.server_name) {
                self.by_fp.remove(&old.fingerprint);
            }
            self.by_fp.insert(r.fingerprint, r.server_name.clone());
        }
        self.records.insert(r.server_name.clone(), r);
    }
    fn key_of(&self, name: &ServerName) -> Option<PublicKey> {
        self.active(name).map(|r| r.public_key.clone()).or_else(|| self.learned_keys.get(name).cloned())
    }
}

/// A peer's live state.
#[derive(Debug)]
pub(crate) struct Link {
    /// Live connections, newest last; the newest carries outbound requests.
    conns: Mutex<Vec<quinn::Connection>>,
    connecting: tokio::sync::Mutex<()>,
    generation: watch::Sender<u64>,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub cutoffs: AtomicU64,
    last_delivery: Mutex<Option<SystemTime>>,
    bucket: Mutex<Bucket>,
    pub in_flight: Mutex<HashSet<crate::ids::TxnId>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Outcome of asking the rate limiter.
pub(crate) enum Admit {
    Yes,
    SlowDown,
    CutOff,
}

impl Link {
    fn new(burst: f64) -> Self {
        Self {
            conns: Mutex::new(Vec::new()),
            connecting: tokio::sync::Mutex::new(()),
            generation: watch::channel(0).0,
            frames_in: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            cutoffs: AtomicU64::new(0),
            last_delivery: Mutex::new(None),
            bucket: Mutex::new(Bucket { tokens: burst, at: Instant::now() }),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    fn current(&self) -> Option<quinn::Connection> {
        let mut conns = self.conns.lock();
        conns.retain(|c| c.close_reason().is_none());
        conns.last().cloned()
    }

    /// Token bucket. A peer told to slow down that keeps going until it owes a whole burst
    /// is cut off.
    pub fn admit(&self, rate: f64, burst: f64) -> Admit {
        let mut b = self.bucket.lock();
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            Admit::Yes
        } else if b.tokens > -burst {
            Admit::SlowDown
        } else {
            Admit::CutOff
        }
    }
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
        inner.register(record.peer_id(), conn);
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
        let link = inner.link(peer);
        for c in link.conns.lock().drain(..) {
            c.close(ErrorCode::Revoked.as_u32().into(), b"revoked");
        }
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

impl Inner {
    pub(crate) fn link(&self, peer: &PeerId) -> Arc<Link> {
        self.links
            .lock()
            .entry(peer.clone())
            .or_insert_with(|| Arc::new(Link::new(self.config.rate_burst)))
            .clone()
    }

    pub(crate) fn key_of(&self, name: &ServerName) -> Option<PublicKey> {
        if name == self.identity.server_name() {
            return Some(self.identity.public_key().clone());
        }
        self.table.read().key_of(name)
    }

    pub(crate) fn active_peer(&self, name: &ServerName) -> Option<PeerRecord> {
        self.table.read().active(name).cloned()
    }

    pub(crate) fn peer_by_fingerprint(&self, fp: &Fingerprint) -> Option<PeerRecord> {
        self.table.read().by_fingerprint(fp).cloned()
    }

    pub(crate) async fn add_peer(&self, record: PeerRecord) -> Result<()> {
        self.store.save_peer(&record).await?;
        self.table.write().insert(record.clone());
        tracing::info!(peer = %record.server_name, fingerprint = %record.fingerprint, "federation peer pinned");
        let _ = self.events.send(PeerEvent::Peered(record));
        Ok(())
    }

    /// Makes `conn` the peer's connection in use and serves its inbound streams.
    pub(crate) fn register(self: &Arc<Self>, peer: PeerId, conn: quinn::Connection) {
        let link = self.link(&peer);
        let was_down = {
            let mut conns = link.conns.lock();
            conns.retain(|c| c.close_reason().is_none());
            let was_down = conns.is_empty();
            conns.push(conn.clone());
            was_down
        };
        link.generation.send_modify(|g| *g += 1);
        if was_down {
            tracing::info!(%peer, "federation peer connected");
            let _ = self.events.send(PeerEvent::Connected(peer.clone()));
        }
        tokio::spawn(crate::inbound::serve_connection(self.clone(), peer, conn, link));
    }

    pub(crate) fn connection_closed(
        &self,
        peer: &PeerId,
        link: &Link,
        conn: &quinn::Connection,
        reason: String,
    ) {
        let now_down = {
            let mut conns = link.conns.lock();
            conns.retain(|c| c.stable_id() != conn.stable_id() && c.close_reason().is_none());
            conns.is_empty()
        };
        if now_down {
            tracing::info!(%peer, %reason, "federation peer disconnected");
            let _ = self.events.send(PeerEvent::Disconnected { peer: peer.clone(), reason });
        }
    }

    pub(crate) fn cut_off(&self, peer: &PeerId, conn: &quinn::Connection, code: ErrorCode, reason: &str) {
        tracing::warn!(%peer, ?code, reason, "federation peer cut off");
        self.link(peer).cutoffs.fetch_add(1, Ordering::Relaxed);
        conn.close(code.as_u32().into(), reason.as_bytes());
        let _ = self.events.send(PeerEvent::CutOff { peer: peer.clone(), code, reason: reason.to_owned() });
    }

    async fn connect_to(
        &self,
        address: &str,
        expect: Expect,
        server_name: &ServerName,
    ) -> Result<quinn::Connection> {
        let addr = tokio::net::lookup_host(address)
            .await
            .map_err(|_| FederationError::Address(address.to_owned()))?
            .next()
            .ok_or_else(|| FederationError::Address(address.to_owned()))?;
        let config = tls::client_config(
            &self.identity,
            expect,
            self.table.clone(),
            self.ca.clone(),
            self.transport.clone(),
        )?;
        let connecting = self
            .endpoint
            .connect_with(config, addr, server_name.as_str())
            .map_err(|e| FederationError::Connect(e.to_string()))?;
        match tokio::time::timeout(self.config.connect_timeout, connecting).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(conn_error(e)),
            Err(_) => Err(FederationError::Timeout),
        }
    }

    /// The peer's connection in use, made if there is none.
    pub(crate) async fn connection(self: &Arc<Self>, peer: &PeerId) -> Result<quinn::Connection> {
        let link = self.link(peer);
        if let Some(c) = link.current() {
            return Ok(c);
        }
        let _one_at_a_time = link.connecting.lock().await;
        if let Some(c) = link.current() {
            return Ok(c);
        }
        let (expect, address) = match self.active_peer(peer.server_name()) {
            Some(r) => match r.trust {
                Trust::Pinned => (Expect::Pinned(r.fingerprint), r.address),
                Trust::Ca => (Expect::Ca(r.server_name.clone()), r.address),
            },
            None => match &self.ca {
                Some(ca) if ca.allowed.contains(peer.server_name()) => (
                    Expect::Ca(peer.server_name().clone()),
                    format!("{}:{}", peer.server_name(), self.config.default_port),
                ),
                _ => return Err(FederationError::NotPeered(peer.to_string())),
            },
        };
        let conn = self.connect_to(&address, expect.clone(), peer.server_name()).await?;
        if let Expect::Ca(_) = expect
            && self.active_peer(peer.server_name()).is_none()
        {
            let (fingerprint, info) = peer_certificate(&conn)?;
            let public_key = info
                .public_key
                .ok_or_else(|| FederationError::Certificate("peer key is not ECDSA P-256".into()))?;
            self.add_peer(PeerRecord {
                server_name: peer.server_name().clone(),
                fingerprint,
                public_key,
                address,
                trust: Trust::Ca,
                added_at: unix_now(),
                revoked_at: None,
            })
            .await?;
        }
        self.register(peer.clone(), conn.clone());
        Ok(conn)
    }

    /// One request/response exchange with `peer`. A connection found dead when opening the
    /// stream (idle timeout, peer restart) is replaced once.
    async fn call(self: &Arc<Self>, peer: &PeerId, req: &Request) -> Result<Response> {
        if self.active_peer(peer.server_name()).is_none() && self.ca.is_none() {
            return Err(FederationError::NotPeered(peer.to_string()));
        }
        let link = self.link(peer);
        let mut conn = self.connection(peer).await?;
        if conn.close_reason().is_some() {
            conn = self.connection(peer).await?;
        }
        link.frames_out.fetch_add(1, Ordering::Relaxed);
        let resp = match request(&conn, req, self.config.request_timeout).await {
            Err(FederationError::Connection(_)) if conn.close_reason().is_some() => {
                let reason = conn.close_reason().map(|r| r.to_string()).unwrap_or_default();
                self.connection_closed(peer, &link, &conn, reason);
                let conn = self.connection(peer).await?;
                request(&conn, req, self.config.request_timeout).await
            }
            r => r,
        }?;
        link.frames_in.fetch_add(1, Ordering::Relaxed);
        Ok(resp)
    }
}

/// The verified certificate of a connection's peer.
pub(crate) fn peer_certificate(conn: &quinn::Connection) -> Result<(Fingerprint, crate::identity::CertInfo)> {
    let certs = conn
        .peer_identity()
        .and_then(|id| id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok())
        .ok_or_else(|| FederationError::Certificate("peer sent no certificate".into()))?;
    let leaf =
        certs.first().ok_or_else(|| FederationError::Certificate("peer sent no certificate".into()))?;
    Ok((Fingerprint::of_der(leaf), inspect_certificate(leaf)?))
}

pub(crate) fn conn_error(e: quinn::ConnectionError) -> FederationError {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => FederationError::ClosedByPeer {
            code: u32::try_from(c.error_code.into_inner())
                .ok()
                .and_then(ErrorCode::from_u32)
                .unwrap_or(ErrorCode::Internal),
            reason: String::from_utf8_lossy(&c.reason).into_owned(),
        },
        other => FederationError::Connection(other),
    }
}

async fn read_response(conn: &quinn::Connection, recv: &mut quinn::RecvStream) -> Result<Response> {
    match wire::read_frame::<_, Response>(recv, MAX_FRAME_BYTES).await {
        Ok(r) => Ok(r),
        // A reset stream or missing answer usually means the connection was closed: report
        // the close reason (the peer's cut-off code), which says more.
        Err(e) => Err(match conn.close_reason() {
            Some(reason) => conn_error(reason),
            None => FederationError::Frame(e.to_string()),
        }),
    }
}

/// Opens a stream, sends `req`, reads the one answer.
pub(crate) async fn request(conn: &quinn::Connection, req: &Request, timeout: Duration) -> Result<Response> {
    let exchange = async {
        let (mut send, mut recv) = conn.open_bi().await.map_err(conn_error)?;
        wire::write_frame(&mut send, req).await.map_err(|e| FederationError::Stream(e.to_string()))?;
        let _ = send.finish();
        read_response(conn, &mut recv).await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(FederationError::Timeout),
    }
}

/// Test support: send raw bytes to a peer over its connection, bypassing every local
/// check, to show how the receiver treats rule breakers.
#[cfg(feature = "testing")]
impl Federation {
    /// Writes `bytes` verbatim (length prefix included, or not) on a new stream and reads
    /// the answer.
    pub async fn testing_send_raw(&self, peer: &PeerId, bytes: &[u8]) -> Result<Response> {
        let conn = self.inner.connection(peer).await?;
        let exchange = async {
            let (mut send, mut recv) = conn.open_bi().await.map_err(conn_error)?;
            send.write_all(bytes).await.map_err(|e| FederationError::Stream(e.to_string()))?;
            let _ = send.finish();
            read_response(&conn, &mut recv).await
        };
        tokio::time::timeout(self.inner.config.request_timeout, exchange)
            .await
            .map_err(|_| FederationError::Timeout)?
    }

    /// `testing_send_raw` with a request serialized as a versioned frame.
    pub async fn testing_send_request(&self, peer: &PeerId, req: &Request) -> Result<Response> {
        let body = wire::encode(req);
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&body);
        self.testing_send_raw(peer, &bytes).await
    }

    /// Connects to `address` trusting `fingerprint` (no pin kept) and returns the connection's
    /// first answer to `req`: what an unpinned stranger gets.
    pub async fn testing_stranger_request(
        &self,
        address: &str,
        server_name: &ServerName,
        fingerprint: Fingerprint,
        req: &Request,
    ) -> Result<Response> {
        let conn = self.inner.connect_to(address, Expect::Pinned(fingerprint), server_name).await?;
        request(&conn, req, self.inner.config.request_timeout).await
    }
}
