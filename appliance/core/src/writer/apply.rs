//! The writer's federation side. On a chat's home server, `queue_entries` puts each new entry
//! into the outbox of every other appliance with a member in the chat, in the entry's own
//! transaction. On a member server, `plan_apply` stores an entry the home server sequenced:
//! same ID, same seq, membership from the snapshot that comes with every membership change.

use std::collections::{BTreeSet, HashMap};

use parley_store::records::{ChatRec, IdemRec};
use parley_types::api::ChatKind;
use parley_types::protocol::MessageKind;
use parley_types::{ChatId, UserId};

use super::plan::{fresh_work, full_members, idem_key, new_member};
use super::{Pending, PendingEntry, Planned, Work};
use crate::Inner;
use crate::chat_state::MemberInfo;
use crate::convert;
use crate::error::{CoreError, Result};
use crate::federation::{ChatEntry, ChatSnapshot, SnapMember};

/// Applies one replicated entry of a chat homed elsewhere.
pub(super) async fn plan_apply(
    inner: &Inner,
    entry: &ChatEntry,
    works: &mut HashMap<ChatId, Work>,
    pending: &mut Pending,
) -> Result<Planned> {
    let m = &entry.message;
    let chat = &m.chat_id;
    if chat.home_server() == inner.server.as_str() {
        return Err(CoreError::Forbidden("this chat is homed here".into()));
    }
    if !works.contains_key(chat) {
        match inner.chat_state(chat).await? {
            Some(state) => {
                works.insert(chat.clone(), Work::from_state(&state));
            }
            None => {
                // First entry this server sees of the chat: it must say what the chat is.
                let snap = entry.snapshot.as_ref().ok_or(CoreError::NotFound("chat"))?;
                let kind = snap.kind;
                pending.batch.new_chats.push(ChatRec {
                    chat_id: chat.to_string(),
                    kind: if kind == ChatKind::Direct { "direct" } else { "group" }.into(),
                    name: snap.name.clone(),
                    description: snap.description.clone(),
                    created_by: snap.created_by.to_string(),
                    created_at: snap.created_at,
                    last_seq: 0,
                    last_activity: m.created_at,
                    avatar: None,
                });
                if kind == ChatKind::Direct && snap.members.len() == 2 {
                    let (a, b) = (&snap.members[0].user_id, &snap.members[1].user_id);
                    let pair = if a < b { format!("{a}|{b}") } else { format!("{b}|{a}") };
                    if inner.store.direct_chat(&pair).await?.is_none() {
                        pending.batch.directs.push((pair, chat.to_string()));
                    }
                }
                let mut w = fresh_work(kind, HashMap::new());
                w.full = Some(HashMap::new());
                works.insert(chat.clone(), w);
            }
        }
    }
    let w = works.get_mut(chat).ok_or(CoreError::NotFound("chat"))?;
    if m.seq <= w.last_seq {
        // Already applied (a resend after a lost ack).
        return Ok(Planned::Existing(Box::new(m.clone())));
    }
    if entry.snapshot.is_none() && m.seq != w.last_seq + 1 {
        // An earlier entry is still on its way (the home server retries in order): the peer
        // is told to retry this one later. A snapshot marks a legitimate gap (joining later).
        return Err(CoreError::Internal(format!("entry {} arrived before entry {}", m.seq, w.last_seq + 1)));
    }
    let now = pending.now;
    let mut removed_local = Vec::new();
    if let Some(snap) = &entry.snapshot {
        let full = full_members(inner, w, chat).await?;
        let mut members = HashMap::new();
        for s in &snap.members {
            members.insert(s.user_id.clone(), MemberInfo { role: s.role, joined_seq: s.joined_seq });
            let role = convert::role_str(s.role);
            let rec = match full.get(&s.user_id) {
                // Unchanged: not rewritten (a rewrite would race with receipts moving its marks).
                Some(r) if r.active && r.role == role => continue,
                Some(r) if r.active => {
                    let mut r = r.clone();
                    r.role = role.to_owned();
                    r
                }
                _ => new_member(chat, &s.user_id, s.role, s.joined_seq, now),
            };
            full.insert(s.user_id.clone(), rec.clone());
            pending.batch.members.push(rec);
        }
        for (u, r) in full.iter_mut() {
            if r.active && !members.contains_key(u) {
                r.active = false;
                r.left_seq = Some(m.seq as i64);
                pending.batch.members.push(r.clone());
                if u.server() == inner.server.as_str() {
                    removed_local.push(u.clone());
                }
            }
        }
        // Announce presence and learn profiles only when the membership really changed (a 1:1
        // chat's entries all carry a snapshot).
        let changed = w.members.len() != members.len() || members.keys().any(|u| !w.members.contains_key(u));
        if changed || m.kind == MessageKind::System {
            pending.federated_chats.push(chat.clone());
        }
        w.members = members;
        w.membership_changed = true;
        w.name = Some(snap.name.clone());
        w.description = Some(snap.description.clone());
    }
    w.last_seq = m.seq;
    w.touched = true;
    pending.batch.messages.push(convert::message_rec(m));
    if let (Some(target), true) = (m.target, matches!(m.kind, MessageKind::Edit | MessageKind::Delete)) {
        pending.batch.patches.push(parley_store::MessagePatch {
            chat_id: chat.to_string(),
            seq: target as i64,
            text: if m.kind == MessageKind::Edit { m.text.clone() } else { None },
            edited_at: (m.kind == MessageKind::Edit).then_some(m.created_at),
            deleted: m.kind == MessageKind::Delete,
        });
    }
    // Uploads of this server sent into the chat now have a user; remote ones are cached.
    if let Some(media) = &m.media
        && media.media_id.home_server() == inner.server.as_str()
    {
        pending.batch.media_refs.push(media.media_id.to_string());
    }
    let local_sender = m.sender.server() == inner.server.as_str();
    if w.members.contains_key(&m.sender) {
        pending.marks.push((chat.clone(), m.sender.clone(), m.seq, now));
    }
    if local_sender && let Some(client_id) = &m.client_id {
        let key = idem_key(&m.sender, chat, client_id);
        pending.batch.idem.push(IdemRec {
            key: key.clone(),
            message_id: m.id.to_string(),
            chat_id: chat.to_string(),
            seq: m.seq as i64,
        });
        pending.batch.pending_done.push(key);
    }
    let mut recipients: Vec<UserId> =
        w.members.keys().filter(|u| u.server() == inner.server.as_str()).cloned().collect();
    recipients.extend(removed_local.iter().cloned());
    if entry.snapshot.is_some() {
        pending.chat_changes.push((chat.clone(), recipients.clone()));
        for u in removed_local {
            pending.removed.push((chat.clone(), u));
        }
    }
    pending.entries.push(PendingEntry { message: m.clone(), recipients, source: None });
    let index = pending.entries.len() - 1;
    let waiter = inner.fed().and_then(|f| f.waiters.remove(m.id.as_str()).map(|(_, w)| w));
    Ok(Planned::Applied { index, waiter })
}

/// Queues this batch's entries of chats homed here for every other appliance with a
/// recipient, as signed `chat_entry` events. Membership changes and 1:1 chats carry a
/// snapshot of the chat, so a server that is new to the chat learns what it is.
pub(super) async fn queue_entries(inner: &Inner, works: &HashMap<ChatId, Work>, pending: &mut Pending) {
    let Some(fed) = inner.fed() else { return };
    let mut metas: HashMap<ChatId, Option<ChatRec>> = HashMap::new();
    let mut out = Vec::new();
    for e in &pending.entries {
        let m = &e.message;
        if m.chat_id.home_server() != inner.server.as_str() {
            continue;
        }
        let dests: BTreeSet<&str> =
            e.recipients.iter().map(|u| u.server()).filter(|s| *s != inner.server.as_str()).collect();
        if dests.is_empty() {
            continue;
        }
        let Some(w) = works.get(&m.chat_id) else { continue };
        let snapshot = if m.kind == MessageKind::System || w.kind == ChatKind::Direct {
            if !metas.contains_key(&m.chat_id) {
                let rec = match pending.batch.new_chats.iter().find(|c| c.chat_id == m.chat_id.as_str()) {
                    Some(c) => Some(c.clone()),
                    None => inner.store.chat(m.chat_id.as_str()).await.ok().flatten(),
                };
                metas.insert(m.chat_id.clone(), rec);
            }
            metas.get(&m.chat_id).cloned().flatten().and_then(|rec| snapshot(w, &rec))
        } else {
            None
        };
        // Membership reached another appliance (a membership change, or a 1:1 chat's first
        // entry): worth announcing presence once, not on every message.
        let reached = m.kind == MessageKind::System || (w.kind == ChatKind::Direct && m.seq == 1);
        if reached && !pending.federated_chats.contains(&m.chat_id) {
            pending.federated_chats.push(m.chat_id.clone());
        }
        let entry = ChatEntry { message: m.clone(), snapshot, source: e.source.clone() };
        match fed.sign_entry(&entry) {
            Ok(event) => {
                for d in dests {
                    out.push((d.to_owned(), event.clone()));
                }
            }
            Err(err) => tracing::error!(error = %err, chat = %m.chat_id, "cannot encode a federation event"),
        }
    }
    for (dest, event) in out {
        pending.batch.outbox.push(fed.outbox_rec(&dest, event, pending.now));
        pending.wake.insert(dest);
    }
}

fn snapshot(w: &Work, rec: &ChatRec) -> Option<ChatSnapshot> {
    let mut members: Vec<SnapMember> = w
        .members
        .iter()
        .map(|(u, i)| SnapMember { user_id: u.clone(), role: i.role, joined_seq: i.joined_seq })
        .collect();
    members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    let created_by = convert::user_id(&rec.created_by).ok()?;
    Some(ChatSnapshot {
        kind: w.kind,
        name: w.name.clone().unwrap_or_else(|| rec.name.clone()),
        description: w.description.clone().unwrap_or_else(|| rec.description.clone()),
        created_by,
        created_at: rec.created_at,
        members,
    })
}
