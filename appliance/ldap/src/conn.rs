//! One LDAP connection: TLS set-up, binds, paged searches, and the translation of `ldap3`'s
//! errors into [`Error`] kinds an admin can act on.

use std::sync::Arc;

use ldap3::controls::{Control, ControlType, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use rustls::{ClientConfig, RootCertStore};

use crate::settings::{LdapSettings, Transport, parse_url};
use crate::{Error, Result};

/// LDAP result codes we treat specially (RFC 4511 §A.2).
mod rc {
    pub const SUCCESS: u32 = 0;
    pub const SIZE_LIMIT_EXCEEDED: u32 = 4;
    pub const REFERRAL: u32 = 10;
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const INVALID_DN_SYNTAX: u32 = 34;
    pub const INAPPROPRIATE_AUTHENTICATION: u32 = 48;
    pub const INVALID_CREDENTIALS: u32 = 49;
    pub const INSUFFICIENT_ACCESS: u32 = 50;
    pub const UNWILLING_TO_PERFORM: u32 = 53;
}

/// An open connection (the `ldap3` driver task runs beside it and ends when this is dropped).
pub(crate) struct Conn {
    pub ldap: Ldap,
    settings: LdapSettings,
}

/// How a simple bind ended when the caller wants to tell a refused password from a failure.
pub(crate) enum BindOutcome {
    Bound,
    Refused(String),
}

impl Conn {
    /// Connects (with TLS as configured) within `connect_timeout`.
    pub async fn open(settings: &LdapSettings) -> Result<Self> {
        let url = parse_url(&settings.url)
            .map_err(|message| Error::Config(vec![crate::FieldError { field: "url", message }]))?;
        let mut conn_settings = LdapConnSettings::new()
            .set_conn_timeout(settings.connect_timeout())
            .set_starttls(settings.starttls && !url.ldaps);
        if settings.transport() != Transport::Plain {
            conn_settings = conn_settings.set_config(tls_config(settings)?);
        }
        let (driver, ldap) = LdapConnAsync::with_settings(conn_settings, settings.url.trim())
            .await
            .map_err(|e| connect_error(settings, e))?;
        tokio::spawn(async move {
            if let Err(e) = driver.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        Ok(Self { ldap, settings: settings.clone() })
    }

    /// Connects and binds as the service account (or stays anonymous when no bind DN is set).
    pub async fn open_bound(settings: &LdapSettings) -> Result<Self> {
        let mut conn = Self::open(settings).await?;
        if !settings.bind_dn.trim().is_empty() {
            let dn = settings.bind_dn.trim().to_owned();
            match conn.bind(&dn, settings.bind_password.expose()).await? {
                BindOutcome::Bound => {}
                BindOutcome::Refused(reason) => return Err(Error::Bind { dn, reason }),
            }
        }
        Ok(conn)
    }

    /// A simple bind. Refusals (wrong DN or password, account locked or disabled, policy) are
    /// `Ok(Refused)`; only transport failures are errors. The caller must not pass an empty
    /// password: that is an unauthenticated bind, which some servers "accept".
    pub async fn bind(&mut self, dn: &str, password: &str) -> Result<BindOutcome> {
        debug_assert!(!password.is_empty());
        let timeout = self.settings.operation_timeout();
        let res = self
            .ldap
            .with_timeout(timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|e| self.op_error("bind", e))?;
        match res.rc {
            rc::SUCCESS => Ok(BindOutcome::Bound),
            rc::INVALID_CREDENTIALS
            | rc::INAPPROPRIATE_AUTHENTICATION
            | rc::UNWILLING_TO_PERFORM
            | rc::INVALID_DN_SYNTAX
            | rc::NO_SUCH_OBJECT
            | rc::INSUFFICIENT_ACCESS => Ok(BindOutcome::Refused(describe(&res))),
            _ => Err(Error::Protocol { operation: "bind", reason: describe(&res) }),
        }
    }

    /// Checks that `base_dn` exists, so a typo gives [`Error::NotFound`] rather than "0 users".
    pub async fn check_base(&mut self) -> Result<()> {
        let base = self.settings.base_dn.trim().to_owned();
        let timeout = self.settings.operation_timeout();
        let res = self
            .ldap
            .with_timeout(timeout)
            .search(&base, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await
            .map_err(|e| self.op_error("search", e))?;
        match res.1.rc {
            rc::SUCCESS if !res.0.is_empty() => Ok(()),
            rc::SUCCESS | rc::NO_SUCH_OBJECT | rc::REFERRAL => Err(Error::NotFound {
                what: format!("base DN {base:?} (it does not exist or the bind DN may not read it)"),
            }),
            rc::INVALID_DN_SYNTAX => {
                Err(Error::NotFound { what: format!("base DN {base:?} (invalid DN syntax)") })
            }
            _ => Err(Error::Protocol { operation: "search", reason: describe(&res.1) }),
        }
    }

    /// All entries under `base_dn` matching `filter`, fetched in pages of `page_size` with the
    /// Simple Paged Results control (RFC 2696), so server size limits per request do not cut
    /// the result short. Search references (AD's referrals to other partitions) are skipped.
    pub async fn search_all(&mut self, filter: &str, attrs: &[&str]) -> Result<Vec<SearchEntry>> {
        let base = self.settings.base_dn.trim().to_owned();
        let timeout = self.settings.operation_timeout();
        let size = i32::try_from(self.settings.page_size).unwrap_or(i32::MAX);
        let mut entries = Vec::new();
        let mut cookie = Vec::new();
        loop {
            let page = PagedResults { size, cookie: std::mem::take(&mut cookie) };
            let ldap3::SearchResult(found, result) = self
                .ldap
                .with_controls(page)
                .with_timeout(timeout)
                .search(&base, Scope::Subtree, filter, attrs.to_vec())
                .await
                .map_err(|e| self.op_error("search", e))?;
            match result.rc {
                rc::SUCCESS | rc::REFERRAL => {}
                rc::NO_SUCH_OBJECT => {
                    return Err(Error::NotFound { what: format!("base DN {base:?}") });
                }
                rc::SIZE_LIMIT_EXCEEDED => {
                    return Err(Error::Protocol {
                        operation: "search",
                        reason: format!(
                            "the server's size limit cut the result short even with paging ({}); \
                             lower page_size or raise the limit for the bind DN",
                            describe(&result)
                        ),
                    });
                }
                _ => return Err(Error::Protocol { operation: "search", reason: describe(&result) }),
            }
            entries.extend(
                found.into_iter().filter(|e| !e.is_ref() && !e.is_intermediate()).map(SearchEntry::construct),
            );
            cookie = result
                .ctrls
                .iter()
                .find_map(|Control(kind, raw)| match kind {
                    Some(ControlType::PagedResults) => Some(raw.parse::<PagedResults>().cookie),
                    _ => None,
                })
                .unwrap_or_default();
            if cookie.is_empty() {
                return Ok(entries);
            }
        }
    }

    /// Ends the session politely; errors do not matter at this point.
    pub async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }

    fn op_error(&self, operation: &'static str, e: LdapError) -> Error {
        match e {
            LdapError::Timeout { .. } => Error::Connect {
                url: self.settings.url.clone(),
                reason: format!(
                    "the server did not answer a {operation} within {} s",
                    self.settings.operation_timeout_secs
                ),
            },
            // Settings are validated first, so this is a filter we built; say so plainly.
            LdapError::FilterParsing => {
                Error::Protocol { operation, reason: "the search filter could not be parsed".into() }
            }
            LdapError::Io { .. }
            | LdapError::OpSend { .. }
            | LdapError::ResultRecv { .. }
            | LdapError::IdScrubSend { .. }
            | LdapError::EndOfStream => Error::Connect {
                url: self.settings.url.clone(),
                reason: format!("the connection broke during a {operation}: {e}"),
            },
            other => Error::Protocol { operation, reason: other.to_string() },
        }
    }
}

/// rustls with the ring provider chosen explicitly (other crates in the binary enable
/// aws-lc-rs too, and then rustls refuses to guess) and either `ca_pem` or the system roots.
fn tls_config(settings: &LdapSettings) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    match settings.ca_certificates()? {
        Some(certs) => {
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    Error::Config(vec![crate::FieldError {
                        field: "ca_pem",
                        message: format!("is not a usable CA certificate: {e}"),
                    }])
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for e in &native.errors {
                tracing::warn!(error = %e, "reading the system CA store");
            }
            roots.add_parsable_certificates(native.certs);
        }
    }
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls { url: settings.url.clone(), reason: e.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Sorts a failure to connect into: TLS (certificate or handshake), refused StartTLS, or
/// cannot reach the server at all.
fn connect_error(settings: &LdapSettings, e: LdapError) -> Error {
    let url = settings.url.clone();
    if let Some(tls) = find_rustls_error(&e) {
        let reason = match tls {
            rustls::Error::InvalidCertificate(why) => format!(
                "the server's certificate is not trusted ({why:?}); set ca_pem to the CA that \
                 signed it, and check that the URL's host name is in the certificate"
            ),
            other => format!("TLS handshake failed: {other}"),
        };
        return Error::Tls { url, reason };
    }
    match e {
        LdapError::LdapResult { result } => {
            Error::Tls { url, reason: format!("the server refused StartTLS: {}", describe(&result)) }
        }
        LdapError::DNSName { .. } => {
            Error::Tls { url, reason: "the URL's host is not a valid name for certificate checking".into() }
        }
        LdapError::Timeout { .. } => Error::Connect {
            url,
            reason: format!(
                "no answer within {} s (host, port, firewall, or TLS on a plain port?)",
                settings.connect_timeout_secs
            ),
        },
        LdapError::Io { source }
            if settings.transport() != Transport::Plain
                && matches!(
                    source.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                ) =>
        {
            Error::Tls { url, reason: format!("TLS handshake failed (is this port speaking TLS?): {source}") }
        }
        LdapError::Io { source } => Error::Connect { url, reason: source.to_string() },
        other => Error::Connect { url, reason: other.to_string() },
    }
}

fn find_rustls_error(e: &LdapError) -> Option<&rustls::Error> {
    match e {
        LdapError::Rustls { source } => Some(source),
        LdapError::Io { source } => source.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// `invalidCredentials (49): <server text>`.
fn describe(res: &ldap3::LdapResult) -> String {
    let name = match res.rc {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        _ => "error",
    };
    if res.text.is_empty() {
        format!("{name} ({})", res.rc)
    } else {
        format!("{name} ({}): {}", res.rc, res.text)
    }
}
