//! What other appliances hear of local users: receipts (durable, through the outbox), typing
//! and presence (sent at once, not retried), and the announcements made when a chat's
//! membership first reaches another appliance.

use std::sync::Arc;

use parley_federation::{EventContent, SignedEvent};
use parley_store::OutboxRec;
use parley_types::protocol::ReceiptKind;
use parley_types::{ChatId, Seq, UserId, now_millis};

use super::{Fed, peer_id, wake};
use crate::{Core, Inner};

/// Servers other than this one with an active member in the chat.
pub(super) fn member_servers(inner: &Inner, state: &crate::ChatState) -> Vec<String> {
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
            for u in state.members.keys() {
                if core.inner.is_local(u.server()) {
                    if core.inner.hub.is_online(u) && announced.insert(u.clone()) {
                        core.federate_presence(u, true, None);
                    }
                } else {
                    // Fetched only when not cached; caching it refreshes the local members'
                    // chat lists.
                    let _ = core.remote_user(u, false).await;
                }
            }
        }
    });
}

/// Sends one event to each destination now, without the outbox (typing, presence).
pub(super) fn send_now(fed: &Fed, dests: Vec<String>, event: SignedEvent) {
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
