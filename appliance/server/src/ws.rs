//! `GET /api/ws`: the real-time protocol over WebSocket. Only the transport lives here (the
//! origin check and moving text frames); the session itself is in `session`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::SinkExt;

use parley_types::ErrorCode;

use crate::session::{self, Incoming, Transport};
use crate::{ApiError, AppState};

/// Hard cap on a WebSocket message; the configured frame limit below it gets an error frame.
const HARD_MAX_MESSAGE: usize = 4 << 20;
/// Client frames are mostly under 1 KiB (a send, a receipt); larger ones take more reads. Every
/// idle socket holds this much.
const READ_BUFFER: usize = 1 << 10;
const WRITE_BUFFER: usize = 8 << 10;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/ws", get(upgrade))
}

/// The WebSocket's Origin check: the origin must match the `Host` header, port included.
pub(crate) fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    session::origin_allowed(origin, host, allowed, true)
}

async fn upgrade(State(s): State<AppState>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if !origin_allowed(&headers, &s.core.runtime().allowed_origins) {
        return ApiError::new(ErrorCode::OriginNotAllowed, "this origin may not open the chat socket")
            .into_response();
    }
    // tungstenite reserves 128 KiB per socket for reading by default; most frames are under
    // 1 KiB and idle sockets dominate, so start small (the buffer grows for large frames).
    ws.max_message_size(HARD_MAX_MESSAGE)
        .max_frame_size(HARD_MAX_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| session::run(s, Ws(socket)))
}

/// The WebSocket side of a session.
struct Ws(WebSocket);

impl Transport for Ws {
    const LABEL: &'static str = "websocket";

    async fn recv(&mut self) -> Incoming {
        loop {
            return match self.0.recv().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Incoming::Closed,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Binary(_))) => Incoming::NotText,
                Some(Ok(Message::Text(t))) => Incoming::Text(t.as_str().to_owned()),
            };
        }
    }

    async fn send(&mut self, frames: &[Arc<str>]) -> bool {
        for f in frames {
            if self.0.feed(Message::Text(f.as_ref().into())).await.is_err() {
                return false;
            }
        }
        self.0.flush().await.is_ok()
    }

    async fn ping(&mut self) -> bool {
        self.0.send(Message::Ping(Default::default())).await.is_ok()
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let frame =
            CloseFrame { code, reason: Utf8Bytes::from(reason.chars().take(100).collect::<String>()) };
        let _ = self.0.send(Message::Close(Some(frame))).await;
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
