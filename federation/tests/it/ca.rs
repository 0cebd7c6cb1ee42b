//! Optional CA mode: servers whose certificates chain to the admin's CA and whose names are on
//! the allow list federate without an invite; anything else is still a stranger.

use std::collections::{HashMap, HashSet};
use std::net::UdpSocket;
use std::time::Duration;

use parley_federation::wire::{Request, Response};
use parley_federation::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};

use crate::support::{Node, bounded, test_config};

struct Ca {
    cert: rcgen::Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Parley test CA");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, issuer: Issuer::new(params, key) }
    }

    /// A data dir holding a CA-issued federation identity for `name`.
    fn identity_dir(&self, name: &str) -> tempfile::TempDir {
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages =
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("federation.key.pem"), key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("federation.crt.pem"), cert.pem()).unwrap();
        dir
    }
}

#[tokio::test]
async fn ca_issued_peers_on_the_allow_list_federate_without_an_invite() {
    bounded(Duration::from_secs(30), async {
        let ca = Ca::new();
        let (a_socket, b_socket) =
            (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
        let name = |s: &str| ServerName::parse(s).unwrap();
        let trust = CaTrust {
            roots: vec![ca.cert.der().clone()],
            allowed: HashSet::from([name("a.test"), name("b.test")]),
            addresses: HashMap::from([
                (name("a.test"), a_socket.local_addr().unwrap().to_string()),
                (name("b.test"), b_socket.local_addr().unwrap().to_string()),
            ]),
        };
        let config = FederationConfig { ca: Some(trust), ..test_config() };
        let a = Node::start_in("a.test", config.clone(), a_socket, ca.identity_dir("a.test")).await;
        let b = Node::start_in("b.test", config.clone(), b_socket, ca.identity_dir("b.test")).await;

        let chat = a.chat();
        let ack =
            b.fed.send_transaction(&a.id(), &b.txn(vec![b.message(&chat, "bob", "via CA")])).await.unwrap();
        assert!(matches!(ack.results[0].result, EventResult::Accepted { .. }));
        assert_eq!(a.handler.count(), 1);
        let at_a = a.fed.peers().into_iter().find(|p| p.server_name == b.name).unwrap();
        assert_eq!((at_a.trust, at_a.fingerprint), (Trust::Ca, b.fed.identity().fingerprint()));

        // Issued by the CA but not on the allow list: a stranger, refused.
        let d_config = FederationConfig { ca: None, ..test_config() };
        let d = Node::start_in(
            "d.test",
            d_config,
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            ca.identity_dir("d.test"),
        )
        .await;
        let addr = a.fed.local_addr().unwrap().to_string();
        let txn = Request::Transaction(d.txn(vec![]));
        let r = d.fed.testing_stranger_request(&addr, &a.name, a.fed.identity().fingerprint(), &txn).await;
        assert!(
            matches!(r, Err(FederationError::ClosedByPeer { code: ErrorCode::Unpinned, .. })),
            "{:?}",
            r.map(|r: Response| format!("{r:?}"))
        );
        assert_eq!(a.handler.count(), 1);
        // Revocation works for CA peers too.
        a.fed.revoke(&b.id()).await.unwrap();
        assert!(b.fed.send_transaction(&a.id(), &b.txn(vec![])).await.is_err());
        // A freshly issued certificate for the revoked name does not bring it back.
        let b2 = Node::start_in(
            "b.test",
            config,
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            ca.identity_dir("b.test"),
        )
        .await;
        let r = b2.fed.send_transaction(&a.id(), &b2.txn(vec![])).await;
        assert!(matches!(r, Err(FederationError::ClosedByPeer { code: ErrorCode::Unpinned, .. })), "{r:?}");
        assert_eq!(a.handler.count(), 1);
        b2.fed.shutdown().await;
        for n in [&a, &b, &d] {
            n.fed.shutdown().await;
        }
    })
    .await;
}
