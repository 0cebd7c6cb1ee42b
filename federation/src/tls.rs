//! rustls configuration for mutual TLS over QUIC, with verifiers that trust a certificate only
//! by its pinned fingerprint, or (optionally) by an admin-configured CA plus a name allow list.
//!
//! Server side, a well-formed but unknown client certificate is let through the handshake so
//! an invitee can run the peering exchange; the connection then carries nothing but that
//! exchange (enforced in `manager`). Revoked fingerprints are refused during the handshake.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::RwLock;
use parley_types::ServerName;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName as TlsName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore, SignatureScheme,
};

use crate::error::{FederationError, Result};
use crate::identity::{Identity, inspect_certificate};
use crate::ids::Fingerprint;
use crate::peers::PeerTable;
use crate::wire::ALPN;

/// Optional CA trust: peers whose certificate chains to `roots` and names a server in `allowed`
/// are accepted without an invite.
#[derive(Debug, Clone, Default)]
pub struct CaTrust {
    pub roots: Vec<CertificateDer<'static>>,
    pub allowed: HashSet<ServerName>,
    /// Where to reach an allowed server (`host:port`); by default `server_name:default_port`.
    pub addresses: HashMap<ServerName, String>,
}

pub(crate) struct CaVerifiers {
    client: Arc<dyn ClientCertVerifier>,
    server: Arc<dyn ServerCertVerifier>,
    pub allowed: HashSet<ServerName>,
    addresses: HashMap<ServerName, String>,
}

impl std::fmt::Debug for CaVerifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaVerifiers").field("allowed", &self.allowed).finish_non_exhaustive()
    }
}

impl CaVerifiers {
    pub fn new(ca: &CaTrust, provider: &Arc<CryptoProvider>) -> Result<Self> {
        let mut roots = RootCertStore::empty();
        for r in &ca.roots {
            roots.add(r.clone())?;
        }
        let roots = Arc::new(roots);
        let client =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| FederationError::Certificate(format!("CA: {e}")))?;
        let server = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| FederationError::Certificate(format!("CA: {e}")))?;
        Ok(Self { client, server, allowed: ca.allowed.clone(), addresses: ca.addresses.clone() })
    }

    pub fn address_of(&self, name: &ServerName, default_port: u16) -> String {
        self.addresses.get(name).cloned().unwrap_or_else(|| format!("{name}:{default_port}"))
    }

    /// The allowed server name the certificate is for, if it chains to the CA.
    pub fn client_name(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Option<ServerName> {
        self.client.verify_client_cert(end_entity, intermediates, UnixTime::now()).ok()?;
        let info = inspect_certificate(end_entity).ok()?;
        info.dns_names.iter().filter_map(|n| ServerName::parse(n).ok()).find(|n| self.allowed.contains(n))
    }
}

fn refuse(why: &'static str) -> Error {
    tracing::debug!(why, "federation certificate refused");
    Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
}

fn algorithms(provider: &CryptoProvider) -> WebPkiSupportedAlgorithms {
    provider.signature_verification_algorithms
}

/// Server side: which client certificates may complete the handshake.
#[derive(Debug)]
struct ClientAuth {
    table: Arc<RwLock<PeerTable>>,
    ca: Option<Arc<CaVerifiers>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ClientAuth {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, Error> {
        let fp = Fingerprint::of_der(end_entity);
        let table = self.table.read();
        if table.is_revoked(&fp) {
            return Err(refuse("revoked"));
        }
        if table.by_fingerprint(&fp).is_some() {
            return Ok(ClientCertVerified::assertion());
        }
        drop(table);
        if let Some(ca) = &self.ca
            && ca.client_name(end_entity, intermediates).is_some()
        {
            return Ok(ClientCertVerified::assertion());
        }
        // Unknown but well-formed: allowed through for the peering handshake only.
        inspect_certificate(end_entity).map_err(|_| refuse("unparsable"))?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// What an outbound connection expects of the server it reaches.
#[derive(Debug, Clone)]
pub(crate) enum Expect {
    /// Exactly this certificate (pinned peer, or the fingerprint in an invite).
    Pinned(Fingerprint),
    /// A CA-issued certificate for this allowed name.
    Ca(ServerName),
}

/// Client side: is the server we reached the peer we meant?
#[derive(Debug)]
struct ServerAuth {
    expect: Expect,
    table: Arc<RwLock<PeerTable>>,
    ca: Option<Arc<CaVerifiers>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ServerAuth {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &TlsName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, Error> {
        let fp = Fingerprint::of_der(end_entity);
        if self.table.read().is_revoked(&fp) {
            return Err(refuse("revoked"));
        }
        match &self.expect {
            Expect::Pinned(want) if *want == fp => Ok(ServerCertVerified::assertion()),
            Expect::Pinned(_) => Err(refuse("fingerprint differs from the pin")),
            Expect::Ca(name) => {
                let ca = self.ca.as_ref().ok_or_else(|| refuse("no CA configured"))?;
                if !ca.allowed.contains(name) {
                    return Err(refuse("not on the allow list"));
                }
                ca.server.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    // Explicit ring provider: the build also links aws-lc-rs (via SurrealDB), and rustls
    // refuses to guess a process default when both are present.
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn server_config(
    identity: &Identity,
    table: Arc<RwLock<PeerTable>>,
    ca: Option<Arc<CaVerifiers>>,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ServerConfig> {
    let provider = provider();
    let verifier = Arc::new(ClientAuth { table, ca, algs: algorithms(&provider) });
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.certificate_der().clone()], identity.private_key_der())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    // 0-RTT off: early data can be replayed, and every request here changes state.
    tls.max_early_data_size = 0;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| FederationError::Certificate(format!("QUIC TLS: {e}")))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(transport);
    Ok(config)
}

pub(crate) fn client_config(
    identity: &Identity,
    expect: Expect,
    table: Arc<RwLock<PeerTable>>,
    ca: Option<Arc<CaVerifiers>>,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ClientConfig> {
    let provider = provider();
    let verifier = Arc::new(ServerAuth { expect, table, ca, algs: algorithms(&provider) });
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![identity.certificate_der().clone()], identity.private_key_der())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.enable_early_data = false;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| FederationError::Certificate(format!("QUIC TLS: {e}")))?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(transport);
    Ok(config)
}
