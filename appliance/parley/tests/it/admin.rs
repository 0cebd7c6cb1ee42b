//! Admin API: the audit log records admin actions and security events, admins can filter it,
//! and nobody else can read it or change it.

use parley_testkit::TestAppliance;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn audit_log_records_who_what_when_and_where() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;

    let (s, _) =
        app.post("/api/auth/login", "", json!({ "login": "ana", "password": "not-her-password" })).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app.post(&format!("/api/admin/users/{}/disable", bob.id), &root.token, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, invite) = app.post("/api/admin/invites", &root.token, json!({})).await;
    assert_eq!(s, StatusCode::CREATED);

    let (s, log) = app.get("/api/admin/audit", &root.token).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let entries = log["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        &actions[..3],
        ["invite.created", "user.disabled", "login.failed"],
        "newest first: {actions:?}"
    );
    let disabled = &entries[1];
    assert_eq!(disabled["actor"], root.id.as_str());
    assert_eq!(disabled["target"], bob.id.as_str());
    assert_eq!(disabled["ip"], "127.0.0.1");
    assert!(disabled["at"].as_i64().unwrap() > 0);
    let failed = &entries[2];
    assert_eq!(
        (failed["details"]["login"].as_str(), failed["ip"].as_str()),
        (Some("ana"), Some("127.0.0.1"))
    );
    assert!(!log.to_string().contains(invite["code"].as_str().unwrap()), "invite codes are credentials");

    // Filters and counts.
    let (_, only) = app.get("/api/admin/audit?action=user.disabled", &root.token).await;
    assert_eq!(only["total"], 1);
    let (_, mine) = app.get(&format!("/api/admin/audit?actor={}&limit=1", root.id), &root.token).await;
    assert_eq!((mine["total"].as_u64(), mine["entries"].as_array().unwrap().len()), (Some(2), 1));
    let (_, none) = app.get("/api/admin/audit?from=99999999999999", &root.token).await;
    assert_eq!(none["total"], 0);
    let (s, body) = app.get("/api/admin/audit?from=yesterday", &root.token).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")));

    // Users cannot read it; nobody can change it.
    let (s, _) = app.get("/api/admin/audit", &ana.token).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let (s, _) = app.call(method, "/api/admin/audit", Some(&root.token), Some(json!({}))).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
}

#[tokio::test]
async fn admins_manage_accounts() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    for name in ["carol", "alice", "bob"] {
        app.register(name).await;
    }
    // Search, filter, sort and page.
    let (s, page) = app.get("/api/admin/users?sort=username&limit=2", &root.token).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let names = |p: &serde_json::Value| -> Vec<String> {
        p["users"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!((page["total"].as_u64(), names(&page)), (Some(4), vec!["alice".to_string(), "bob".into()]));
    let (_, page) = app.get("/api/admin/users?sort=username&order=desc&offset=1&limit=2", &root.token).await;
    assert_eq!(names(&page), ["carol", "bob"]);
    let (_, page) = app.get("/api/admin/users?q=AR", &root.token).await;
    assert_eq!(names(&page), ["carol"]);
    let (_, page) = app.get("/api/admin/users?status=admins", &root.token).await;
    assert_eq!(names(&page), ["root"]);
    let (s, _) = app.get("/api/admin/users?sort=password_hash", &root.token).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Create with a generated temporary password, which works once shown.
    let (s, created) = app
        .post("/api/admin/users", &root.token, json!({ "username": "dave", "email": "dave@example.org" }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let temp = created["temporary_password"].as_str().unwrap().to_owned();
    let dave_id = created["user"]["user_id"].as_str().unwrap().to_owned();
    assert_eq!(created["user"]["email"], "dave@example.org");
    let (s, login) = app.post("/api/auth/login", "", json!({ "login": "dave", "password": temp })).await;
    assert_eq!(s, StatusCode::OK);
    let dave_token = login["access_token"].as_str().unwrap().to_owned();
    let (s, _) = app.post("/api/admin/users", &root.token, json!({ "username": "dave" })).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Edit, reset the password (ending the sessions), grant and revoke the role.
    let (s, u) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{dave_id}"),
            Some(&root.token),
            Some(json!({ "display_name": "Dave D." })),
        )
        .await;
    assert_eq!((s, u["display_name"].as_str()), (StatusCode::OK, Some("Dave D.")));
    let (s, _) =
        app.call("PATCH", &format!("/api/admin/users/{dave_id}"), Some(&root.token), Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, reset) =
        app.post(&format!("/api/admin/users/{dave_id}/reset-password"), &root.token, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get("/api/me", &dave_token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the reset ended Dave's sessions");
    let new = reset["temporary_password"].as_str().unwrap();
    let (s, _) = app.post("/api/auth/login", "", json!({ "login": "dave", "password": new })).await;
    assert_eq!(s, StatusCode::OK);
    let (s, u) = app.call("PUT", &format!("/api/admin/users/{dave_id}/admin"), Some(&root.token), None).await;
    assert_eq!((s, u["is_admin"].as_bool()), (StatusCode::OK, Some(true)));
    let (s, u) =
        app.call("DELETE", &format!("/api/admin/users/{dave_id}/admin"), Some(&root.token), None).await;
    assert_eq!((s, u["is_admin"].as_bool()), (StatusCode::OK, Some(false)));
    let (s, body) =
        app.call("DELETE", &format!("/api/admin/users/{}/admin", root.id), Some(&root.token), None).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::CONFLICT, Some("last_admin")));

    let (_, log) = app.get("/api/admin/audit", &root.token).await;
    let actions: Vec<&str> =
        log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in
        ["user.created", "user.updated", "user.password_reset", "user.admin_granted", "user.admin_revoked"]
    {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert!(!log.to_string().contains(&temp), "temporary passwords are never logged");
}

/// Every admin route refuses a normal user (and an anonymous caller).
#[tokio::test]
async fn every_admin_route_is_for_admins_only() {
    let app = TestAppliance::start().await;
    app.admin("root").await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let routes = [
        ("GET", "/api/admin/users".to_string(), None),
        ("POST", "/api/admin/users".into(), Some(json!({ "username": "eve" }))),
        ("PATCH", format!("/api/admin/users/{}", bob.id), Some(json!({ "display_name": "x" }))),
        ("POST", format!("/api/admin/users/{}/reset-password", bob.id), None),
        ("PUT", format!("/api/admin/users/{}/admin", ana.id), None),
        ("DELETE", format!("/api/admin/users/{}/admin", bob.id), None),
        ("POST", format!("/api/admin/users/{}/disable", bob.id), None),
        ("POST", format!("/api/admin/users/{}/enable", bob.id), None),
        ("POST", "/api/admin/invites".into(), Some(json!({}))),
        ("GET", "/api/admin/audit".into(), None),
    ];
    for (method, path, body) in routes {
        let (s, err) = app.call(method, &path, Some(&ana.token), body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {err}");
        let (s, _) = app.call(method, &path, None, body).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path} without a token");
    }
    let (_, me) = app.get("/api/me", &ana.token).await;
    assert_eq!(me["is_admin"], false, "nothing changed");
}
