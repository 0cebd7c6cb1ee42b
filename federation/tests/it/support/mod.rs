//! Test support: an in-memory `PeerStore` + `Dedup` (a storage double, the core implements the
//! real ones in SurrealDB), a handler that records what reached "the core", and a node helper.

pub mod relay;

use std::collections::HashMap;
use std::future::Future;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use parley_federation::*;
use parley_types::{ChatId, MediaId, UserId};
use tokio::sync::Notify;

/// Runs a test body with a hard time limit, so a hang fails instead of blocking CI.
pub async fn bounded<F: Future<Output = ()>>(limit: Duration, body: F) {
    init_tracing();
    tokio::time::timeout(limit, body).await.expect("test exceeded its time limit");
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARLEY_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

#[derive(Default)]
pub struct MemoryStore {
    pub peers: Mutex<HashMap<ServerName, PeerRecord>>,
    invites: Mutex<HashMap<SecretHash, InviteRecord>>,
    txns: Mutex<HashMap<(PeerId, TxnId), Ack>>,
    events: Mutex<HashMap<EventId, EventResult>>,
}

impl MemoryStore {
    /// Overwrites the expiry of every stored invite (to test the inviter's own check).
    pub fn expire_invites(&self) {
        for r in self.invites.lock().values_mut() {
            r.expires_at = 1;
        }
    }
}

#[async_trait]
impl PeerStore for MemoryStore {
    async fn load_peers(&self) -> Result<Vec<PeerRecord>, StoreError> {
        Ok(self.peers.lock().values().cloned().collect())
    }
    async fn save_peer(&self, peer: &PeerRecord) -> Result<(), StoreError> {
        self.peers.lock().insert(peer.server_name.clone(), peer.clone());
        Ok(())
    }
    async fn save_invite(&self, invite: &InviteRecord) -> Result<(), StoreError> {
        self.invites.lock().insert(invite.secret_hash, invite.clone());
        Ok(())
    }
    async fn take_invite(&self, hash: &SecretHash) -> Result<Option<InviteRecord>, StoreError> {
        Ok(self.invites.lock().remove(hash))
    }
}

#[async_trait]
impl Dedup for MemoryStore {
    async fn txn_ack(&self, peer: &PeerId, txn_id: &TxnId) -> Result<Option<Ack>, StoreError> {
        Ok(self.txns.lock().get(&(peer.clone(), *txn_id)).cloned())
    }
    async fn record_txn(&self, peer: &PeerId, ack: &Ack) -> Result<(), StoreError> {
        self.txns.lock().insert((peer.clone(), ack.txn_id), ack.clone());
        Ok(())
    }
    async fn seen_events(&self, ids: &[EventId]) -> Result<Vec<Option<EventResult>>, StoreError> {
        let events = self.events.lock();
        Ok(ids.iter().map(|id| events.get(id).cloned()).collect())
    }
    async fn record_events(&self, results: &[(EventId, EventResult)]) -> Result<(), StoreError> {
        self.events.lock().extend(results.iter().cloned());
        Ok(())
    }
}

/// Stands in for the core: records every event it is handed, sequences `message_send`.
#[derive(Default)]
pub struct Recorder {
    pub seen: Mutex<Vec<(PeerId, SignedEvent)>>,
    seq: AtomicU64,
    notify: Notify,
    pub media: Mutex<HashMap<MediaId, Vec<u8>>>,
}

impl Recorder {
    pub fn count(&self) -> usize {
        self.seen.lock().len()
    }
    /// Waits until at least `n` events arrived.
    pub async fn wait_for(&self, n: usize) {
        loop {
            let notified = self.notify.notified();
            if self.count() >= n {
                return;
            }
            notified.await;
        }
    }
}

#[async_trait]
impl InboundHandler for Recorder {
    async fn on_transaction(&self, peer: &PeerId, txn: InboundTransaction) -> Vec<EventResult> {
        let mut out = Vec::new();
        for ev in txn.events {
            let seq = matches!(ev.event.content, EventContent::MessageSend { .. })
                .then(|| self.seq.fetch_add(1, Ordering::SeqCst) + 1);
            self.seen.lock().push((peer.clone(), ev));
            out.push(EventResult::Accepted { seq });
        }
        self.notify.notify_waiters();
        out
    }

    async fn on_query(&self, _peer: &PeerId, query: Query) -> Result<Answer, WireError> {
        match query {
            Query::Profile { user } if user.username() == "ana" => Ok(Answer::Profile {
                user,
                display_name: Some("Ana".into()),
                avatar: None,
                extra: serde_json::Value::Null,
            }),
            Query::Profile { .. } => Err(WireError::new(ErrorCode::NotFound, "no such user")),
            _ => Err(WireError::new(ErrorCode::Unsupported, "unsupported")),
        }
    }

    async fn on_media(&self, _peer: &PeerId, media_id: &MediaId) -> Result<MediaSource, WireError> {
        let bytes = self
            .media
            .lock()
            .get(media_id)
            .cloned()
            .ok_or_else(|| WireError::new(ErrorCode::NotFound, "no such media"))?;
        Ok(MediaSource {
            content_type: "application/octet-stream".into(),
            length: bytes.len() as u64,
            reader: Box::new(std::io::Cursor::new(bytes)),
        })
    }
}

/// Short timers so failure paths finish quickly.
pub fn test_config() -> FederationConfig {
    FederationConfig {
        keep_alive: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(3),
        peering_timeout: Duration::from_secs(2),
        ..FederationConfig::default()
    }
}

pub struct Node {
    pub name: ServerName,
    pub fed: Federation,
    pub store: Arc<MemoryStore>,
    pub handler: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

impl Node {
    pub async fn start(name: &str) -> Node {
        Self::start_with(name, test_config(), UdpSocket::bind("127.0.0.1:0").unwrap()).await
    }

    pub async fn start_with(name: &str, config: FederationConfig, socket: UdpSocket) -> Node {
        Self::start_in(name, config, socket, tempfile::tempdir().unwrap()).await
    }

    /// With a data dir prepared by the test (e.g. holding a CA-issued identity).
    pub async fn start_in(
        name: &str,
        config: FederationConfig,
        socket: UdpSocket,
        dir: tempfile::TempDir,
    ) -> Node {
        let name = ServerName::parse(name).unwrap();
        let identity = Identity::load_or_generate(dir.path(), &name).unwrap();
        let store = Arc::new(MemoryStore::default());
        let handler = Arc::new(Recorder::default());
        let fed = Federation::start(socket, identity, config, store.clone(), store.clone(), handler.clone())
            .await
            .unwrap();
        Node { name, fed, store, handler, _dir: dir }
    }

    pub fn id(&self) -> PeerId {
        PeerId::new(self.name.clone())
    }

    pub fn user(&self, name: &str) -> UserId {
        UserId::parse(&format!("{name}@{}", self.name)).unwrap()
    }

    pub fn chat(&self) -> ChatId {
        ChatId::generate(&self.name)
    }

    /// A signed event from this node.
    pub fn event(&self, chat: Option<&ChatId>, sender: Option<UserId>, content: EventContent) -> SignedEvent {
        Event::new(self.fed.identity(), chat.cloned(), sender, content).sign(self.fed.identity())
    }

    pub fn message(&self, chat: &ChatId, user: &str, text: &str) -> SignedEvent {
        self.event(
            Some(chat),
            Some(self.user(user)),
            EventContent::MessageSend {
                message_id: parley_types::MessageId::generate(&self.name),
                body: serde_json::json!({ "text": text }),
            },
        )
    }

    pub fn txn(&self, events: Vec<SignedEvent>) -> Transaction {
        Transaction::new(self.name.clone(), events)
    }
}

/// `inviter` creates an invite, `invitee` accepts it.
pub async fn peer(inviter: &Node, invitee: &Node) {
    let invite = inviter.fed.create_invite(Duration::from_secs(600)).await.unwrap();
    let record = invitee.fed.accept_invite(&invite.encode()).await.unwrap();
    assert_eq!(record.server_name, inviter.name);
}

/// Waits until `node` has the peer pinned (the inviter pins a moment after the invitee).
pub async fn pinned(node: &Node, other: &Node) {
    while !node.fed.peers().iter().any(|p| p.server_name == other.name && !p.is_revoked()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
