//! authenticate: a bind as the user, never an unauthenticated one, never an injected filter.

use parley_ldap::{Error, authenticate};

use crate::bounded;
use crate::slapd::{BASE, SERVICE_PW, Slapd, password};

#[tokio::test]
async fn right_password_wrong_password_empty_password() {
    let slapd = Slapd::start();
    let settings = slapd.settings();

    // ann's password is stored {SSHA}-hashed, bob's in clear: both are slapd's business.
    let ann = bounded(authenticate(&settings, "ann", &password("ann"))).await.unwrap().expect("ann logs in");
    assert_eq!(ann.username, "ann");
    assert_eq!(ann.unit, ["People", "Engineering"]);
    assert_eq!(ann.title.as_deref(), Some("Staff Engineer"));
    assert!(bounded(authenticate(&settings, "bob", &password("bob"))).await.unwrap().is_some());

    for (user, pw) in [
        ("ann", "pw-bob"),
        ("ann", "PW-ANN"),
        ("ann", ""),
        ("nobody", "pw-nobody"),
        ("", "x"),
        // the service account is not a user (not an inetOrgPerson): it cannot log in.
        ("parley", SERVICE_PW),
    ] {
        let got = bounded(authenticate(&settings, user, pw)).await.unwrap();
        assert_eq!(got, None, "{user:?} / {pw:?}");
    }
}

#[tokio::test]
async fn filter_metacharacters_in_the_username_match_nobody() {
    let slapd = Slapd::start();
    let settings = slapd.settings();
    for username in ["*", "*)(uid=*", "ann)(|(uid=*", "a*", "*)(objectClass=*))(|(uid=*", "ann\0"] {
        let got = bounded(authenticate(&settings, username, &password("ann"))).await.unwrap();
        assert_eq!(got, None, "{username:?}");
    }
    // Usernames compare as the directory does (uid is case-insensitive); the user is the same.
    let got = bounded(authenticate(&settings, "ANN", &password("ann"))).await.unwrap();
    assert_eq!(got.map(|u| u.username), Some("ann".to_owned()));
}

#[tokio::test]
async fn a_broken_service_account_or_server_is_an_error_not_a_wrong_password() {
    let slapd = Slapd::start();
    let mut settings = slapd.settings();
    settings.bind_password = "wrong".into();
    let err = bounded(authenticate(&settings, "ann", &password("ann"))).await.unwrap_err();
    assert!(matches!(err, Error::Bind { .. }), "{err:?}");

    let settings = slapd.settings();
    drop(slapd);
    let err = bounded(authenticate(&settings, "ann", &password("ann"))).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn an_empty_password_fails_although_this_server_accepts_unauthenticated_binds() {
    let slapd = Slapd::start();
    // The premise: slapd here (`allow bind_anon_dn`) answers success to ann's DN with no password.
    let (driver, mut ldap) = ldap3::LdapConnAsync::new(&slapd.url()).await.unwrap();
    tokio::spawn(driver.drive());
    let dn = format!("uid=ann,ou=Engineering,ou=People,{BASE}");
    assert_eq!(bounded(ldap.simple_bind(&dn, "")).await.unwrap().rc, 0);

    let settings = slapd.settings();
    assert_eq!(bounded(authenticate(&settings, "ann", "")).await.unwrap(), None);
}
