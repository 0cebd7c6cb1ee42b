//! Conversions between stored records and wire types. Stored IDs were validated before they
//! were written, so a parse failure here means a corrupt database and is reported as such.

use parley_store::records::{MediaRec, MemberRec, MessageRec, UserRec};
use parley_types::api::{Member, Profile, Role, Visibility};
use parley_types::protocol::{Media, Message, MessageKind, SystemEvent};
use parley_types::{ChatId, MediaId, MessageId, Seq, UserId};

use crate::error::{CoreError, Result};

fn corrupt(what: &str, value: &str) -> CoreError {
    CoreError::Internal(format!("stored {what} `{value}` is not valid"))
}

pub(crate) fn user_id(s: &str) -> Result<UserId> {
    UserId::parse(s).map_err(|_| corrupt("user id", s))
}

pub(crate) fn chat_id(s: &str) -> Result<ChatId> {
    ChatId::parse(s).map_err(|_| corrupt("chat id", s))
}

pub(crate) fn kind_str(k: MessageKind) -> &'static str {
    match k {
        MessageKind::Text => "text",
        MessageKind::System => "system",
        MessageKind::Edit => "edit",
        MessageKind::Delete => "delete",
        MessageKind::Image => "image",
        MessageKind::Video => "video",
        MessageKind::Audio => "audio",
        MessageKind::File => "file",
    }
}

pub(crate) fn kind(s: &str) -> Option<MessageKind> {
    Some(match s {
        "text" => MessageKind::Text,
        "system" => MessageKind::System,
        "edit" => MessageKind::Edit,
        "delete" => MessageKind::Delete,
        "image" => MessageKind::Image,
        "video" => MessageKind::Video,
        "audio" => MessageKind::Audio,
        "file" => MessageKind::File,
        _ => return None,
    })
}

pub(crate) fn media_id(s: &str) -> Result<MediaId> {
    MediaId::parse(s).map_err(|_| corrupt("media id", s))
}

/// The wire description of a stored upload.
pub(crate) fn media(r: &MediaRec) -> Result<Media> {
    Ok(Media {
        media_id: media_id(&r.media_id)?,
        kind: kind(&r.kind).filter(|k| k.is_media()).ok_or_else(|| corrupt("media kind", &r.kind))?,
        mime: r.mime.clone(),
        size: r.size.max(0) as u64,
        name: r.name.clone(),
        width: r.width.map(|w| w as u32),
        height: r.height.map(|h| h as u32),
        preview: r.preview.clone(),
        thumbnail: r.thumb_sha.is_some(),
    })
}

pub(crate) fn message(r: MessageRec) -> Result<Message> {
    let kind = kind(&r.kind).ok_or_else(|| corrupt("message kind", &r.kind))?;
    let media: Option<Media> = match &r.media {
        Some(m) if !r.deleted => Some(serde_json::from_str(m).map_err(|_| corrupt("message media", m))?),
        _ => None,
    };
    let event: Option<SystemEvent> = match &r.event {
        Some(e) => Some(serde_json::from_str(e).map_err(|_| corrupt("system event", e))?),
        None => None,
    };
    Ok(Message {
        id: MessageId::parse(&r.message_id).map_err(|_| corrupt("message id", &r.message_id))?,
        chat_id: chat_id(&r.chat_id)?,
        seq: r.seq as Seq,
        sender: user_id(&r.sender)?,
        kind,
        text: r.text,
        reply_to: r.reply_to.map(|s| s as Seq),
        target: r.target.map(|s| s as Seq),
        event,
        client_id: r.client_id,
        created_at: r.created_at,
        edited_at: r.edited_at,
        deleted: r.deleted,
        media,
    })
}

pub(crate) fn message_rec(m: &Message) -> MessageRec {
    MessageRec {
        message_id: m.id.to_string(),
        chat_id: m.chat_id.to_string(),
        seq: m.seq as i64,
        sender: m.sender.to_string(),
        kind: kind_str(m.kind).to_owned(),
        text: m.text.clone(),
        reply_to: m.reply_to.map(|s| s as i64),
        target: m.target.map(|s| s as i64),
        event: m.event.as_ref().and_then(|e| serde_json::to_string(e).ok()),
        client_id: m.client_id.clone(),
        created_at: m.created_at,
        edited_at: m.edited_at,
        deleted: m.deleted,
        media_id: m.media.as_ref().map(|x| x.media_id.to_string()),
        media: m.media.as_ref().and_then(|x| serde_json::to_string(x).ok()),
    }
}

pub(crate) fn role(s: &str) -> Role {
    if s == "admin" { Role::Admin } else { Role::Member }
}

pub(crate) fn role_str(r: Role) -> &'static str {
    match r {
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

pub(crate) fn member(m: &MemberRec) -> Result<Member> {
    Ok(Member { user_id: user_id(&m.user_id)?, role: role(&m.role), joined_at: m.joined_at })
}

pub(crate) fn visibility(s: &str) -> Visibility {
    match s {
        "contacts" => Visibility::Contacts,
        "nobody" => Visibility::Nobody,
        _ => Visibility::Everyone,
    }
}

pub(crate) fn visibility_str(v: Visibility) -> &'static str {
    match v {
        Visibility::Everyone => "everyone",
        Visibility::Contacts => "contacts",
        Visibility::Nobody => "nobody",
    }
}

/// A profile as seen by `viewer` (private fields only for the user themself or an admin).
pub(crate) fn profile(u: &UserRec, private: bool) -> Result<Profile> {
    Ok(Profile {
        user_id: user_id(&u.user_id)?,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        about: u.about.clone(),
        email: if private { u.email.clone() } else { None },
        phone: if private { u.phone.clone() } else { None },
        is_admin: u.is_admin,
        last_seen_visibility: private.then(|| visibility(&u.last_seen_visibility)),
        avatar: u.avatar.as_deref().and_then(|a| MediaId::parse(a).ok()),
    })
}
