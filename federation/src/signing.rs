//! Event signatures: ECDSA P-256/SHA-256 over a canonical JSON encoding of the event, so a
//! chat's home server can relay other servers' events but cannot forge them.
//!
//! Canonical encoding: the event as JSON with object keys sorted (bytewise), no whitespace,
//! strings and numbers as `serde_json` writes them. Keys are sorted here explicitly rather than
//! relying on `serde_json::Map` ordering, which a `preserve_order` feature elsewhere in the
//! build would change. Signed bytes are `parley-fed/1 event\n` followed by that encoding (the
//! prefix keeps the signature from being valid for anything else).

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::identity::Identity;
use crate::ids::PublicKey;
use crate::wire::{Event, SignedEvent};

const CONTEXT: &[u8] = b"parley-fed/1 event\n";

/// A DER ECDSA signature, base64url on the wire.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Signature(Vec<u8>);

impl FromStr for Signature {
    type Err = base64::DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        B64.decode(s).map(Self)
    }
}
impl TryFrom<String> for Signature {
    type Error = base64::DecodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}
impl From<Signature> for String {
    fn from(s: Signature) -> String {
        B64.encode(&s.0)
    }
}
impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", B64.encode(&self.0))
    }
}

/// Appends the canonical encoding of `v` to `out`.
pub fn canonical_json(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // A string always serializes.
                serde_json::to_writer(&mut *out, k).expect("string serializes");
                out.push(b':');
                canonical_json(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(v, out);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).expect("scalar serializes"),
    }
}

fn signed_bytes(event: &Event) -> Vec<u8> {
    let value = serde_json::to_value(event).expect("event serializes");
    let mut out = CONTEXT.to_vec();
    canonical_json(&value, &mut out);
    out
}

impl SignedEvent {
    /// Signs `event` with this server's key. The caller sets `event.origin` to its own name
    /// (see [`Event::new`]); a receiver checks the signature against that origin's key.
    pub fn sign(event: Event, identity: &Identity) -> Self {
        let signature = Signature(identity.sign(&signed_bytes(&event)));
        Self { event, signature }
    }

    /// True if `key` signed exactly this event.
    pub fn verify(&self, key: &PublicKey) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.as_bytes())
            .verify(&signed_bytes(&self.event), &self.signature.0)
            .is_ok()
    }

    /// Size the 64 KiB event cap is measured on.
    pub fn encoded_len(&self) -> usize {
        let value = serde_json::to_value(self).expect("event serializes");
        let mut out = Vec::new();
        canonical_json(&value, &mut out);
        out.len()
    }
}

impl Event {
    /// A new event from `identity`'s server, stamped now.
    pub fn new(
        identity: &Identity,
        chat_id: Option<parley_types::ChatId>,
        sender: Option<parley_types::UserId>,
        content: crate::wire::EventContent,
    ) -> Self {
        let origin_ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            event_id: crate::ids::EventId::generate(identity.server_name()),
            origin: identity.server_name().clone(),
            origin_ts,
            chat_id,
            sender,
            content,
        }
    }

    /// Shorthand for `SignedEvent::sign(self, identity)`.
    pub fn sign(self, identity: &Identity) -> SignedEvent {
        SignedEvent::sign(self, identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::EventContent;
    use parley_types::{ChatId, ServerName, UserId};

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"z":[{"y":2,"x":"é"}],"c":null}}"#).unwrap();
        let mut out = Vec::new();
        canonical_json(&v, &mut out);
        assert_eq!(std::str::from_utf8(&out).unwrap(), r#"{"a":{"c":null,"z":[{"x":"é","y":2}]},"b":1}"#);
    }

    #[test]
    fn signatures_verify_and_detect_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let name = ServerName::parse("a.test").unwrap();
        let id = Identity::load_or_generate(dir.path(), &name).unwrap();
        let other =
            Identity::load_or_generate(&dir.path().join("o"), &ServerName::parse("b.test").unwrap()).unwrap();
        let ev = Event::new(
            &id,
            Some(ChatId::generate(&name)),
            Some(UserId::parse("ana@a.test").unwrap()),
            EventContent::Typing { typing: true },
        )
        .sign(&id);
        assert!(ev.verify(id.public_key()));
        assert!(!ev.verify(other.public_key()));
        // Through the wire and back: still valid.
        let back: SignedEvent = serde_json::from_slice(&serde_json::to_vec(&ev).unwrap()).unwrap();
        assert!(back.verify(id.public_key()));
        let mut forged = back.clone();
        forged.event.content = EventContent::Typing { typing: false };
        assert!(!forged.verify(id.public_key()));
    }
}
