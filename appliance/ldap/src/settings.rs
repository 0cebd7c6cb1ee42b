//! Connection settings: what an admin types into the console (or the config file), checked
//! field by field by [`LdapSettings::validate`] before anything touches the network.

use std::fmt;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;

use crate::Error;
use crate::dn;

/// A password that never prints: `Debug` shows `Secret(***)`. It deserializes from a plain
/// string and deliberately does not serialize, so it cannot leak into an API response or a log
/// by accident; use [`Secret::expose`] where the value is really needed.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "Secret(<empty>)" } else { "Secret(***)" })
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// How to reach and read a directory. Every field but `url` and `base_dn` has a default that
/// suits OpenLDAP with `inetOrgPerson` users and `groupOfNames` groups.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSettings {
    /// `ldap://host[:389]` (add `starttls = true` to encrypt it) or `ldaps://host[:636]`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding. Not allowed with `ldaps://`.
    #[serde(default)]
    pub starttls: bool,
    /// The service account used to search the directory, e.g.
    /// `cn=parley,ou=Services,dc=example,dc=org` (AD also accepts `parley@corp.example.com`).
    /// Empty together with an empty `bind_password` means an anonymous search.
    #[serde(default)]
    pub bind_dn: String,
    #[serde(default)]
    pub bind_password: Secret,
    /// Where users and groups are searched (whole subtree), e.g. `dc=example,dc=org`.
    pub base_dn: String,
    /// Which entries under `base_dn` are users.
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// Which entries under `base_dn` are groups.
    #[serde(default = "default_group_filter")]
    pub group_filter: String,
    #[serde(default)]
    pub attributes: AttributeMap,
    /// PEM certificate(s) to trust instead of the system's CA store: a private CA or the
    /// server's self-signed certificate. Empty or absent: the system store.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// TCP connect plus TLS handshake plus StartTLS.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Each LDAP request (a bind, one page of a search).
    #[serde(default = "default_operation_timeout")]
    pub operation_timeout_secs: u64,
    /// Entries per page of a Simple Paged Results search (AD's default MaxPageSize is 1000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

/// Which directory attribute holds which user or group field. Names are matched
/// case-insensitively, as LDAP does.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributeMap {
    /// The login name: `uid` (OpenLDAP), `sAMAccountName` (AD; or `userPrincipalName`).
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub phone: String,
    pub title: String,
    /// A value that survives renames and moves: `entryUUID` (OpenLDAP), `objectGUID` (AD).
    /// Binary values come back as lowercase hex. Empty: not read.
    pub unique_id: String,
    /// The group's name.
    pub group_name: String,
    /// The group's members: `member` / `uniqueMember` (DNs) or `memberUid` (usernames).
    pub member: String,
}

impl Default for AttributeMap {
    fn default() -> Self {
        Self {
            username: "uid".into(),
            display_name: "cn".into(),
            email: "mail".into(),
            phone: "telephoneNumber".into(),
            title: "title".into(),
            unique_id: "entryUUID".into(),
            group_name: "cn".into(),
            member: "member".into(),
        }
    }
}

fn default_user_filter() -> String {
    "(objectClass=inetOrgPerson)".into()
}
fn default_group_filter() -> String {
    "(objectClass=groupOfNames)".into()
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_operation_timeout() -> u64 {
    30
}
fn default_page_size() -> u32 {
    500
}

/// How the connection is protected, from the URL and `starttls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// `ldap://` without StartTLS: passwords travel in clear.
    Plain,
    StartTls,
    Ldaps,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Plain => "no encryption",
            Transport::StartTls => "StartTLS",
            Transport::Ldaps => "LDAPS",
        })
    }
}

/// One invalid setting: `field` is the key as written in the settings (`attributes.username`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl LdapSettings {
    /// Settings with the defaults above for everything but the three that have none.
    pub fn new(url: impl Into<String>, base_dn: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            starttls: false,
            bind_dn: String::new(),
            bind_password: Secret::default(),
            base_dn: base_dn.into(),
            user_filter: default_user_filter(),
            group_filter: default_group_filter(),
            attributes: AttributeMap::default(),
            ca_pem: None,
            connect_timeout_secs: default_connect_timeout(),
            operation_timeout_secs: default_operation_timeout(),
            page_size: default_page_size(),
        }
    }

    /// Checks every field without any I/O and reports all problems at once
    /// ([`Error::Config`]), each naming its field.
    pub fn validate(&self) -> Result<(), Error> {
        let mut errors = Vec::new();
        let mut bad = |field: &'static str, message: String| errors.push(FieldError { field, message });

        match parse_url(&self.url) {
            Err(message) => bad("url", message),
            Ok(url) if url.ldaps && self.starttls => bad(
                "starttls",
                "StartTLS is for ldap:// URLs; an ldaps:// connection is already encrypted".into(),
            ),
            Ok(_) => {}
        }
        match (self.bind_dn.trim().is_empty(), self.bind_password.is_empty()) {
            (false, true) => bad(
                "bind_password",
                "is empty; a bind DN with an empty password is an unauthenticated bind, \
                 which grants nothing"
                    .into(),
            ),
            (true, false) => bad("bind_dn", "is empty but a bind password is set".into()),
            (false, false) if !self.bind_dn.contains('@') && dn::parse(&self.bind_dn).is_none() => {
                bad("bind_dn", format!("{:?} is not a DN (like cn=parley,dc=example,dc=org)", self.bind_dn))
            }
            _ => {}
        }
        if self.base_dn.trim().is_empty() {
            bad("base_dn", "is empty (like dc=example,dc=org)".into());
        } else if dn::parse(&self.base_dn).is_none() {
            bad("base_dn", format!("{:?} is not a DN (like dc=example,dc=org)", self.base_dn));
        }
        for (field, filter) in [("user_filter", &self.user_filter), ("group_filter", &self.group_filter)] {
            if let Err(message) = check_filter(filter) {
                bad(field, message);
            }
        }
        let a = &self.attributes;
        for (field, name, required) in [
            ("attributes.username", &a.username, true),
            ("attributes.display_name", &a.display_name, false),
            ("attributes.email", &a.email, false),
            ("attributes.phone", &a.phone, false),
            ("attributes.title", &a.title, false),
            ("attributes.unique_id", &a.unique_id, false),
            ("attributes.group_name", &a.group_name, true),
            ("attributes.member", &a.member, true),
        ] {
            if name.is_empty() {
                if required {
                    bad(field, "is empty".into());
                }
            } else if !is_attribute_name(name) {
                bad(field, format!("{name:?} is not an attribute name"));
            }
        }
        if let Some(pem) = self.ca_pem.as_deref().filter(|p| !p.trim().is_empty())
            && let Err(message) = parse_ca_pem(pem)
        {
            bad("ca_pem", message);
        }
        for (field, secs) in [
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("operation_timeout_secs", self.operation_timeout_secs),
        ] {
            if !(1..=600).contains(&secs) {
                bad(field, format!("{secs} is outside 1..=600 seconds"));
            }
        }
        if !(1..=10_000).contains(&self.page_size) {
            bad("page_size", format!("{} is outside 1..=10000", self.page_size));
        }

        if errors.is_empty() { Ok(()) } else { Err(Error::Config(errors)) }
    }

    pub fn transport(&self) -> Transport {
        match parse_url(&self.url) {
            Ok(url) if url.ldaps => Transport::Ldaps,
            _ if self.starttls => Transport::StartTls,
            _ => Transport::Plain,
        }
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    pub fn operation_timeout(&self) -> Duration {
        Duration::from_secs(self.operation_timeout_secs)
    }

    /// The trusted certificates from `ca_pem`, or `None` for the system store.
    pub(crate) fn ca_certificates(&self) -> Result<Option<Vec<CertificateDer<'static>>>, Error> {
        match self.ca_pem.as_deref().filter(|p| !p.trim().is_empty()) {
            None => Ok(None),
            Some(pem) => parse_ca_pem(pem)
                .map(Some)
                .map_err(|message| Error::Config(vec![FieldError { field: "ca_pem", message }])),
        }
    }
}

/// The parts of an LDAP URL we use.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParsedUrl {
    pub ldaps: bool,
    pub host: String,
    pub port: u16,
}

pub(crate) fn parse_url(url: &str) -> Result<ParsedUrl, String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let (ldaps, rest) = if lower.starts_with("ldaps://") {
        (true, &url[8..])
    } else if lower.starts_with("ldap://") {
        (false, &url[7..])
    } else {
        return Err(format!("{url:?} must start with ldap:// or ldaps://"));
    };
    let hostport = rest.strip_suffix('/').unwrap_or(rest);
    if hostport.contains(['/', '?', '@', ' ']) {
        return Err(format!("{url:?} must be just ldap[s]://host[:port]"));
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| format!("{url:?}: unclosed ["))?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let port = match port {
        None => {
            if ldaps {
                636
            } else {
                389
            }
        }
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{url:?} has an invalid port {p:?}"))?,
    };
    Ok(ParsedUrl { ldaps, host: host.to_owned(), port })
}

fn check_filter(filter: &str) -> Result<(), String> {
    let filter = filter.trim();
    if !(filter.starts_with('(') && filter.ends_with(')')) {
        return Err(format!("{filter:?} must be a parenthesized LDAP filter like (objectClass=person)"));
    }
    ldap3::parse_filter(filter).map(|_| ()).map_err(|_| format!("{filter:?} is not a valid LDAP filter"))
}

fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    // A descriptor (letter, then letters, digits, hyphens) or a numeric OID.
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => chars.all(|c| c.is_ascii_digit() || c == '.'),
        _ => false,
    }
}

fn parse_ca_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read the PEM: {e}"))?;
    if certs.is_empty() {
        return Err("holds no -----BEGIN CERTIFICATE----- block".into());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> LdapSettings {
        let mut s = LdapSettings::new("ldap://ldap.example.org", "dc=example,dc=org");
        s.bind_dn = "cn=parley,dc=example,dc=org".into();
        s.bind_password = "pw".into();
        s
    }

    fn fields(s: &LdapSettings) -> Vec<&'static str> {
        match s.validate() {
            Ok(()) => vec![],
            Err(Error::Config(errors)) => errors.iter().map(|e| e.field).collect(),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn defaults_are_valid_and_deserialize() {
        assert_eq!(fields(&valid()), Vec::<&str>::new());
        let s: LdapSettings = serde_json::from_str(
            r#"{"url":"ldaps://dc1.corp.example.com","base_dn":"DC=corp,DC=example,DC=com",
                "bind_dn":"parley@corp.example.com","bind_password":"x",
                "attributes":{"username":"sAMAccountName","unique_id":"objectGUID"}}"#,
        )
        .unwrap();
        assert_eq!(fields(&s), Vec::<&str>::new());
        assert_eq!(s.attributes.email, "mail");
        assert_eq!(s.transport(), Transport::Ldaps);
        assert_eq!(format!("{:?}", s.bind_password), "Secret(***)");
        assert!(!format!("{s:?}").contains("\"x\""));
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut s = valid();
        s.url = "http://x".into();
        s.base_dn = "example.org".into();
        s.user_filter = "objectClass=person".into();
        s.group_filter = "(&(cn=a)".into();
        s.attributes.username = "".into();
        s.attributes.email = "mail)(x".into();
        s.ca_pem = Some("not a pem".into());
        s.connect_timeout_secs = 0;
        s.page_size = 0;
        assert_eq!(
            fields(&s),
            [
                "url",
                "base_dn",
                "user_filter",
                "group_filter",
                "attributes.username",
                "attributes.email",
                "ca_pem",
                "connect_timeout_secs",
                "page_size"
            ]
        );
    }

    #[test]
    fn bind_dn_and_password_go_together() {
        let mut s = valid();
        s.bind_password = Secret::default();
        assert_eq!(fields(&s), ["bind_password"]);
        s.bind_dn.clear();
        assert_eq!(fields(&s), Vec::<&str>::new(), "anonymous");
        s.bind_password = "pw".into();
        assert_eq!(fields(&s), ["bind_dn"]);
    }

    #[test]
    fn starttls_only_with_ldap() {
        let mut s = valid();
        s.url = "ldaps://x:1636/".into();
        s.starttls = true;
        assert_eq!(fields(&s), ["starttls"]);
    }

    #[test]
    fn urls() {
        let p = |u| parse_url(u);
        assert_eq!(p("ldap://h").unwrap(), ParsedUrl { ldaps: false, host: "h".into(), port: 389 });
        assert_eq!(p("LDAPS://h/").unwrap().port, 636);
        assert_eq!(
            p("ldap://[::1]:1389").unwrap(),
            ParsedUrl { ldaps: false, host: "::1".into(), port: 1389 }
        );
        assert!(p("ldap://h:0").is_err());
        assert!(p("ldap://h:x").is_err());
        assert!(p("ldap://").is_err());
        assert!(p("ldap://h/dc=x??sub").is_err());
        assert!(p("h:389").is_err());
    }
}
