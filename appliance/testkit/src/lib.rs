//! Test support: a real appliance on `127.0.0.1:0` over a temp data dir, with small HTTP and
//! WebSocket clients that speak the real protocol. No mocks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use parley_config::{Settings, Source};
use parley_core::Core;
use parley_store::Store;

/// How long a test waits for a frame it expects.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings for a test appliance in `dir` (defaults, port 0, server name `test.local`).
pub fn test_settings(dir: &Path) -> Settings {
    let mut s = Settings::load_with_env(Source::DefaultsOnly, Vec::<(String, String)>::new())
        .expect("shipped defaults are valid");
    s.server_name = "test.local".into();
    s.storage.data_dir = dir.to_owned();
    s.http.listen = "127.0.0.1:0".parse().expect("literal address");
    // Tests that want WebTransport turn it on (it binds a UDP port).
    s.webtransport.enabled = false;
    s
}

/// A running appliance.
pub struct TestAppliance {
    pub addr: SocketAddr,
    /// The running core, for setup that has no HTTP route yet (e.g. creating admins).
    pub core: Core,
    pub settings: Settings,
    pub http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The WebTransport listener, when `webtransport.enabled` (UDP on 127.0.0.1).
    pub webtransport: Option<parley_server::webtransport::Listener>,
    wt_stop: tokio_util::sync::CancellationToken,
}

impl TestAppliance {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with settings changed by `f`.
    pub async fn start_with(f: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_owned();
        let mut settings = test_settings(&path);
        f(&mut settings);
        let mut app = Self::boot(settings).await;
        app._dir = Some(dir);
        app
    }

    async fn boot(settings: Settings) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = Store::open_configured(&settings).await.expect("open store");
        let mut settings = settings;
        let core = Core::start(settings.clone(), store).await.expect("start core");
        if settings.federation.enabled {
            let udp = std::net::UdpSocket::bind(settings.federation.listen).expect("bind federation udp");
            core.start_federation(udp).await.expect("start federation");
            // A restart comes back on the same federation port: peers pinned this address.
            settings.federation.listen = core.federation_addr().expect("federation address");
        }
        let served = core.clone();
        let listener = tokio::net::TcpListener::bind(settings.http.listen).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let wt_stop = tokio_util::sync::CancellationToken::new();
        let webtransport = if settings.webtransport.enabled {
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
            Some(
                parley_server::webtransport::start(core.clone(), udp, wt_stop.clone())
                    .await
                    .expect("webtransport"),
            )
        } else {
            None
        };
        let info = webtransport.as_ref().map(|l| l.info.clone()).unwrap_or_default();
        let task = tokio::spawn(async move {
            parley_server::serve_with(listener, served, info, async move {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Self {
            addr,
            core,
            dir: settings.storage.data_dir.clone(),
            settings,
            http: reqwest::Client::new(),
            _dir: None,
            stop: Some(tx),
            task: Some(task),
            webtransport,
            wt_stop,
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server and starts a new one on the same data dir (a new port).
    pub async fn restart(mut self) -> Self {
        let dir = self._dir.take();
        self.shutdown().await;
        let mut settings = self.settings.clone();
        drop(self);
        settings.http.listen = "127.0.0.1:0".parse().expect("literal address");
        let mut app = Self::boot(settings).await;
        app._dir = dir;
        app
    }

    /// Stops the server, runs `between` with its settings while nothing uses the data dir
    /// (e.g. a restore), then starts again on the same dir.
    pub async fn restart_after<F, Fut>(mut self, between: F) -> Self
    where
        F: FnOnce(Settings) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir = self._dir.take();
        self.shutdown().await;
        let mut settings = self.settings.clone();
        drop(self);
        between(settings.clone()).await;
        settings.http.listen = "127.0.0.1:0".parse().expect("literal address");
        let mut app = Self::boot(settings).await;
        app._dir = dir;
        app
    }

    pub async fn shutdown(&mut self) {
        self.wt_stop.cancel();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), t).await;
        }
        self.core.shutdown().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/ws", self.addr)
    }

    /// Any request; returns status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method.parse().expect("method"), self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// Registers `name` with password `password-<name>`.
    pub async fn register(&self, name: &str) -> TestUser {
        let (status, body) = self
            .call(
                "POST",
                "/api/auth/register",
                None,
                Some(json!({ "username": name, "password": format!("password-{name}") })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {name}: {body}");
        TestUser::from_tokens(&body)
    }

    pub async fn login(&self, name: &str) -> TestUser {
        let (status, body) = self
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({ "login": name, "password": format!("password-{name}") })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {name}: {body}");
        TestUser::from_tokens(&body)
    }

    /// Creates the 1:1 chat between two users; returns its id.
    pub async fn direct(&self, a: &TestUser, b: &TestUser) -> String {
        let (status, body) = self.post("/api/chats/direct", &a.token, json!({ "user_id": b.id })).await;
        assert_eq!(status, StatusCode::OK, "direct chat: {body}");
        body["chat_id"].as_str().expect("chat_id").to_owned()
    }

    /// Creates a group owned by `admin` with `members`; returns its id.
    pub async fn group(&self, admin: &TestUser, name: &str, members: &[&TestUser]) -> String {
        let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
        let (status, body) =
            self.post("/api/chats/group", &admin.token, json!({ "name": name, "members": ids })).await;
        assert_eq!(status, StatusCode::CREATED, "group: {body}");
        body["chat_id"].as_str().expect("chat_id").to_owned()
    }

    /// Sends a text over REST; returns the stored message.
    pub async fn send(&self, user: &TestUser, chat: &str, client_id: &str, text: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("/api/chats/{chat}/messages"),
                &user.token,
                json!({ "client_id": client_id, "text": text }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "send: {body}");
        body
    }

    /// Creates an administrator (as `parley admin create-user --admin` does) and logs in.
    pub async fn admin(&self, name: &str) -> TestUser {
        self.core
            .create_user(parley_core::NewUser {
                username: name.into(),
                password: format!("password-{name}"),
                display_name: None,
                email: None,
                phone: None,
                is_admin: true,
                ..Default::default()
            })
            .await
            .expect("create admin");
        self.login(name).await
    }

    /// Opens a WebSocket for the user and completes the auth handshake.
    pub async fn ws(&self, user: &TestUser) -> WsClient {
        WsClient::connect(&self.ws_url(), &user.token).await
    }
}

impl Drop for TestAppliance {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub token: String,
    pub refresh: String,
}

impl TestUser {
    pub fn from_tokens(body: &Value) -> Self {
        Self {
            id: body["user"]["user_id"].as_str().expect("user_id").to_owned(),
            token: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
        }
    }
}

/// A protocol client over a real WebSocket.
pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub ready: Value,
}

impl WsClient {
    /// Connects and authenticates; panics unless the server answers `ready`.
    pub async fn connect(url: &str, token: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws connect");
        let mut c = Self { ws, ready: Value::Null };
        c.send(json!({ "type": "auth", "token": token })).await;
        let ready = c.next().await.expect("a frame after auth");
        assert_eq!(ready["type"], "ready", "{ready}");
        c.ready = ready;
        c
    }

    /// Connects without authenticating (for handshake tests).
    pub async fn raw(url: &str) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        tokio_tungstenite::connect_async(url).await.expect("ws connect").0
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws.send(WsMessage::Text(frame.to_string().into())).await.expect("ws send");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(WsMessage::Text(text.to_owned().into())).await.expect("ws send");
    }

    /// The next JSON frame, or None when the socket closed or nothing came in time.
    pub async fn next(&mut self) -> Option<Value> {
        self.next_within(FRAME_TIMEOUT).await
    }

    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(wait, self.ws.next()).await {
                Ok(Some(Ok(WsMessage::Text(t)))) => {
                    return Some(serde_json::from_str(&t).expect("json frame"));
                }
                Ok(Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_)))) => continue,
                Ok(Some(Ok(WsMessage::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => {
                    return None;
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next frame of `type`, skipping others (presence, typing, chat updates...).
    pub async fn next_of(&mut self, ty: &str) -> Value {
        loop {
            let f = self.next().await.unwrap_or_else(|| panic!("no `{ty}` frame arrived"));
            if f["type"] == ty {
                return f;
            }
        }
    }

    /// Sends `sync` with cursors and collects messages until `sync_done`.
    pub async fn sync(&mut self, cursors: Value) -> Vec<Value> {
        self.send(json!({ "type": "sync", "cursors": cursors })).await;
        let mut out = Vec::new();
        loop {
            let f = self.next().await.expect("sync frames");
            match f["type"].as_str() {
                Some("message") => out.push(f["message"].clone()),
                Some("sync_done") => return out,
                _ => {}
            }
        }
    }

    /// Waits until the socket is closed by the server; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        self.close_frame().await.map(|(code, _)| code)
    }

    /// Waits until the socket is closed by the server; returns the close code and reason.
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        loop {
            match tokio::time::timeout(FRAME_TIMEOUT, self.ws.next()).await {
                Ok(Some(Ok(WsMessage::Close(frame)))) => {
                    return frame.map(|f| (f.code.into(), f.reason.to_string()));
                }
                Ok(Some(Ok(_))) => continue,
                Ok(None) | Ok(Some(Err(_))) => return None,
                Err(_) => panic!("socket not closed in time"),
            }
        }
    }
}
