//! The rules every inbound transaction must pass before the core sees any of it. Pure: the
//! caller supplies the sending peer (from its certificate) and a key lookup.
//!
//! Hard violations (the peer is cut off) are protocol or forgery faults a well-behaved server
//! never commits. An event whose origin key is unknown here is only rejected, since an honest
//! home server may relay events of a server this one never met.

use parley_types::ServerName;

use crate::ids::PublicKey;
use crate::wire::{
    ErrorCode, EventContent, EventResult, MAX_EVENT_BYTES, MAX_EVENTS_PER_TXN, SignedEvent, Transaction,
};

/// A rule broken: close the connection with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub code: ErrorCode,
    pub reason: String,
}

fn violation(code: ErrorCode, reason: impl Into<String>) -> Violation {
    Violation { code, reason: reason.into() }
}

/// For each event: `None` if it may go to the handler, `Some(result)` if it is answered here.
pub(crate) fn check_transaction(
    peer: &ServerName,
    txn: &Transaction,
    key_of: &dyn Fn(&ServerName) -> Option<PublicKey>,
) -> Result<Vec<Option<EventResult>>, Violation> {
    if &txn.origin != peer {
        return Err(violation(
            ErrorCode::OriginMismatch,
            format!("transaction origin {} but certificate is {peer}", txn.origin),
        ));
    }
    if txn.events.len() > MAX_EVENTS_PER_TXN {
        return Err(violation(
            ErrorCode::TooManyEvents,
            format!("{} events, cap {MAX_EVENTS_PER_TXN}", txn.events.len()),
        ));
    }
    txn.events.iter().map(|ev| check_event(peer, ev, key_of)).collect()
}

fn check_event(
    peer: &ServerName,
    ev: &SignedEvent,
    key_of: &dyn Fn(&ServerName) -> Option<PublicKey>,
) -> Result<Option<EventResult>, Violation> {
    let len = ev.encoded_len();
    if len > MAX_EVENT_BYTES {
        return Err(violation(
            ErrorCode::EventTooLarge,
            format!("event {} is {len} bytes", ev.event.event_id),
        ));
    }
    let e = &ev.event;
    if &e.origin != peer {
        // Only a chat's home server relays others' events, and only for its own chats.
        let home = e.chat_id.as_ref().map(|c| c.home_server());
        if home != Some(peer.as_str()) {
            return Err(violation(
                ErrorCode::ForbiddenRelay,
                format!(
                    "event {} from {} relayed by {peer}, which is not its chat's home",
                    e.event_id, e.origin
                ),
            ));
        }
    }
    if let Some(soft) = check_signed(ev, key_of)? {
        return Ok(Some(soft));
    }
    if let EventContent::MessageSequenced { message, .. } = &e.content {
        // Sequencing is the home server's job; the inner event is the sender's own.
        if e.chat_id.as_ref().map(|c| c.home_server()) != Some(e.origin.as_str()) {
            return Err(violation(
                ErrorCode::ForbiddenRelay,
                "message_sequenced from a server that is not the chat's home",
            ));
        }
        if message.event.chat_id != e.chat_id
            || !matches!(message.event.content, EventContent::MessageSend { .. })
        {
            return Err(violation(
                ErrorCode::Malformed,
                "message_sequenced must wrap a message_send of the same chat",
            ));
        }
        if let Some(soft) = check_signed(message, key_of)? {
            return Ok(Some(soft));
        }
    }
    Ok(None)
}

/// Identity and signature checks shared by top-level and wrapped events.
fn check_signed(
    ev: &SignedEvent,
    key_of: &dyn Fn(&ServerName) -> Option<PublicKey>,
) -> Result<Option<EventResult>, Violation> {
    let e = &ev.event;
    if e.event_id.origin() != e.origin.as_str() {
        return Err(violation(
            ErrorCode::OriginMismatch,
            format!("event id {} does not belong to {}", e.event_id, e.origin),
        ));
    }
    if let Some(sender) = &e.sender
        && sender.server() != e.origin.as_str()
    {
        return Err(violation(ErrorCode::ForeignUser, format!("{} speaks for {sender}", e.origin)));
    }
    let Some(key) = key_of(&e.origin) else {
        return Ok(Some(EventResult::rejected(
            ErrorCode::UnknownOrigin,
            format!("no key known for {}", e.origin),
        )));
    };
    if !ev.verify(&key) {
        return Err(violation(
            ErrorCode::BadSignature,
            format!("event {} is not signed by {}", e.event_id, e.origin),
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use crate::wire::{Event, Transaction};
    use parley_types::{ChatId, MessageId, UserId};

    fn id(dir: &tempfile::TempDir, name: &str) -> Identity {
        Identity::load_or_generate(&dir.path().join(name), &ServerName::parse(name).unwrap()).unwrap()
    }

    fn send(from: &Identity, chat: &ChatId) -> SignedEvent {
        let user = UserId::parse(&format!("user@{}", from.server_name())).unwrap();
        let content = EventContent::MessageSend {
            message_id: MessageId::generate(from.server_name()),
            body: serde_json::json!({}),
        };
        Event::new(from, Some(chat.clone()), Some(user), content).sign(from)
    }

    #[test]
    fn only_the_home_server_sequences_and_only_what_it_wraps() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (id(&dir, "a.test"), id(&dir, "b.test"), id(&dir, "c.test"));
        let keys = |n: &ServerName| {
            [&a, &b, &c].iter().find(|i| i.server_name() == n).map(|i| i.public_key().clone())
        };
        let chat_on_a = ChatId::generate(a.server_name());
        let check = |from: &Identity, ev: SignedEvent| {
            check_transaction(
                from.server_name(),
                &Transaction::new(from.server_name().clone(), vec![ev]),
                &keys,
            )
        };
        let seq = |by: &Identity, chat: &ChatId, inner: SignedEvent| {
            Event::new(
                by,
                Some(chat.clone()),
                None,
                EventContent::MessageSequenced { seq: 1, message: Box::new(inner) },
            )
            .sign(by)
        };

        // The home server wraps C's message: fine.
        assert_eq!(check(&a, seq(&a, &chat_on_a, send(&c, &chat_on_a))).unwrap(), vec![None]);
        // B "sequencing" a chat homed on A.
        let err = check(&b, seq(&b, &chat_on_a, send(&c, &chat_on_a))).unwrap_err();
        assert_eq!(err.code, ErrorCode::ForbiddenRelay);
        // Wrapping a message of another chat.
        let other_chat = ChatId::generate(a.server_name());
        let err = check(&a, seq(&a, &chat_on_a, send(&c, &other_chat))).unwrap_err();
        assert_eq!(err.code, ErrorCode::Malformed);
        // An event relayed by a server that does not home its chat.
        let err = check(&b, send(&c, &chat_on_a)).unwrap_err();
        assert_eq!(err.code, ErrorCode::ForbiddenRelay);
        // Origin keys unknown here: answered, not cut off.
        let none = |_: &ServerName| None;
        let txn = Transaction::new(a.server_name().clone(), vec![send(&a, &chat_on_a)]);
        let r = check_transaction(a.server_name(), &txn, &none).unwrap();
        assert!(matches!(r[0], Some(EventResult::Rejected { code: ErrorCode::UnknownOrigin, .. })));
    }
}
