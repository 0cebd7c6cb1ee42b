use std::time::Duration;

use parley_testkit::{TestAppliance, WsClient};
use reqwest::StatusCode;
use serde_json::json;

use crate::child::{call, spawn_parley};

#[tokio::test]
async fn restart_keeps_all_history() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    let group = app.group(&ana, "Keep", &[&bob]).await;
    for i in 1..=25 {
        app.send(&ana, &chat, &format!("k{i}"), &format!("text {i}")).await;
    }
    app.send(&bob, &group, "g", "in group").await;
    let (_, before) = app.get(&format!("/api/chats/{chat}/messages?limit=100"), &bob.token).await;

    let app = app.restart().await;
    let (s, after) = app.get(&format!("/api/chats/{chat}/messages?limit=100"), &bob.token).await;
    assert_eq!(s, StatusCode::OK, "tokens and sessions survive a restart: {after}");
    assert_eq!(before, after);
    assert_eq!(after["messages"].as_array().unwrap().len(), 25);
    // Sequences continue where they were, and idempotency keys are remembered.
    let again = app.send(&ana, &chat, "k25", "text 25").await;
    assert_eq!(again["seq"], 25);
    let next = app.send(&ana, &chat, "k26", "text 26").await;
    assert_eq!(next["seq"], 26);
    let (_, g) = app.get(&format!("/api/chats/{group}"), &ana.token).await;
    assert_eq!(g["last_message"]["text"], "in group");
    assert_eq!(app.login("bob").await.id, bob.id);
}

/// A child `parley` is killed with SIGKILL while a client sends; every acknowledged message
/// is there after a restart.
#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        spawn_parley(
            &["serve", "--dev"],
            &[
                ("PARLEY__STORAGE__DATA_DIR", dir.path().as_os_str()),
                ("PARLEY__HTTP__LISTEN", "127.0.0.1:0".as_ref()),
                ("PARLEY__SERVER_NAME", "test.local".as_ref()),
            ],
        )
    };
    let (mut child, addr) = start();
    let http = reqwest::Client::new();
    let url = |a: &str, p: &str| format!("http://{a}{p}");
    let mut users = Vec::new();
    for name in ["ana", "bob"] {
        let body = json!({ "username": name, "password": "password-1" });
        let r = call(&http, "POST", &url(&addr, "/api/auth/register"), None, Some(body)).await;
        users.push((
            r["user"]["user_id"].as_str().unwrap().to_owned(),
            r["access_token"].as_str().unwrap().to_owned(),
        ));
    }
    let ana_token = &users[0].1;
    let body = json!({ "user_id": users[1].0 });
    let chat = call(&http, "POST", &url(&addr, "/api/chats/direct"), Some(ana_token), Some(body)).await;
    let chat = chat["chat_id"].as_str().unwrap().to_owned();

    let mut ws = WsClient::connect(&format!("ws://{addr}/api/ws"), ana_token).await;
    ws.sync(json!({})).await;
    // Send a stream without waiting for acks; once some are back, kill the server mid-stream.
    let mut acked = Vec::new();
    for i in 0..=100 {
        ws.send(
            json!({ "type": "send", "chat_id": chat, "client_id": format!("c{i}"), "text": format!("m{i}") }),
        )
        .await;
    }
    while acked.len() < 30 {
        let f = ws.next().await.expect("acks before the kill");
        if f["type"] == "ack" {
            acked.push(f["message"]["seq"].as_u64().unwrap());
        }
    }
    child.kill().expect("SIGKILL");
    // Acks that were already on the wire before the kill count too.
    while let Some(f) = ws.next_within(Duration::from_secs(2)).await {
        if f["type"] == "ack" {
            acked.push(f["message"]["seq"].as_u64().unwrap());
        }
    }
    child.wait().unwrap();

    let (mut child, addr) = start();
    let body = json!({ "login": "bob", "password": "password-1" });
    let login = call(&http, "POST", &url(&addr, "/api/auth/login"), None, Some(body)).await;
    let token = login["access_token"].as_str().unwrap();
    let page =
        call(&http, "GET", &url(&addr, &format!("/api/chats/{chat}/messages?limit=200")), Some(token), None)
            .await;
    let stored: Vec<u64> =
        page["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    for seq in &acked {
        assert!(stored.contains(seq), "acknowledged seq {seq} lost after kill -9 (stored {stored:?})");
    }
    // Stored sequence numbers are contiguous: no holes from a torn batch.
    let mut sorted = stored.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=sorted.len() as u64).collect::<Vec<_>>());
    // The chat's head is written behind the log, so the kill may have left it behind: after
    // the restart it continues from the end of the log, and the chat list says so.
    let last = *sorted.last().unwrap();
    let summary = call(&http, "GET", &url(&addr, &format!("/api/chats/{chat}")), Some(token), None).await;
    assert_eq!(summary["last_seq"], last, "{summary}");
    let body = json!({ "client_id": "after-restart", "text": "still counting" });
    let next =
        call(&http, "POST", &url(&addr, &format!("/api/chats/{chat}/messages")), Some(token), Some(body))
            .await;
    assert_eq!(next["seq"], last + 1, "{next}");
    child.kill().ok();
    child.wait().ok();
}
