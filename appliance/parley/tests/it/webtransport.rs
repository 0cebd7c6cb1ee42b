//! WebTransport: a QUIC client (wtransport, pinning the published certificate hash, as a
//! browser does with `serverCertificateHashes`) chats with a WebSocket client both ways, and a
//! certificate rotation neither drops the live session nor stops new ones.

use std::time::Duration;

use base64::Engine;
use parley_testkit::{FRAME_TIMEOUT, TestAppliance, TestUser};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use wtransport::{ClientConfig, Endpoint, RecvStream, SendStream, tls::Sha256Digest};

struct WtClient {
    _conn: wtransport::Connection,
    send: SendStream,
    lines: tokio::io::Lines<BufReader<RecvStream>>,
}

impl WtClient {
    async fn connect(app: &TestAppliance, user: &TestUser) -> Self {
        let (_, info) = app.get("/api/webtransport", &user.token).await;
        let hashes: Vec<Sha256Digest> = info["certificate_hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let bytes =
                    base64::engine::general_purpose::STANDARD.decode(h["value"].as_str().unwrap()).unwrap();
                Sha256Digest::new(bytes.try_into().unwrap())
            })
            .collect();
        assert!(!hashes.is_empty(), "{info}");
        let config =
            ClientConfig::builder().with_bind_default().with_server_certificate_hashes(hashes).build();
        let url = format!("https://127.0.0.1:{}{}", info["port"], info["path"].as_str().unwrap());
        let conn = Endpoint::client(config).unwrap().connect(url).await.expect("webtransport session");
        let (send, recv) = conn.open_bi().await.unwrap().await.unwrap();
        let mut c = WtClient { _conn: conn, send, lines: BufReader::new(recv).lines() };
        c.send(json!({ "type": "auth", "token": user.token })).await;
        assert_eq!(c.next().await["type"], "ready");
        c.send(json!({ "type": "sync", "cursors": {} })).await;
        while c.next().await["type"] != "sync_done" {}
        c
    }

    async fn send(&mut self, frame: Value) {
        let mut line = serde_json::to_vec(&frame).unwrap();
        line.push(b'\n');
        self.send.write_all(&line).await.unwrap();
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(FRAME_TIMEOUT, self.lines.next_line())
            .await
            .expect("a frame in time")
            .unwrap()
            .expect("stream open");
        serde_json::from_str(&line).unwrap()
    }

    async fn next_of(&mut self, ty: &str) -> Value {
        loop {
            let f = self.next().await;
            if f["type"] == ty {
                return f;
            }
        }
    }
}

#[tokio::test]
async fn webtransport_and_websocket_users_chat_with_receipts() {
    let app = TestAppliance::start_with(|s| s.webtransport.enabled = true).await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    let mut wt = WtClient::connect(&app, &ana).await;
    let mut ws = app.ws(&bob).await;
    ws.sync(json!({})).await;

    // WebTransport → WebSocket, acknowledged, delivered, read.
    wt.send(json!({ "type": "send", "chat_id": chat, "client_id": "w1", "text": "over quic" })).await;
    let ack = wt.next_of("ack").await;
    let seq = ack["message"]["seq"].as_u64().unwrap();
    let got = ws.next_of("message").await;
    assert_eq!(got["message"]["text"], "over quic");
    ws.send(json!({ "type": "read", "chat_id": chat, "seq": seq })).await;
    let receipt = wt.next_of("receipt").await;
    assert_eq!((receipt["kind"].as_str(), receipt["seq"].as_u64()), (Some("read"), Some(seq)));

    // WebSocket → WebTransport.
    ws.send(json!({ "type": "send", "chat_id": chat, "client_id": "b1", "text": "over tcp" })).await;
    assert_eq!(wt.next_of("message").await["message"]["text"], "over tcp");

    // Same limits as the WebSocket: malformed and oversize frames get error frames.
    wt.send(json!({ "type": "nonsense" })).await;
    assert_eq!(wt.next_of("error").await["code"], "malformed_frame");
    let metrics = app.core.metrics().render();
    assert!(metrics.contains(r#"parley_connected_clients{transport="webtransport"} 1"#), "{metrics}");
}

#[tokio::test]
async fn certificate_rotation_keeps_sessions_and_serves_new_ones() {
    let app = TestAppliance::start_with(|s| s.webtransport.enabled = true).await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    let mut before = WtClient::connect(&app, &ana).await;
    let (_, info) = app.get("/api/webtransport", &ana.token).await;
    let old = info["certificate_hashes"][0].clone();

    app.webtransport.as_ref().unwrap().rotate_now();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let info = loop {
        let (_, info) = app.get("/api/webtransport", &ana.token).await;
        if info["certificate_hashes"][0] != old {
            break info;
        }
        assert!(std::time::Instant::now() < deadline, "no rotation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The previous hash stays published for clients that fetched it a moment ago.
    assert_eq!(info["certificate_hashes"][1], old);

    // The session from before the rotation still sends and receives.
    before.send(json!({ "type": "send", "chat_id": chat, "client_id": "r1", "text": "still here" })).await;
    assert_eq!(before.next_of("ack").await["message"]["seq"], 1);
    // A new session pins the new certificate and gets everything.
    let mut after = WtClient::connect(&app, &bob).await;
    after.send(json!({ "type": "send", "chat_id": chat, "client_id": "r2", "text": "new cert" })).await;
    assert_eq!(after.next_of("ack").await["message"]["seq"], 2);
    assert_eq!(before.next_of("message").await["message"]["text"], "new cert");
}

#[tokio::test]
async fn no_listener_means_no_webtransport_info() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let (s, body) = app.get("/api/webtransport", &ana.token).await;
    assert_eq!((s.as_u16(), body["code"].as_str()), (404, Some("not_found")));
}

/// The real binary announces its WebTransport listener over plain HTTP (the dev setup).
#[tokio::test]
async fn the_binary_announces_webtransport() {
    use crate::child::{call, spawn_parley};
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_parley(
        &["serve", "--dev"],
        &[
            ("PARLEY__STORAGE__DATA_DIR", dir.path().as_os_str()),
            ("PARLEY__SERVER_NAME", "test.local".as_ref()),
        ],
    );
    let http = reqwest::Client::new();
    let body = json!({ "username": "ana", "password": "password-1" });
    let ana = call(&http, "POST", &format!("http://{addr}/api/auth/register"), None, Some(body)).await;
    let info =
        call(&http, "GET", &format!("http://{addr}/api/webtransport"), ana["access_token"].as_str(), None)
            .await;
    child.kill().ok();
    child.wait().ok();
    // Same port number as HTTP, on UDP; one self-signed certificate pinned by hash.
    assert_eq!(
        info["port"].as_u64().map(|p| p.to_string()),
        addr.rsplit(':').next().map(str::to_owned),
        "{info}"
    );
    assert_eq!(info["certificate_hashes"].as_array().map(Vec::len), Some(1));
}
