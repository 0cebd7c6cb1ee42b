//! The single chat writer: every change to a chat's log or membership passes through this
//! one task, which makes ordering and authorization checks race-free (a removed member cannot
//! slip a message in after their removal) and groups many operations into one commit.
//!
//! Loop: take one job, drain whatever else is queued (up to `storage.max_batch`), plan each
//! against a working copy of the chats it touches, commit the whole batch in one transaction
//! (one fsync), and only then answer the callers and fan out: nothing is acknowledged or
//! delivered before it is durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

use parley_store::records::{ChatRec, IdemRec, MemberRec};
use parley_store::{Batch, ChatUpdate, MessagePatch};
use parley_types::api::{ChatKind, Role};
use parley_types::protocol::{Message, MessageKind, ServerFrame, SystemEvent};
use parley_types::{ChatId, MessageId, Seq, UserId, now_millis};

use crate::chat_state::{ChatState, MemberInfo};
use crate::convert;
use crate::error::{CoreError, Result};
use crate::hub::{ConnId, Outbound, encode};
use crate::Inner;

#[derive(Debug)]
pub(crate) enum Op {
    Send { chat: ChatId, sender: UserId, client_id: String, text: String, reply_to: Option<Seq> },
    Edit { chat: ChatId, actor: UserId, target: Seq, text: String },
    Delete { chat: ChatId, actor: UserId, target: Seq },
    CreateDirect { a: UserId, b: UserId },
    CreateGroup { creator: UserId, name: String, description: String, members: Vec<UserId> },
    AddMember { chat: ChatId, actor: UserId, user: UserId },
    RemoveMember { chat: ChatId, actor: UserId, user: UserId },
    Leave { chat: ChatId, user: UserId },
    SetRole { chat: ChatId, actor: UserId, user: UserId, admin: bool },
    UpdateGroup { chat: ChatId, actor: UserId, name: Option<String>, description: Option<String> },
}

#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Entry(Box<Message>),
    Chat(ChatId),
}

pub(crate) struct Job {
    pub op: Op,
    /// The connection that sent it, which gets the ack in order with its other frames.
    pub origin: Option<ConnId>,
    pub reply: oneshot::Sender<Result<Outcome>>,
}

/// A chat as the writer is changing it within one batch.
struct Work {
    kind: ChatKind,
    last_seq: Seq,
    /// Active members.
    members: HashMap<UserId, MemberInfo>,
    /// All membership records, loaded only for membership changes.
    full: Option<HashMap<UserId, MemberRec>>,
    name: Option<String>,
    description: Option<String>,
    shared_seq: Arc<std::sync::atomic::AtomicU64>,
    touched: bool,
    membership_changed: bool,
}

/// What to do after the commit for one planned job.
enum Planned {
    /// A new log entry; `index` into `Pending::entries`.
    Entry { index: usize },
    /// Same as an entry already planned in this batch (an idempotent resend).
    Duplicate { index: usize },
    /// Already durable before this batch (an idempotent resend of an old message).
    Existing(Box<Message>),
    Chat(ChatId),
}

struct PendingEntry {
    message: Message,
    /// Everyone who should receive it (members after the change, plus anyone removed by it).
    recipients: Vec<UserId>,
}

#[derive(Default)]
struct Pending {
    batch: Batch,
    entries: Vec<PendingEntry>,
    idem_in_batch: HashMap<String, usize>,
    /// (chat, users whose chat list entry changed)
    chat_changes: Vec<(ChatId, Vec<UserId>)>,
    removed: Vec<(ChatId, UserId)>,
}

pub(crate) fn spawn(inner: Arc<Inner>, mut rx: mpsc::Receiver<Job>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let max = inner.settings.storage.max_batch;
        let stop = inner.stop.clone();
        loop {
            // Biased: jobs already queued are committed before a shutdown takes effect.
            let first = tokio::select! {
                biased;
                job = rx.recv() => match job {
                    Some(j) => j,
                    None => break,
                },
                _ = stop.cancelled() => break,
            };
            let mut jobs = vec![first];
            while jobs.len() < max {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            run_batch(&inner, jobs).await;
        }
        tracing::debug!("chat writer stopped");
    })
}

fn idem_key(sender: &UserId, client_id: &str) -> String {
    format!("{sender}|{client_id}")
}

async fn run_batch(inner: &Arc<Inner>, jobs: Vec<Job>) {
    // One lookup for every idempotency key in the batch.
    let keys: Vec<String> = jobs
        .iter()
        .filter_map(|j| match &j.op {
            Op::Send { sender, client_id, .. } => Some(idem_key(sender, client_id)),
            _ => None,
        })
        .collect();
    let known: HashMap<String, IdemRec> = if keys.is_empty() {
        HashMap::new()
    } else {
        match inner.store.idem_lookup(&keys).await {
            Ok(rows) => rows.into_iter().map(|r| (r.key.clone(), r)).collect(),
            Err(e) => {
                tracing::error!(error = %e, "idempotency lookup failed");
                for j in jobs {
                    let _ = j.reply.send(Err(CoreError::Internal("storage unavailable".into())));
                }
                return;
            }
        }
    };

    let mut works: HashMap<ChatId, Work> = HashMap::new();
    let mut pending = Pending::default();
    let mut planned: Vec<(Job, Planned)> = Vec::with_capacity(jobs.len());
    let now = now_millis();
    for job in jobs {
        match plan(inner, &job.op, &known, &mut works, &mut pending, now).await {
            Ok(p) => planned.push((job, p)),
            Err(e) => {
                let _ = job.reply.send(Err(e));
            }
        }
    }

    // Fold per-chat state into the batch.
    for (chat, w) in &works {
        if w.touched {
            pending.batch.chat_updates.push(ChatUpdate {
                chat_id: chat.to_string(),
                last_seq: w.last_seq as i64,
                last_activity: now,
                name: w.name.clone(),
                description: w.description.clone(),
            });
        }
    }
    // The new-chat records carry their final last_seq.
    for c in &mut pending.batch.new_chats {
        if let Ok(id) = ChatId::parse(&c.chat_id)
            && let Some(w) = works.get(&id)
        {
            c.last_seq = w.last_seq as i64;
        }
    }

    if let Err(e) = inner.store.commit_batch(&pending.batch).await {
        tracing::error!(error = %e, "batch commit failed");
        for chat in works.keys() {
            inner.chats.remove(chat);
        }
        for (job, _) in planned {
            let _ = job.reply.send(Err(CoreError::Internal("the message could not be stored".into())));
        }
        return;
    }

    // Durable: publish the new chat states, then answer and fan out in log order.
    for (chat, w) in works {
        if w.touched || w.membership_changed {
            w.shared_seq.store(w.last_seq, Ordering::Release);
            inner.chats.insert(
                chat,
                Arc::new(ChatState { kind: w.kind, members: w.members, last_seq: w.shared_seq }),
            );
        }
    }
    let mut acks: HashMap<usize, (ConnId, String)> = HashMap::new();
    for (job, p) in &planned {
        if let (Planned::Entry { index }, Some(origin), Op::Send { client_id, .. }) = (p, job.origin, &job.op) {
            acks.insert(*index, (origin, client_id.clone()));
        }
    }
    for (i, e) in pending.entries.iter().enumerate() {
        let frame = encode(&ServerFrame::Message { message: e.message.clone() });
        let origin = acks.get(&i).map(|(conn, client_id)| {
            (*conn, encode(&ServerFrame::Ack { client_id: client_id.clone(), message: e.message.clone() }))
        });
        inner.hub.send_entry(&e.recipients, &e.message.chat_id, e.message.seq, &frame, origin);
    }
    inner.metrics_committed(pending.entries.len());
    for (job, p) in planned {
        let outcome = match p {
            Planned::Entry { index } => Outcome::Entry(Box::new(pending.entries[index].message.clone())),
            Planned::Duplicate { index } => {
                let m = pending.entries[index].message.clone();
                ack_out_of_order(inner, &job, &m);
                Outcome::Entry(Box::new(m))
            }
            Planned::Existing(m) => {
                ack_out_of_order(inner, &job, &m);
                Outcome::Entry(m)
            }
            Planned::Chat(c) => Outcome::Chat(c),
        };
        let _ = job.reply.send(Ok(outcome));
    }
    for (chat, users) in pending.chat_changes {
        inner.notify_chat_changed(chat, users);
    }
    for (chat, user) in pending.removed {
        let frame = encode(&ServerFrame::ChatRemoved { chat_id: chat });
        inner.hub.send_frame(&[user], &frame, None);
    }
}

/// Acks a resend on its connection without moving that connection's log position.
fn ack_out_of_order(inner: &Inner, job: &Job, m: &Message) {
    if let (Some(origin), Op::Send { sender, client_id, .. }) = (job.origin, &job.op) {
        let frame = encode(&ServerFrame::Ack { client_id: client_id.clone(), message: m.clone() });
        inner.hub.send_to_conn(
            sender,
            origin,
            Outbound::Ack { chat: m.chat_id.clone(), seq: m.seq, frame, in_order: false },
        );
    }
}

async fn work<'a>(inner: &Inner, works: &'a mut HashMap<ChatId, Work>, chat: &ChatId) -> Result<&'a mut Work> {
    if !works.contains_key(chat) {
        let state = inner.chat_state(chat).await?.ok_or(CoreError::NotMember)?;
        let (name, description) = (None, None);
        works.insert(
            chat.clone(),
            Work {
                kind: state.kind,
                last_seq: state.last_seq.load(Ordering::Acquire),
                members: state.members.clone(),
                full: None,
                name,
                description,
                shared_seq: state.last_seq.clone(),
                touched: false,
                membership_changed: false,
            },
        );
    }
    works.get_mut(chat).ok_or(CoreError::NotMember)
}

async fn full_members<'a>(inner: &Inner, w: &'a mut Work, chat: &ChatId) -> Result<&'a mut HashMap<UserId, MemberRec>> {
    if w.full.is_none() {
        let recs = inner.store.members(chat.as_str()).await?;
        let mut map = HashMap::new();
        for r in recs {
            map.insert(convert::user_id(&r.user_id)?, r);
        }
        w.full = Some(map);
    }
    w.full.as_mut().ok_or_else(|| CoreError::Internal("members not loaded".into()))
}

fn new_member(chat: &ChatId, user: &UserId, role: Role, seq: Seq, now: i64) -> MemberRec {
    MemberRec {
        chat_id: chat.to_string(),
        user_id: user.to_string(),
        role: convert::role_str(role).to_owned(),
        active: true,
        joined_at: now,
        joined_seq: seq as i64,
        left_seq: None,
        // Nothing before joining is theirs to receive or read.
        delivered_seq: seq as i64 - 1,
        delivered_at: now,
        read_seq: seq as i64 - 1,
        read_at: now,
    }
}

/// Appends an entry to a chat's log in the pending batch.
#[allow(clippy::too_many_arguments)]
fn append(
    inner: &Inner,
    pending: &mut Pending,
    w: &mut Work,
    chat: &ChatId,
    sender: &UserId,
    kind: MessageKind,
    text: Option<String>,
    reply_to: Option<Seq>,
    target: Option<Seq>,
    event: Option<SystemEvent>,
    client_id: Option<String>,
    extra_recipients: &[UserId],
    now: i64,
) -> usize {
    w.last_seq += 1;
    w.touched = true;
    let message = Message {
        id: MessageId::generate(&inner.server),
        chat_id: chat.clone(),
        seq: w.last_seq,
        sender: sender.clone(),
        kind,
        text,
        reply_to,
        target,
        event,
        client_id,
        created_at: now,
        edited_at: None,
        deleted: false,
    };
    pending.batch.messages.push(convert::message_rec(&message));
    if w.members.contains_key(sender) {
        pending.batch.sender_marks.push((chat.to_string(), sender.to_string(), message.seq as i64, now));
    }
    let mut recipients: Vec<UserId> = w.members.keys().cloned().collect();
    for u in extra_recipients {
        if !recipients.contains(u) {
            recipients.push(u.clone());
        }
    }
    pending.entries.push(PendingEntry { message, recipients });
    pending.entries.len() - 1
}

fn require_group_admin(w: &Work, actor: &UserId) -> Result<()> {
    let me = w.members.get(actor).ok_or(CoreError::NotMember)?;
    if w.kind != ChatKind::Group {
        return Err(CoreError::Conflict("1:1 chats have no members to manage".into()));
    }
    if me.role != Role::Admin {
        return Err(CoreError::NotAdmin);
    }
    Ok(())
}

async fn plan(
    inner: &Inner,
    op: &Op,
    known: &HashMap<String, IdemRec>,
    works: &mut HashMap<ChatId, Work>,
    pending: &mut Pending,
    now: i64,
) -> Result<Planned> {
    match op {
        Op::Send { chat, sender, client_id, text, reply_to } => {
            let key = idem_key(sender, client_id);
            if let Some(&index) = pending.idem_in_batch.get(&key) {
                return Ok(Planned::Duplicate { index });
            }
            if let Some(rec) = known.get(&key) {
                let chat_of = convert::chat_id(&rec.chat_id)?;
                let m = inner
                    .store
                    .message_at(chat_of.as_str(), rec.seq)
                    .await?
                    .ok_or(CoreError::NotFound("message"))?;
                return Ok(Planned::Existing(Box::new(convert::message(m)?)));
            }
            let w = work(inner, works, chat).await?;
            if !w.members.contains_key(sender) {
                return Err(CoreError::NotMember);
            }
            if let Some(r) = reply_to
                && (*r == 0 || *r > w.last_seq)
            {
                return Err(CoreError::invalid("reply_to must be the seq of an earlier message"));
            }
            let index = append(
                inner, pending, w, chat, sender, MessageKind::Text, Some(text.clone()), *reply_to, None, None,
                Some(client_id.clone()), &[], now,
            );
            let m = &pending.entries[index].message;
            pending.batch.idem.push(IdemRec {
                key: key.clone(),
                message_id: m.id.to_string(),
                chat_id: chat.to_string(),
                seq: m.seq as i64,
            });
            pending.idem_in_batch.insert(key, index);
            Ok(Planned::Entry { index })
        }
        Op::Edit { chat, actor, target, text } => {
            let w = work(inner, works, chat).await?;
            if !w.members.contains_key(actor) {
                return Err(CoreError::NotMember);
            }
            let index = append(
                inner, pending, w, chat, actor, MessageKind::Edit, Some(text.clone()), None, Some(*target), None,
                None, &[], now,
            );
            pending.batch.patches.push(MessagePatch {
                chat_id: chat.to_string(),
                seq: *target as i64,
                text: Some(text.clone()),
                edited_at: Some(now),
                deleted: false,
            });
            Ok(Planned::Entry { index })
        }
        Op::Delete { chat, actor, target } => {
            let w = work(inner, works, chat).await?;
            if !w.members.contains_key(actor) {
                return Err(CoreError::NotMember);
            }
            let index = append(
                inner, pending, w, chat, actor, MessageKind::Delete, None, None, Some(*target), None, None, &[], now,
            );
            pending.batch.patches.push(MessagePatch {
                chat_id: chat.to_string(),
                seq: *target as i64,
                text: None,
                edited_at: None,
                deleted: true,
            });
            Ok(Planned::Entry { index })
        }
        Op::CreateDirect { a, b } => {
            let pair = if a < b { format!("{a}|{b}") } else { format!("{b}|{a}") };
            if let Some((_, c)) = pending.batch.directs.iter().find(|(k, _)| *k == pair) {
                return Ok(Planned::Chat(convert::chat_id(c)?));
            }
            if let Some(c) = inner.store.direct_chat(&pair).await? {
                return Ok(Planned::Chat(convert::chat_id(&c)?));
            }
            let chat = ChatId::generate(&inner.server);
            pending.batch.new_chats.push(ChatRec {
                chat_id: chat.to_string(),
                kind: "direct".into(),
                name: String::new(),
                description: String::new(),
                created_by: a.to_string(),
                created_at: now,
                last_seq: 0,
                last_activity: now,
            });
            pending.batch.directs.push((pair, chat.to_string()));
            let mut members = HashMap::new();
            for u in [a, b] {
                pending.batch.members.push(new_member(&chat, u, Role::Member, 1, now));
                members.insert(u.clone(), MemberInfo { role: Role::Member, joined_seq: 1 });
            }
            works.insert(chat.clone(), fresh_work(ChatKind::Direct, members));
            pending.chat_changes.push((chat.clone(), vec![a.clone(), b.clone()]));
            Ok(Planned::Chat(chat))
        }
        Op::CreateGroup { creator, name, description, members } => {
            let chat = ChatId::generate(&inner.server);
            pending.batch.new_chats.push(ChatRec {
                chat_id: chat.to_string(),
                kind: "group".into(),
                name: name.clone(),
                description: description.clone(),
                created_by: creator.to_string(),
                created_at: now,
                last_seq: 0,
                last_activity: now,
            });
            let mut map = HashMap::new();
            map.insert(creator.clone(), MemberInfo { role: Role::Admin, joined_seq: 1 });
            pending.batch.members.push(new_member(&chat, creator, Role::Admin, 1, now));
            for u in members.iter().filter(|u| *u != creator) {
                if map.contains_key(u) {
                    continue;
                }
                map.insert(u.clone(), MemberInfo { role: Role::Member, joined_seq: 1 });
                pending.batch.members.push(new_member(&chat, u, Role::Member, 1, now));
            }
            let users: Vec<UserId> = map.keys().cloned().collect();
            works.insert(chat.clone(), fresh_work(ChatKind::Group, map));
            let w = works.get_mut(&chat).ok_or(CoreError::NotFound("chat"))?;
            append(
                inner, pending, w, &chat, creator, MessageKind::System, None, None, None,
                Some(SystemEvent::Created { by: creator.clone(), name: name.clone() }), None, &[], now,
            );
            pending.chat_changes.push((chat.clone(), users));
            Ok(Planned::Chat(chat))
        }
        Op::AddMember { chat, actor, user } => {
            let w = work(inner, works, chat).await?;
            require_group_admin(w, actor)?;
            if w.members.contains_key(user) {
                return Err(CoreError::Conflict(format!("{user} is already a member")));
            }
            let seq = w.last_seq + 1;
            let rec = new_member(chat, user, Role::Member, seq, now);
            full_members(inner, w, chat).await?.insert(user.clone(), rec.clone());
            pending.batch.members.push(rec);
            w.members.insert(user.clone(), MemberInfo { role: Role::Member, joined_seq: seq });
            w.membership_changed = true;
            let index = append(
                inner, pending, w, chat, actor, MessageKind::System, None, None, None,
                Some(SystemEvent::MemberAdded { by: actor.clone(), user_id: user.clone() }), None, &[], now,
            );
            pending.chat_changes.push((chat.clone(), w.members.keys().cloned().collect()));
            Ok(Planned::Entry { index })
        }
        Op::RemoveMember { chat, actor, user } => {
            let w = work(inner, works, chat).await?;
            require_group_admin(w, actor)?;
            if actor == user {
                return Err(CoreError::invalid("to leave a group, use leave"));
            }
            if !w.members.contains_key(user) {
                return Err(CoreError::NotFound("member"));
            }
            let event = SystemEvent::MemberRemoved { by: actor.clone(), user_id: user.clone() };
            depart(inner, pending, w, chat, actor, user, event, now).await
        }
        Op::Leave { chat, user } => {
            let w = work(inner, works, chat).await?;
            let me = w.members.get(user).ok_or(CoreError::NotMember)?;
            if w.kind != ChatKind::Group {
                return Err(CoreError::Conflict("you cannot leave a 1:1 chat".into()));
            }
            let other_admins = w.members.iter().filter(|(u, m)| *u != user && m.role == Role::Admin).count();
            if me.role == Role::Admin && other_admins == 0 && w.members.len() > 1 {
                return Err(CoreError::LastAdmin);
            }
            let event = SystemEvent::MemberLeft { user_id: user.clone() };
            depart(inner, pending, w, chat, user, user, event, now).await
        }
        Op::SetRole { chat, actor, user, admin } => {
            let w = work(inner, works, chat).await?;
            require_group_admin(w, actor)?;
            let current = w.members.get(user).ok_or(CoreError::NotFound("member"))?.role;
            let role = if *admin { Role::Admin } else { Role::Member };
            if current == role {
                return Err(CoreError::Conflict(format!("{user} already has that role")));
            }
            if !admin && w.members.values().filter(|m| m.role == Role::Admin).count() == 1 {
                return Err(CoreError::LastAdmin);
            }
            let full = full_members(inner, w, chat).await?;
            let rec = full.get_mut(user).ok_or(CoreError::NotFound("member"))?;
            rec.role = convert::role_str(role).to_owned();
            pending.batch.members.push(rec.clone());
            if let Some(m) = w.members.get_mut(user) {
                m.role = role;
            }
            w.membership_changed = true;
            let event = if *admin {
                SystemEvent::AdminPromoted { by: actor.clone(), user_id: user.clone() }
            } else {
                SystemEvent::AdminDemoted { by: actor.clone(), user_id: user.clone() }
            };
            let index = append(
                inner, pending, w, chat, actor, MessageKind::System, None, None, None, Some(event), None, &[], now,
            );
            pending.chat_changes.push((chat.clone(), w.members.keys().cloned().collect()));
            Ok(Planned::Entry { index })
        }
        Op::UpdateGroup { chat, actor, name, description } => {
            let w = work(inner, works, chat).await?;
            require_group_admin(w, actor)?;
            let mut last = None;
            if let Some(n) = name {
                w.name = Some(n.clone());
                last = Some(append(
                    inner, pending, w, chat, actor, MessageKind::System, None, None, None,
                    Some(SystemEvent::Renamed { by: actor.clone(), name: n.clone() }), None, &[], now,
                ));
            }
            if let Some(d) = description {
                w.description = Some(d.clone());
                last = Some(append(
                    inner, pending, w, chat, actor, MessageKind::System, None, None, None,
                    Some(SystemEvent::DescriptionChanged { by: actor.clone(), description: d.clone() }), None,
                    &[], now,
                ));
            }
            let index = last.ok_or_else(|| CoreError::invalid("nothing to change"))?;
            pending.chat_changes.push((chat.clone(), w.members.keys().cloned().collect()));
            Ok(Planned::Entry { index })
        }
    }
}

fn fresh_work(kind: ChatKind, members: HashMap<UserId, MemberInfo>) -> Work {
    Work {
        kind,
        last_seq: 0,
        members,
        full: None,
        name: None,
        description: None,
        shared_seq: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        touched: true,
        membership_changed: true,
    }
}

/// Removes `user` from the group (removed by `actor`, or leaving when they are the same),
/// logging `event`; the departing user still receives that entry.
#[allow(clippy::too_many_arguments)]
async fn depart(
    inner: &Inner,
    pending: &mut Pending,
    w: &mut Work,
    chat: &ChatId,
    actor: &UserId,
    user: &UserId,
    event: SystemEvent,
    now: i64,
) -> Result<Planned> {
    let seq = w.last_seq + 1;
    let full = full_members(inner, w, chat).await?;
    let rec = full.get_mut(user).ok_or(CoreError::NotFound("member"))?;
    rec.active = false;
    rec.left_seq = Some(seq as i64);
    pending.batch.members.push(rec.clone());
    // The entry is logged while the user is still a member so their own devices get it.
    let index = append(
        inner, pending, w, chat, actor, MessageKind::System, None, None, None, Some(event), None, &[user.clone()], now,
    );
    w.members.remove(user);
    w.membership_changed = true;
    pending.chat_changes.push((chat.clone(), w.members.keys().cloned().collect()));
    pending.removed.push((chat.clone(), user.clone()));
    Ok(Planned::Entry { index })
}
