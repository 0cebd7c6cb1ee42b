//! Chats: creating 1:1 chats and groups, chat lists, history, message info, and the
//! membership commands (each a writer operation, so they are ordered with the messages).

use std::collections::HashMap;
use std::sync::Arc;

use parley_types::api::{
    ChatKind, ChatSummary, CreateGroupRequest, HistoryPage, MemberReceipt, MessageInfo, SendMessageRequest,
    UpdateGroupRequest,
};
use parley_types::protocol::{Message, MessageKind, ReceiptState, ServerFrame};
use parley_types::{ChatId, Seq, UserId};

use crate::error::{CoreError, Result};
use crate::hub::ConnId;
use crate::writer::{Op, Outcome};
use crate::{AuthContext, ChatState, Core, Inner, convert};

pub(crate) const MAX_GROUP_MEMBERS: usize = 1024;

pub(crate) fn clean_group_name(n: &str) -> Result<String> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(CoreError::invalid("group name must be 1-100 characters"));
    }
    Ok(n.to_owned())
}

pub(crate) fn clean_description(d: &str) -> Result<String> {
    if d.chars().count() > 1000 {
        return Err(CoreError::invalid("description must be at most 1000 characters"));
    }
    Ok(d.trim().to_owned())
}

pub(crate) fn entry(o: Outcome) -> Result<Message> {
    match o {
        Outcome::Entry(m) => Ok(*m),
        Outcome::Chat(_) => Err(CoreError::Internal("unexpected writer outcome".into())),
    }
}

pub(crate) fn chat_of(o: Outcome) -> Result<ChatId> {
    match o {
        Outcome::Chat(c) => Ok(c),
        Outcome::Entry(m) => Ok(m.chat_id),
    }
}

impl Core {
    /// `POST /api/chats/direct`: the 1:1 chat with `user`, created if needed.
    pub async fn create_direct(&self, ctx: &AuthContext, user: &UserId) -> Result<ChatSummary> {
        if user == &ctx.user {
            return Err(CoreError::Conflict("a 1:1 chat needs another user".into()));
        }
        self.require_reachable(user)?;
        let peer = self.user_rec(user).await?;
        if peer.disabled {
            return Err(CoreError::NotFound("user"));
        }
        let chat = chat_of(
            self.inner.submit(Op::CreateDirect { a: ctx.user.clone(), b: user.clone() }, None).await?,
        )?;
        self.inner.summary(&chat, &ctx.user).await
    }

    /// `POST /api/chats/group`: a group with the caller as its admin.
    pub async fn create_group(&self, ctx: &AuthContext, req: CreateGroupRequest) -> Result<ChatSummary> {
        let name = clean_group_name(&req.name)?;
        let description = clean_description(&req.description)?;
        if req.members.len() + 1 > MAX_GROUP_MEMBERS {
            return Err(CoreError::invalid(format!("a group has at most {MAX_GROUP_MEMBERS} members")));
        }
        for u in &req.members {
            self.require_reachable(u)?;
        }
        let ids: Vec<String> = req.members.iter().map(|u| u.to_string()).collect();
        let found = self.inner.store.users(&ids).await?;
        for u in req.members.iter().filter(|u| !found.iter().any(|f| f.user_id == u.as_str())) {
            // Users of other appliances are looked up on their server the first time.
            let known = u.server() != self.inner.server.as_str() && self.user_rec(u).await.is_ok();
            if !known {
                return Err(CoreError::invalid(format!("no such user: {u}")));
            }
        }
        let op = Op::CreateGroup { creator: ctx.user.clone(), name, description, members: req.members };
        let chat = chat_of(self.inner.submit(op, None).await?)?;
        self.inner.summary(&chat, &ctx.user).await
    }

    /// `GET /api/chats`: the caller's chats, most recently active first.
    pub async fn chats(&self, ctx: &AuthContext) -> Result<Vec<ChatSummary>> {
        let mut out = Vec::new();
        for m in self.inner.store.memberships(ctx.user.as_str()).await? {
            let chat = convert::chat_id(&m.chat_id)?;
            out.push(self.inner.summary(&chat, &ctx.user).await?);
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.last_activity));
        Ok(out)
    }

    /// `GET /api/chats/{id}`.
    pub async fn chat(&self, ctx: &AuthContext, chat: &ChatId) -> Result<ChatSummary> {
        self.inner.member_state(chat, &ctx.user).await?;
        self.inner.summary(chat, &ctx.user).await
    }

    /// Peers of the user's 1:1 chats.
    pub(crate) async fn direct_peers(&self, user: &UserId) -> Result<Vec<String>> {
        let mut peers = Vec::new();
        for m in self.inner.store.memberships(user.as_str()).await? {
            let chat = convert::chat_id(&m.chat_id)?;
            if let Some(s) = self.inner.chat_state(&chat).await?
                && s.kind == ChatKind::Direct
            {
                peers.extend(s.members.keys().filter(|u| *u != user).map(|u| u.to_string()));
            }
        }
        Ok(peers)
    }

    /// `PATCH /api/chats/{id}` (group admins).
    pub async fn update_group(
        &self,
        ctx: &AuthContext,
        chat: &ChatId,
        req: UpdateGroupRequest,
    ) -> Result<ChatSummary> {
        let name = req.name.as_deref().map(clean_group_name).transpose()?;
        let description = req.description.as_deref().map(clean_description).transpose()?;
        let op = Op::UpdateGroup { chat: chat.clone(), actor: ctx.user.clone(), name, description };
        self.inner.submit(op, None).await?;
        self.inner.summary(chat, &ctx.user).await
    }

    /// `POST /api/chats/{id}/members` (group admins).
    pub async fn add_member(&self, ctx: &AuthContext, chat: &ChatId, user: &UserId) -> Result<Message> {
        let state = self.inner.member_state(chat, &ctx.user).await?;
        self.require_reachable(user)?;
        let u = self.user_rec(user).await?;
        if u.disabled {
            return Err(CoreError::NotFound("user"));
        }
        if state.members.len() >= MAX_GROUP_MEMBERS {
            return Err(CoreError::Conflict(format!("a group has at most {MAX_GROUP_MEMBERS} members")));
        }
        self.submit_entry(Op::AddMember { chat: chat.clone(), actor: ctx.user.clone(), user: user.clone() })
            .await
    }

    /// A user of another appliance can join a chat only while that appliance is a peer.
    fn require_reachable(&self, user: &UserId) -> Result<()> {
        let server = user.server();
        if server == self.inner.server.as_str() || self.inner.fed().is_some_and(|f| f.is_peer(server)) {
            Ok(())
        } else {
            Err(CoreError::NotFound("user"))
        }
    }

    async fn submit_entry(&self, op: Op) -> Result<Message> {
        entry(self.inner.submit(op, None).await?)
    }

    /// `DELETE /api/chats/{id}/members/{user}` (group admins).
    pub async fn remove_member(&self, ctx: &AuthContext, chat: &ChatId, user: &UserId) -> Result<Message> {
        self.submit_entry(Op::RemoveMember {
            chat: chat.clone(),
            actor: ctx.user.clone(),
            user: user.clone(),
        })
        .await
    }

    /// `POST /api/chats/{id}/leave`.
    pub async fn leave(&self, ctx: &AuthContext, chat: &ChatId) -> Result<Message> {
        self.submit_entry(Op::Leave { chat: chat.clone(), user: ctx.user.clone() }).await
    }

    /// `PUT|DELETE /api/chats/{id}/admins/{user}` (group admins).
    pub async fn set_admin(
        &self,
        ctx: &AuthContext,
        chat: &ChatId,
        user: &UserId,
        admin: bool,
    ) -> Result<Message> {
        let op = Op::SetRole { chat: chat.clone(), actor: ctx.user.clone(), user: user.clone(), admin };
        self.submit_entry(op).await
    }

    pub(crate) fn check_text(&self, text: &str) -> Result<String> {
        let max = self.inner.settings.limits.max_message_chars;
        if text.trim().is_empty() {
            return Err(CoreError::invalid("message text must not be empty"));
        }
        if text.chars().count() > max {
            return Err(CoreError::invalid(format!("message text is limited to {max} characters")));
        }
        Ok(text.to_owned())
    }

    /// Sends a message (text, or media with a caption). `origin` is the sending connection,
    /// which gets the ack in order with its other frames; the returned message is durable.
    pub async fn send(
        &self,
        ctx: &AuthContext,
        chat: &ChatId,
        req: &SendMessageRequest,
        origin: Option<ConnId>,
    ) -> Result<Message> {
        let reply = self.enqueue_send(ctx, chat, req, origin).await?;
        let home = chat.home_server();
        let remote = (home != self.inner.server.as_str()).then_some(home);
        entry(self.inner.outcome(reply, remote).await?)
    }

    /// Validates and queues a send without waiting for the commit, so a connection's sends
    /// keep their order; the receiver yields the outcome.
    pub(crate) async fn enqueue_send(
        &self,
        ctx: &AuthContext,
        chat: &ChatId,
        req: &SendMessageRequest,
        origin: Option<ConnId>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Outcome>>> {
        let client_id = req.client_id.trim();
        if client_id.is_empty() || client_id.len() > 64 {
            return Err(CoreError::invalid("client_id must be 1-64 characters"));
        }
        let media = match &req.media_id {
            Some(id) => Some(self.media_to_send(ctx, id).await?),
            None => None,
        };
        // A caption may be empty; a text message may not.
        let text = if media.is_some() && req.text.trim().is_empty() {
            String::new()
        } else {
            self.check_text(&req.text)?
        };
        self.inner.member_state(chat, &ctx.user).await?;
        let op = Op::Send {
            chat: chat.clone(),
            sender: ctx.user.clone(),
            client_id: client_id.to_owned(),
            text,
            reply_to: req.reply_to,
            media,
        };
        self.inner.enqueue(op, origin).await
    }

    /// The entry at `seq` if the caller may see it (a member since before it), with the chat.
    async fn visible_message(
        &self,
        ctx: &AuthContext,
        chat: &ChatId,
        seq: Seq,
    ) -> Result<(Arc<ChatState>, Message)> {
        let state = self.inner.member_state(chat, &ctx.user).await?;
        let joined = state.member(&ctx.user).map_or(u64::MAX, |m| m.joined_seq);
        match self.inner.store.message_at(chat.as_str(), seq as i64).await? {
            Some(m) if seq >= joined => Ok((state, convert::message(m)?)),
            _ => Err(CoreError::NotFound("message")),
        }
    }

    /// The caller's own, live text or media message at `seq` (for media, edits change the caption).
    async fn own_message(&self, ctx: &AuthContext, chat: &ChatId, seq: Seq) -> Result<Message> {
        let (_, m) = self.visible_message(ctx, chat, seq).await?;
        if m.sender != ctx.user {
            return Err(CoreError::Forbidden("you can only change your own messages".into()));
        }
        if !(m.kind == MessageKind::Text || m.kind.is_media()) || m.deleted {
            return Err(CoreError::Conflict("this message cannot be changed".into()));
        }
        Ok(m)
    }

    /// Edits the caller's message; logged as an `edit` entry so every device applies it.
    pub async fn edit(&self, ctx: &AuthContext, chat: &ChatId, seq: Seq, text: &str) -> Result<Message> {
        let text = self.check_text(text)?;
        self.own_message(ctx, chat, seq).await?;
        let op = Op::Edit { chat: chat.clone(), actor: ctx.user.clone(), target: seq, text };
        self.submit_entry(op).await
    }

    /// Deletes the caller's message for everyone; logged as a `delete` entry.
    pub async fn delete(&self, ctx: &AuthContext, chat: &ChatId, seq: Seq) -> Result<Message> {
        self.own_message(ctx, chat, seq).await?;
        let op = Op::Delete { chat: chat.clone(), actor: ctx.user.clone(), target: seq };
        self.submit_entry(op).await
    }

    /// `GET /api/chats/{id}/messages?before=&limit=`: newest first, only from when the
    /// caller joined.
    pub async fn history(
        &self,
        ctx: &AuthContext,
        chat: &ChatId,
        before: Option<Seq>,
        limit: usize,
    ) -> Result<HistoryPage> {
        let state = self.inner.member_state(chat, &ctx.user).await?;
        let joined = state.member(&ctx.user).map_or(u64::MAX, |m| m.joined_seq);
        let limit = limit.clamp(1, 200);
        // Pages are windows of seqs below `before`: start no higher than the end of the log.
        let end = state.last_seq.load(std::sync::atomic::Ordering::Acquire) + 1;
        let before = before.unwrap_or(end).min(end) as i64;
        let rows = self.inner.store.history(chat.as_str(), before, joined as i64, limit).await?;
        let messages: Vec<Message> = rows.into_iter().map(convert::message).collect::<Result<_>>()?;
        let next_before = match messages.last() {
            Some(m) if messages.len() == limit && m.seq > joined => Some(m.seq),
            _ => None,
        };
        Ok(HistoryPage { messages, next_before })
    }

    /// `GET /api/chats/{id}/messages/{seq}/info`: per-member delivered/read times.
    pub async fn message_info(&self, ctx: &AuthContext, chat: &ChatId, seq: Seq) -> Result<MessageInfo> {
        let (state, m) = self.visible_message(ctx, chat, seq).await?;
        let times = self.inner.store.receipt_times(chat.as_str(), seq as i64).await?;
        let mut by_user: HashMap<&str, (Option<i64>, Option<i64>)> = HashMap::new();
        for t in &times {
            let e = by_user.entry(t.user_id.as_str()).or_default();
            if t.kind == "read" { e.1 = Some(t.at) } else { e.0 = Some(t.at) }
        }
        let mut members: Vec<MemberReceipt> = state
            .members
            .iter()
            .filter(|(u, info)| **u != m.sender && info.joined_seq <= seq)
            .map(|(u, _)| {
                let (d, r) = by_user.get(u.as_str()).copied().unwrap_or_default();
                MemberReceipt { user_id: u.clone(), delivered_at: d.or(r), read_at: r }
            })
            .collect();
        members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        let state = if members.iter().all(|r| r.read_at.is_some()) {
            ReceiptState::Read
        } else if members.iter().all(|r| r.delivered_at.is_some()) {
            ReceiptState::Delivered
        } else {
            ReceiptState::Sent
        };
        Ok(MessageInfo { chat_id: chat.clone(), seq, members, state })
    }
}

/// Chat-summary notifications: a counter, and the newest generation issued per (chat, user)
/// whose summary is not sent yet.
#[derive(Default)]
pub(crate) struct SummaryGens {
    next: u64,
    issued: std::collections::HashMap<(ChatId, UserId), u64>,
}

impl Inner {
    /// The chat as `viewer` sees it in a chat list.
    pub(crate) async fn summary(&self, chat: &ChatId, viewer: &UserId) -> Result<ChatSummary> {
        let state = self.chat_state(chat).await?.ok_or(CoreError::NotFound("chat"))?;
        // Heads and senders' marks are written behind the log: overlay what is still pending,
        // taken before and after the reads (a flush may land in between).
        let head_before = self.deferred.pending_head(chat);
        let marks_before = self.deferred.marks_in(chat, state.members.keys());
        let rec = self.store.chat(chat.as_str()).await?.ok_or(CoreError::NotFound("chat"))?;
        let mut members = self.store.members(chat.as_str()).await?;
        for m in &mut members {
            if let Ok(user) = convert::user_id(&m.user_id)
                && let Some(mark) = self.deferred.mark_since(marks_before.get(&user), chat, &user)
            {
                crate::writer::overlay(m, mark);
            }
        }
        let last_activity = [head_before, self.deferred.pending_head(chat)]
            .into_iter()
            .flatten()
            .fold(rec.last_activity, |a, h| a.max(h.at));
        let me =
            members.iter().find(|m| m.user_id == viewer.as_str() && m.active).ok_or(CoreError::NotMember)?;
        let active: Vec<_> = members.iter().filter(|m| m.active).collect();
        let others: Vec<_> = active.iter().filter(|m| m.user_id != viewer.as_str()).collect();
        let last_seq = state.last_seq.load(std::sync::atomic::Ordering::Acquire);
        let others_delivered_seq = others.iter().map(|m| m.delivered_seq as Seq).min().unwrap_or(last_seq);
        let others_read_seq = others.iter().map(|m| m.read_seq as Seq).min().unwrap_or(last_seq);
        let kind = if rec.kind == "direct" { ChatKind::Direct } else { ChatKind::Group };
        let (name, peer, avatar) = if kind == ChatKind::Direct {
            let peer_id = others.first().map(|m| m.user_id.clone());
            let peer = match &peer_id {
                Some(p) => self.store.user(p).await?,
                None => None,
            };
            let avatar = peer.as_ref().and_then(|p| p.avatar.clone());
            (
                // A remote peer whose profile is not cached yet shows as their address.
                peer.map(|p| p.display_name).or_else(|| peer_id.clone()).unwrap_or_default(),
                peer_id.map(|p| convert::user_id(&p)).transpose()?,
                avatar,
            )
        } else {
            (rec.name.clone(), None, rec.avatar.clone())
        };
        let last_message = self
            .store
            .last_visible_message(chat.as_str(), me.joined_seq, last_seq as i64)
            .await?
            .map(convert::message)
            .transpose()?;
        let unread = self.store.unread_count(chat.as_str(), me.read_seq, viewer.as_str()).await?;
        Ok(ChatSummary {
            chat_id: chat.clone(),
            kind,
            name,
            description: rec.description.clone(),
            peer,
            members: active.iter().map(|m| convert::member(m)).collect::<Result<_>>()?,
            last_seq,
            last_message,
            last_activity,
            unread,
            others_delivered_seq,
            others_read_seq,
            my_read_seq: me.read_seq as Seq,
            created_at: rec.created_at,
            avatar: avatar.map(|a| convert::media_id(&a)).transpose()?,
        })
    }

    /// After `user`'s name or picture changed: their 1:1 peers get the chat as they now see it
    /// (a 1:1 chat shows the other person's name and picture).
    pub(crate) fn notify_profile_changed(self: &Arc<Self>, user: UserId) {
        let inner = self.clone();
        tokio::spawn(async move {
            let Ok(memberships) = inner.store.memberships(user.as_str()).await else { return };
            for m in memberships {
                let Ok(chat) = convert::chat_id(&m.chat_id) else { continue };
                let Ok(Some(state)) = inner.chat_state(&chat).await else { continue };
                if state.kind == ChatKind::Direct {
                    let peers: Vec<UserId> = state.members.keys().filter(|u| **u != user).cloned().collect();
                    inner.notify_chat_changed(chat, peers);
                }
            }
        });
    }

    /// Sends each user their updated view of the chat (after a membership or group change).
    ///
    /// Notifications run as separate tasks, so one issued earlier could finish later and send
    /// an older view last (a 1:1 chat named by address after the remote profile had named it).
    /// Each (chat, user) notification takes a generation when it is issued; a summary is sent
    /// only if no later one was issued for that pair, since that one reads newer state.
    pub(crate) fn notify_chat_changed(self: &Arc<Self>, chat: ChatId, users: Vec<UserId>) {
        let issued: Vec<(UserId, u64)> = {
            let mut gens = self.summary_gens.lock();
            users
                .into_iter()
                .filter(|u| self.hub.is_online(u))
                .map(|u| {
                    gens.next += 1;
                    let g = gens.next;
                    gens.issued.insert((chat.clone(), u.clone()), g);
                    (u, g)
                })
                .collect()
        };
        let inner = self.clone();
        tokio::spawn(async move {
            for (u, g) in issued {
                let summary = inner.summary(&chat, &u).await;
                // Checked and sent under the lock, so a later notification cannot send between.
                let mut gens = inner.summary_gens.lock();
                let key = (chat.clone(), u);
                if gens.issued.get(&key) != Some(&g) {
                    continue;
                }
                gens.issued.remove(&key);
                match summary {
                    Ok(s) => inner.tell(&key.1, &ServerFrame::Chat { chat: Box::new(s) }),
                    Err(e) => tracing::debug!(error = %e, "chat summary for notification"),
                }
            }
        });
    }
}
