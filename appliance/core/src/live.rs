//! Live connections: the protocol state machine behind one WebSocket (or, later,
//! WebTransport) connection, independent of the transport.
//!
//! Delivery is exactly-once and in order per chat and per connection: the connection tracks
//! the highest seq it has sent per chat, drops entries it already sent, and fills any gap from
//! the database before sending a newer entry. Live entries flow only after the client's first
//! `sync`, which replays everything after the client's cursors.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use parley_types::protocol::{ClientFrame, PROTOCOL_VERSION, ReceiptKind, ServerFrame};
use parley_types::{ChatId, ErrorCode, Seq, UserId, now_millis};

use crate::error::{CoreError, Result};
use crate::hub::{Closer, ConnId, Delivery, Outbound, encode};
use crate::{AuthContext, Core, convert};

const SYNC_PAGE: usize = 500;
const MAX_PRESENCE_SUBSCRIPTIONS: usize = 1000;

/// One authenticated client connection.
pub struct Connection {
    core: Core,
    pub ctx: AuthContext,
    pub id: ConnId,
    pub closer: Arc<Closer>,
    rx: Option<mpsc::Receiver<Outbound>>,
    sent: HashMap<ChatId, Seq>,
    synced: bool,
    closed: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("user", &self.ctx.user).field("id", &self.id).finish()
    }
}

fn error_frame(r#ref: Option<String>, e: &CoreError) -> Arc<str> {
    encode(&ServerFrame::Error { r#ref, code: e.code(), message: e.to_string() })
}

impl Core {
    /// Registers a live connection for an authenticated session; the user comes online.
    pub fn connect(&self, ctx: AuthContext) -> Connection {
        let reg = self.inner.hub.register(&ctx.user, ctx.session, self.inner.settings.limits.outbound_queue);
        if reg.first {
            self.inner.hub.publish_presence(&ctx.user, true, None);
            self.federate_presence(&ctx.user, true, None);
        }
        Connection {
            core: self.clone(),
            ctx,
            id: reg.id,
            closer: reg.closer,
            rx: Some(reg.rx),
            sent: HashMap::new(),
            synced: false,
            closed: false,
        }
    }

    /// Moves the caller's delivered or read mark in a chat and tells the chat's members.
    pub async fn mark(&self, ctx: &AuthContext, chat: &ChatId, kind: ReceiptKind, seq: Seq) -> Result<()> {
        let state = self.inner.member_state(chat, &ctx.user).await?;
        let seq = seq.min(state.last_seq.load(Ordering::Acquire));
        if seq == 0 {
            return Ok(());
        }
        let kind_s = match kind {
            ReceiptKind::Delivered => "delivered",
            ReceiptKind::Read => "read",
        };
        let now = now_millis();
        let moved = self
            .inner
            .store
            .advance_receipt(chat.as_str(), ctx.user.as_str(), kind_s, seq as i64, now)
            .await?;
        if moved.is_some() {
            let frame = encode(&ServerFrame::Receipt {
                chat_id: chat.clone(),
                user_id: ctx.user.clone(),
                kind,
                seq,
                at: now,
            });
            self.inner.hub.send_frame(&state.member_ids(), &frame, None);
            self.federate_receipt(chat, &ctx.user, kind, seq).await;
        }
        Ok(())
    }

    /// Shows (or clears) "typing…" to the chat's other members.
    pub async fn typing(&self, ctx: &AuthContext, chat: &ChatId, active: bool) -> Result<()> {
        let state = self.inner.member_state(chat, &ctx.user).await?;
        let others: Vec<UserId> = state.members.keys().filter(|u| **u != ctx.user).cloned().collect();
        let frame = encode(&ServerFrame::Typing {
            chat_id: chat.clone(),
            user_id: ctx.user.clone(),
            active,
            expires_in_ms: self.inner.settings.presence.typing_ttl_ms,
        });
        self.inner.hub.send_frame(&others, &frame, None);
        self.federate_typing(chat, &ctx.user, active).await;
        Ok(())
    }
}

impl Connection {
    /// The queue of live items for this connection; the transport polls it once `synced()`.
    pub fn take_outbound(&mut self) -> mpsc::Receiver<Outbound> {
        self.rx.take().unwrap_or_else(|| mpsc::channel(1).1)
    }

    pub fn synced(&self) -> bool {
        self.synced
    }

    /// The `ready` frame sent after authentication.
    pub fn ready_frame(&self) -> Arc<str> {
        encode(&ServerFrame::Ready {
            protocol: PROTOCOL_VERSION,
            user_id: self.ctx.user.clone(),
            session_id: self.ctx.session,
            server_time: now_millis(),
        })
    }

    /// Turns a queued live item into the frames to write, filling gaps and dropping repeats.
    pub async fn outbound(&mut self, item: Outbound) -> Vec<Arc<str>> {
        match item {
            Outbound::Frame(f) => vec![f],
            Outbound::Ack(a) => {
                let Delivery { chat, seq, frame, .. } = *a;
                self.in_order(chat, seq, frame).await
            }
            Outbound::Entry(e) => {
                let received = e.received;
                let out = self.in_order(e.chat.clone(), e.seq, e.frame.clone()).await;
                let m = &self.core.inner.metrics;
                if !out.is_empty() {
                    m.send_deliver.observe(received.elapsed().as_secs_f64());
                }
                m.messages_delivered.inc_by(out.len() as u64);
                out
            }
        }
    }

    async fn in_order(&mut self, chat: ChatId, seq: Seq, frame: Arc<str>) -> Vec<Arc<str>> {
        let mut out = Vec::new();
        if let Some(&last) = self.sent.get(&chat) {
            if seq <= last {
                return out;
            }
            if seq > last + 1 {
                // Entries this connection missed (e.g. committed while it was syncing). Boxed:
                // a database future is large and would otherwise size every connection's task.
                let store = &self.core.inner.store;
                let missed =
                    store.messages_after(chat.as_str(), last as i64, seq as i64 - 1, usize::MAX >> 1);
                match Box::pin(missed).await {
                    Ok(rows) => {
                        for r in rows {
                            if let Ok(m) = convert::message(r) {
                                out.push(encode(&ServerFrame::Message { message: m }));
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "gap fill failed; closing connection");
                        self.closer.close(ErrorCode::Unavailable, "temporary failure; reconnect and sync");
                        return out;
                    }
                }
            }
        }
        self.sent.insert(chat, seq);
        out.push(frame);
        out
    }

    /// Handles one client frame; returns frames to write now (replies, sync output).
    pub async fn handle(&mut self, frame: ClientFrame) -> Vec<Arc<str>> {
        let core = self.core.clone();
        let ctx = self.ctx.clone();
        let result = match frame {
            ClientFrame::Auth { .. } => Err(CoreError::invalid("already authenticated")),
            ClientFrame::Send { chat_id, client_id, text, reply_to, media_id } => {
                let req = parley_types::api::SendMessageRequest { client_id, text, reply_to, media_id };
                let client_id = req.client_id.clone();
                // Queued in the order the client sent; the ack arrives through the live queue
                // once durable, and only failures are reported from here.
                match core.enqueue_send(&ctx, &chat_id, &req, Some(self.id)).await {
                    Ok(reply) => {
                        let id = self.id;
                        tokio::spawn(async move {
                            if let Ok(Err(e)) = reply.await {
                                let f = error_frame(Some(client_id), &e);
                                core.inner.hub.send_to_conn(&ctx.user, id, Outbound::Frame(f));
                            }
                        });
                        Ok(vec![])
                    }
                    Err(e) => Ok(vec![error_frame(Some(client_id), &e)]),
                }
            }
            ClientFrame::Edit { chat_id, seq, text } => {
                core.edit(&ctx, &chat_id, seq, &text).await.map(|_| vec![])
            }
            ClientFrame::Delete { chat_id, seq } => core.delete(&ctx, &chat_id, seq).await.map(|_| vec![]),
            ClientFrame::Received { chat_id, seq } => {
                core.mark(&ctx, &chat_id, ReceiptKind::Delivered, seq).await.map(|_| vec![])
            }
            ClientFrame::Read { chat_id, seq } => {
                core.mark(&ctx, &chat_id, ReceiptKind::Read, seq).await.map(|_| vec![])
            }
            ClientFrame::Typing { chat_id, active } => {
                core.typing(&ctx, &chat_id, active).await.map(|_| vec![])
            }
            ClientFrame::Sync { cursors } => self.sync(cursors).await,
            ClientFrame::SubscribePresence { user_ids } => self.subscribe(user_ids).await,
            ClientFrame::Ping { nonce } => Ok(vec![encode(&ServerFrame::Pong { nonce })]),
        };
        result.unwrap_or_else(|e| vec![error_frame(None, &e)])
    }

    /// Replays every entry after the client's cursors, chat by chat, in order.
    async fn sync(&mut self, cursors: std::collections::BTreeMap<ChatId, Seq>) -> Result<Vec<Arc<str>>> {
        let inner = &self.core.inner;
        let mut out = Vec::new();
        let mut chats = 0u32;
        let mut messages = 0u64;
        // A sender's own marks may still be pending (`writer::deferred`): taken before and
        // after the read, as a flush may land in between.
        let pending_before = inner.deferred.marks_of(&self.ctx.user);
        for m in inner.store.memberships(self.ctx.user.as_str()).await? {
            let chat = convert::chat_id(&m.chat_id)?;
            let Some(state) = inner.chat_state(&chat).await? else {
                continue;
            };
            let upto = state.last_seq.load(Ordering::Acquire);
            let floor = (m.joined_seq as Seq).saturating_sub(1);
            let delivered = inner
                .deferred
                .mark_since(pending_before.get(&chat), &chat, &self.ctx.user)
                .map_or(m.delivered_seq as Seq, |p| p.seq.max(m.delivered_seq as Seq));
            let cursor = cursors.get(&chat).copied().unwrap_or(delivered).max(floor).min(upto);
            let mut from = self.sent.get(&chat).copied().unwrap_or(0).max(cursor);
            chats += 1;
            while from < upto {
                let rows =
                    inner.store.messages_after(chat.as_str(), from as i64, upto as i64, SYNC_PAGE).await?;
                let Some(last) = rows.last().map(|r| r.seq as Seq) else {
                    break;
                };
                for r in rows {
                    out.push(encode(&ServerFrame::Message { message: convert::message(r)? }));
                    messages += 1;
                }
                from = last;
            }
            self.sent.insert(chat, from.max(cursor));
        }
        self.synced = true;
        inner.metrics.messages_delivered.inc_by(messages);
        out.push(encode(&ServerFrame::SyncDone { chats, messages }));
        Ok(out)
    }

    async fn subscribe(&mut self, user_ids: Vec<UserId>) -> Result<Vec<Arc<str>>> {
        if user_ids.len() > MAX_PRESENCE_SUBSCRIPTIONS {
            return Err(CoreError::invalid(format!(
                "at most {MAX_PRESENCE_SUBSCRIPTIONS} presence subscriptions"
            )));
        }
        let inner = &self.core.inner;
        let ids: Vec<String> = user_ids.iter().map(|u| u.to_string()).collect();
        let users = inner.store.users(&ids).await?;
        let mut targets = Vec::new();
        let mut out = Vec::new();
        for u in users {
            let id = convert::user_id(&u.user_id)?;
            let visible = match u.last_seen_visibility.as_str() {
                "nobody" => false,
                "contacts" => inner.store.is_contact(&u.user_id, self.ctx.user.as_str()).await?,
                _ => true,
            } || id == self.ctx.user;
            if visible {
                let online = inner.hub.is_online(&id)
                    || inner.fed().is_some_and(|f| f.remote_online.contains_key(&id));
                out.push(encode(&ServerFrame::Presence {
                    user_id: id.clone(),
                    online,
                    last_seen: if online { None } else { u.last_seen },
                }));
            }
            targets.push((id, visible));
        }
        if let Some(tx) = inner.hub.sender(&self.ctx.user, self.id) {
            inner.hub.watch(self.id, tx, targets);
        }
        Ok(out)
    }

    /// Unregisters; when this was the user's last connection they go offline (last seen now).
    pub async fn close(mut self) {
        self.closed = true;
        let inner = &self.core.inner;
        if inner.hub.unregister(&self.ctx.user, self.id) {
            let now = now_millis();
            if let Err(e) = inner.store.set_last_seen(self.ctx.user.as_str(), now).await {
                tracing::warn!(error = %e, "could not store last seen");
            }
            inner.hub.publish_presence(&self.ctx.user, false, Some(now));
            self.core.federate_presence(&self.ctx.user, false, Some(now));
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // A transport that forgot `close` (e.g. a panic) still leaves the hub clean.
        if !self.closed {
            self.core.inner.hub.unregister(&self.ctx.user, self.id);
        }
    }
}
