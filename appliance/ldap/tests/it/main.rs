//! Integration tests against a real OpenLDAP `slapd` (Debian's `slapd` and `ldap-utils`), one
//! throwaway server per test.

mod auth;
mod directory;
mod slapd;
mod tls;

use std::future::Future;
use std::time::Duration;

/// Fails the test instead of hanging it.
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f).await.expect("test took over 60 s")
}
