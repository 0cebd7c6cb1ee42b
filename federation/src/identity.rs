//! This server's federation identity: an ECDSA P-256 key pair and a self-signed certificate whose
//! SAN is the `server_name`, generated on first use and kept (0600) in the data dir. The
//! certificate's SHA-256 fingerprint is what peers pin; the same key signs events.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parley_types::ServerName;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::{FederationError, Result};
use crate::ids::{Fingerprint, PublicKey};

const KEY_FILE: &str = "federation.key.pem";
const CERT_FILE: &str = "federation.crt.pem";

/// The key pair, certificate and name this server federates with. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

struct Inner {
    server_name: ServerName,
    cert: CertificateDer<'static>,
    pkcs8: Vec<u8>,
    signer: EcdsaKeyPair,
    fingerprint: Fingerprint,
    public_key: PublicKey,
}

impl std::fmt::Debug for Identity {
    // Never print the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("server_name", &self.inner.server_name)
            .field("fingerprint", &self.inner.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the identity from `dir`, or generates and stores one if there is none yet. Fails if
    /// the stored certificate names another server: changing `server_name` would silently break
    /// every peer's pin, so it takes an admin deleting the files.
    pub fn load_or_generate(dir: &Path, server_name: &ServerName) -> Result<Self> {
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        if key_path.exists() && cert_path.exists() {
            return Self::load(&key_path, &cert_path, server_name);
        }
        fs::create_dir_all(dir)?;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| FederationError::Identity(format!("key generation: {e}")))?;
        let mut params = rcgen::CertificateParams::new(vec![server_name.as_str().to_owned()])
            .map_err(|e| FederationError::Identity(format!("certificate: {e}")))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, server_name.as_str());
        // Pinned certificates are never checked for dates (rustls verifiers below), so the
        // rcgen default validity (to year 4096) means an identity never expires under us.
        let cert =
            params.self_signed(&key).map_err(|e| FederationError::Identity(format!("certificate: {e}")))?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        write_private(&cert_path, cert.pem().as_bytes())?;
        Self::from_parts(server_name.clone(), cert.der().clone(), key.serialize_der())
    }

    fn load(key_path: &Path, cert_path: &Path, server_name: &ServerName) -> Result<Self> {
        for p in [key_path, cert_path] {
            // Tighten what an admin may have loosened (a copied backup, say).
            fs::set_permissions(p, fs::Permissions::from_mode(0o600))?;
        }
        let cert = CertificateDer::from_pem_file(cert_path)
            .map_err(|e| FederationError::Identity(format!("{}: {e}", cert_path.display())))?;
        let key = PrivatePkcs8KeyDer::from_pem_file(key_path)
            .map_err(|e| FederationError::Identity(format!("{}: {e}", key_path.display())))?;
        let info = inspect_certificate(&cert)?;
        if !info.dns_names.iter().any(|n| n == server_name.as_str()) {
            return Err(FederationError::Identity(format!(
                "the federation certificate in {} is for {:?}, not {server_name}; delete {KEY_FILE} and {CERT_FILE} to start a new identity (every peer must then be invited again)",
                cert_path.display(),
                info.dns_names
            )));
        }
        Self::from_parts(server_name.clone(), cert, key.secret_pkcs8_der().to_vec())
    }

    fn from_parts(server_name: ServerName, cert: CertificateDer<'static>, pkcs8: Vec<u8>) -> Result<Self> {
        let signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &SystemRandom::new())
            .map_err(|e| FederationError::Identity(format!("key is not ECDSA P-256 PKCS#8: {e}")))?;
        let public_key = PublicKey::from_point(signer.public_key().as_ref())
            .map_err(|e| FederationError::Identity(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                fingerprint: Fingerprint::of_der(&cert),
                server_name,
                cert,
                pkcs8,
                signer,
                public_key,
            }),
        })
    }

    pub fn server_name(&self) -> &ServerName {
        &self.inner.server_name
    }
    pub fn fingerprint(&self) -> Fingerprint {
        self.inner.fingerprint
    }
    pub fn public_key(&self) -> &PublicKey {
        &self.inner.public_key
    }
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.inner.cert
    }
    pub(crate) fn private_key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.inner.pkcs8.clone()))
    }
    /// ASN.1 DER ECDSA P-256/SHA-256 signature of `msg`.
    pub(crate) fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.inner
            .signer
            .sign(&SystemRandom::new(), msg)
            // Signing fails only if the system RNG does; nothing sensible is left to do then.
            .expect("system random number generator failed")
            .as_ref()
            .to_vec()
    }
}

/// Writes `bytes` to `path` with mode 0600 from the first byte (temp file + rename, so a crash
/// never leaves half a key).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// What federation needs from a certificate: its DNS names and its P-256 signing key.
#[derive(Debug, Clone)]
pub(crate) struct CertInfo {
    pub dns_names: Vec<String>,
    pub public_key: Option<PublicKey>,
}

pub(crate) fn inspect_certificate(der: &[u8]) -> Result<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| FederationError::Certificate(format!("unparsable certificate: {e}")))?;
    let dns_names = cert
        .subject_alternative_name()
        .map_err(|e| FederationError::Certificate(format!("bad subjectAltName: {e}")))?
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let public_key = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::EC(point)) => PublicKey::from_point(point.data()).ok(),
        _ => None,
    };
    Ok(CertInfo { dns_names, public_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_generated_once_with_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let name = ServerName::parse("a.test").unwrap();
        let first = Identity::load_or_generate(dir.path(), &name).unwrap();
        for f in [KEY_FILE, CERT_FILE] {
            let mode = fs::metadata(dir.path().join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let again = Identity::load_or_generate(dir.path(), &name).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_eq!(first.public_key(), again.public_key());
        let info = inspect_certificate(first.certificate_der()).unwrap();
        assert_eq!(info.dns_names, vec!["a.test".to_owned()]);
        assert_eq!(info.public_key.as_ref(), Some(first.public_key()));

        let other = ServerName::parse("b.test").unwrap();
        assert!(Identity::load_or_generate(dir.path(), &other).is_err());
    }
}
