//! Search through the real server: privacy by membership, edits and deletes, reindexing,
//! lenient queries and the user directory.

use std::time::{Duration, Instant};

use parley_testkit::{TestAppliance, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Searches until `pred` holds (the index commits every 0.5 s), bounded.
async fn search_until(
    app: &TestAppliance,
    user: &TestUser,
    query: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (s, body) = app.get(&format!("/api/search/messages?{query}"), &user.token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        if pred(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "search never satisfied the condition; last: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn search(app: &TestAppliance, user: &TestUser, query: &str) -> Value {
    let (s, body) = app.get(&format!("/api/search/messages?{query}"), &user.token).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

fn seqs(body: &Value) -> Vec<u64> {
    body["hits"].as_array().unwrap().iter().map(|h| h["seq"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn hits_respect_membership_and_join_point() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let cyd = app.register("cyd").await;
    let eve = app.register("eve").await;
    let group = app.group(&ana, "Plans", &[&bob]).await;
    app.send(&ana, &group, "a1", "the zebra plan is secret").await;
    let direct = app.direct(&ana, &bob).await;
    app.send(&bob, &direct, "b1", "zebra between us").await;
    // Bob sees both chats' hits; eve (in no chat) sees none, not even a count.
    let all = search_until(&app, &bob, "q=zebra", |b| b["total"] == 2).await;
    assert_eq!(all["hits"][0]["snippet"], "zebra between us", "newest first: {all}");
    let h = &all["hits"][0]["highlights"][0];
    assert_eq!((h[0].as_u64(), h[1].as_u64()), (Some(0), Some(5)));
    assert_eq!(search(&app, &eve, "q=zebra").await["total"], 0);

    // Cyd joins later: only messages from her join onwards.
    let (s, _) =
        app.post(&format!("/api/chats/{group}/members"), &ana.token, json!({ "user_id": cyd.id })).await;
    assert!(s.is_success());
    let later = app.send(&ana, &group, "a2", "zebra crossing tomorrow").await;
    let mine = search_until(&app, &cyd, "q=zebra", |b| b["total"] == 1).await;
    assert_eq!(seqs(&mine), vec![later["seq"].as_u64().unwrap()]);
    // Searching one chat: members only.
    let (s, _) = app.get(&format!("/api/search/messages?q=zebra&chat_id={direct}"), &cyd.token).await;
    assert!(s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND, "{s}");
    assert_eq!(search(&app, &bob, &format!("q=zebra&chat_id={direct}")).await["total"], 1);

    // Bob is removed: he stops seeing the group's hits, new and old.
    let (s, _) =
        app.call("DELETE", &format!("/api/chats/{group}/members/{}", bob.id), Some(&ana.token), None).await;
    assert!(s.is_success());
    app.send(&ana, &group, "a3", "zebra after bob left").await;
    let after = search_until(&app, &ana, "q=zebra", |b| b["total"] == 4).await;
    assert_eq!(after["total"], 4);
    let bobs = search(&app, &bob, "q=zebra").await;
    assert_eq!(bobs["total"], 1, "only the 1:1 remains: {bobs}");
    assert_eq!(bobs["hits"][0]["chat_id"], direct.as_str());
}

#[tokio::test]
async fn edits_deletes_paging_and_reindex() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    for i in 1..=12 {
        app.send(&ana, &chat, &format!("m{i}"), &format!("report number {i}")).await;
    }
    let (s, _) = app
        .call(
            "PATCH",
            &format!("/api/chats/{chat}/messages/3"),
            Some(&ana.token),
            Some(json!({ "text": "renamed item" })),
        )
        .await;
    assert!(s.is_success());
    let (s, _) = app.call("DELETE", &format!("/api/chats/{chat}/messages/4"), Some(&ana.token), None).await;
    assert!(s.is_success());
    let all = search_until(&app, &bob, "q=report&limit=5", |b| b["total"] == 10).await;
    assert_eq!(seqs(&all), vec![12, 11, 10, 9, 8]);
    let page = search(&app, &bob, "q=report&limit=5&offset=5").await;
    assert_eq!(seqs(&page), vec![7, 6, 5, 2, 1]);
    assert_eq!(seqs(&search(&app, &bob, "q=renamed").await), vec![3]);
    assert_eq!(search(&app, &bob, "q=%22number%203%22").await["total"], 0, "the edit replaced the old text");
    let best = search(&app, &bob, "q=%22number%2012%22&order=best").await;
    assert_eq!(seqs(&best), vec![12]);

    // Rebuilding from the database gives the same answers.
    let before = search(&app, &bob, "q=report&limit=100").await;
    app.core.reindex().await.unwrap();
    assert_eq!(search(&app, &bob, "q=report&limit=100").await, before);
    // And so does a restart with the index deleted (rebuilt in the background on start).
    let dir = app.data_dir().join("search");
    let mut app = app;
    app.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
    let app = app.restart().await;
    let bob = app.login("bob").await;
    search_until(&app, &bob, "q=report&limit=100", |b| *b == before).await;
}

#[tokio::test]
async fn bad_queries_get_clear_answers() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    app.send(&ana, &chat, "x", "hello (world)").await;
    search_until(&app, &ana, "q=hello", |b| b["total"] == 1).await;
    for q in ["%22unclosed", "AND%20OR", "(world", "***", "%5B%5D%7B%7D", "a:b:c", "%F0%9F%98%80"] {
        let (s, body) = app.get(&format!("/api/search/messages?q={q}"), &ana.token).await;
        assert!(s == StatusCode::OK || s == StatusCode::BAD_REQUEST, "{q}: {s} {body}");
        if s == StatusCode::BAD_REQUEST {
            assert_eq!(body["code"], "invalid_input", "{q}: {body}");
        }
    }
    for q in
        ["q=", "q=%20%20", "", "q=x&limit=500", "q=x&offset=-1", "q=x&order=sideways", "q=x&chat_id=nope"]
    {
        let (s, body) = app.get(&format!("/api/search/messages?{q}"), &ana.token).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert_eq!(body["code"], "invalid_input");
        assert!(body["message"].as_str().unwrap().len() > 5);
    }
    let (s, _) = app.get("/api/search/messages?q=hello", "not-a-token").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn directory_search_is_prefix_and_typo_tolerant() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let (s, _) = app
        .call("PATCH", "/api/me", Some(&ana.token), Some(json!({ "display_name": "Anastasia Kowalski" })))
        .await;
    assert!(s.is_success());
    app.register("andrew").await;
    app.register("bob").await;
    let bob = app.login("bob").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (s, body) = app.get("/api/search/users?q=kowalsky", &bob.token).await;
        assert_eq!(s, StatusCode::OK);
        if body.as_array().unwrap().first().map(|p| p["user_id"] == ana.id.as_str()).unwrap_or(false) {
            break;
        }
        assert!(Instant::now() < deadline, "typo search never found ana: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, body) = app.get("/api/search/users?q=an", &bob.token).await;
    let names: Vec<&str> = body.as_array().unwrap().iter().map(|p| p["username"].as_str().unwrap()).collect();
    assert!(names.contains(&"ana") && names.contains(&"andrew") && !names.contains(&"bob"), "{names:?}");
    // Profiles found by search do not reveal contact details.
    assert!(body[0].get("email").is_none_or(Value::is_null));
    let (s, body) = app.get("/api/search/users?q=", &bob.token).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")));
}

/// `parley search reindex` rebuilds the index of a stopped appliance from its database.
#[tokio::test]
async fn cli_reindex_rebuilds_from_the_database() {
    use crate::child::{call, spawn_parley};
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("PARLEY__STORAGE__DATA_DIR", dir.path().as_os_str()),
        ("PARLEY__SERVER_NAME", "test.local".as_ref()),
    ];
    let (mut child, addr) = spawn_parley(&["serve", "--dev"], &envs);
    let http = reqwest::Client::new();
    let url = |a: &str, p: &str| format!("http://{a}{p}");
    let body = json!({ "username": "ana", "password": "password-1" });
    let ana = call(&http, "POST", &url(&addr, "/api/auth/register"), None, Some(body)).await;
    let token = ana["access_token"].as_str().unwrap().to_owned();
    let body = json!({ "username": "bob", "password": "password-1" });
    let bob = call(&http, "POST", &url(&addr, "/api/auth/register"), None, Some(body)).await;
    let body = json!({ "user_id": bob["user"]["user_id"] });
    let chat = call(&http, "POST", &url(&addr, "/api/chats/direct"), Some(&token), Some(body)).await;
    let chat = chat["chat_id"].as_str().unwrap().to_owned();
    let body = json!({ "client_id": "n1", "text": "a note: walrus" });
    call(&http, "POST", &url(&addr, &format!("/api/chats/{chat}/messages")), Some(&token), Some(body)).await;
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
    // Damage the index; reindex must not care.
    std::fs::write(dir.path().join("search").join("messages").join("meta.json"), b"garbage").unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["search", "reindex", "--dev"])
        .envs(envs)
        .env("PARLEY__METRICS__LISTEN", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("search index rebuilt"));

    let (mut child, addr) = spawn_parley(&["serve", "--dev"], &envs);
    let body = json!({ "login": "ana", "password": "password-1" });
    let login = call(&http, "POST", &url(&addr, "/api/auth/login"), None, Some(body)).await;
    let found = call(
        &http,
        "GET",
        &url(&addr, "/api/search/messages?q=walrus"),
        login["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(found["total"], 1, "{found}");
    child.kill().ok();
    child.wait().ok();
}
