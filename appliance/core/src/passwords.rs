//! Password hashing with argon2id at OWASP's recommended parameters (19 MiB, 2 passes,
//! 1 lane: the `argon2` crate's defaults), run on the blocking pool so hashing never stalls
//! the async workers, at most one hash per core at a time: hashing is CPU-bound, so more at once
//! only adds 19 MiB each (a burst of logins would otherwise run on up to 512 blocking threads).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{CoreError, Result};

static SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
});

/// Runs one hash or verification on the blocking pool once a slot is free.
async fn run<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let slot = SLOTS.acquire().await.map_err(|e| CoreError::Internal(e.to_string()))?;
    let out = tokio::task::spawn_blocking(f).await.map_err(|e| CoreError::Internal(e.to_string()))?;
    drop(slot);
    out
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

pub async fn hash(password: String) -> Result<String> {
    run(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CoreError::Internal(format!("hashing failed: {e}")))
    })
    .await
}

/// A valid argon2id hash of a random password nobody knows, verified against when the login
/// is unknown so that an unknown login takes as long as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$yoNYRAdmkVMBGk5mzl0OJeMIkUJczHw7dyoU/YQQdpI";

/// Verifies `password` against a PHC string; `None` (no such account) is always false.
pub async fn verify(password: String, phc: Option<String>) -> Result<bool> {
    run(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&phc).map_err(|e| CoreError::Internal(e.to_string()))?;
        let ok = hasher().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && ok)
    })
    .await
}
