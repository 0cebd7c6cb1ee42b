//! LDAP in the appliance, against a real OpenLDAP `slapd` (Debian's), seeded with 17 users in
//! units People, People/Engineering and People/Sales, and three groups.

#[path = "../../../ldap/tests/it/slapd.rs"]
#[allow(dead_code)]
mod slapd;

use std::collections::HashSet;

use ldap3::Mod;
use parley_testkit::{TestAppliance, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};
use slapd::Slapd;

fn settings(dir: &Slapd) -> Value {
    json!({
        "url": dir.url(),
        "bind_dn": slapd::SERVICE_DN,
        "bind_password": slapd::SERVICE_PW,
        "base_dn": slapd::BASE,
        "page_size": 5,
        "connect_timeout_secs": 5,
        "operation_timeout_secs": 5,
    })
}

async fn login(app: &TestAppliance, user: &str, password: &str) -> (StatusCode, Value) {
    app.call("POST", "/api/auth/login", None, Some(json!({ "login": user, "password": password }))).await
}

async fn sync(app: &TestAppliance, root: &TestUser) -> Value {
    let (s, report) = app.post("/api/admin/ldap/sync", &root.token, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    report
}

#[tokio::test]
async fn directory_sync_creates_updates_and_disables_users_who_log_in_by_bind() {
    let dir = Slapd::start();
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;

    // Save: the password is write-only.
    let (s, cfg) = app
        .call(
            "PUT",
            "/api/admin/ldap",
            Some(&root.token),
            Some(json!({ "settings": settings(&dir), "enabled": true })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{cfg}");
    assert_eq!(cfg["settings"]["bind_password_set"], true);
    assert!(!cfg.to_string().contains(slapd::SERVICE_PW), "never sent back: {cfg}");
    // Saving other fields keeps the stored password.
    let mut s2 = settings(&dir);
    s2.as_object_mut().unwrap().remove("bind_password");
    let (s, _) = app.call("PUT", "/api/admin/ldap", Some(&root.token), Some(json!({ "settings": s2 }))).await;
    assert_eq!(s, StatusCode::OK);

    let (s, report) = app.post("/api/admin/ldap/test", &root.token, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!((report["users"].as_u64(), report["groups"].as_u64()), (Some(slapd::USERS as u64), Some(3)));
    assert!(report["summary"].as_str().unwrap().contains("17 users"), "{report}");

    let report = sync(&app, &root).await;
    assert_eq!((report["created"].as_u64(), report["units"].as_u64()), (Some(17), Some(3)), "{report}");
    let (_, dir_view) = app.get("/api/admin/directory", &root.token).await;
    let paths: Vec<Value> = dir_view["units"].as_array().unwrap().iter().map(|u| u["path"].clone()).collect();
    assert_eq!(paths, vec![json!(["People"]), json!(["People", "Engineering"]), json!(["People", "Sales"])]);
    let engineers =
        dir_view["groups"].as_array().unwrap().iter().find(|g| g["name"] == "engineers").unwrap().clone();
    assert_eq!(engineers["members"].as_array().unwrap().len(), 2, "{engineers}");
    assert_eq!(engineers["source"], "ldap");

    // ann logs in with her directory password (stored hashed in the directory), not a wrong one.
    let (s, body) = login(&app, "ann", &slapd::password("ann")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _) = login(&app, "ann", "wrong").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, page) = app.get("/api/admin/users?q=ann", &root.token).await;
    let ann = &page["users"][0];
    assert_eq!((ann["source"].as_str(), ann["title"].as_str()), (Some("ldap"), Some("Staff Engineer")));
    assert_eq!(ann["unit_path"], json!(["People", "Engineering"]));
    let (s, err) = app
        .post(
            &format!("/api/admin/users/{}/reset-password", ann["user_id"].as_str().unwrap()),
            &root.token,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "directory passwords are changed in the directory: {err}");

    // A changed attribute updates; a removed entry disables the account and ends its sessions.
    let mut admin = dir.admin().await;
    let people = format!("ou=People,{}", slapd::BASE);
    admin
        .modify(
            &format!("uid=ann,ou=Engineering,{people}"),
            vec![Mod::Replace("cn", HashSet::from(["Ann Lee-Smith"]))],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let (_, dave) = login(&app, "dave", &slapd::password("dave")).await;
    let dave = TestUser::from_tokens(&dave);
    admin.delete(&format!("uid=dave,ou=Sales,{people}")).await.unwrap().success().unwrap();
    let report = sync(&app, &root).await;
    assert_eq!(
        (report["updated"].as_u64(), report["disabled"].as_u64(), report["created"].as_u64()),
        (Some(1), Some(1), Some(0)),
        "{report}"
    );
    let (_, page) = app.get("/api/admin/users?q=ann", &root.token).await;
    assert_eq!(page["users"][0]["display_name"], "Ann Lee-Smith");
    // Nothing can check dave's password any more, so nothing about the account is revealed.
    let (s, err) = login(&app, "dave", &slapd::password("dave")).await;
    assert_eq!((s, err["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")), "{err}");
    let (_, page) = app.get("/api/admin/users?status=disabled", &root.token).await;
    assert_eq!(page["users"][0]["username"], "dave");
    let (s, _) = app.get("/api/me", &dave.token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "dave's session ended");
    let (_, log) = app.get("/api/admin/audit?action=ldap.sync", &root.token).await;
    assert_eq!(log["total"], 2);
    let (_, cfg) = app.get("/api/admin/ldap", &root.token).await;
    assert_eq!(cfg["last_sync"]["disabled"], 1);

    // Turning sync off asks for the password again.
    let (s, err) =
        app.call("PUT", "/api/admin/ldap", Some(&root.token), Some(json!({ "enabled": false }))).await;
    assert_eq!((s, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("reauth_required")));
    let (s, _) = app
        .call(
            "PUT",
            "/api/admin/ldap",
            Some(&root.token),
            Some(json!({ "enabled": false, "password": "password-root" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = login(&app, "ann", &slapd::password("ann")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "no directory logins while LDAP is off");
}

#[tokio::test]
async fn a_wrong_bind_dn_or_an_empty_directory_gives_a_clear_error_and_changes_nothing() {
    let dir = Slapd::start();
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let mut bad = settings(&dir);
    bad["bind_dn"] = json!("cn=nobody,dc=example,dc=org");
    let (s, err) = app.post("/api/admin/ldap/test", &root.token, bad.clone()).await;
    assert_eq!((s, err["code"].as_str()), (StatusCode::BAD_GATEWAY, Some("directory_error")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("bind_dn"), "{err}");
    let mut invalid = settings(&dir);
    invalid["url"] = json!("http://example.org");
    let (s, err) =
        app.call("PUT", "/api/admin/ldap", Some(&root.token), Some(json!({ "settings": invalid }))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");

    // First sync with good settings, then a filter that matches nobody: nobody is disabled.
    app.call(
        "PUT",
        "/api/admin/ldap",
        Some(&root.token),
        Some(json!({ "settings": settings(&dir), "enabled": true })),
    )
    .await;
    sync(&app, &root).await;
    let mut empty = settings(&dir);
    empty["user_filter"] = json!("(uid=nobody-at-all)");
    app.call("PUT", "/api/admin/ldap", Some(&root.token), Some(json!({ "settings": empty }))).await;
    let (s, err) = app.post("/api/admin/ldap/sync", &root.token, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{err}");
    assert!(err["message"].as_str().unwrap().contains("refusing"), "{err}");
    let (_, page) = app.get("/api/admin/users?status=disabled", &root.token).await;
    assert_eq!(page["total"], 0);
    let (_, log) = app.get("/api/admin/audit?action=ldap.sync", &root.token).await;
    assert_eq!(log["entries"][0]["details"]["ok"], false, "failed syncs are audited too");
}
