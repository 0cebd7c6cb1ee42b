use parley_testkit::TestAppliance;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn registration_failures_are_clear() {
    let app = TestAppliance::start().await;
    let cases = [
        (json!({ "username": "a", "password": "password1" }), StatusCode::BAD_REQUEST, "invalid_input"),
        (
            json!({ "username": "bad name", "password": "password1" }),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (json!({ "username": "ana", "password": "short" }), StatusCode::BAD_REQUEST, "invalid_input"),
        (
            json!({ "username": "ana", "password": "password1", "email": "not-an-email" }),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (json!({ "username": "ana" }), StatusCode::BAD_REQUEST, "invalid_input"),
    ];
    for (body, status, code) in cases {
        let (s, b) = app.call("POST", "/api/auth/register", None, Some(body.clone())).await;
        assert_eq!((s, b["code"].as_str().unwrap_or("")), (status, code), "{body} -> {b}");
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (s, _) = app
        .call("POST", "/api/auth/register", None, Some(json!({ "username": "ana", "password": "password1", "email": "ana@x.org", "phone": "+1 555 0100 99" })))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = app
        .call("POST", "/api/auth/register", None, Some(json!({ "username": "ANA", "password": "password1" })))
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::CONFLICT, "username_taken"));
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "username": "bob", "password": "password1", "email": "ANA@x.org" })),
        )
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::CONFLICT, "email_taken"));
    // The failed registration left no account behind.
    let (s, _) = app
        .call("POST", "/api/auth/login", None, Some(json!({ "login": "bob", "password": "password1" })))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Login by email and by phone.
    for login in ["ana@x.org", "+15550100 99", "ana@test.local"] {
        let (s, b) = app
            .call("POST", "/api/auth/login", None, Some(json!({ "login": login, "password": "password1" })))
            .await;
        assert_eq!(s, StatusCode::OK, "{login}: {b}");
    }
}

#[tokio::test]
async fn login_failures_and_rate_limits() {
    let app = TestAppliance::start().await;
    app.register("ana").await;
    let (s, b) = app
        .call("POST", "/api/auth/login", None, Some(json!({ "login": "ana", "password": "wrong-password" })))
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({ "login": "nobody", "password": "wrong-password" })),
        )
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let (s, _) = app.call("POST", "/api/auth/login", None, Some(json!({ "login": "ana" }))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The per-account limit (10/min by default) is reached: 429 with Retry-After.
    let mut limited = None;
    for _ in 0..12 {
        let res = app
            .http
            .post(app.url("/api/auth/login"))
            .json(&json!({ "login": "ana", "password": "wrong-password" }))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("login attempts were rate limited");
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Even the right password is refused while limited: no guessing through the limit.
    let (s, _) = app
        .call("POST", "/api/auth/login", None, Some(json!({ "login": "ana", "password": "password-ana" })))
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn per_ip_limit_applies_across_accounts() {
    let app = TestAppliance::start_with(|s| s.auth.login_per_ip_per_minute = 3).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let (s, _) = app
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({ "login": format!("user{i}"), "password": "password1" })),
            )
            .await;
        statuses.push(s);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 2, "{statuses:?}");
}

#[tokio::test]
async fn tokens_refresh_rotate_and_revoke() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let (s, _) = app.call("GET", "/api/me", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app.call("GET", "/api/me", Some("garbage"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Refresh rotates: the old refresh token is single use, and reusing it kills the session.
    let (s, r1) =
        app.call("POST", "/api/auth/refresh", None, Some(json!({ "refresh_token": ana.refresh }))).await;
    assert_eq!(s, StatusCode::OK, "{r1}");
    let new_access = r1["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/me", new_access).await.0, StatusCode::OK);
    let (s, b) =
        app.call("POST", "/api/auth/refresh", None, Some(json!({ "refresh_token": ana.refresh }))).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::UNAUTHORIZED, "invalid_refresh_token"));
    let (s, b) = app.get("/api/me", new_access).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::UNAUTHORIZED, "session_revoked"));

    // Logout ends one session; logout-all ends all.
    let s1 = app.login("ana").await;
    let s2 = app.login("ana").await;
    assert_eq!(app.post("/api/auth/logout", &s1.token, json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me", &s1.token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/me", &s2.token).await.0, StatusCode::OK);
    let (s, _) =
        app.call("POST", "/api/auth/refresh", None, Some(json!({ "refresh_token": s1.refresh }))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let s3 = app.login("ana").await;
    assert_eq!(app.post("/api/auth/logout-all", &s2.token, json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me", &s2.token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/me", &s3.token).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn password_change_revokes_other_sessions() {
    let app = TestAppliance::start().await;
    let a1 = app.register("ana").await;
    let a2 = app.login("ana").await;
    let (s, b) = app
        .post(
            "/api/auth/password",
            &a1.token,
            json!({ "current_password": "nope-nope", "new_password": "brand-new-pass" }),
        )
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let (s, _) = app
        .post(
            "/api/auth/password",
            &a1.token,
            json!({ "current_password": "password-ana", "new_password": "brand-new-pass" }),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me", &a1.token).await.0, StatusCode::OK);
    assert_eq!(app.get("/api/me", &a2.token).await.0, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .call("POST", "/api/auth/login", None, Some(json!({ "login": "ana", "password": "password-ana" })))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .call("POST", "/api/auth/login", None, Some(json!({ "login": "ana", "password": "brand-new-pass" })))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn registration_policies() {
    let closed =
        TestAppliance::start_with(|s| s.auth.registration = parley_config::Registration::Closed).await;
    let (s, b) = closed
        .call("POST", "/api/auth/register", None, Some(json!({ "username": "ana", "password": "password1" })))
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::FORBIDDEN, "registration_closed"));

    let app =
        TestAppliance::start_with(|s| s.auth.registration = parley_config::Registration::InviteOnly).await;
    let (s, b) = app
        .call("POST", "/api/auth/register", None, Some(json!({ "username": "ana", "password": "password1" })))
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::FORBIDDEN, "registration_closed"));
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "username": "ana", "password": "password1", "invite": "bogus" })),
        )
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::FORBIDDEN, "invite_invalid"));
    // An admin issues a one-use invite; normal users may not.
    let admin = app.admin("root").await;
    let (s, inv) = app.post("/api/admin/invites", &admin.token, json!({ "max_uses": 1 })).await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    let code = inv["code"].as_str().unwrap();
    let (s, _) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "username": "ana", "password": "password1", "invite": code })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({ "username": "bob", "password": "password1", "invite": code })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a used-up invite is refused");
}

#[tokio::test]
async fn cli_creates_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let run = |stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["admin", "create-user", "--username", "root", "--admin", "--dev"])
            .env("PARLEY__STORAGE__DATA_DIR", dir.path())
            .env("PARLEY__SERVER_NAME", "test.local")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run("");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("password"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("root-password-1\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(admin)"));
    let path = dir.path().to_owned();
    let app = TestAppliance::start_with(move |s| s.storage.data_dir = path).await;
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({ "login": "root", "password": "root-password-1" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user"]["is_admin"], true);
}

#[tokio::test]
async fn profiles_lookup_and_contacts() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let (s, me) = app
        .call("PATCH", "/api/me", Some(&ana.token), Some(json!({ "display_name": "Ana Lima", "about": "hi", "email": "ana@x.org", "phone": "+44 7700 900123" })))
        .await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["phone"], "+447700900123");
    let (s, b) = app.call("PATCH", "/api/me", Some(&ana.token), Some(json!({ "display_name": "" }))).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "invalid_input"));
    // Others see the public profile only.
    let (s, p) = app.get(&format!("/api/users/{}", ana.id), &bob.token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["display_name"], "Ana Lima");
    assert!(p.get("email").is_none() && p.get("phone").is_none(), "{p}");
    for q in ["username=ana", "email=ana@x.org", "phone=%2B447700900123"] {
        let (s, p) = app.get(&format!("/api/users/lookup?{q}"), &bob.token).await;
        assert_eq!((s, p["user_id"].as_str().unwrap_or("")), (StatusCode::OK, ana.id.as_str()), "{q}");
    }
    assert_eq!(app.get("/api/users/lookup?email=none@x.org", &bob.token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/users/not-an-id", &bob.token).await.0, StatusCode::BAD_REQUEST);
    // Contacts: added explicitly, and anyone with a 1:1 chat.
    let cara = app.register("cara").await;
    assert_eq!(
        app.call("PUT", &format!("/api/contacts/{}", ana.id), Some(&bob.token), None).await.0,
        StatusCode::NO_CONTENT
    );
    app.direct(&bob, &cara).await;
    let (_, list) = app.get("/api/contacts", &bob.token).await;
    let ids: Vec<(&str, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["profile"]["user_id"].as_str().unwrap(), c["added"].as_bool().unwrap()))
        .collect();
    assert_eq!(ids, vec![(ana.id.as_str(), true), (cara.id.as_str(), false)]);
    assert_eq!(
        app.call("DELETE", &format!("/api/contacts/{}", ana.id), Some(&bob.token), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, list) = app.get("/api/contacts", &bob.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}
