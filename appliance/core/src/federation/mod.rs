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

mod admin;
mod handler;
mod outbox;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use parley_federation::{
    Event, EventContent, Federation, FederationConfig, Identity, PeerId, ServerName as FedServer, SignedEvent,
};
use parley_store::OutboxRec;
use parley_store::records::UserRec;
use parley_types::api::{ChatKind, Role};
use parley_types::protocol::{Media, Message, ReceiptKind};
use parley_types::{ChatId, MessageId, Seq, UserId, now_millis};

use crate::error::{CoreError, Result};
use crate::hub::{ConnId, Outbound, encode};
use crate::writer::{Op, Outcome, idem_key};
use crate::{Core, Inner};

/// `custom_kind` of a home server's entry for member servers.
pub(crate) const ENTRY_KIND: &str = "chat_entry";

/// An entry of a chat, as its home server sends it to member servers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChatEntry {
    pub message: Message,
    /// The chat as it is after this entry: on every membership or group change, and on every
    /// entry of a 1:1 chat (so a server new to the chat learns what it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<ChatSnapshot>,
    /// The member server's signed request that produced the entry, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Box<SignedEvent>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChatSnapshot {
    pub kind: ChatKind,
    pub name: String,
    pub description: String,
    pub created_by: UserId,
    pub created_at: i64,
    pub members: Vec<SnapMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SnapMember {
    pub user_id: UserId,
    pub role: Role,
    pub joined_seq: Seq,
}

/// A member server's request to a chat's home server (the `body` of a `message_send`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum FedOp {
    Send {
        client_id: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<Seq>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media: Option<Media>,
    },
    Edit {
        target: Seq,
        text: String,
    },
    Delete {
        target: Seq,
    },
    AddMember {
        user: UserId,
    },
    RemoveMember {
        user: UserId,
    },
    Leave,
    SetRole {
        user: UserId,
        admin: bool,
    },
    UpdateGroup {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
}

impl FedOp {
    /// The writer operation for `actor` (a remote member) on `chat`.
    pub(crate) fn into_op(self, chat: ChatId, actor: UserId) -> Op {
        match self {
            FedOp::Send { client_id, text, reply_to, media } => {
                Op::Send { chat, sender: actor, client_id, text, reply_to, media }
            }
            FedOp::Edit { target, text } => Op::Edit { chat, actor, target, text },
            FedOp::Delete { target } => Op::Delete { chat, actor, target },
            FedOp::AddMember { user } => Op::AddMember { chat, actor, user },
            FedOp::RemoveMember { user } => Op::RemoveMember { chat, actor, user },
            FedOp::Leave => Op::Leave { chat, user: actor },
            FedOp::SetRole { user, admin } => Op::SetRole { chat, actor, user, admin },
            FedOp::UpdateGroup { name, description } => Op::UpdateGroup { chat, actor, name, description },
        }
    }

    /// The request to send the home server for a local operation on a remote chat:
    /// (chat, actor, request).
    fn from_op(op: Op) -> Result<(ChatId, UserId, FedOp)> {
        Ok(match op {
            Op::Send { chat, sender, client_id, text, reply_to, media } => {
                (chat, sender, FedOp::Send { client_id, text, reply_to, media })
            }
            Op::Edit { chat, actor, target, text } => (chat, actor, FedOp::Edit { target, text }),
            Op::Delete { chat, actor, target } => (chat, actor, FedOp::Delete { target }),
            Op::AddMember { chat, actor, user } => (chat, actor, FedOp::AddMember { user }),
            Op::RemoveMember { chat, actor, user } => (chat, actor, FedOp::RemoveMember { user }),
            Op::Leave { chat, user } => (chat, user, FedOp::Leave),
            Op::SetRole { chat, actor, user, admin } => (chat, actor, FedOp::SetRole { user, admin }),
            Op::UpdateGroup { chat, actor, name, description } => {
                (chat, actor, FedOp::UpdateGroup { name, description })
            }
            other => return Err(CoreError::Internal(format!("not a remote operation: {other:?}"))),
        })
    }
}

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
        let key = idem_key(&actor, client_id);
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
                inner.hub.send_to_conn(
                    &actor,
                    conn,
                    Outbound::Ack { chat: m.chat_id.clone(), seq: m.seq, frame, in_order: false },
                );
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

/// Servers other than this one with an active member in the chat.
fn member_servers(inner: &Inner, state: &crate::ChatState) -> Vec<String> {
    let mut out: Vec<String> =
        state.members.keys().map(|u| u.server().to_owned()).filter(|s| !inner.is_local(s)).collect();
    out.sort();
    out.dedup();
    out
}

/// Where a local member's event about a chat goes: to the home server when the chat is homed
/// elsewhere (it relays), else to every member server.
async fn member_event_dests(inner: &Inner, chat: &ChatId) -> Vec<String> {
    if !inner.is_local(chat.home_server()) {
        return vec![chat.home_server().to_owned()];
    }
    match inner.chat_state(chat).await {
        Ok(Some(state)) => member_servers(inner, &state),
        _ => Vec::new(),
    }
}

impl Core {
    /// Tells the other appliances of a chat that a local member's mark moved: the home server
    /// if the chat is homed elsewhere, else every member server. Durable (outbox).
    pub(crate) async fn federate_receipt(&self, chat: &ChatId, user: &UserId, kind: ReceiptKind, seq: Seq) {
        let inner = &self.inner;
        let Some(fed) = inner.fed() else { return };
        let dests = member_event_dests(inner, chat).await;
        if dests.is_empty() {
            return;
        }
        let content = match kind {
            ReceiptKind::Delivered => EventContent::Receipt { delivered_seq: Some(seq), read_seq: None },
            ReceiptKind::Read => EventContent::Receipt { delivered_seq: None, read_seq: Some(seq) },
        };
        let event = fed.sign(Some(chat.clone()), Some(user.clone()), content);
        self.queue_event(&event, &dests).await;
    }

    /// Shows typing to the other appliances of the chat (not retried: it is stale in seconds).
    pub(crate) async fn federate_typing(&self, chat: &ChatId, user: &UserId, active: bool) {
        let inner = &self.inner;
        let Some(fed) = inner.fed() else { return };
        let dests = member_event_dests(inner, chat).await;
        let event = fed.sign(Some(chat.clone()), Some(user.clone()), EventContent::Typing { typing: active });
        send_now(fed, dests, event);
    }

    /// A local user came online or went offline: tell the servers that share a chat with them.
    pub(crate) fn federate_presence(&self, user: &UserId, online: bool, last_seen: Option<i64>) {
        let Some(fed) = self.inner.fed().cloned() else { return };
        let core = self.clone();
        let user = user.clone();
        tokio::spawn(async move {
            let mut dests = Vec::new();
            let Ok(memberships) = core.inner.store.memberships(user.as_str()).await else { return };
            for m in memberships {
                let Ok(chat) = crate::convert::chat_id(&m.chat_id) else { continue };
                if let Ok(Some(state)) = core.inner.chat_state(&chat).await {
                    dests.extend(member_servers(&core.inner, &state));
                }
            }
            dests.sort();
            dests.dedup();
            if dests.is_empty() {
                return;
            }
            // Presence leaves this server only for users who show it to everyone (the other
            // server cannot apply "my contacts" or "nobody" for us).
            let public = matches!(
                core.inner.store.user(user.as_str()).await,
                Ok(Some(u)) if u.last_seen_visibility == "everyone"
            );
            if !public {
                return;
            }
            let presence = if online {
                parley_federation::PresenceState::Online
            } else {
                parley_federation::PresenceState::Offline
            };
            let event = fed.sign(
                None,
                Some(user.clone()),
                EventContent::Presence { presence, last_active_ts: last_seen.map(|t| t as u64) },
            );
            send_now(&fed, dests, event);
        });
    }

    /// Puts one signed event into the outbox of each destination.
    pub(crate) async fn queue_event(&self, event: &SignedEvent, dests: &[String]) {
        let inner = &self.inner;
        let Some(fed) = inner.fed() else { return };
        let Ok(json) = serde_json::to_string(event) else { return };
        let now = now_millis();
        let recs: Vec<OutboxRec> = dests.iter().map(|d| fed.outbox_rec(d, json.clone(), now)).collect();
        match inner.store.outbox_insert(&recs).await {
            Ok(()) => dests.iter().for_each(|d| wake(inner, d)),
            Err(e) => tracing::error!(error = %e, "cannot queue a federation event"),
        }
    }

    /// A remote user's profile: the cached one, refreshed from their server when `refresh`
    /// (or when there is none yet).
    pub(crate) async fn remote_user(&self, user: &UserId, refresh: bool) -> Result<UserRec> {
        let inner = &self.inner;
        let cached = inner.store.user(user.as_str()).await?;
        if let Some(c) = &cached
            && !refresh
        {
            return Ok(c.clone());
        }
        let Some(fed) = inner.fed() else {
            return cached.ok_or(CoreError::NotFound("user"));
        };
        if !fed.is_peer(user.server()) {
            return cached.ok_or(CoreError::NotFound("user"));
        }
        let peer = peer_id(user.server())?;
        match fed.handle.query(&peer, parley_federation::Query::Profile { user: user.clone() }).await {
            Ok(parley_federation::Answer::Profile { display_name, avatar, extra, .. }) => {
                let rec = UserRec {
                    user_id: user.to_string(),
                    username: user.username().to_owned(),
                    display_name: display_name.unwrap_or_else(|| user.username().to_owned()),
                    about: extra.get("about").and_then(|a| a.as_str()).unwrap_or_default().to_owned(),
                    // Their server sends presence only for users who show it to everyone.
                    last_seen_visibility: "everyone".into(),
                    created_at: cached.as_ref().map_or_else(now_millis, |c| c.created_at),
                    last_seen: cached.as_ref().and_then(|c| c.last_seen),
                    source: Some("remote".into()),
                    // Only a picture of the user's own server (fetched from there on demand).
                    avatar: avatar.filter(|a| a.home_server() == user.server()).map(|a| a.to_string()),
                    ..Default::default()
                };
                // Two lookups of one user at once (a client and the profile learner) may clash
                // on the write; the answer is good either way.
                if let Err(e) = inner.store.upsert_remote_user(&rec).await {
                    tracing::debug!(error = %e, user = %user, "remote profile not cached this time");
                }
                Ok(rec)
            }
            Ok(_) => {
                cached.ok_or_else(|| CoreError::Federation("unexpected answer to a profile query".into()))
            }
            Err(e) => match (cached, &e) {
                (Some(c), _) => Ok(c),
                (None, parley_federation::FederationError::Remote(w))
                    if w.code == parley_federation::ErrorCode::NotFound =>
                {
                    Err(CoreError::NotFound("user"))
                }
                (None, parley_federation::FederationError::Remote(w))
                    if w.code == parley_federation::ErrorCode::Forbidden =>
                {
                    Err(CoreError::Forbidden(format!(
                        "{} does not allow looking up its users",
                        user.server()
                    )))
                }
                (None, _) => Err(CoreError::Federation(format!("{}: {e}", user.server()))),
            },
        }
    }
}

/// After a chat's membership crossed appliances: the local members who are online tell the
/// other servers so (presence is otherwise sent only when it changes), and remote members
/// whose profile is not cached yet are looked up, so the chat shows names, not addresses.
pub(crate) fn chats_federated(inner: &Arc<Inner>, chats: Vec<ChatId>) {
    let core = Core { inner: inner.clone() };
    tokio::spawn(async move {
        let mut announced = std::collections::HashSet::new();
        for chat in chats {
            let Ok(Some(state)) = core.inner.chat_state(&chat).await else { continue };
            let mut learned = false;
            for u in state.members.keys() {
                if core.inner.is_local(u.server()) {
                    if core.inner.hub.is_online(u) && announced.insert(u.clone()) {
                        core.federate_presence(u, true, None);
                    }
                } else if matches!(core.inner.store.user(u.as_str()).await, Ok(None)) {
                    learned |= core.remote_user(u, false).await.is_ok();
                }
            }
            if learned {
                let locals: Vec<UserId> =
                    state.members.keys().filter(|u| core.inner.is_local(u.server())).cloned().collect();
                core.inner.notify_chat_changed(chat, locals);
            }
        }
    });
}

impl Core {
    /// For a replica: asks the chat's home server for the signing keys of member servers this
    /// one does not peer with, so the events the home server relays from them (receipts,
    /// typing) verify here. Learned keys are kept in the database.
    pub(crate) async fn learn_keys(&self, chat: &ChatId, snapshot: &ChatSnapshot) {
        let inner = &self.inner;
        let Some(fed) = inner.fed() else { return };
        let home = chat.home_server();
        if inner.is_local(home) {
            return;
        }
        let known = inner.store.fed_keys().await.unwrap_or_default();
        let mut servers: Vec<&str> = snapshot.members.iter().map(|m| m.user_id.server()).collect();
        servers.sort_unstable();
        servers.dedup();
        for server in servers.into_iter().filter(|s| !inner.is_local(s)).map(str::to_owned) {
            if server == home || fed.is_peer(&server) || known.iter().any(|(s, _)| *s == server) {
                continue;
            }
            let (Ok(home_peer), Ok(name)) = (peer_id(home), parse_server(&server)) else { continue };
            let asked = fed
                .handle
                .query(&home_peer, parley_federation::Query::ServerKey { server_name: name.clone() });
            match asked.await {
                Ok(parley_federation::Answer::ServerKey { server_name, public_key, .. })
                    if server_name == name =>
                {
                    if let Err(e) = inner.store.save_fed_key(&server, &public_key.to_string()).await {
                        tracing::warn!(error = %e, server, "cannot store a learned key");
                    }
                    fed.handle.learn_origin_key(name, public_key);
                }
                other => tracing::debug!(server, ?other, "no key learned"),
            }
        }
    }
}

/// Sends one event to each destination now, without the outbox (typing, presence).
fn send_now(fed: &Fed, dests: Vec<String>, event: SignedEvent) {
    for d in dests {
        let Ok(peer) = peer_id(&d) else { continue };
        let handle = fed.handle.clone();
        let me = fed.identity().server_name().clone();
        let event = event.clone();
        tokio::spawn(async move {
            let txn = parley_federation::Transaction::new(me, vec![event]);
            if let Err(e) = handle.send_transaction(&peer, &txn).await {
                tracing::debug!(peer = %d, error = %e, "ephemeral federation event not sent");
            }
        });
    }
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
