//! What Parley reads from a directory: users with their unit and profile fields, groups with
//! their members, and the three operations on them (test, fetch, authenticate).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Instant;

use ldap3::{SearchEntry, ldap_escape};
use serde::Serialize;

use crate::conn::{BindOutcome, Conn};
use crate::dn::{self, NormalizedDn};
use crate::settings::{LdapSettings, Transport};
use crate::{Error, Result};

/// A user entry as Parley needs it. Optional fields are `None` when the entry has no such
/// attribute (or it is mapped to nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirectoryUser {
    /// As the server spells it.
    pub dn: String,
    /// `attributes.unique_id` (e.g. entryUUID / objectGUID as hex): stable across renames and moves.
    pub unique_id: Option<String>,
    /// `attributes.username`, as stored (AD compares it case-insensitively).
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    /// The OU path from the DN, outermost first: `uid=ann,ou=Engineering,ou=People,dc=…` →
    /// `["People", "Engineering"]`. Empty when the entry is in no `ou=`.
    pub unit: Vec<String>,
}

/// A group entry with its members resolved against the users of the same fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirectoryGroup {
    pub dn: String,
    pub unique_id: Option<String>,
    /// `attributes.group_name`, or the value of the group's RDN if it has none.
    pub name: String,
    /// Usernames of the members that are users found by `user_filter`, sorted, no duplicates.
    pub members: Vec<String>,
    /// DNs of members that are themselves groups found by `group_filter` (nesting is not
    /// expanded here).
    pub member_groups: Vec<String>,
    /// Member values that are neither (users outside the filter or base DN, placeholders).
    pub unresolved: Vec<String>,
}

/// An entry left out of the result, with why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedEntry {
    pub dn: String,
    pub reason: String,
}

/// Everything `fetch_directory` read. Users are sorted by username, groups by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Directory {
    pub users: Vec<DirectoryUser>,
    pub groups: Vec<DirectoryGroup>,
    /// Users without a username, or whose username another user already has
    /// (case-insensitively; the first in DN order wins).
    pub skipped: Vec<SkippedEntry>,
}

impl Directory {
    /// The user with this username, compared case-insensitively.
    pub fn user(&self, username: &str) -> Option<&DirectoryUser> {
        self.users.iter().find(|u| u.username.eq_ignore_ascii_case(username))
    }

    pub fn group(&self, name: &str) -> Option<&DirectoryGroup> {
        self.groups.iter().find(|g| g.name.eq_ignore_ascii_case(name))
    }

    /// Every unit that holds a user, with all its parents, sorted: the tree the console shows.
    /// `[["People"], ["People", "Engineering"], ["People", "Sales"]]`.
    pub fn units(&self) -> Vec<Vec<String>> {
        let mut units: Vec<Vec<String>> = self
            .users
            .iter()
            .flat_map(|u| (1..=u.unit.len()).map(|n| u.unit[..n].to_vec()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        units.sort();
        units
    }
}

/// What "test connection" found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestReport {
    pub url: String,
    pub transport: Transport,
    /// The bind DN, or `None` for an anonymous search.
    pub bound_as: Option<String>,
    pub users: usize,
    pub groups: usize,
    pub units: usize,
    /// Up to five usernames and group names, to show the mapping works.
    pub sample_users: Vec<String>,
    pub sample_groups: Vec<String>,
    pub skipped: usize,
    /// Things that work but are probably not what the admin wants.
    pub warnings: Vec<String>,
    pub elapsed_ms: u64,
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Connected to {} ({}) as {}. Found {} users in {} units and {} groups",
            self.url,
            self.transport,
            self.bound_as.as_deref().unwrap_or("anonymous"),
            self.users,
            self.units,
            self.groups,
        )?;
        if !self.sample_users.is_empty() {
            write!(f, "; users e.g. {}", self.sample_users.join(", "))?;
        }
        if !self.sample_groups.is_empty() {
            write!(f, "; groups e.g. {}", self.sample_groups.join(", "))?;
        }
        write!(f, " ({} ms).", self.elapsed_ms)?;
        for warning in &self.warnings {
            write!(f, " Warning: {warning}.")?;
        }
        Ok(())
    }
}

/// Connects, binds as the service account, and reads users and groups the way
/// [`fetch_directory`] does, then summarizes. Errors say which step failed: [`Error::Connect`],
/// [`Error::Tls`], [`Error::Bind`], [`Error::NotFound`] (base DN), [`Error::Config`].
pub async fn test_connection(settings: &LdapSettings) -> Result<TestReport> {
    let started = Instant::now();
    let directory = fetch_directory(settings).await?;
    let mut warnings = Vec::new();
    if settings.transport() == Transport::Plain {
        warnings.push(
            "the connection is not encrypted: the bind password and users' passwords cross the \
             network in clear (use ldaps:// or StartTLS)"
                .to_owned(),
        );
    }
    if settings.transport() == Transport::Plain
        && settings.ca_pem.as_deref().is_some_and(|p| !p.trim().is_empty())
    {
        warnings.push("ca_pem is set but unused: the connection does not use TLS".to_owned());
    }
    if directory.users.is_empty() {
        warnings.push(format!(
            "no users match {} under {} (check user_filter and base_dn)",
            settings.user_filter, settings.base_dn
        ));
    }
    if directory.groups.is_empty() {
        warnings.push(format!("no groups match {}", settings.group_filter));
    }
    if !directory.skipped.is_empty() {
        warnings.push(format!(
            "{} user entries were skipped, e.g. {}: {}",
            directory.skipped.len(),
            directory.skipped[0].dn,
            directory.skipped[0].reason
        ));
    }
    if !directory.users.is_empty() && directory.users.iter().all(|u| u.email.is_none()) {
        warnings.push(format!("no user has the email attribute {:?}", settings.attributes.email));
    }
    Ok(TestReport {
        url: settings.url.trim().to_owned(),
        transport: settings.transport(),
        bound_as: Some(settings.bind_dn.trim().to_owned()).filter(|dn| !dn.is_empty()),
        users: directory.users.len(),
        groups: directory.groups.len(),
        units: directory.units().len(),
        sample_users: directory.users.iter().take(5).map(|u| u.username.clone()).collect(),
        sample_groups: directory.groups.iter().take(5).map(|g| g.name.clone()).collect(),
        skipped: directory.skipped.len(),
        warnings,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Reads all users (`user_filter`) and groups (`group_filter`) under `base_dn` with paged
/// searches, and resolves group members to usernames.
pub async fn fetch_directory(settings: &LdapSettings) -> Result<Directory> {
    settings.validate()?;
    let mut conn = Conn::open_bound(settings).await?;
    conn.check_base().await?;
    let a = &settings.attributes;
    let user_entries = conn.search_all(settings.user_filter.trim(), &user_attributes(settings)).await?;
    let mut group_attrs = vec![a.group_name.as_str(), a.member.as_str()];
    if !a.unique_id.is_empty() {
        group_attrs.push(a.unique_id.as_str());
    }
    let group_entries = conn.search_all(settings.group_filter.trim(), &group_attrs).await?;
    conn.close().await;

    let mut directory = Directory::default();
    let mut user_entries = user_entries;
    user_entries.sort_by(|x, y| x.dn.cmp(&y.dn));
    let mut taken = HashSet::new();
    for entry in &user_entries {
        match user_from_entry(settings, entry) {
            None => directory
                .skipped
                .push(SkippedEntry { dn: entry.dn.clone(), reason: format!("no {} attribute", a.username) }),
            Some(user) if !taken.insert(user.username.to_lowercase()) => {
                directory.skipped.push(SkippedEntry {
                    dn: entry.dn.clone(),
                    reason: format!("another user already has the username {:?}", user.username),
                })
            }
            Some(user) => directory.users.push(user),
        }
    }

    let users_by_dn: HashMap<NormalizedDn, &str> =
        directory.users.iter().filter_map(|u| Some((dn::normalize(&u.dn)?, u.username.as_str()))).collect();
    let users_by_name: HashMap<String, &str> =
        directory.users.iter().map(|u| (u.username.to_lowercase(), u.username.as_str())).collect();
    let group_dns: HashSet<NormalizedDn> =
        group_entries.iter().filter_map(|g| dn::normalize(&g.dn)).collect();
    let mut groups = Vec::new();
    for entry in &group_entries {
        let mut members = Vec::new();
        let mut member_groups = Vec::new();
        let mut unresolved = Vec::new();
        for value in values(entry, &a.member) {
            // A DN (member, uniqueMember) or a bare username (memberUid).
            match dn::normalize(value) {
                Some(ref n) if users_by_dn.contains_key(n) => members.push(users_by_dn[n].to_owned()),
                Some(ref n) if group_dns.contains(n) => member_groups.push(value.clone()),
                None if users_by_name.contains_key(&value.to_lowercase()) => {
                    members.push(users_by_name[&value.to_lowercase()].to_owned())
                }
                _ => unresolved.push(value.clone()),
            }
        }
        members.sort();
        members.dedup();
        groups.push(DirectoryGroup {
            dn: entry.dn.clone(),
            unique_id: unique_id(settings, entry),
            name: first(entry, &a.group_name)
                .or_else(|| dn::rdn_value(&entry.dn))
                .unwrap_or_else(|| entry.dn.clone()),
            members,
            member_groups,
            unresolved,
        });
    }
    directory.users.sort_by(|x, y| x.username.cmp(&y.username));
    groups.sort_by(|x, y| x.name.cmp(&y.name).then_with(|| x.dn.cmp(&y.dn)));
    directory.groups = groups;
    Ok(directory)
}

/// Checks a directory user's password by binding as them.
///
/// Finds the entry whose username attribute equals `username` (escaped, so `*` or `)` in it
/// match literally) among `user_filter` entries, using the service account, then binds with
/// its DN and `password`. `Ok(Some(user))`: the password is right. `Ok(None)`: unknown user,
/// wrong password, empty password (never sent: an empty password is an unauthenticated bind
/// that some servers accept), or the server refused the bind for another reason (disabled,
/// locked, expired). `Err`: the directory could not be asked ([`Error::Connect`], [`Error::Tls`],
/// [`Error::Bind`] for the service account, …) or [`Error::Ambiguous`] when several entries
/// carry the username.
pub async fn authenticate(
    settings: &LdapSettings,
    username: &str,
    password: &str,
) -> Result<Option<DirectoryUser>> {
    settings.validate()?;
    if password.is_empty() || username.trim().is_empty() {
        return Ok(None);
    }
    let mut conn = Conn::open_bound(settings).await?;
    let filter = format!(
        "(&{}({}={}))",
        settings.user_filter.trim(),
        settings.attributes.username,
        ldap_escape(username)
    );
    let entries = conn.search_all(&filter, &user_attributes(settings)).await?;
    let entry = match entries.as_slice() {
        [] => {
            conn.close().await;
            return Ok(None);
        }
        [entry] => entry,
        many => {
            conn.close().await;
            return Err(Error::Ambiguous { username: username.to_owned(), count: many.len() });
        }
    };
    let Some(user) = user_from_entry(settings, entry) else {
        conn.close().await;
        return Ok(None);
    };
    let outcome = conn.bind(&entry.dn, password).await;
    conn.close().await;
    match outcome? {
        BindOutcome::Bound => Ok(Some(user)),
        BindOutcome::Refused(reason) => {
            tracing::debug!(dn = %entry.dn, %reason, "directory refused the user's bind");
            Ok(None)
        }
    }
}

fn user_attributes(settings: &LdapSettings) -> Vec<&str> {
    let a = &settings.attributes;
    [&a.username, &a.display_name, &a.email, &a.phone, &a.title, &a.unique_id]
        .into_iter()
        .filter(|name| !name.is_empty())
        .map(String::as_str)
        .collect()
}

fn user_from_entry(settings: &LdapSettings, entry: &SearchEntry) -> Option<DirectoryUser> {
    let a = &settings.attributes;
    let username = first(entry, &a.username).filter(|u| !u.trim().is_empty())?;
    Some(DirectoryUser {
        dn: entry.dn.clone(),
        unique_id: unique_id(settings, entry),
        username,
        display_name: first(entry, &a.display_name),
        email: first(entry, &a.email),
        phone: first(entry, &a.phone),
        title: first(entry, &a.title),
        unit: dn::unit_path(&entry.dn),
    })
}

/// The values of an attribute, whatever case the server used for its name.
fn values<'e>(entry: &'e SearchEntry, name: &str) -> &'e [String] {
    if name.is_empty() {
        return &[];
    }
    entry
        .attrs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, values)| values.as_slice())
        .unwrap_or(&[])
}

fn first(entry: &SearchEntry, name: &str) -> Option<String> {
    values(entry, name).first().cloned()
}

/// Text values as they are; binary ones (AD's objectGUID) as lowercase hex.
fn unique_id(settings: &LdapSettings, entry: &SearchEntry) -> Option<String> {
    let name = settings.attributes.unique_id.as_str();
    first(entry, name).or_else(|| {
        let (_, values) = entry.bin_attrs.iter().find(|(key, _)| key.eq_ignore_ascii_case(name))?;
        Some(values.first()?.iter().map(|b| format!("{b:02x}")).collect())
    })
}
