//! Access tokens (JWT, HS256 only) and refresh tokens.
//!
//! The signing keys live in `<data_dir>/keys/jwt.json`, generated on first start. The first
//! key signs; every key in the file verifies (tokens carry the `kid`), so a key can be rotated
//! by prepending a new one and removing the old one after the access-token lifetime.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use parley_types::{ServerName, SessionId, UserId};

use crate::error::{CoreError, Result};

const AUDIENCE: &str = "parley";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    pub sid: SessionId,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    secret: String,
}

/// A key that never prints its secret.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub struct TokenService {
    keys: Vec<SigningKey>,
    issuer: String,
    ttl_secs: u64,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// Creates the key file with one fresh key if it does not exist (mode 0600).
pub fn ensure_key_file(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        // Secrets: owner only, whatever the umask.
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    write_keys(path, &KeyFile { keys: vec![new_key()] })
}

/// Prepends a new signing key; older keys keep verifying until removed.
pub fn rotate_key_file(path: &Path) -> std::io::Result<String> {
    ensure_key_file(path)?;
    let mut file: KeyFile = serde_json::from_slice(&std::fs::read(path)?)?;
    let key = new_key();
    let kid = key.kid.clone();
    file.keys.insert(0, key);
    file.keys.truncate(3);
    write_keys(path, &file)?;
    Ok(kid)
}

fn new_key() -> StoredKey {
    StoredKey { kid: ulid::Ulid::new().to_string(), secret: URL_SAFE_NO_PAD.encode(random_bytes::<32>()) }
}

fn write_keys(path: &Path, file: &KeyFile) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(file)?)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

impl TokenService {
    pub fn load(path: &Path, server: &ServerName, ttl_secs: u64) -> Result<Self> {
        ensure_key_file(path).map_err(|e| CoreError::Internal(format!("key file: {e}")))?;
        let bytes = std::fs::read(path).map_err(|e| CoreError::Internal(format!("key file: {e}")))?;
        let file: KeyFile = serde_json::from_slice(&bytes)
            .map_err(|e| CoreError::Internal(format!("key file {}: {e}", path.display())))?;
        let keys = file
            .keys
            .into_iter()
            .map(|k| {
                let secret = URL_SAFE_NO_PAD
                    .decode(&k.secret)
                    .map_err(|e| CoreError::Internal(format!("key {}: {e}", k.kid)))?;
                Ok(SigningKey {
                    kid: k.kid,
                    encoding: EncodingKey::from_secret(&secret),
                    decoding: DecodingKey::from_secret(&secret),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Err(CoreError::Internal(format!("no keys in {}", path.display())));
        }
        Ok(Self { keys, issuer: server.as_str().to_owned(), ttl_secs })
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    pub fn issue(&self, user: &UserId, session: SessionId) -> Result<String> {
        let now = parley_types::now_millis() / 1000;
        let claims = Claims {
            sub: user.clone(),
            sid: session,
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + self.ttl_secs as i64,
        };
        let key = &self.keys[0];
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|e| CoreError::Internal(format!("jwt: {e}")))
    }

    /// Checks signature, algorithm, `exp`, `iss` and `aud`.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| CoreError::Unauthenticated)?;
        let key = match &header.kid {
            Some(kid) => self.keys.iter().find(|k| &k.kid == kid),
            None => None,
        }
        .ok_or(CoreError::Unauthenticated)?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[AUDIENCE]);
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &key.decoding, &v)
            .map(|d| d.claims)
            .map_err(|_| CoreError::Unauthenticated)
    }
}

/// A refresh token is `<session_id>.<secret>`; only SHA-256 of the secret is stored.
pub fn new_refresh_token(session: SessionId) -> (String, String) {
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let hash = hash_secret(&secret);
    (format!("{session}.{secret}"), hash)
}

pub fn parse_refresh_token(token: &str) -> Option<(SessionId, String)> {
    let (sid, secret) = token.split_once('.')?;
    Some((sid.parse().ok()?, hash_secret(secret)))
}

fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random URL-safe code (invites, temporary passwords).
pub fn random_code(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_tampering_fails() {
        let dir = std::env::temp_dir().join(format!("parley-tok-{}", ulid::Ulid::new()));
        let path = dir.join("jwt.json");
        let server = ServerName::parse("example.org").unwrap();
        let svc = TokenService::load(&path, &server, 60).unwrap();
        let user = UserId::parse("ana@example.org").unwrap();
        let sid = SessionId::generate();
        let t = svc.issue(&user, sid).unwrap();
        let c = svc.verify(&t).unwrap();
        assert_eq!(c.sub, user);
        assert_eq!(c.sid, sid);
        let mut bad = t.clone();
        bad.pop();
        bad.push('A');
        assert!(svc.verify(&bad).is_err() || bad == t);
        // Another appliance's key does not verify our tokens.
        let other = TokenService::load(&dir.join("other.json"), &server, 60).unwrap();
        assert!(other.verify(&t).is_err());
        // After rotation old tokens still verify and new ones use the new key.
        rotate_key_file(&path).unwrap();
        let rotated = TokenService::load(&path, &server, 60).unwrap();
        assert!(rotated.verify(&t).is_ok());
        let (tok, hash) = new_refresh_token(sid);
        assert_eq!(parse_refresh_token(&tok).unwrap(), (sid, hash));
        std::fs::remove_dir_all(dir).ok();
    }
}
