//! ldaps:// and StartTLS with a certificate from a private CA: trusted with ca_pem, refused
//! with a TLS error without it.

use parley_ldap::{Error, Transport, authenticate, test_connection};

use crate::bounded;
use crate::slapd::{Slapd, USERS, password};

#[tokio::test]
async fn ldaps_and_starttls_work_with_the_ca_and_fail_without_it() {
    let slapd = Slapd::start_tls();

    let mut ldaps = slapd.settings();
    ldaps.url = slapd.ldaps_url();
    ldaps.ca_pem = Some(slapd.ca_pem());
    let report = bounded(test_connection(&ldaps)).await.expect("ldaps");
    assert_eq!(report.transport, Transport::Ldaps);
    assert_eq!(report.users, USERS);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(bounded(authenticate(&ldaps, "ann", &password("ann"))).await.unwrap().is_some());

    let mut starttls = slapd.settings();
    starttls.starttls = true;
    starttls.ca_pem = Some(slapd.ca_pem());
    let report = bounded(test_connection(&starttls)).await.expect("starttls");
    assert_eq!(report.transport, Transport::StartTls);
    assert_eq!(report.users, USERS);

    for mut settings in [ldaps, starttls] {
        settings.ca_pem = None;
        let err = bounded(test_connection(&settings)).await.unwrap_err();
        assert!(matches!(&err, Error::Tls { reason, .. } if reason.contains("not trusted")), "{err:?}");
    }
}

#[tokio::test]
async fn tls_mismatches_are_tls_errors() {
    let slapd = Slapd::start_tls();
    // A CA that did not sign the server's certificate.
    let other = Slapd::start_tls();
    let mut settings = slapd.settings();
    settings.url = slapd.ldaps_url();
    settings.ca_pem = Some(other.ca_pem());
    let err = bounded(test_connection(&settings)).await.unwrap_err();
    assert!(matches!(&err, Error::Tls { reason, .. } if reason.contains("not trusted")), "{err:?}");

    // ldaps:// to the plain port.
    settings.url = slapd.url().replace("ldap://", "ldaps://");
    settings.ca_pem = Some(slapd.ca_pem());
    let err = bounded(test_connection(&settings)).await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");

    // StartTLS on a server without TLS configured.
    let plain = Slapd::start();
    let mut settings = plain.settings();
    settings.starttls = true;
    let err = bounded(test_connection(&settings)).await.unwrap_err();
    assert!(matches!(&err, Error::Tls { reason, .. } if reason.contains("refused StartTLS")), "{err:?}");
}
