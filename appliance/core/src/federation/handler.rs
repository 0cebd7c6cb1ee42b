//! What the federation crate asks of the core: durable peers and invites (`Peers`),
//! deduplication (`Seen`), and the handling of verified inbound events and queries (`Handler`).

use std::sync::Weak;

use parley_federation::{
    Ack, Answer, Dedup, ErrorCode, EventContent, EventId, EventResult, InboundHandler, InboundTransaction,
    InviteRecord, MediaSource, PeerId, PeerRecord, PeerStore, Query, SecretHash, SignedEvent, StoreError,
    TxnId, WireError, async_trait,
};
use parley_store::Store;
use parley_types::protocol::{ReceiptKind, ServerFrame};
use parley_types::{ChatId, UserId, now_millis};

use super::{ChatEntry, ENTRY_KIND, FedOp};
use crate::error::CoreError;
use crate::hub::encode;
use crate::writer::{FedSource, Op, Outcome};
use crate::{Core, Inner};

fn store_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e.to_string())
}

pub(super) struct Peers {
    pub store: Store,
}

#[async_trait]
impl PeerStore for Peers {
    async fn load_peers(&self) -> Result<Vec<PeerRecord>, StoreError> {
        let rows = self.store.fed_peers().await.map_err(store_err)?;
        rows.iter().map(|j| serde_json::from_str(j).map_err(store_err)).collect()
    }
    async fn save_peer(&self, peer: &PeerRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(peer).map_err(store_err)?;
        self.store.save_fed_peer(peer.server_name.as_str(), &json).await.map_err(store_err)
    }
    async fn save_invite(&self, invite: &InviteRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(invite).map_err(store_err)?;
        let hash = invite.secret_hash.to_string();
        self.store.save_fed_invite(&hash, &json, invite.expires_at as i64).await.map_err(store_err)
    }
    async fn take_invite(&self, hash: &SecretHash) -> Result<Option<InviteRecord>, StoreError> {
        match self.store.take_fed_invite(&hash.to_string()).await.map_err(store_err)? {
            Some(j) => serde_json::from_str(&j).map(Some).map_err(store_err),
            None => Ok(None),
        }
    }
}

pub(super) struct Seen {
    pub store: Store,
}

#[async_trait]
impl Dedup for Seen {
    async fn txn_ack(&self, peer: &PeerId, txn_id: &TxnId) -> Result<Option<Ack>, StoreError> {
        match self.store.fed_txn_ack(peer.as_str(), &txn_id.to_string()).await.map_err(store_err)? {
            Some(j) => serde_json::from_str(&j).map(Some).map_err(store_err),
            None => Ok(None),
        }
    }
    async fn record_txn(&self, peer: &PeerId, ack: &Ack) -> Result<(), StoreError> {
        let json = serde_json::to_string(ack).map_err(store_err)?;
        self.store
            .record_fed_txn(peer.as_str(), &ack.txn_id.to_string(), &json, now_millis())
            .await
            .map_err(store_err)
    }
    async fn seen_events(&self, ids: &[EventId]) -> Result<Vec<Option<EventResult>>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|i| i.as_str().to_owned()).collect();
        let rows = self.store.fed_seen(&keys).await.map_err(store_err)?;
        rows.into_iter().map(|r| r.map(|j| serde_json::from_str(&j)).transpose().map_err(store_err)).collect()
    }
    async fn record_events(&self, results: &[(EventId, EventResult)]) -> Result<(), StoreError> {
        let rows: Vec<(String, String)> = results
            .iter()
            .map(|(id, r)| Ok((id.as_str().to_owned(), serde_json::to_string(r)?)))
            .collect::<Result<_, serde_json::Error>>()
            .map_err(store_err)?;
        self.store.record_fed_events(&rows, now_millis()).await.map_err(store_err)
    }
}

pub(super) struct Handler {
    pub inner: Weak<Inner>,
}

/// A core error as an event result; storage trouble is retryable, rule violations are not.
fn rejected(e: &CoreError) -> EventResult {
    let code = match e {
        CoreError::NotMember => ErrorCode::NotMember,
        CoreError::NotAdmin | CoreError::Forbidden(_) | CoreError::LastAdmin => ErrorCode::Forbidden,
        CoreError::NotFound("chat") => ErrorCode::UnknownChat,
        CoreError::NotFound(_) => ErrorCode::NotFound,
        CoreError::InvalidInput(_) | CoreError::Conflict(_) | CoreError::PayloadTooLarge(_) => {
            ErrorCode::Invalid
        }
        CoreError::Unavailable | CoreError::Store(_) | CoreError::Internal(_) => ErrorCode::TryLater,
        _ => ErrorCode::Invalid,
    };
    EventResult::rejected(code, e.to_string())
}

/// One inbound event in flight: answered now, or when the writer commits it.
enum Pending {
    Done(EventResult),
    Writer(tokio::sync::oneshot::Receiver<crate::Result<Outcome>>),
}

#[async_trait]
impl InboundHandler for Handler {
    async fn on_transaction(&self, peer: &PeerId, txn: InboundTransaction) -> Vec<EventResult> {
        let Some(inner) = self.inner.upgrade() else {
            return txn
                .events
                .iter()
                .map(|_| EventResult::rejected(ErrorCode::TryLater, "stopping"))
                .collect();
        };
        let core = Core { inner };
        // Everything is queued first, in order, then awaited: one chat's entries stay in
        // order in its writer and share its commits.
        let mut pending = Vec::with_capacity(txn.events.len());
        for ev in txn.events {
            pending.push(core.inbound_event(peer, ev).await);
        }
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            out.push(match p {
                Pending::Done(r) => r,
                Pending::Writer(rx) => match rx.await {
                    Ok(Ok(Outcome::Entry(m))) => EventResult::Accepted { seq: Some(m.seq) },
                    Ok(Ok(Outcome::Chat(_))) => EventResult::accepted(),
                    Ok(Err(e)) => rejected(&e),
                    Err(_) => EventResult::rejected(ErrorCode::TryLater, "stopping"),
                },
            });
        }
        out
    }

    async fn on_query(&self, _peer: &PeerId, query: Query) -> Result<Answer, WireError> {
        let inner = self.inner.upgrade().ok_or_else(|| WireError::new(ErrorCode::TryLater, "stopping"))?;
        let fed = inner.fed().ok_or_else(|| WireError::new(ErrorCode::TryLater, "starting"))?;
        match query {
            Query::Profile { user } => {
                if !fed.directory_open {
                    return Err(WireError::new(ErrorCode::Forbidden, "this server's directory is closed"));
                }
                let not_found = || WireError::new(ErrorCode::NotFound, "no such user");
                if user.server() != inner.server.as_str() {
                    return Err(not_found());
                }
                let u = inner
                    .store
                    .user(user.as_str())
                    .await
                    .map_err(|_| WireError::new(ErrorCode::TryLater, "storage unavailable"))?
                    .ok_or_else(not_found)?;
                if u.disabled || u.is_deleted() || u.source.as_deref() == Some("remote") {
                    return Err(not_found());
                }
                Ok(Answer::Profile {
                    user,
                    display_name: Some(u.display_name),
                    avatar: u.avatar.as_deref().and_then(|a| parley_types::MediaId::parse(a).ok()),
                    extra: serde_json::json!({ "about": u.about }),
                })
            }
            _ => Err(WireError::new(ErrorCode::Unsupported, "query not served")),
        }
    }

    async fn on_media(
        &self,
        peer: &PeerId,
        media_id: &parley_types::MediaId,
    ) -> Result<MediaSource, WireError> {
        let inner = self.inner.upgrade().ok_or_else(|| WireError::new(ErrorCode::TryLater, "stopping"))?;
        let (m, path) = inner.media_for_peer(peer.as_str(), media_id).await.map_err(|e| match e {
            CoreError::NotFound(_) => WireError::new(ErrorCode::NotFound, "no such media"),
            _ => WireError::new(ErrorCode::TryLater, "storage unavailable"),
        })?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|_| WireError::new(ErrorCode::NotFound, "no such media"))?;
        Ok(MediaSource { content_type: m.mime, length: m.size as u64, reader: Box::new(file) })
    }
}

impl Core {
    /// Checks and starts one verified inbound event (the crate checked signature, origin and
    /// that the sender belongs to the origin).
    async fn inbound_event(&self, peer: &PeerId, signed: SignedEvent) -> Pending {
        let inner = &self.inner;
        let ev = &signed.event;
        let local = inner.server.as_str();
        match &ev.content {
            EventContent::MessageSend { message_id, body } => {
                let (Some(chat), Some(sender)) = (&ev.chat_id, &ev.sender) else {
                    return Pending::Done(EventResult::rejected(
                        ErrorCode::Invalid,
                        "chat_id and sender required",
                    ));
                };
                if chat.home_server() != local {
                    return Pending::Done(EventResult::rejected(
                        ErrorCode::UnknownChat,
                        "chat not homed here",
                    ));
                }
                if message_id.home_server() != ev.origin.as_str() {
                    return Pending::Done(EventResult::rejected(
                        ErrorCode::Invalid,
                        "message_id of another server",
                    ));
                }
                let op: FedOp = match serde_json::from_value(body.clone()) {
                    Ok(op) => op,
                    Err(e) => return Pending::Done(EventResult::rejected(ErrorCode::Invalid, e.to_string())),
                };
                if let Err(e) = self.check_fed_op(&op) {
                    return Pending::Done(rejected(&e));
                }
                let fed =
                    Some(FedSource { message_id: message_id.clone(), source: Box::new(signed.clone()) });
                match inner.enqueue_job(op.into_op(chat.clone(), sender.clone()), None, fed).await {
                    Ok(rx) => Pending::Writer(rx),
                    Err(e) => Pending::Done(rejected(&e)),
                }
            }
            EventContent::Custom { custom_kind, body } if custom_kind == ENTRY_KIND => {
                let Some(chat) = &ev.chat_id else {
                    return Pending::Done(EventResult::rejected(ErrorCode::Invalid, "chat_id required"));
                };
                // Only a chat's home server speaks for its entries.
                if chat.home_server() != ev.origin.as_str() || peer.as_str() != ev.origin.as_str() {
                    return Pending::Done(EventResult::rejected(
                        ErrorCode::Forbidden,
                        "not the chat's home server",
                    ));
                }
                let entry: ChatEntry = match serde_json::from_value(body.clone()) {
                    Ok(e) => e,
                    Err(e) => return Pending::Done(EventResult::rejected(ErrorCode::Invalid, e.to_string())),
                };
                if &entry.message.chat_id != chat {
                    return Pending::Done(EventResult::rejected(ErrorCode::Invalid, "entry of another chat"));
                }
                if let Err(why) = self.check_source(&entry) {
                    return Pending::Done(EventResult::rejected(ErrorCode::Forbidden, why));
                }
                // Keys of member servers this one does not peer with are learned before the
                // entry is acknowledged, so the receipts relayed after it verify.
                if let Some(snap) = &entry.snapshot {
                    self.learn_keys(chat, snap).await;
                }
                match inner.enqueue_job(Op::Apply { entry: Box::new(entry) }, None, None).await {
                    Ok(rx) => Pending::Writer(rx),
                    Err(e) => Pending::Done(rejected(&e)),
                }
            }
            EventContent::Receipt { delivered_seq, read_seq } => {
                Pending::Done(self.inbound_receipt(&signed, *delivered_seq, *read_seq).await)
            }
            EventContent::Typing { typing } => Pending::Done(self.inbound_typing(&signed, *typing).await),
            EventContent::Presence { presence, last_active_ts } => {
                if let Some(user) = &ev.sender {
                    let online = *presence != parley_federation::PresenceState::Offline;
                    let last = last_active_ts.map(|t| t as i64);
                    if !online && let Some(t) = last {
                        let _ = inner.store.set_last_seen(user.as_str(), t).await;
                    }
                    if let Some(fed) = inner.fed() {
                        if online {
                            fed.remote_online.insert(user.clone(), ());
                        } else {
                            fed.remote_online.remove(user);
                        }
                    }
                    inner.hub.publish_presence(user, online, last);
                }
                Pending::Done(EventResult::accepted())
            }
            _ => Pending::Done(EventResult::rejected(ErrorCode::Unsupported, "event kind not handled")),
        }
    }

    /// The same input rules as a local request.
    fn check_fed_op(&self, op: &FedOp) -> crate::Result<()> {
        match op {
            FedOp::Send { client_id, text, media, .. } => {
                if client_id.is_empty() || client_id.len() > 128 {
                    return Err(CoreError::invalid("client_id must be 1-128 characters"));
                }
                if media.is_none() || !text.trim().is_empty() {
                    self.check_text(text)?;
                }
            }
            FedOp::Edit { text, .. } => {
                self.check_text(text)?;
            }
            FedOp::UpdateGroup { name, description } => {
                if let Some(n) = name {
                    crate::chats::clean_group_name(n)?;
                }
                if let Some(d) = description {
                    crate::chats::clean_description(d)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A relayed member request must be signed by its sender's server and match the entry,
    /// so a home server cannot put words in a third server's users' mouths.
    fn check_source(&self, entry: &ChatEntry) -> Result<(), String> {
        let m = &entry.message;
        let home = m.chat_id.home_server();
        if m.sender.server() == home {
            return Ok(());
        }
        let Some(source) = &entry.source else {
            return Err(format!("an entry by {} comes without its server's signed request", m.sender));
        };
        let ev = &source.event;
        let ok_id =
            matches!(&ev.content, EventContent::MessageSend { message_id, .. } if *message_id == m.id);
        if !ok_id || ev.sender.as_ref() != Some(&m.sender) || ev.origin.as_str() != m.sender.server() {
            return Err("the signed request does not match the entry".into());
        }
        let Some(fed) = self.inner.fed() else { return Err("federation stopped".into()) };
        let key = if ev.origin.as_str() == self.inner.server.as_str() {
            Some(fed.handle.identity().public_key().clone())
        } else {
            fed.handle.peers().into_iter().find(|p| p.server_name == ev.origin).map(|p| p.public_key)
        };
        match key {
            Some(k) if source.verify(&k) => Ok(()),
            Some(_) => Err("the relayed request's signature does not verify".into()),
            // A server this one never peered with: trusted as far as its home server is.
            None => Ok(()),
        }
    }

    async fn inbound_receipt(
        &self,
        signed: &SignedEvent,
        delivered: Option<u64>,
        read: Option<u64>,
    ) -> EventResult {
        let inner = &self.inner;
        let ev = &signed.event;
        let (Some(chat), Some(user)) = (&ev.chat_id, &ev.sender) else {
            return EventResult::rejected(ErrorCode::Invalid, "chat_id and sender required");
        };
        let state = match inner.member_state(chat, user).await {
            Ok(s) => s,
            Err(e) => return rejected(&e),
        };
        let last = state.last_seq.load(std::sync::atomic::Ordering::Acquire);
        for (kind, seq) in [(ReceiptKind::Delivered, delivered), (ReceiptKind::Read, read)] {
            let Some(seq) = seq.map(|s| s.min(last)).filter(|s| *s > 0) else { continue };
            let kind_s = if kind == ReceiptKind::Read { "read" } else { "delivered" };
            let now = now_millis();
            match inner.store.advance_receipt(chat.as_str(), user.as_str(), kind_s, seq as i64, now).await {
                Ok(Some(_)) => {
                    let frame = encode(&ServerFrame::Receipt {
                        chat_id: chat.clone(),
                        user_id: user.clone(),
                        kind,
                        seq,
                        at: now,
                    });
                    inner.hub.send_frame(&state.member_ids(), &frame, None);
                }
                Ok(None) => {}
                Err(e) => return rejected(&e.into()),
            }
        }
        self.relay(chat, &state, signed).await;
        EventResult::accepted()
    }

    async fn inbound_typing(&self, signed: &SignedEvent, active: bool) -> EventResult {
        let inner = &self.inner;
        let ev = &signed.event;
        let (Some(chat), Some(user)) = (&ev.chat_id, &ev.sender) else {
            return EventResult::rejected(ErrorCode::Invalid, "chat_id and sender required");
        };
        let state = match inner.member_state(chat, user).await {
            Ok(s) => s,
            Err(e) => return rejected(&e),
        };
        let others: Vec<UserId> = state.members.keys().filter(|u| *u != user).cloned().collect();
        let frame = encode(&ServerFrame::Typing {
            chat_id: chat.clone(),
            user_id: user.clone(),
            active,
            expires_in_ms: inner.settings.presence.typing_ttl_ms,
        });
        inner.hub.send_frame(&others, &frame, None);
        if chat.home_server() == inner.server.as_str() {
            let Some(fed) = inner.fed() else { return EventResult::accepted() };
            let dests: Vec<String> = super::relay::member_servers(inner, &state)
                .into_iter()
                .filter(|d| d != ev.origin.as_str())
                .collect();
            super::relay::send_now(fed, dests, signed.clone());
        }
        EventResult::accepted()
    }

    /// On the home server: passes a member server's receipt on to the other member servers.
    async fn relay(&self, chat: &ChatId, state: &crate::ChatState, signed: &SignedEvent) {
        if chat.home_server() != self.inner.server.as_str() {
            return;
        }
        let dests: Vec<String> = super::relay::member_servers(&self.inner, state)
            .into_iter()
            .filter(|d| d != signed.event.origin.as_str())
            .collect();
        if !dests.is_empty() {
            self.queue_event(signed, &dests).await;
        }
    }
}
