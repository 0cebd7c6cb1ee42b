//! Federation identifiers: peers, transactions, events, certificate fingerprints and signing keys.
//! Parsed once at the edge (serde `try_from`), never passed around as bare strings.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use parley_types::ServerName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FedIdError {
    #[error("transaction id must be a ULID")]
    Txn,
    #[error("event id must look like <ulid>@origin_server")]
    Event,
    #[error("fingerprint must be 64 hex digits")]
    Fingerprint,
    #[error("public key must be base64url of an uncompressed P-256 point")]
    PublicKey,
}

/// A peer appliance, named by the `server_name` bound to its verified certificate. The crate
/// only hands the core `PeerId`s that come from a verified certificate, never from a frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(ServerName);

impl PeerId {
    pub fn new(server_name: ServerName) -> Self {
        Self(server_name)
    }
    pub fn server_name(&self) -> &ServerName {
        &self.0
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl From<ServerName> for PeerId {
    fn from(s: ServerName) -> Self {
        Self(s)
    }
}

/// One transaction from a sender; the receiver deduplicates on (peer, `TxnId`). A bare ULID:
/// the sending peer is known from the connection, so the ID need not name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TxnId(ulid::Ulid);

impl TxnId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::new())
    }
}

impl FromStr for TxnId {
    type Err = FedIdError;
    fn from_str(s: &str) -> Result<Self, FedIdError> {
        ulid::Ulid::from_string(s).map(Self).map_err(|_| FedIdError::Txn)
    }
}

/// An event, `<ulid>@origin_server`: globally unique, and it names the server that signed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

impl EventId {
    pub fn generate(origin: &ServerName) -> Self {
        Self(format!("{}@{}", ulid::Ulid::new(), origin.as_str()))
    }
    pub fn parse(s: &str) -> Result<Self, FedIdError> {
        let (u, server) = s.split_once('@').ok_or(FedIdError::Event)?;
        let u = ulid::Ulid::from_string(u).map_err(|_| FedIdError::Event)?;
        let server = ServerName::parse(server).map_err(|_| FedIdError::Event)?;
        Ok(Self(format!("{}@{}", u, server.as_str())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The server that created (and signed) the event.
    pub fn origin(&self) -> &str {
        self.0.split_once('@').map(|(_, s)| s).unwrap_or("")
    }
}

impl FromStr for EventId {
    type Err = FedIdError;
    fn from_str(s: &str) -> Result<Self, FedIdError> {
        Self::parse(s)
    }
}

/// SHA-256 of a certificate's DER: the pinned identity of a peer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of_der(cert_der: &[u8]) -> Self {
        Self(Sha256::digest(cert_der).into())
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for Fingerprint {
    type Err = FedIdError;
    /// 64 hex digits; colons (as `openssl x509 -fingerprint` prints them) are accepted.
    fn from_str(s: &str) -> Result<Self, FedIdError> {
        let hex: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
        if hex.len() != 64 {
            return Err(FedIdError::Fingerprint);
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).map_err(|_| FedIdError::Fingerprint)?;
            out[i] = u8::from_str_radix(pair, 16).map_err(|_| FedIdError::Fingerprint)?;
        }
        Ok(Self(out))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A server's event-signing key: the uncompressed P-256 point of its federation certificate.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublicKey(Vec<u8>);

impl PublicKey {
    pub(crate) fn from_point(point: &[u8]) -> Result<Self, FedIdError> {
        // Uncompressed SEC1 point: 0x04 || X || Y.
        if point.len() == 65 && point[0] == 4 { Ok(Self(point.to_vec())) } else { Err(FedIdError::PublicKey) }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for PublicKey {
    type Err = FedIdError;
    fn from_str(s: &str) -> Result<Self, FedIdError> {
        let bytes = B64.decode(s).map_err(|_| FedIdError::PublicKey)?;
        Self::from_point(&bytes)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(&self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = FedIdError;
            fn try_from(s: String) -> Result<Self, FedIdError> {
                s.parse()
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.to_string()
            }
        }
    )*};
}
string_conversions!(TxnId, EventId, Fingerprint, PublicKey);

impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_round_trip_and_accept_colons() {
        let fp = Fingerprint::of_der(b"cert");
        let s = fp.to_string();
        assert_eq!(s.len(), 64);
        assert_eq!(s.parse::<Fingerprint>().unwrap(), fp);
        let colons: String =
            s.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":");
        assert_eq!(colons.parse::<Fingerprint>().unwrap(), fp);
        assert!("abc".parse::<Fingerprint>().is_err());
    }

    #[test]
    fn event_ids_name_their_origin() {
        let origin = ServerName::parse("a.test").unwrap();
        let id = EventId::generate(&origin);
        assert_eq!(id.origin(), "a.test");
        assert_eq!(EventId::parse(id.as_str()).unwrap(), id);
        assert!(EventId::parse("x@a.test").is_err());
    }
}
