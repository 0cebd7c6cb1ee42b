//! `parley-ldap`: reads users and groups from an LDAP directory (OpenLDAP, Active Directory)
//! and checks directory passwords by binding. A leaf crate: it knows LDAP, not Parley's
//! accounts; the core decides what a directory user becomes.
//!
//! # The contract
//!
//! - [`LdapSettings`] (serde `Deserialize`; from the config file or the admin API), checked by
//!   [`LdapSettings::validate`], which names every bad field ([`Error::Config`] with
//!   [`FieldError`]s). Each operation below validates first.
//! - [`test_connection`]`(&settings) -> Result<`[`TestReport`]`>`: connect, bind, count users,
//!   groups and units, sample names, warnings (plain-text connection, nothing found, skipped
//!   entries). `TestReport` is `Serialize` and its `Display` is one human sentence.
//! - [`fetch_directory`]`(&settings) -> Result<`[`Directory`]`>`: every user ([`DirectoryUser`]:
//!   DN, stable unique id, username, display name, email, phone, title, unit path from the DN)
//!   and group ([`DirectoryGroup`]: name, member usernames, nested group DNs), read with paged
//!   searches. A sync diffs two of these; a user missing from the next fetch has left.
//! - [`authenticate`]`(&settings, username, password) -> Result<Option<`[`DirectoryUser`]`>>`:
//!   `Some` only when the directory accepted a bind as that user with that password. Empty
//!   passwords and unknown users are `None` without a bind attempt; wrong passwords and
//!   refused accounts (disabled, locked) are `None`; only "could not ask" is an `Err`.
//!
//! Every call opens its own connection and closes it: nothing to pool, nothing to keep alive,
//! and settings changed in the console take effect on the next call.
//!
//! # Errors
//!
//! [`Error`]'s variants are the stable kinds to map to the console and the audit log:
//! `Config` (fix a field), `Connect` (host, port, firewall, timeouts), `Tls` (certificate not
//! trusted or handshake failed; set `ca_pem`), `Bind` (the service account's bind DN or
//! password was refused), `NotFound` (the base DN does not exist), `Ambiguous` (several users
//! share a username), `Protocol` (anything else the server said).
//!
//! # Wiring notes
//!
//! - Key accounts by [`DirectoryUser::unique_id`] when present (it survives renames and moves),
//!   else by DN. After [`authenticate`], use the returned `username`, not the typed one: the
//!   directory matches case-insensitively and ignores surrounding spaces.
//! - [`Secret`] does not serialize: to show settings, send `bind_password_set: bool`; to store
//!   them, keep the password separately.
//! - Group `members` only holds users this fetch returned; `member_groups` is one level of
//!   nesting, left for the caller to expand.
//!
//! # Active Directory
//!
//! Settings that fit AD: `url = "ldaps://dc1.corp.example.com"` (or `ldap://` with
//! `starttls`), `bind_dn = "CN=Parley,OU=Service Accounts,DC=corp,DC=example,DC=com"` (or
//! `parley@corp.example.com`), `attributes.username = "sAMAccountName"` (or
//! `userPrincipalName`), `attributes.unique_id = "objectGUID"` (returned as hex),
//! `user_filter = "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"`
//! (the last clause leaves out disabled accounts, which then count as "left the directory"),
//! `group_filter = "(objectClass=group)"`. AD refuses binds of disabled, locked and expired
//! accounts, so [`authenticate`] returns `None` for them. Users in the default `CN=Users`
//! container have an empty unit (only `OU=` counts). Not handled: AD's ranged retrieval of
//! groups with more than 1,500 members (`member;range=0-1499`); such groups come back with no
//! members.
//!
//! # Layout
//!
//! `settings` (what an admin types), `dn` (DN parsing, unit paths, DN comparison), `conn` (one
//! connection: TLS, binds, paged search, error translation), `directory` (the three operations).
//!
//! TLS uses rustls with the ring provider, chosen per connection, so the process-wide default
//! provider does not matter.

mod conn;
mod directory;
pub mod dn;
mod settings;

pub use directory::{
    Directory, DirectoryGroup, DirectoryUser, SkippedEntry, TestReport, authenticate, fetch_directory,
    test_connection,
};
pub use settings::{AttributeMap, FieldError, LdapSettings, Secret, Transport};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a directory operation failed. Messages are written for the admin who has to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Settings that cannot work, one entry per bad field.
    #[error("invalid LDAP settings: {}", join(.0))]
    Config(Vec<FieldError>),
    /// The server could not be reached or stopped answering.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// TLS failed: an untrusted or mismatched certificate, a refused StartTLS, a handshake error.
    #[error("TLS with {url} failed: {reason}")]
    Tls { url: String, reason: String },
    /// The service account's bind was refused: wrong bind DN or password, or a locked account.
    #[error("the directory refused the bind as {dn:?} (check bind_dn and bind_password): {reason}")]
    Bind { dn: String, reason: String },
    /// The base DN (or another named object) does not exist.
    #[error("not found in the directory: {what}")]
    NotFound { what: String },
    /// More than one user entry has this username; nobody can log in as it until it is fixed.
    #[error("{count} directory entries have the username {username:?}")]
    Ambiguous { username: String, count: usize },
    /// The server answered with an error we have no better name for.
    #[error("the directory failed a {operation}: {reason}")]
    Protocol { operation: &'static str, reason: String },
}

fn join(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
