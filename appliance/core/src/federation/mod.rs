//! Federation in the core: chats whose members live on several appliances.
//!
//! A chat's **home server** (the domain in its ID) orders it. A member server keeps a replica:
//! the same entries with the same seqs, applied by its own writer (`writer::apply`). Local
//! users' operations on a remote chat (send, edit, delete, membership, group changes) become
//! signed `message_send` events to the home server, which runs them through its writer with
//! the same checks as local ones, then queues the resulting entry (`chat_entry`) for every
//! member server. Everything crosses through the durable per-destination outbox
//! (`outbox`), drained in order and never dropped. Receipts follow the same path (member
//! server → home → the other member servers); typing is sent directly and not retried.
//!
//! The transport, trust and signatures are the `parley-federation` crate's; this module
//! implements its `PeerStore`, `Dedup` and `InboundHandler` (`handler`).
//!
//! Layout: here the state (`Fed`), start-up and forwarding local requests (`enqueue_remote`);
//! `events` (what the core puts in events), `handler` (what peers send), `outbox` (the queue
//! per destination, metrics), `relay` (receipts, typing, presence going out), `remote`
//! (remote profiles and learned keys), `admin` (the console's routes).

mod admin;
mod events;
mod handler;
mod outbox;
mod relay;
mod remote;

pub(crate) use events::{ChatEntry, ChatSnapshot, ENTRY_KIND, FedOp, SnapMember};
pub(crate) use relay::chats_federated;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use dashmap::DashMap;
use tokio::sync::{Notify, oneshot};

use parley_federation::{
    Event, EventContent, Federation, FederationConfig, Identity, PeerId, ServerName as FedServer, SignedEvent,
};
use parley_store::OutboxRec;
use parley_types::{ChatId, MessageId, UserId, now_millis};

use crate::error::{CoreError, Result};
use crate::hub::{ConnId, Outbound, encode};
use crate::writer::{Op, Outcome, idem_key};
use crate::{Core, Inner};

/// A local operation on a remote chat, waiting for its entry to come back from the home server.
pub(crate) struct Waiter {
    /// The connection and client ID to acknowledge (sends over a live connection).
    pub ack: Option<(ConnId, String)>,
    pub received: Instant,
    reply: Option<oneshot::Sender<Result<Outcome>>>,
}

impl Waiter {
    pub(crate) fn resolve(self, r: Result<Outcome>) {
        if let Some(tx) = self.reply {
            let _ = tx.send(r);
        }
    }
}

/// The core's federation state, set once federation starts.
pub(crate) struct Fed {
    pub handle: Federation,
    /// Next outbox position (positions only grow, across all destinations).
    next_n: AtomicI64,
    /// One drain task per destination, woken through its notifier.
    wakers: DashMap<String, Arc<Notify>>,
    /// By message ID.
    pub waiters: DashMap<String, Waiter>,
    pub directory_open: bool,
    inner: Weak<Inner>,
    /// Users of other appliances who said they are online (their server tells us changes).
    pub remote_online: DashMap<UserId, ()>,
    /// Last cumulative counter values seen per (peer, counter), for the metrics.
    counters: parking_lot::Mutex<std::collections::HashMap<(String, &'static str), u64>>,
}

impl Fed {
    fn identity(&self) -> &Identity {
        self.handle.identity()
    }

    /// Signs an entry as this (home) server; the JSON goes into each destination's outbox.
    pub(crate) fn sign_entry(&self, entry: &ChatEntry) -> std::result::Result<String, serde_json::Error> {
        let body = serde_json::to_value(entry)?;
        let event = Event::new(
            self.identity(),
            Some(entry.message.chat_id.clone()),
            None,
            EventContent::Custom { custom_kind: ENTRY_KIND.to_owned(), body },
        )
        .sign(self.identity());
        serde_json::to_string(&event)
    }

    pub(crate) fn outbox_rec(&self, dest: &str, event: String, now: i64) -> OutboxRec {
        OutboxRec {
            dest: dest.to_owned(),
            n: self.next_n.fetch_add(1, Ordering::Relaxed),
            event,
            created_at: now,
        }
    }

    fn sign(&self, chat: Option<ChatId>, sender: Option<UserId>, content: EventContent) -> SignedEvent {
        Event::new(self.identity(), chat, sender, content).sign(self.identity())
    }

    /// Whether `server` is a pinned peer that is not revoked.
    pub(crate) fn is_peer(&self, server: &str) -> bool {
        self.handle.peers().iter().any(|p| p.server_name.as_str() == server && !p.is_revoked())
    }
}

impl Inner {
    pub(crate) fn fed(&self) -> Option<&Arc<Fed>> {
        self.fed.get()
    }

    fn is_local(&self, server: &str) -> bool {
        server == self.server.as_str()
    }
}

/// Wakes (and starts, the first time) the drain task of `dest`'s outbox.
pub(crate) fn wake(inner: &Inner, dest: &str) {
    let Some(fed) = inner.fed() else { return };
    let mut started = false;
    let notify = fed
        .wakers
        .entry(dest.to_owned())
        .or_insert_with(|| {
            started = true;
            Arc::new(Notify::new())
        })
        .clone();
    if started && let Some(inner) = fed.inner.upgrade() {
        outbox::spawn(inner, dest.to_owned(), notify.clone());
    }
    notify.notify_one();
}

fn parse_server(s: &str) -> Result<FedServer> {
    FedServer::parse(s).map_err(|e| CoreError::Internal(format!("server name {s}: {e}")))
}

fn peer_id(server: &str) -> Result<PeerId> {
    Ok(PeerId::new(parse_server(server)?))
}

/// Queues a local user's operation on a chat homed on another appliance. The receiver yields
/// the entry once the home server has sequenced it and this server has stored it.
pub(crate) async fn enqueue_remote(
    inner: &Inner,
    op: Op,
    origin: Option<ConnId>,
) -> Result<oneshot::Receiver<Result<Outcome>>> {
    let fed = inner
        .fed()
        .ok_or_else(|| CoreError::Federation("federation is not enabled on this server".into()))?;
    let (chat, actor, body) = FedOp::from_op(op)?;
    let home = chat.home_server().to_owned();
    if !fed.is_peer(&home) {
        return Err(CoreError::Federation(format!("{home} is not a federation peer of this server")));
    }
    let client_id = match &body {
        FedOp::Send { client_id, .. } => Some(client_id.clone()),
        _ => None,
    };
    let (tx, rx) = oneshot::channel();
    let received = Instant::now();
    let waiter = |reply| Waiter { ack: origin.zip(client_id.clone()), received, reply: Some(reply) };
    let mut pending = None;
    if let Some(client_id) = &client_id {
        let key = idem_key(&actor, &chat, client_id);
        if let Some(rec) = inner.store.idem_lookup(std::slice::from_ref(&key)).await?.into_iter().next() {
            // Sent before and already back: acknowledge it again.
            let m =
                inner.store.message_at(&rec.chat_id, rec.seq).await?.ok_or(CoreError::NotFound("message"))?;
            let m = crate::convert::message(m)?;
            if let Some(conn) = origin {
                let frame = encode(&parley_types::protocol::ServerFrame::Ack {
                    client_id: client_id.clone(),
                    message: m.clone(),
                });
                inner.hub.send_to_conn(&actor, conn, Outbound::Frame(frame));
            }
            let _ = tx.send(Ok(Outcome::Entry(Box::new(m))));
            return Ok(rx);
        }
        if let Some(message_id) = inner.store.fed_pending(&key).await? {
            // Forwarded before and not back yet: wait for the same entry.
            fed.waiters.insert(message_id, waiter(tx));
            return Ok(rx);
        }
        pending = Some(key);
    }
    let message_id = MessageId::generate(&inner.server);
    let body = serde_json::to_value(&body).map_err(|e| CoreError::Internal(e.to_string()))?;
    let event = fed.sign(
        Some(chat.clone()),
        Some(actor.clone()),
        EventContent::MessageSend { message_id: message_id.clone(), body },
    );
    let now = now_millis();
    let json = serde_json::to_string(&event).map_err(|e| CoreError::Internal(e.to_string()))?;
    let rec = fed.outbox_rec(&home, json, now);
    fed.waiters.insert(message_id.to_string(), waiter(tx));
    let stored =
        inner.store.enqueue_remote_op(pending.as_deref().map(|k| (k, message_id.as_str())), &rec, now).await;
    if let Err(e) = stored {
        fed.waiters.remove(message_id.as_str());
        return Err(e.into());
    }
    wake(inner, &home);
    Ok(rx)
}

/// Starts federation on a bound UDP socket (`serve` binds it once, like the HTTP listener).
pub(crate) async fn start(core: &Core, socket: std::net::UdpSocket) -> Result<()> {
    let inner = &core.inner;
    let settings = &inner.settings;
    let server = parse_server(inner.server.as_str())?;
    let identity = Identity::load_or_generate(&settings.storage.data_dir.join("keys"), &server)
        .map_err(|e| CoreError::Federation(format!("identity: {e}")))?;
    let s = &settings.federation;
    let public_address = if !s.public_address.is_empty() {
        Some(s.public_address.clone())
    } else if s.listen.port() == 0 || s.listen.ip().is_loopback() {
        // Tests and single-host setups: the bound address is what peers dial.
        None
    } else {
        Some(s.public_address(inner.server.as_str()))
    };
    // Appliances talk in batched transactions (one in flight per destination), so the
    // per-peer request cap is there against floods, not to pace honest peers: well above
    // what the outbox, typing and presence make together.
    let config =
        FederationConfig { public_address, rate_per_sec: 2000.0, rate_burst: 4000.0, ..Default::default() };
    let weak = Arc::downgrade(inner);
    let handler = Arc::new(handler::Handler { inner: weak.clone() });
    let store = Arc::new(handler::Peers { store: inner.store.clone() });
    let dedup = Arc::new(handler::Seen { store: inner.store.clone() });
    let handle = Federation::start(socket, identity, config, store, dedup, handler)
        .await
        .map_err(|e| CoreError::Federation(e.to_string()))?;
    let next = inner.store.outbox_max_n().await?.max(now_millis() * 1000) + 1;
    let fed = Arc::new(Fed {
        handle,
        next_n: AtomicI64::new(next),
        wakers: DashMap::new(),
        waiters: DashMap::new(),
        directory_open: s.directory == parley_config::DirectoryPolicy::Open,
        inner: weak,
        remote_online: DashMap::new(),
        counters: Default::default(),
    });
    if inner.fed.set(fed.clone()).is_err() {
        return Err(CoreError::Internal("federation started twice".into()));
    }
    for (server, key) in inner.store.fed_keys().await? {
        if let (Ok(s), Ok(k)) = (FedServer::parse(&server), key.parse::<parley_federation::PublicKey>()) {
            fed.handle.learn_origin_key(s, k);
        }
    }
    // Whatever was queued before a restart goes out now; peers flush theirs to us.
    for d in inner.store.outbox_depths().await? {
        wake(inner, &d.dest);
    }
    fed.handle.announce();
    outbox::spawn_upkeep(core.clone());
    spawn_peer_audit(core.clone(), fed.handle.subscribe());
    tracing::info!(
        address = %fed.handle.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        fingerprint = %fed.identity().fingerprint(),
        "federation listening"
    );
    Ok(())
}

/// Peerings (on both sides of an invite) and cut-offs go into the audit log.
fn spawn_peer_audit(core: Core, mut events: tokio::sync::broadcast::Receiver<parley_federation::PeerEvent>) {
    tokio::spawn(async move {
        loop {
            let ev = tokio::select! {
                e = events.recv() => e,
                () = core.inner.stop.cancelled() => return,
            };
            match ev {
                Ok(parley_federation::PeerEvent::Peered(rec)) => {
                    let details = serde_json::json!({
                        "fingerprint": rec.fingerprint.to_string(),
                        "address": rec.address,
                    });
                    core.audit_system("federation.peered", Some(rec.server_name.to_string()), details).await;
                }
                Ok(parley_federation::PeerEvent::CutOff { peer, code, reason }) => {
                    let details = serde_json::json!({ "code": format!("{code:?}"), "reason": reason });
                    core.audit_system("federation.cut_off", Some(peer.to_string()), details).await;
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

impl Core {
    /// Starts federation on `socket` (UDP, bound by the caller).
    pub async fn start_federation(&self, socket: std::net::UdpSocket) -> Result<()> {
        start(self, socket).await
    }

    /// The federation handle, when federation runs (tests and tools act as a peer with it).
    pub fn federation_handle(&self) -> Option<Federation> {
        self.inner.fed().map(|f| f.handle.clone())
    }

    /// The bound federation address, when federation runs.
    pub fn federation_addr(&self) -> Option<std::net::SocketAddr> {
        self.inner.fed().and_then(|f| f.handle.local_addr().ok())
    }
}
