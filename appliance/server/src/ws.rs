//! `GET /api/ws`: the real-time protocol over WebSocket. This module is only transport:
//! origin check, authentication handshake, size and rate limits, and pumping frames between
//! the socket and a `parley_core::Connection`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use governor::{Quota, RateLimiter};

use parley_types::ErrorCode;
use parley_types::protocol::{ClientFrame, ServerFrame};

use parley_core::metrics::Limited;

use crate::{ApiError, AppState};

/// Hard cap on a WebSocket message; the configured frame limit below it gets an error frame.
const HARD_MAX_MESSAGE: usize = 4 << 20;
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(30);
/// Close codes (4000-4999 are for applications).
const CLOSE_REVOKED: u16 = 4001;
const CLOSE_POLICY: u16 = 4008;
const CLOSE_GOING_AWAY: u16 = 1001;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/ws", get(upgrade))
}

/// Browsers send `Origin`; it must be allowed (or same-origin when none are configured).
/// Clients that send no `Origin` (not browsers) are not subject to CSRF-style attacks.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if !allowed.is_empty() {
        return allowed.iter().any(|a| a.eq_ignore_ascii_case(origin));
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

async fn upgrade(State(s): State<AppState>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if !origin_allowed(&headers, &s.core.settings().http.allowed_origins) {
        return ApiError::new(ErrorCode::OriginNotAllowed, "this origin may not open the chat socket")
            .into_response();
    }
    ws.max_message_size(HARD_MAX_MESSAGE)
        .max_frame_size(HARD_MAX_MESSAGE)
        .on_upgrade(move |socket| run(s, socket))
}

fn text(frame: &ServerFrame) -> Message {
    Message::Text(serde_json::to_string(frame).unwrap_or_default().into())
}

fn error(code: ErrorCode, message: impl Into<String>) -> Message {
    text(&ServerFrame::Error { r#ref: None, code, message: message.into() })
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.chars().take(100).collect::<String>()),
    }))
}

async fn run(s: AppState, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let limits = s.core.settings().limits.clone();

    // Handshake: the first frame must be `auth`.
    let first = tokio::time::timeout(AUTH_TIMEOUT, stream.next()).await;
    let token = match first {
        Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<ClientFrame>(&t) {
            Ok(ClientFrame::Auth { token }) => token,
            _ => {
                let _ = sink.send(error(ErrorCode::Unauthenticated, "the first frame must be auth")).await;
                let _ = sink.send(close(CLOSE_POLICY, "unauthenticated")).await;
                return;
            }
        },
        _ => {
            let _ = sink.send(close(CLOSE_POLICY, "no auth frame")).await;
            return;
        }
    };
    let ctx = match s.core.authenticate(&token).await {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = sink.send(error(e.code(), e.to_string())).await;
            let _ = sink.send(close(CLOSE_REVOKED, e.code().as_str())).await;
            return;
        }
    };

    let mut conn = s.core.connect(ctx);
    let _connected = Connected::new(s.core.metrics().connected_clients.with_label_values(&["websocket"]));
    let mut rx = conn.take_outbound();
    let closer = conn.closer.clone();
    let per_sec = NonZeroU32::new(limits.frames_per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limits.frames_burst).unwrap_or(NonZeroU32::MIN);
    let limiter = RateLimiter::direct(Quota::per_second(per_sec).allow_burst(burst));
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();

    let ready = conn.ready_frame();
    if sink.send(Message::Text(ready.as_ref().into())).await.is_err() {
        conn.close().await;
        return;
    }

    loop {
        let frames: Vec<Arc<str>> = tokio::select! {
            (code, reason) = closer.closed() => {
                let _ = sink.send(error(code, reason.clone())).await;
                let c = if code == ErrorCode::SessionRevoked { CLOSE_REVOKED } else { CLOSE_POLICY };
                let _ = sink.send(close(c, code.as_str())).await;
                break;
            }
            _ = s.shutdown.cancelled() => {
                let _ = sink.send(close(CLOSE_GOING_AWAY, "server shutting down")).await;
                break;
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                continue;
            }
            item = rx.recv(), if conn.synced() => match item {
                Some(item) => conn.outbound(item).await,
                None => break,
            },
            msg = stream.next() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Binary(_))) => {
                    vec![Arc::from(serde_json::to_string(&ServerFrame::Error {
                        r#ref: None,
                        code: ErrorCode::MalformedFrame,
                        message: "frames are JSON text".into(),
                    }).unwrap_or_default())]
                }
                Some(Ok(Message::Text(t))) => {
                    if t.len() > limits.max_frame_bytes {
                        let _ = sink.send(error(ErrorCode::PayloadTooLarge, format!("frames are limited to {} bytes", limits.max_frame_bytes))).await;
                        continue;
                    }
                    if limiter.check().is_err() {
                        s.core.metrics().rate_limited(Limited::ClientFrames);
                        let _ = sink.send(error(ErrorCode::RateLimited, "too many frames; slow down")).await;
                        continue;
                    }
                    match serde_json::from_str::<ClientFrame>(&t) {
                        Ok(frame) => conn.handle(frame).await,
                        Err(e) => {
                            let _ = sink.send(error(ErrorCode::MalformedFrame, format!("malformed frame: {e}"))).await;
                            continue;
                        }
                    }
                }
            },
        };
        let mut failed = false;
        for f in frames {
            if sink.feed(Message::Text(f.as_ref().into())).await.is_err() {
                failed = true;
                break;
            }
        }
        if failed || sink.flush().await.is_err() {
            break;
        }
    }
    conn.close().await;
}

/// Counts a live connection in `parley_connected_clients` for as long as it exists, whichever
/// way the connection ends.
struct Connected(prometheus::IntGauge);

impl Connected {
    fn new(gauge: prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn origins_are_checked() {
        assert!(origin_allowed(&headers(None, "chat.example.org"), &[]));
        assert!(origin_allowed(&headers(Some("https://chat.example.org"), "chat.example.org"), &[]));
        assert!(!origin_allowed(&headers(Some("https://evil.example"), "chat.example.org"), &[]));
        let allowed = vec!["https://app.example.org".to_string()];
        assert!(origin_allowed(&headers(Some("https://app.example.org"), "x"), &allowed));
        assert!(!origin_allowed(&headers(Some("https://chat.example.org"), "chat.example.org"), &allowed));
    }
}
