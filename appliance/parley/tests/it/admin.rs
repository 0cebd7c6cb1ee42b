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
