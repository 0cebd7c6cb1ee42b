//! Planning: checks one operation against the working state of its chat and adds its
//! records and log entries to the pending batch. Nothing here writes to the database.

use std::collections::HashMap;
use std::sync::Arc;

use parley_store::MessagePatch;
use parley_store::records::{ChatRec, MemberRec};
use parley_types::api::{ChatKind, Role};
use parley_types::protocol::{Media, Message, MessageKind, SystemEvent};
use parley_types::{ChatId, MessageId, Seq, UserId};

use super::recent::{self, Recent};
use super::{Op, Pending, PendingEntry, Planned, Work};
use crate::Inner;
use crate::chat_state::MemberInfo;
use crate::convert;
use crate::error::{CoreError, Result};

/// The stored idempotency key of a send into a chat homed on another appliance (the federation
/// path; sends into local chats are recognised by `recent`). Scoped to the chat, as those are.
pub(crate) fn idem_key(sender: &UserId, chat: &ChatId, client_id: &str) -> String {
    format!("{sender}|{chat}|{client_id}")
}

async fn work<'a>(
    inner: &Inner,
    works: &'a mut HashMap<ChatId, Work>,
    chat: &ChatId,
) -> Result<&'a mut Work> {
    if !works.contains_key(chat) {
        let state = inner.chat_state(chat).await?.ok_or(CoreError::NotMember)?;
        works.insert(chat.clone(), Work::from_state(&state));
    }
    works.get_mut(chat).ok_or(CoreError::NotMember)
}

pub(super) async fn full_members<'a>(
    inner: &Inner,
    w: &'a mut Work,
    chat: &ChatId,
) -> Result<&'a mut HashMap<UserId, MemberRec>> {
    if w.full.is_none() {
        // These records are written back whole: carry a sender's mark still pending, from
        // before and after the read (a flush may land in between).
        let before = inner.deferred.marks_in(chat, w.members.keys());
        let recs = inner.store.members(chat.as_str()).await?;
        let mut map = HashMap::new();
        for mut r in recs {
            let user = convert::user_id(&r.user_id)?;
            if let Some(m) = inner.deferred.mark_since(before.get(&user), chat, &user) {
                super::deferred::overlay(&mut r, m);
            }
            map.insert(user, r);
        }
        w.full = Some(map);
    }
    w.full.as_mut().ok_or_else(|| CoreError::Internal("members not loaded".into()))
}

pub(super) fn new_member(chat: &ChatId, user: &UserId, role: Role, seq: Seq, now: i64) -> MemberRec {
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

/// The content of a new log entry.
struct Draft {
    kind: MessageKind,
    text: Option<String>,
    reply_to: Option<Seq>,
    target: Option<Seq>,
    event: Option<SystemEvent>,
    client_id: Option<String>,
    media: Option<Media>,
}

impl Draft {
    fn new(kind: MessageKind) -> Self {
        Self { kind, text: None, reply_to: None, target: None, event: None, client_id: None, media: None }
    }
    fn text(text: String, reply_to: Option<Seq>, client_id: Option<String>) -> Self {
        Self { text: Some(text), reply_to, client_id, ..Self::new(MessageKind::Text) }
    }
    fn system(event: SystemEvent) -> Self {
        Self { event: Some(event), ..Self::new(MessageKind::System) }
    }
    fn edit(target: Option<Seq>, text: Option<String>) -> Self {
        Self { target, text, ..Self::new(MessageKind::Edit) }
    }
    fn delete(target: Option<Seq>) -> Self {
        Self { target, ..Self::new(MessageKind::Delete) }
    }
}

/// Appends an entry to a chat's log in the pending batch; `extra_recipients` also receive it.
fn append(
    inner: &Inner,
    pending: &mut Pending,
    w: &mut Work,
    chat: &ChatId,
    sender: &UserId,
    draft: Draft,
    extra_recipients: &[UserId],
) -> usize {
    let now = pending.now;
    w.last_seq += 1;
    w.touched = true;
    let message = Message {
        id: pending.next_id.take().unwrap_or_else(|| MessageId::generate(&inner.server)),
        chat_id: chat.clone(),
        seq: w.last_seq,
        sender: sender.clone(),
        kind: draft.kind,
        text: draft.text,
        reply_to: draft.reply_to,
        target: draft.target,
        event: draft.event,
        client_id: draft.client_id,
        created_at: now,
        edited_at: None,
        deleted: false,
        media: draft.media,
    };
    if let Some(m) = &message.media {
        pending.batch.media_refs.push(m.media_id.to_string());
    }
    pending.batch.messages.push(convert::message_rec(&message));
    if w.members.contains_key(sender) {
        pending.marks.push((chat.clone(), sender.clone(), message.seq, now));
    }
    let mut recipients: Vec<UserId> = w.members.keys().cloned().collect();
    for u in extra_recipients {
        if !recipients.contains(u) {
            recipients.push(u.clone());
        }
    }
    let source = pending.next_source.take();
    pending.entries.push(PendingEntry { message, recipients, source });
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

pub(super) async fn plan(
    inner: &Inner,
    op: &Op,
    recent: &mut Recent,
    works: &mut HashMap<ChatId, Work>,
    pending: &mut Pending,
    now: i64,
) -> Result<Planned> {
    match op {
        Op::Send { chat, sender, client_id, text, reply_to, media } => {
            let key = recent::key(sender, client_id);
            if let Some(&index) = pending.idem_in_batch.get(&(chat.clone(), key)) {
                return Ok(Planned::Duplicate { index });
            }
            let w = work(inner, works, chat).await?;
            if !w.members.contains_key(sender) {
                return Err(CoreError::NotMember);
            }
            // Keys are 64-bit hashes: a hit counts only if the stored entry is this send.
            if let Some(seq) = recent.find(inner, chat, w.last_seq, key, now).await?
                && let Some(m) = inner.store.message_at(chat.as_str(), seq as i64).await?
                && m.sender == sender.as_str()
                && m.client_id.as_deref() == Some(client_id.as_str())
            {
                return Ok(Planned::Existing(Box::new(convert::message(m)?)));
            }
            if let Some(r) = reply_to
                && (*r == 0 || *r > w.last_seq)
            {
                return Err(CoreError::invalid("reply_to must be the seq of an earlier message"));
            }
            let index = append(
                inner,
                pending,
                w,
                chat,
                sender,
                Draft {
                    kind: media.as_ref().map_or(MessageKind::Text, |m| m.kind),
                    media: media.clone(),
                    ..Draft::text(text.clone(), *reply_to, Some(client_id.clone()))
                },
                &[],
            );
            pending.idem_in_batch.insert((chat.clone(), key), index);
            Ok(Planned::Entry { index })
        }
        Op::Edit { chat, actor, target, text } => {
            let w = work(inner, works, chat).await?;
            if !w.members.contains_key(actor) {
                return Err(CoreError::NotMember);
            }
            let index =
                append(inner, pending, w, chat, actor, Draft::edit(Some(*target), Some(text.clone())), &[]);
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
            let index = append(inner, pending, w, chat, actor, Draft::delete(Some(*target)), &[]);
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
                avatar: None,
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
                avatar: None,
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
                inner,
                pending,
                w,
                &chat,
                creator,
                Draft::system(SystemEvent::Created { by: creator.clone(), name: name.clone() }),
                &[],
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
                inner,
                pending,
                w,
                chat,
                actor,
                Draft::system(SystemEvent::MemberAdded { by: actor.clone(), user_id: user.clone() }),
                &[],
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
            depart(inner, pending, w, chat, actor, user, event).await
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
            depart(inner, pending, w, chat, user, user, event).await
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
            let index = append(inner, pending, w, chat, actor, Draft::system(event), &[]);
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
                    inner,
                    pending,
                    w,
                    chat,
                    actor,
                    Draft::system(SystemEvent::Renamed { by: actor.clone(), name: n.clone() }),
                    &[],
                ));
            }
            if let Some(d) = description {
                w.description = Some(d.clone());
                last = Some(append(
                    inner,
                    pending,
                    w,
                    chat,
                    actor,
                    Draft::system(SystemEvent::DescriptionChanged {
                        by: actor.clone(),
                        description: d.clone(),
                    }),
                    &[],
                ));
            }
            let index = last.ok_or_else(|| CoreError::invalid("nothing to change"))?;
            pending.chat_changes.push((chat.clone(), w.members.keys().cloned().collect()));
            Ok(Planned::Entry { index })
        }
        // Handled by `apply::plan_apply` before planning gets here.
        Op::Apply { .. } => Err(CoreError::Internal("replicated entry in the planner".into())),
    }
}

pub(super) fn fresh_work(kind: ChatKind, members: HashMap<UserId, MemberInfo>) -> Work {
    Work {
        kind,
        last_seq: 0,
        members,
        full: None,
        name: None,
        description: None,
        shared_seq: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        // Not on disk yet: the new chat's record carries its head.
        stored_activity: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
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
) -> Result<Planned> {
    let seq = w.last_seq + 1;
    let full = full_members(inner, w, chat).await?;
    let rec = full.get_mut(user).ok_or(CoreError::NotFound("member"))?;
    rec.active = false;
    rec.left_seq = Some(seq as i64);
    pending.batch.members.push(rec.clone());
    // The entry is logged while the user is still a member so their own devices get it.
    let index = append(inner, pending, w, chat, actor, Draft::system(event), std::slice::from_ref(user));
    w.members.remove(user);
    w.membership_changed = true;
    pending.chat_changes.push((chat.clone(), w.members.keys().cloned().collect()));
    pending.removed.push((chat.clone(), user.clone()));
    Ok(Planned::Entry { index })
}
