//! Peering invites: `parley-fed:` + base64url(JSON) that an admin of the inviter copies to an
//! admin of the invitee. The one-time secret is kept by the inviter only as a SHA-256 hash (the
//! secret is 256 random bits, so a slow password hash would add nothing).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use parley_types::ServerName;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::InviteError;
use crate::identity::Identity;
use crate::ids::Fingerprint;

pub const INVITE_PREFIX: &str = "parley-fed:";
pub const INVITE_VERSION: u32 = 1;

/// The one-time secret of an invite. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InviteSecret([u8; 32]);

impl InviteSecret {
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        SystemRandom::new().fill(&mut b).expect("system random number generator failed");
        Self(b)
    }
    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for InviteSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteSecret(…)")
    }
}

impl FromStr for InviteSecret {
    type Err = InviteError;
    fn from_str(s: &str) -> Result<Self, InviteError> {
        let bytes = B64.decode(s).map_err(|_| InviteError::Secret)?;
        bytes.try_into().map(Self).map_err(|_| InviteError::Secret)
    }
}
impl TryFrom<String> for InviteSecret {
    type Error = InviteError;
    fn try_from(s: String) -> Result<Self, InviteError> {
        s.parse()
    }
}
impl From<InviteSecret> for String {
    fn from(s: InviteSecret) -> String {
        B64.encode(s.0)
    }
}

/// SHA-256 of an invite secret, what the inviter stores (hex in JSON).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Constant-time check that `secret` hashes to this.
    pub fn verify(&self, secret: &InviteSecret) -> bool {
        let other = secret.hash();
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl fmt::Display for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}
impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({self})")
    }
}
impl TryFrom<String> for SecretHash {
    type Error = InviteError;
    fn try_from(s: String) -> Result<Self, InviteError> {
        // Same shape as a fingerprint: 64 hex digits.
        let fp: Fingerprint = s.parse().map_err(|_| InviteError::Secret)?;
        Ok(Self(*fp.as_bytes()))
    }
}
impl From<SecretHash> for String {
    fn from(h: SecretHash) -> String {
        h.to_string()
    }
}

/// What the inviter keeps about an outstanding invite (the core stores it; see
/// [`crate::PeerStore::save_invite`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    pub secret_hash: SecretHash,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; the invite is refused from then on.
    pub expires_at: u64,
}

/// A parsed invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub server_name: ServerName,
    /// Where the inviter listens for federation, `host:port`.
    pub address: String,
    pub fingerprint: Fingerprint,
    pub secret: InviteSecret,
    /// Unix seconds.
    pub expires_at: u64,
}

#[derive(Serialize, Deserialize)]
struct InviteJson {
    v: u32,
    server_name: String,
    address: String,
    fingerprint: String,
    secret: String,
    expires_at: u64,
}

#[derive(Deserialize)]
struct VersionProbe {
    v: u32,
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Invite {
    /// A fresh invite for this server, reachable at `address`, valid for `ttl`.
    pub fn create(
        identity: &Identity,
        address: &str,
        ttl: Duration,
    ) -> Result<(Self, InviteRecord), InviteError> {
        check_address(address)?;
        let now = unix_now();
        let secret = InviteSecret::generate();
        let record =
            InviteRecord { secret_hash: secret.hash(), created_at: now, expires_at: now + ttl.as_secs() };
        let invite = Self {
            server_name: identity.server_name().clone(),
            address: address.to_owned(),
            fingerprint: identity.fingerprint(),
            secret,
            expires_at: record.expires_at,
        };
        Ok((invite, record))
    }

    /// Parses and validates an invite string, refusing it if it expired by `now` (Unix seconds).
    pub fn parse(s: &str, now: u64) -> Result<Self, InviteError> {
        let body = s.trim().strip_prefix(INVITE_PREFIX).ok_or(InviteError::Prefix)?;
        let json = B64.decode(body).map_err(|_| InviteError::Base64)?;
        let probe: VersionProbe =
            serde_json::from_slice(&json).map_err(|e| InviteError::Json(e.to_string()))?;
        if probe.v != INVITE_VERSION {
            return Err(InviteError::Version(probe.v));
        }
        let raw: InviteJson = serde_json::from_slice(&json).map_err(|e| InviteError::Json(e.to_string()))?;
        let invite = Self {
            server_name: ServerName::parse(&raw.server_name).map_err(|_| InviteError::ServerName)?,
            address: check_address(&raw.address)?.to_owned(),
            fingerprint: raw.fingerprint.parse().map_err(|_| InviteError::Fingerprint)?,
            secret: raw.secret.parse()?,
            expires_at: raw.expires_at,
        };
        if invite.expires_at <= now {
            return Err(InviteError::Expired);
        }
        Ok(invite)
    }

    /// The string an admin copies.
    pub fn encode(&self) -> String {
        let json = InviteJson {
            v: INVITE_VERSION,
            server_name: self.server_name.to_string(),
            address: self.address.clone(),
            fingerprint: self.fingerprint.to_string(),
            secret: self.secret.clone().into(),
            expires_at: self.expires_at,
        };
        format!("{INVITE_PREFIX}{}", B64.encode(serde_json::to_vec(&json).expect("invite serializes")))
    }
}

fn check_address(a: &str) -> Result<&str, InviteError> {
    let (host, port) = a.rsplit_once(':').ok_or(InviteError::Address)?;
    let host_ok = !host.is_empty() && !host.contains(char::is_whitespace) && !host.contains('/');
    match port.parse::<u16>() {
        Ok(p) if p != 0 && host_ok => Ok(a),
        _ => Err(InviteError::Address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Invite {
        Invite {
            server_name: ServerName::parse("a.test").unwrap(),
            address: "127.0.0.1:4433".into(),
            fingerprint: Fingerprint::of_der(b"x"),
            secret: InviteSecret::generate(),
            expires_at: 2_000,
        }
    }

    #[test]
    fn invites_round_trip() {
        let inv = sample();
        let s = inv.encode();
        assert!(s.starts_with("parley-fed:"));
        assert_eq!(Invite::parse(&s, 1_000).unwrap(), inv);
        assert!(!format!("{inv:?}").contains(&String::from(inv.secret.clone())));
    }

    #[test]
    fn every_field_is_validated() {
        let enc = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value = serde_json::from_slice(
                &B64.decode(sample().encode().strip_prefix(INVITE_PREFIX).unwrap()).unwrap(),
            )
            .unwrap();
            f(&mut v);
            format!("{INVITE_PREFIX}{}", B64.encode(serde_json::to_vec(&v).unwrap()))
        };
        assert_eq!(Invite::parse("nope", 0), Err(InviteError::Prefix));
        assert_eq!(Invite::parse("parley-fed:***", 0), Err(InviteError::Base64));
        assert_eq!(Invite::parse(&enc(&|v| v["v"] = 2.into()), 0), Err(InviteError::Version(2)));
        assert_eq!(
            Invite::parse(&enc(&|v| v["server_name"] = "bad name".into()), 0),
            Err(InviteError::ServerName)
        );
        assert_eq!(Invite::parse(&enc(&|v| v["address"] = "host".into()), 0), Err(InviteError::Address));
        assert_eq!(Invite::parse(&enc(&|v| v["address"] = "host:0".into()), 0), Err(InviteError::Address));
        assert_eq!(
            Invite::parse(&enc(&|v| v["fingerprint"] = "abcd".into()), 0),
            Err(InviteError::Fingerprint)
        );
        assert_eq!(Invite::parse(&enc(&|v| v["secret"] = "c2hvcnQ".into()), 0), Err(InviteError::Secret));
        assert!(matches!(
            Invite::parse(&enc(&|v| v["expires_at"] = "soon".into()), 0),
            Err(InviteError::Json(_))
        ));
        assert_eq!(Invite::parse(&sample().encode(), 2_000), Err(InviteError::Expired));
    }

    #[test]
    fn secret_hash_verifies_only_its_secret() {
        let s = InviteSecret::generate();
        let h = s.hash();
        assert!(h.verify(&s));
        assert!(!h.verify(&InviteSecret::generate()));
        let back: SecretHash = String::from(h).try_into().unwrap();
        assert_eq!(back, h);
    }
}
