use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use parley_testkit::{TestAppliance, WsClient};
use reqwest::StatusCode;
use serde_json::json;

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
    let spawn = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["serve", "--dev"])
            .env("PARLEY__STORAGE__DATA_DIR", dir.path())
            .env("PARLEY__HTTP__LISTEN", "127.0.0.1:0")
            .env("PARLEY__SERVER_NAME", "test.local")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn parley");
        // The binary prints its bound address; read until it does.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("parley exited before listening").unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        (child, addr)
    };
    let (mut child, addr) = spawn();
    let app_url = |a: &str, p: &str| format!("http://{a}{p}");
    let http = reqwest::Client::new();
    let reg = |name: &'static str| {
        let http = http.clone();
        let url = app_url(&addr, "/api/auth/register");
        async move {
            let r: serde_json::Value = http
                .post(url)
                .json(&json!({ "username": name, "password": "password-1" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (
                r["user"]["user_id"].as_str().unwrap().to_owned(),
                r["access_token"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (_ana_id, ana_token) = reg("ana").await;
    let (bob_id, _) = reg("bob").await;
    let chat: serde_json::Value = http
        .post(app_url(&addr, "/api/chats/direct"))
        .bearer_auth(&ana_token)
        .json(&json!({ "user_id": bob_id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chat = chat["chat_id"].as_str().unwrap().to_owned();

    let mut ws = WsClient::connect(&format!("ws://{addr}/api/ws"), &ana_token).await;
    ws.sync(json!({})).await;
    // Send a stream without waiting; record every ack; kill the server mid-stream.
    let mut acked = Vec::new();
    for i in 0..400 {
        ws.send(
            json!({ "type": "send", "chat_id": chat, "client_id": format!("c{i}"), "text": format!("m{i}") }),
        )
        .await;
        if i == 200 {
            // Collect a few acks so the kill lands while sends are in flight.
            while acked.len() < 50 {
                let f = ws.next().await.expect("acks before the kill");
                if f["type"] == "ack" {
                    acked.push(f["message"]["seq"].as_u64().unwrap());
                }
            }
            child.kill().expect("SIGKILL");
            break;
        }
    }
    // Acks that were already on the wire before the kill count too.
    while let Some(f) = ws.next_within(Duration::from_secs(2)).await {
        if f["type"] == "ack" {
            acked.push(f["message"]["seq"].as_u64().unwrap());
        }
    }
    child.wait().unwrap();
    assert!(!acked.is_empty());

    let (mut child, addr) = spawn();
    let login: serde_json::Value = http
        .post(app_url(&addr, "/api/auth/login"))
        .json(&json!({ "login": "bob", "password": "password-1" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let page: serde_json::Value = http
        .get(app_url(&addr, &format!("/api/chats/{chat}/messages?limit=200")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: Vec<u64> =
        page["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    for seq in &acked {
        assert!(stored.contains(seq), "acknowledged seq {seq} lost after kill -9 (stored {stored:?})");
    }
    // Stored sequence numbers are contiguous: no holes from a torn batch.
    let mut sorted = stored.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=sorted.len() as u64).collect::<Vec<_>>());
    child.kill().ok();
    child.wait().ok();
}
