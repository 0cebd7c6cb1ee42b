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
