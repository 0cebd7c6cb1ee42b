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
        ("GET", "/api/admin/invites".into(), None),
        ("DELETE", "/api/admin/invites/abc".into(), None),
        ("GET", "/api/admin/audit".into(), None),
        ("DELETE", format!("/api/admin/users/{}", bob.id), Some(json!({ "password": "password-ana" }))),
        ("GET", "/api/admin/directory".into(), None),
        ("POST", "/api/admin/units".into(), Some(json!({ "name": "Sales" }))),
        ("PATCH", "/api/admin/units/u1".into(), Some(json!({ "name": "Sales" }))),
        ("DELETE", "/api/admin/units/u1".into(), None),
        ("POST", "/api/admin/groups".into(), Some(json!({ "name": "Sales" }))),
        ("PATCH", "/api/admin/groups/g1".into(), Some(json!({ "name": "Sales" }))),
        ("DELETE", "/api/admin/groups/g1".into(), None),
        ("PUT", format!("/api/admin/groups/g1/members/{}", bob.id), None),
        ("DELETE", format!("/api/admin/groups/g1/members/{}", bob.id), None),
        ("POST", "/api/admin/groups/g1/chat".into(), None),
        ("GET", "/api/admin/ldap".into(), None),
        ("PUT", "/api/admin/ldap".into(), Some(json!({ "enabled": false }))),
        ("POST", "/api/admin/ldap/test".into(), None),
        ("POST", "/api/admin/ldap/sync".into(), None),
        ("GET", "/api/admin/backups".into(), None),
        ("POST", "/api/admin/backups".into(), None),
        (
            "PUT",
            "/api/admin/backups/schedule".into(),
            Some(json!({ "enabled": true, "interval_hours": 1, "keep": 1 })),
        ),
        ("GET", "/api/admin/backups/parley-x.tar.gz".into(), None),
        ("DELETE", "/api/admin/backups/parley-x.tar.gz".into(), None),
        (
            "POST",
            "/api/admin/backups/parley-x.tar.gz/restore".into(),
            Some(json!({ "password": "password-ana" })),
        ),
        ("GET", "/api/admin/stats".into(), None),
        ("GET", "/api/admin/settings".into(), None),
        ("PATCH", "/api/admin/settings".into(), Some(json!({ "registration": "open" }))),
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

#[tokio::test]
async fn deleting_a_user_needs_the_password_again_and_keeps_their_messages() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let (s, _) =
        app.call("PATCH", "/api/me", Some(&bob.token), Some(json!({ "email": "bob@example.org" }))).await;
    assert_eq!(s, StatusCode::OK);
    let chat = app.direct(&ana, &bob).await;
    app.send(&bob, &chat, "b1", "hello from bob").await;
    let group = app.group(&bob, "Team", &[&ana]).await;
    let mut ws = app.ws(&bob).await;

    let path = format!("/api/admin/users/{}", bob.id);
    for body in [None, Some(json!({})), Some(json!({ "password": "wrong" }))] {
        let (s, err) = app.call("DELETE", &path, Some(&root.token), body).await;
        assert_eq!((s, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("reauth_required")), "{err}");
    }
    let (s, _) = app.get(&format!("/api/users/{}", bob.id), &ana.token).await;
    assert_eq!(s, StatusCode::OK, "nothing happened yet");

    let (s, err) =
        app.call("DELETE", &path, Some(&root.token), Some(json!({ "password": "password-root" }))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{err}");
    assert!(ws.closed().await.is_some(), "the user's sockets close at once");
    let (s, _) = app.post("/api/auth/login", "", json!({ "login": "bob", "password": "password-bob" })).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The message stays, from "Deleted user"; the name is free again.
    let (_, history) = app.get(&format!("/api/chats/{chat}/messages"), &ana.token).await;
    assert!(history.to_string().contains("hello from bob"), "{history}");
    let (_, profile) = app.get(&format!("/api/users/{}", bob.id), &ana.token).await;
    assert_eq!(profile["display_name"], "Deleted user");
    // Bob owned the group: ana now runs it, and bob is gone from it.
    let (_, g) = app.get(&format!("/api/chats/{group}"), &ana.token).await;
    let members = g["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{g}");
    assert_eq!(members[0]["role"], "admin");
    // The email is free again; the username stays reserved (it is the address others know).
    let (s, _) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "username": "bob2", "password": "password-bob2", "email": "bob@example.org" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "username": "bob", "password": "password-bob" })),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, list) = app.get("/api/admin/users?q=bob", &root.token).await;
    assert_eq!(list["total"], 1, "the deleted account is not listed: {list}");
    let (_, log) = app.get("/api/admin/audit?action=user.deleted", &root.token).await;
    assert_eq!(log["entries"][0]["details"]["username"], "bob");
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/admin/users/{}", root.id),
            Some(&root.token),
            Some(json!({ "password": "password-root" })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "not yourself");
}

#[tokio::test]
async fn invites_are_listed_and_revoked() {
    let app =
        TestAppliance::start_with(|s| s.auth.registration = parley_config::Registration::InviteOnly).await;
    let root = app.admin("root").await;
    let (_, a) =
        app.post("/api/admin/invites", &root.token, json!({ "expires_in_hours": 1, "max_uses": 2 })).await;
    let (_, b) = app.post("/api/admin/invites", &root.token, json!({})).await;
    let (s, list) = app.get("/api/admin/invites", &root.token).await;
    assert_eq!(s, StatusCode::OK);
    let invites = list["invites"].as_array().unwrap();
    assert_eq!(invites.len(), 2);
    assert_eq!(invites[1]["code"], a["code"], "newest first");
    assert_eq!((invites[1]["max_uses"].as_u64(), invites[1]["expired"].as_bool()), (Some(2), Some(false)));
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/admin/invites/{}", b["code"].as_str().unwrap()),
            Some(&root.token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call("DELETE", "/api/admin/invites/nope", Some(&root.token), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, err) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "username": "eve", "password": "password-eve", "invite": b["code"] })),
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("invite_invalid")),
        "a revoked invite is dead"
    );
}

#[tokio::test]
async fn units_and_groups_form_the_directory_and_seed_group_chats() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let (s, eng) = app.post("/api/admin/units", &root.token, json!({ "name": "Engineering" })).await;
    assert_eq!(s, StatusCode::CREATED, "{eng}");
    let eng_id = eng["unit_id"].as_str().unwrap();
    let (_, backend) =
        app.post("/api/admin/units", &root.token, json!({ "name": "Backend", "parent_id": eng_id })).await;
    assert_eq!(backend["path"], json!(["Engineering", "Backend"]));
    let (s, _) = app.post("/api/admin/units", &root.token, json!({ "name": "a/b" })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.post("/api/admin/units", &root.token, json!({ "name": "X", "parent_id": "nope" })).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, u) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{}", ana.id),
            Some(&root.token),
            Some(json!({ "unit_id": backend["unit_id"], "title": "Engineer" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(
        (u["unit_path"].clone(), u["title"].clone()),
        (json!(["Engineering", "Backend"]), json!("Engineer"))
    );
    let (s, err) = app
        .call(
            "DELETE",
            &format!("/api/admin/units/{}", backend["unit_id"].as_str().unwrap()),
            Some(&root.token),
            None,
        )
        .await;
    assert_eq!((s, err["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "not while it has users");
    let (_, page) = app
        .get(&format!("/api/admin/users?unit={}", backend["unit_id"].as_str().unwrap()), &root.token)
        .await;
    assert_eq!(page["total"], 1);

    let (s, group) = app
        .post("/api/admin/groups", &root.token, json!({ "name": "On-call", "description": "pager" }))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let gid = group["group_id"].as_str().unwrap();
    for u in [&ana, &bob] {
        let (s, _) = app
            .call("PUT", &format!("/api/admin/groups/{gid}/members/{}", u.id), Some(&root.token), None)
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let (_, dir) = app.get("/api/admin/directory", &root.token).await;
    assert_eq!(dir["units"].as_array().unwrap().len(), 2);
    assert_eq!(dir["units"][1]["user_count"], 1);
    assert_eq!(dir["groups"][0]["members"].as_array().unwrap().len(), 2);
    let (_, u) = app.get("/api/admin/users?q=ana", &root.token).await;
    assert_eq!(u["users"][0]["groups"][0]["name"], "On-call");

    // The group seeds a chat; members added later join it on the next seed.
    let (s, seeded) = app.post(&format!("/api/admin/groups/{gid}/chat"), &root.token, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{seeded}");
    let chat = seeded["chat_id"].as_str().unwrap();
    let (s, summary) = app.get(&format!("/api/chats/{chat}"), &bob.token).await;
    assert_eq!((s, summary["name"].as_str()), (StatusCode::OK, Some("On-call")));
    let carol = app.register("carol").await;
    app.call("PUT", &format!("/api/admin/groups/{gid}/members/{}", carol.id), Some(&root.token), None).await;
    let (_, again) = app.post(&format!("/api/admin/groups/{gid}/chat"), &root.token, json!({})).await;
    assert_eq!(again["chat_id"], chat);
    let (s, _) = app.get(&format!("/api/chats/{chat}"), &carol.token).await;
    assert_eq!(s, StatusCode::OK, "carol joined the group's chat");
}

#[tokio::test]
async fn runtime_settings_apply_at_once_are_validated_and_audited() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let (s, cur) = app.get("/api/admin/settings", &root.token).await;
    assert_eq!((s, cur["registration"].as_str()), (StatusCode::OK, Some("open")));

    let (s, err) = app
        .call("PATCH", "/api/admin/settings", Some(&root.token), Some(json!({ "max_upload_mib": 0 })))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("max_upload_mib"), "{err}");
    let (s, err) = app
        .call(
            "PATCH",
            "/api/admin/settings",
            Some(&root.token),
            Some(json!({ "allowed_origins": ["not an origin"] })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");

    let (s, new) = app
        .call(
            "PATCH",
            "/api/admin/settings",
            Some(&root.token),
            Some(json!({ "registration": "closed", "max_upload_mib": 1, "retention_days": 30 })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{new}");
    assert_eq!((new["registration"].as_str(), new["retention_days"].as_u64()), (Some("closed"), Some(30)));
    let (s, err) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "username": "eve", "password": "password-eve" })),
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("registration_closed")),
        "applies at once"
    );
    let big = vec![0u8; 1_200_000];
    let res = reqwest::Client::new()
        .post(app.url("/api/media?name=big.bin"))
        .bearer_auth(&root.token)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let (_, log) = app.get("/api/admin/audit?action=settings.changed", &root.token).await;
    let d = &log["entries"][0]["details"];
    assert_eq!(
        (d["from"]["registration"].as_str(), d["to"]["registration"].as_str()),
        (Some("open"), Some("closed"))
    );

    // Stored: survives a restart.
    let app = app.restart().await;
    let root = app.login("root").await;
    let (_, cur) = app.get("/api/admin/settings", &root.token).await;
    assert_eq!(cur["registration"], "closed");
}

#[tokio::test]
async fn retention_blanks_old_messages_only() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let ana = app.register("ana").await;
    let chat = app.direct(&root, &ana).await;
    app.send(&ana, &chat, "a1", "old news").await;
    app.call("PATCH", "/api/admin/settings", Some(&root.token), Some(json!({ "retention_days": 1 }))).await;
    // Nothing is a day old yet.
    assert_eq!(app.core.apply_retention().await.unwrap(), 0);
    let (_, h) = app.get(&format!("/api/chats/{chat}/messages"), &ana.token).await;
    assert!(h.to_string().contains("old news"));
}

#[tokio::test]
async fn the_dashboard_reads_the_metrics_registry() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let ana = app.register("ana").await;
    let chat = app.direct(&root, &ana).await;
    let _ws = app.ws(&ana).await;
    app.send(&root, &chat, "m1", "hi").await;
    let (s, stats) = app.get("/api/admin/stats", &root.token).await;
    assert_eq!(s, StatusCode::OK, "{stats}");
    assert_eq!(stats["connections"]["websocket"], 1);
    assert_eq!(stats["users"]["total"], 2);
    assert_eq!(stats["messages_total"], 1);
    let metrics = app.core.metrics().render();
    assert!(metrics.contains("parley_messages_accepted_total 1"), "the same registry");
    assert!(stats["storage"]["database_bytes"].as_u64().unwrap() > 0, "sampled at start: {stats}");
    assert!(stats["ldap"]["enabled"] == false);
}
