//! test_connection and fetch_directory against the seeded directory, and how they fail.

use std::collections::HashSet;

use ldap3::Mod;
use parley_ldap::{Error, fetch_directory, test_connection};

use crate::bounded;
use crate::slapd::{BASE, SERVICE_DN, Slapd, USERS};

#[tokio::test]
async fn test_connection_reports_what_it_found() {
    let slapd = Slapd::start();
    let report = bounded(test_connection(&slapd.settings())).await.expect("test connection");
    assert_eq!(report.users, USERS);
    assert_eq!(report.groups, 3);
    assert_eq!(report.units, 3, "People, People/Engineering, People/Sales");
    assert_eq!(report.bound_as.as_deref(), Some(SERVICE_DN));
    assert_eq!(report.sample_users, ["ann", "bob", "carol", "dave", "erin"]);
    assert_eq!(report.sample_groups, ["all-staff", "engineers", "sales"]);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("not encrypted"));
    let text = report.to_string();
    assert!(text.contains("Found 17 users in 3 units and 3 groups"), "{text}");
}

#[tokio::test]
async fn wrong_bind_password_or_dn_is_a_bind_error() {
    let slapd = Slapd::start();
    let mut settings = slapd.settings();
    settings.bind_password = "wrong".into();
    let err = bounded(test_connection(&settings)).await.unwrap_err();
    assert!(matches!(&err, Error::Bind { dn, .. } if dn == SERVICE_DN), "{err:?}");
    assert!(err.to_string().contains("check bind_dn and bind_password"), "{err}");
    assert!(err.to_string().contains("invalidCredentials (49)"), "{err}");
    assert!(!format!("{err:?}{settings:?}").contains("wrong"), "the password never prints");

    settings.bind_password = crate::slapd::SERVICE_PW.into();
    settings.bind_dn = format!("cn=nobody,{BASE}");
    let err = bounded(test_connection(&settings)).await.unwrap_err();
    assert!(matches!(err, Error::Bind { .. }), "{err:?}");
}

#[tokio::test]
async fn bad_base_dn_is_not_found_and_bad_settings_name_the_field() {
    let slapd = Slapd::start();
    let mut settings = slapd.settings();
    settings.base_dn = "ou=Nowhere,dc=example,dc=org".into();
    let err = bounded(test_connection(&settings)).await.unwrap_err();
    assert!(matches!(&err, Error::NotFound { what } if what.contains("ou=Nowhere")), "{err:?}");

    let mut settings = slapd.settings();
    settings.user_filter = "(objectClass=inetOrgPerson".into();
    let err = bounded(test_connection(&settings)).await.unwrap_err();
    assert!(matches!(&err, Error::Config(fields) if fields[0].field == "user_filter"), "{err:?}");

    // A filter that is valid but finds nothing is not an error; the report says so.
    let mut settings = slapd.settings();
    settings.group_filter = "(objectClass=posixGroup)".into();
    let report = bounded(test_connection(&settings)).await.unwrap();
    assert_eq!(report.groups, 0);
    assert!(report.warnings.iter().any(|w| w.contains("no groups match")), "{:?}", report.warnings);
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = parley_ldap::LdapSettings::new(format!("ldap://127.0.0.1:{port}"), BASE);
    settings.connect_timeout_secs = 2;
    let err = bounded(test_connection(&settings)).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn fetch_reads_users_units_titles_and_groups_past_the_size_limit() {
    let slapd = Slapd::start();
    let settings = slapd.settings();
    let dir = bounded(fetch_directory(&settings)).await.expect("fetch");
    // 17 users with a server size limit of 10 and pages of 5: paging works.
    assert_eq!(dir.users.len(), USERS);
    assert!(dir.skipped.is_empty(), "{:?}", dir.skipped);

    let ann = dir.user("ann").expect("ann");
    assert_eq!(ann.dn, format!("uid=ann,ou=Engineering,ou=People,{BASE}"));
    assert_eq!(ann.unit, ["People", "Engineering"]);
    assert_eq!(ann.display_name.as_deref(), Some("Ann Lee"));
    assert_eq!(ann.title.as_deref(), Some("Staff Engineer"));
    assert_eq!(ann.email.as_deref(), Some("ann@example.org"));
    assert_eq!(ann.phone.as_deref(), Some("+1 555 0100"));
    assert_eq!(ann.unique_id.as_ref().map(String::len), Some(36), "entryUUID");
    assert_eq!(dir.user("erin").unwrap().unit, ["People"]);
    assert_eq!(dir.user("dave").unwrap().title, None);
    assert_eq!(dir.user("rep12").unwrap().unit, ["People", "Sales"]);
    let ids: HashSet<_> = dir.users.iter().map(|u| u.unique_id.clone().unwrap()).collect();
    assert_eq!(ids.len(), USERS);
    assert_eq!(dir.units(), [vec!["People"], vec!["People", "Engineering"], vec!["People", "Sales"]]);

    let engineers = dir.group("engineers").unwrap();
    // bob's member value is spelled "UID=Bob, OU=Engineering, …" and still resolves.
    assert_eq!(engineers.members, ["ann", "bob"]);
    assert_eq!(dir.group("sales").unwrap().members, ["carol", "dave"]);
    let all = dir.group("all-staff").unwrap();
    assert_eq!(all.members, ["erin"]);
    assert_eq!(all.member_groups, [format!("cn=engineers,ou=Groups,{BASE}")]);
    assert_eq!(all.unresolved, [format!("cn=nobody,{BASE}")]);

    // Pages bigger than the server's size limit are fine too: slapd caps paged searches by
    // size.prtotal (unlimited here), not by the per-search limit.
    let mut big_pages = settings.clone();
    big_pages.page_size = 1000;
    assert_eq!(bounded(fetch_directory(&big_pages)).await.unwrap().users.len(), USERS);
}

#[tokio::test]
async fn without_paging_the_server_stops_at_its_size_limit() {
    // The premise of the paging test above: a plain search as the service account is cut short.
    let slapd = Slapd::start();
    let (driver, mut ldap) = ldap3::LdapConnAsync::new(&slapd.url()).await.unwrap();
    tokio::spawn(driver.drive());
    ldap.simple_bind(SERVICE_DN, crate::slapd::SERVICE_PW).await.unwrap().success().unwrap();
    let ldap3::SearchResult(entries, result) =
        bounded(ldap.search(BASE, ldap3::Scope::Subtree, "(objectClass=inetOrgPerson)", vec!["uid"]))
            .await
            .unwrap();
    assert_eq!(result.rc, 4, "sizeLimitExceeded");
    assert_eq!(entries.len(), 10);
}

#[tokio::test]
async fn changes_and_removals_show_on_the_next_fetch() {
    let slapd = Slapd::start();
    let settings = slapd.settings();
    let before = bounded(fetch_directory(&settings)).await.unwrap();
    let carol_id = before.user("carol").unwrap().unique_id.clone();

    let mut admin = slapd.admin().await;
    let people = format!("ou=People,{BASE}");
    admin
        .modify(
            &format!("uid=ann,ou=Engineering,{people}"),
            vec![
                Mod::Replace("title", HashSet::from(["Principal Engineer"])),
                Mod::Replace("mail", HashSet::from(["ann.lee@example.org"])),
            ],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    admin.delete(&format!("uid=dave,ou=Sales,{people}")).await.unwrap().success().unwrap();
    admin
        .modify(
            &format!("cn=sales,ou=Groups,{BASE}"),
            vec![Mod::Delete("member", HashSet::from([format!("uid=dave,ou=Sales,{people}").as_str()]))],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    // carol moves to Engineering: a new DN and unit, the same unique id.
    admin
        .modifydn(
            &format!("uid=carol,ou=Sales,{people}"),
            "uid=carol",
            true,
            Some(&format!("ou=Engineering,{people}")),
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    admin.unbind().await.unwrap();

    let after = bounded(fetch_directory(&settings)).await.unwrap();
    let ann = after.user("ann").unwrap();
    assert_eq!(ann.title.as_deref(), Some("Principal Engineer"));
    assert_eq!(ann.email.as_deref(), Some("ann.lee@example.org"));
    assert!(after.user("dave").is_none());
    assert_eq!(after.users.len(), USERS - 1);
    assert_eq!(
        after.group("sales").unwrap().members,
        Vec::<String>::new(),
        "carol's old DN no longer resolves"
    );
    assert_eq!(after.group("sales").unwrap().unresolved, [format!("uid=carol,ou=Sales,{people}")]);
    let carol = after.user("carol").unwrap();
    assert_eq!(carol.unit, ["People", "Engineering"]);
    assert_eq!(carol.unique_id, carol_id);
}
