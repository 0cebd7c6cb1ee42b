//! A client of the public API: REST calls with `reqwest`, the `127.0.0.x` source addresses
//! connections are spread over (one address has only ~28k ephemeral ports), and a cheap parse
//! of the server frames the load generator cares about. Connections are in `transport`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};

pub const PASSWORD: &str = "bench-password-1";

/// A registered user and the cursors of its one simulated device.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub id: String,
    pub token: String,
}

/// A chat created for a scenario: its id, members (indexes into the user list) and the seq it
/// had before the scenario's traffic.
#[derive(Debug, Clone)]
pub struct Chat {
    pub id: String,
    pub members: Vec<usize>,
    pub base_seq: u64,
}

#[derive(Debug, Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub addr: SocketAddr,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(256)
            .build()
            .expect("http client");
        Self { http, base: format!("http://{addr}"), addr }
    }

    /// Any call; retries on 429 after `Retry-After`. Returns the status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        for _ in 0..20 {
            let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let res = req.send().await.with_context(|| format!("{method} {path}"))?;
            let status = res.status().as_u16();
            if status == 429 {
                let wait = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(1u64);
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            let text = res.text().await?;
            let value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            return Ok((status, value));
        }
        bail!("{method} {path}: still rate limited after 20 tries")
    }

    /// Any call that must answer `want`; the JSON body.
    pub async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        want: u16,
    ) -> anyhow::Result<Value> {
        let (status, v) = self.call(method.clone(), path, token, body).await?;
        if status != want {
            bail!("{method} {path}: HTTP {status}: {v}");
        }
        Ok(v)
    }

    pub async fn ready(&self) -> bool {
        matches!(self.call(reqwest::Method::GET, "/health/ready", None, None).await, Ok((200, _)))
    }

    pub async fn register(&self, name: &str) -> anyhow::Result<User> {
        let body = json!({ "username": name, "password": PASSWORD });
        let v = self.expect(reqwest::Method::POST, "/api/auth/register", None, Some(&body), 201).await?;
        Ok(User {
            name: name.to_owned(),
            id: v["user"]["user_id"].as_str().context("user_id")?.to_owned(),
            token: v["access_token"].as_str().context("access_token")?.to_owned(),
        })
    }

    /// `POST /api/auth/login`: an access token for an existing account (e.g. an admin).
    pub async fn login(&self, login: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({ "login": login, "password": password });
        let v = self.expect(reqwest::Method::POST, "/api/auth/login", None, Some(&body), 200).await?;
        Ok(v["access_token"].as_str().context("access_token")?.to_owned())
    }

    pub async fn direct(&self, a: &User, b: &User) -> anyhow::Result<(String, u64)> {
        let body = json!({ "user_id": b.id });
        let v =
            self.expect(reqwest::Method::POST, "/api/chats/direct", Some(&a.token), Some(&body), 200).await?;
        Ok((v["chat_id"].as_str().context("chat_id")?.to_owned(), v["last_seq"].as_u64().unwrap_or(0)))
    }

    pub async fn group(&self, admin: &User, name: &str, members: &[&str]) -> anyhow::Result<(String, u64)> {
        let body = json!({ "name": name, "members": members });
        let v = self
            .expect(reqwest::Method::POST, "/api/chats/group", Some(&admin.token), Some(&body), 201)
            .await?;
        Ok((v["chat_id"].as_str().context("chat_id")?.to_owned(), v["last_seq"].as_u64().unwrap_or(0)))
    }

    /// A text sent over REST: `(seq, message id)` once durable.
    pub async fn send(
        &self,
        user: &User,
        chat: &str,
        client_id: &str,
        text: &str,
    ) -> anyhow::Result<(u64, String)> {
        let body = json!({ "client_id": client_id, "text": text });
        let path = format!("/api/chats/{chat}/messages");
        let v = self.expect(reqwest::Method::POST, &path, Some(&user.token), Some(&body), 201).await?;
        Ok((v["seq"].as_u64().context("seq")?, v["id"].as_str().context("id")?.to_owned()))
    }

    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Value> {
        self.expect(reqwest::Method::GET, path, Some(token), None, 200).await
    }
}

/// Hands out `127.0.0.1`, `127.0.0.2`, ... in turn as local addresses.
#[derive(Debug)]
pub struct Sources {
    count: usize,
    next: AtomicUsize,
}

impl Sources {
    pub fn new(count: usize) -> Self {
        Self { count: count.clamp(1, 250), next: AtomicUsize::new(0) }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn next(&self) -> Ipv4Addr {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.count;
        Ipv4Addr::new(127, 0, 0, 1 + i as u8)
    }
}

pub fn sync_frame(cursors: &BTreeMap<String, u64>) -> String {
    json!({ "type": "sync", "cursors": cursors }).to_string()
}

/// A chat log entry as the load generator sees it.
#[derive(Debug, Deserialize)]
pub struct Entry<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub chat_id: Cow<'a, str>,
    pub seq: u64,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct MessageFrame<'a> {
    #[serde(borrow)]
    message: Entry<'a>,
}

#[derive(Deserialize)]
struct AckFrame<'a> {
    #[serde(borrow)]
    client_id: Cow<'a, str>,
    #[serde(borrow)]
    message: Entry<'a>,
}

#[derive(Deserialize)]
struct Tagged<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default)]
    messages: u64,
    #[serde(default)]
    code: Option<String>,
    #[serde(default, rename = "ref")]
    reference: Option<String>,
}

#[derive(Debug)]
pub enum Frame<'a> {
    Ready,
    Message(Entry<'a>),
    Ack { client_id: Cow<'a, str>, entry: Entry<'a> },
    SyncDone { messages: u64 },
    Error { code: String, reference: Option<String>, message: String },
    Other,
    Malformed(String),
}

/// Parses a server frame. The hot frames (`message`, `ack`) are recognised by their prefix
/// (serde writes the `type` tag first) and parsed once into borrowed fields; the rest go
/// through a generic parse.
pub fn parse(text: &str) -> Frame<'_> {
    if text.starts_with(r#"{"type":"message","#) {
        return match serde_json::from_str::<MessageFrame>(text) {
            Ok(f) => Frame::Message(f.message),
            Err(e) => Frame::Malformed(format!("{e}: {text}")),
        };
    }
    if text.starts_with(r#"{"type":"ack","#) {
        return match serde_json::from_str::<AckFrame>(text) {
            Ok(f) => Frame::Ack { client_id: f.client_id, entry: f.message },
            Err(e) => Frame::Malformed(format!("{e}: {text}")),
        };
    }
    let tagged: Tagged = match serde_json::from_str(text) {
        Ok(t) => t,
        Err(e) => return Frame::Malformed(format!("{e}: {text}")),
    };
    match tagged.ty.as_ref() {
        "ready" => Frame::Ready,
        "sync_done" => Frame::SyncDone { messages: tagged.messages },
        "error" => {
            let message = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_default();
            Frame::Error { code: tagged.code.unwrap_or_default(), reference: tagged.reference, message }
        }
        "message" | "ack" => match serde_json::from_str::<Value>(text) {
            // Another field order than expected: fall back to a generic parse.
            Ok(_) => Frame::Malformed(format!("unexpected field order: {text}")),
            Err(e) => Frame::Malformed(format!("{e}: {text}")),
        },
        _ => Frame::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_frames_it_needs() {
        let m = r#"{"type":"message","message":{"id":"01J@x","chat_id":"01K@x","seq":7,"sender":"a@x","kind":"text","text":"hi \"q\" t5","created_at":1,"deleted":false}}"#;
        match parse(m) {
            Frame::Message(e) => {
                assert_eq!((e.seq, e.chat_id.as_ref(), e.text.as_deref()), (7, "01K@x", Some("hi \"q\" t5")));
            }
            f => panic!("{f:?}"),
        }
        let a = r#"{"type":"ack","client_id":"3.9","message":{"id":"01J@x","chat_id":"01K@x","seq":8,"sender":"a@x","kind":"text","text":"x","created_at":1,"deleted":false}}"#;
        assert!(matches!(parse(a), Frame::Ack { ref client_id, .. } if client_id == "3.9"));
        assert!(matches!(
            parse(r#"{"type":"sync_done","chats":2,"messages":5}"#),
            Frame::SyncDone { messages: 5 }
        ));
        let e = r#"{"type":"error","ref":"3.9","code":"not_member","message":"nope"}"#;
        assert!(
            matches!(parse(e), Frame::Error { ref code, reference: Some(_), .. } if code == "not_member")
        );
        assert!(matches!(parse(r#"{"type":"pong","nonce":null}"#), Frame::Other));
    }
}
