use std::time::Duration;

use parley_testkit::{TestAppliance, WsClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn typing_and_presence() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    let mut a = app.ws(&ana).await;
    a.sync(json!({})).await;
    a.send(json!({ "type": "subscribe_presence", "user_ids": [bob.id] })).await;
    let p = a.next_of("presence").await;
    assert_eq!((p["user_id"].as_str().unwrap(), p["online"].as_bool().unwrap()), (bob.id.as_str(), false));

    let mut b = app.ws(&bob).await;
    b.sync(json!({})).await;
    let p = a.next_of("presence").await;
    assert_eq!(p["online"], true);

    b.send(json!({ "type": "typing", "chat_id": chat, "active": true })).await;
    let t = a.next_of("typing").await;
    assert_eq!((t["user_id"].as_str().unwrap(), t["active"].as_bool().unwrap()), (bob.id.as_str(), true));
    assert!(t["expires_in_ms"].as_u64().unwrap() > 0);

    drop(b);
    let p = a.next_of("presence").await;
    assert_eq!(p["online"], false);
    assert!(p["last_seen"].is_i64());

    // With last seen hidden, watchers learn nothing.
    let (s, _) = app
        .call("PATCH", "/api/me", Some(&bob.token), Some(json!({ "last_seen_visibility": "nobody" })))
        .await;
    assert_eq!(s, StatusCode::OK);
    a.send(json!({ "type": "subscribe_presence", "user_ids": [bob.id] })).await;
    a.send(json!({ "type": "ping", "nonce": 7 })).await;
    let f = a.next().await.unwrap();
    assert_eq!(
        (f["type"].as_str().unwrap(), f["nonce"].as_u64().unwrap()),
        ("pong", 7),
        "no presence frame for a hidden user: {f}"
    );
    let mut b = app.ws(&bob).await;
    b.sync(json!({})).await;
    a.send(json!({ "type": "ping", "nonce": 8 })).await;
    assert_eq!(a.next().await.unwrap()["type"], "pong");
}

fn seqs(msgs: &[Value]) -> Vec<u64> {
    msgs.iter().map(|m| m["seq"].as_u64().unwrap()).collect()
}

/// A client that was offline gets every missed message once, in order, and its receipts then
/// reach the sender.
#[tokio::test]
async fn offline_sync_has_no_gap_or_duplicate() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    let group = app.group(&ana, "G", &[&bob]).await;

    let mut b = app.ws(&bob).await;
    let first = b.sync(json!({})).await;
    assert_eq!(first.len(), 1, "the group's created entry");
    b.send(json!({ "type": "received", "chat_id": group, "seq": 1 })).await;
    b.send(json!({ "type": "ping" })).await;
    b.next_of("pong").await;
    drop(b);

    let mut a = app.ws(&ana).await;
    a.sync(json!({})).await;
    for i in 1..=30 {
        let target = if i % 3 == 0 { &group } else { &chat };
        a.send(json!({ "type": "send", "chat_id": target, "client_id": format!("m{i}"), "text": format!("m{i}") })).await;
    }
    for _ in 0..30 {
        a.next_of("ack").await;
    }

    // Bob comes back with cursors; meanwhile Ana keeps sending (live + backlog must merge).
    let mut b = app.ws(&bob).await;
    b.send(json!({ "type": "sync", "cursors": { chat.clone(): 0, group.clone(): 1 } })).await;
    for i in 31..=40 {
        a.send(
            json!({ "type": "send", "chat_id": chat, "client_id": format!("m{i}"), "text": format!("m{i}") }),
        )
        .await;
    }
    let mut by_chat: std::collections::HashMap<String, Vec<Value>> = Default::default();
    let mut total = 0;
    while total < 40 {
        let f = b.next().await.expect("frames until every message arrived");
        if f["type"] == "message" {
            let m = f["message"].clone();
            by_chat.entry(m["chat_id"].as_str().unwrap().to_owned()).or_default().push(m);
            total += 1;
        }
    }
    assert!(
        b.next_within(Duration::from_millis(500)).await.is_none_or(|f| f["type"] != "message"),
        "no duplicates"
    );
    assert_eq!(seqs(&by_chat[&chat]), (1..=30).collect::<Vec<u64>>());
    assert_eq!(seqs(&by_chat[&group]), (2..=11).collect::<Vec<u64>>());

    // Bob acknowledges; Ana sees the receipts.
    b.send(json!({ "type": "received", "chat_id": chat, "seq": 30 })).await;
    let r = a.next_of("receipt").await;
    assert_eq!((r["kind"].as_str().unwrap(), r["seq"].as_u64().unwrap()), ("delivered", 30));

    // A fresh device that resumes from the server's delivered mark gets only what is new.
    drop(b);
    a.send(json!({ "type": "send", "chat_id": chat, "client_id": "m41", "text": "m41" })).await;
    a.next_of("ack").await;
    let mut b2 = app.ws(&bob).await;
    let got = b2.sync(json!({})).await;
    let in_chat: Vec<u64> =
        got.iter().filter(|m| m["chat_id"] == chat.as_str()).map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(in_chat, vec![31]);
}

#[tokio::test]
async fn revocation_closes_open_sockets() {
    let app = TestAppliance::start().await;
    let admin = app.admin("root").await;
    let ana = app.register("ana").await;
    let ana2 = app.login("ana").await;
    let mut w1 = app.ws(&ana).await;
    let mut w2 = app.ws(&ana2).await;
    // Logging out one session closes only its socket.
    assert_eq!(app.post("/api/auth/logout", &ana.token, json!({})).await.0, StatusCode::NO_CONTENT);
    let err = w1.next_of("error").await;
    assert_eq!(err["code"], "session_revoked");
    assert_eq!(w1.closed().await, Some(4001));
    w2.send(json!({ "type": "ping" })).await;
    assert_eq!(w2.next_of("pong").await["type"], "pong");
    // A revoked token cannot open a new socket.
    let mut raw = WsClient::raw(&app.ws_url()).await;
    use futures_util::{SinkExt, StreamExt};
    raw.send(tokio_tungstenite::tungstenite::Message::Text(
        json!({ "type": "auth", "token": ana.token }).to_string().into(),
    ))
    .await
    .unwrap();
    let f = raw.next().await.unwrap().unwrap();
    assert!(f.to_text().unwrap().contains("session_revoked"), "{f}");
    // Disabling the account closes every socket at once and blocks login.
    let (s, _) =
        app.post(&format!("/api/admin/users/{}/disable", ana2_id(&ana2)), &admin.token, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(w2.next_of("error").await["code"], "session_revoked");
    assert_eq!(w2.closed().await, Some(4001));
    let (s, b) = app
        .call("POST", "/api/auth/login", None, Some(json!({ "login": "ana", "password": "password-ana" })))
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::FORBIDDEN, "account_disabled"));
    // Normal users cannot use admin routes.
    let bob = app.register("bob").await;
    for path in [
        format!("/api/admin/users/{}/disable", admin.id),
        format!("/api/admin/users/{}/enable", admin.id),
        "/api/admin/invites".into(),
    ] {
        let (s, b) = app.post(&path, &bob.token, json!({})).await;
        assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::FORBIDDEN, "forbidden"), "{path}");
    }
}

fn ana2_id(u: &parley_testkit::TestUser) -> &str {
    &u.id
}

#[tokio::test]
async fn malformed_frames_get_errors_not_disconnects() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let mut a = app.ws(&ana).await;
    for bad in [
        "not json",
        "{}",
        r#"{"type":"nope"}"#,
        r#"{"type":"send","chat_id":"x"}"#,
        r#"{"type":"read","chat_id":"bad","seq":-1}"#,
        "[]",
    ] {
        a.send_text(bad).await;
        let f = a.next().await.expect("an error frame");
        assert_eq!(
            (f["type"].as_str().unwrap(), f["code"].as_str().unwrap()),
            ("error", "malformed_frame"),
            "{bad}"
        );
    }
    a.send_text(&format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(70_000))).await;
    assert_eq!(a.next().await.unwrap()["code"], "payload_too_large");
    a.send(json!({ "type": "auth", "token": ana.token })).await;
    assert_eq!(a.next().await.unwrap()["code"], "invalid_input");
    // Still alive.
    a.send(json!({ "type": "ping", "nonce": 1 })).await;
    assert_eq!(a.next_of("pong").await["nonce"], 1);

    // The first frame must authenticate.
    use futures_util::{SinkExt, StreamExt};
    let mut raw = WsClient::raw(&app.ws_url()).await;
    raw.send(tokio_tungstenite::tungstenite::Message::Text(r#"{"type":"ping"}"#.into())).await.unwrap();
    let f = raw.next().await.unwrap().unwrap();
    assert!(f.to_text().unwrap().contains("unauthenticated"), "{f}");
}

#[tokio::test]
async fn frames_are_rate_limited() {
    let app = TestAppliance::start_with(|s| {
        s.limits.frames_per_second = 1;
        s.limits.frames_burst = 5;
    })
    .await;
    let ana = app.register("ana").await;
    let mut a = app.ws(&ana).await;
    for i in 0..10 {
        a.send(json!({ "type": "ping", "nonce": i })).await;
    }
    let mut limited = 0;
    let mut pongs = 0;
    while limited + pongs < 10 {
        let f = a.next().await.unwrap();
        match f["type"].as_str().unwrap() {
            "pong" => pongs += 1,
            "error" if f["code"] == "rate_limited" => limited += 1,
            _ => {}
        }
    }
    assert!(limited >= 4 && pongs >= 5, "limited {limited}, pongs {pongs}");
}

#[tokio::test]
async fn websocket_origin_is_checked() {
    let app =
        TestAppliance::start_with(|s| s.http.allowed_origins = vec!["https://chat.example.org".into()]).await;
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(app.ws_url()).unwrap();
    req.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(app.ws_url()).unwrap();
    req.headers_mut().insert("origin", "https://chat.example.org".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
}
