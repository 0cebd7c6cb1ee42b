//! One real-time session, whatever carries it (WebSocket or WebTransport): the `auth`
//! handshake, frame size and rate limits, and pumping frames between the transport and a
//! `parley_core::Connection`. Transports only move text frames and close with a code.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{Quota, RateLimiter};

use parley_core::metrics::Limited;
use parley_types::ErrorCode;
use parley_types::protocol::{ClientFrame, ServerFrame};

use crate::AppState;

const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(30);
/// Close codes (4000-4999 are for applications; WebTransport carries the same numbers).
pub const CLOSE_REVOKED: u16 = 4001;
pub const CLOSE_POLICY: u16 = 4008;
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// What a transport received.
pub enum Incoming {
    Text(String),
    /// Not a text frame (e.g. WebSocket binary).
    NotText,
    /// Larger than the transport's hard cap.
    TooLarge,
    /// The peer closed, or the transport failed.
    Closed,
}

/// A bidirectional carrier of protocol frames.
pub trait Transport: Send {
    /// The `transport` label in metrics.
    const LABEL: &'static str;
    fn recv(&mut self) -> impl Future<Output = Incoming> + Send;
    /// Writes frames in order; false when the peer is gone.
    fn send(&mut self, frames: &[Arc<str>]) -> impl Future<Output = bool> + Send;
    /// Keeps idle paths open (WebSocket ping; QUIC has its own keep-alive).
    fn ping(&mut self) -> impl Future<Output = bool> + Send;
    fn close(&mut self, code: u16, reason: &str) -> impl Future<Output = ()> + Send;
}

/// Browsers send `Origin`; it must be one of `allowed`, or, when none are configured, name this
/// server's host (`host` as the client addressed it). `compare_port` is off for WebTransport,
/// whose UDP port need not be the page's. Clients without `Origin` (not browsers) are not
/// subject to cross-site attacks and pass.
pub fn origin_allowed(origin: Option<&str>, host: &str, allowed: &[String], compare_port: bool) -> bool {
    let Some(origin) = origin else { return true };
    if !allowed.is_empty() {
        return allowed.iter().any(|a| a.eq_ignore_ascii_case(origin));
    }
    let strip = |s: &str| -> String {
        let s = s.to_ascii_lowercase();
        if compare_port { s } else { s.rsplit_once(':').map_or(s.clone(), |(h, _)| h.to_owned()) }
    };
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
    !host.is_empty() && strip(origin_host) == strip(host)
}

fn encode(frame: &ServerFrame) -> Arc<str> {
    serde_json::to_string(frame).unwrap_or_default().into()
}

fn error(code: ErrorCode, message: impl Into<String>) -> Arc<str> {
    encode(&ServerFrame::Error { r#ref: None, code, message: message.into() })
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

pub async fn run<T: Transport>(s: AppState, mut t: T) {
    let limits = s.core.settings().limits.clone();

    // Handshake: the first frame must be `auth`.
    let first = tokio::time::timeout(AUTH_TIMEOUT, t.recv()).await;
    let token = match first {
        Ok(Incoming::Text(text)) => match serde_json::from_str::<ClientFrame>(&text) {
            Ok(ClientFrame::Auth { token }) => token,
            _ => {
                t.send(&[error(ErrorCode::Unauthenticated, "the first frame must be auth")]).await;
                t.close(CLOSE_POLICY, "unauthenticated").await;
                return;
            }
        },
        _ => {
            t.close(CLOSE_POLICY, "no auth frame").await;
            return;
        }
    };
    // The task of an idle connection is as large as its largest pending future. Handling a
    // frame reaches into the database, whose futures are many KiB; boxing those rare branches
    // keeps the idle task small (memory per idle connection).
    let authenticated = Box::pin(s.core.authenticate(&token)).await;
    // Not kept for the life of the session.
    drop(token);
    let ctx = match authenticated {
        Ok(ctx) => ctx,
        Err(e) => {
            t.send(&[error(e.code(), e.to_string())]).await;
            t.close(CLOSE_REVOKED, e.code().as_str()).await;
            return;
        }
    };

    let mut conn = s.core.connect(ctx);
    let _connected = Connected::new(s.core.metrics().connected_clients.with_label_values(&[T::LABEL]));
    let mut rx = conn.take_outbound();
    let closer = conn.closer.clone();
    // The console can change the rate; a connection keeps the one it started with.
    let per_sec = NonZeroU32::new(s.core.runtime().ws_frames_per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limits.frames_burst).unwrap_or(NonZeroU32::MIN);
    let limiter = RateLimiter::direct(Quota::per_second(per_sec).allow_burst(burst));
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();

    if !t.send(&[conn.ready_frame()]).await {
        Box::pin(conn.close()).await;
        return;
    }

    loop {
        let frames: Vec<Arc<str>> = tokio::select! {
            (code, reason) = closer.closed() => {
                t.send(&[error(code, reason.clone())]).await;
                let c = if code == ErrorCode::SessionRevoked { CLOSE_REVOKED } else { CLOSE_POLICY };
                t.close(c, code.as_str()).await;
                break;
            }
            _ = s.shutdown.cancelled() => {
                t.close(CLOSE_GOING_AWAY, "server shutting down").await;
                break;
            }
            _ = ping.tick() => {
                if !t.ping().await {
                    break;
                }
                continue;
            }
            item = rx.recv(), if conn.synced() => match item {
                Some(item) => conn.outbound(item).await,
                None => break,
            },
            incoming = t.recv() => match incoming {
                Incoming::Closed => break,
                Incoming::NotText => vec![error(ErrorCode::MalformedFrame, "frames are JSON text")],
                Incoming::TooLarge => vec![error(
                    ErrorCode::PayloadTooLarge,
                    format!("frames are limited to {} bytes", limits.max_frame_bytes),
                )],
                Incoming::Text(text) => {
                    if text.len() > limits.max_frame_bytes {
                        vec![error(
                            ErrorCode::PayloadTooLarge,
                            format!("frames are limited to {} bytes", limits.max_frame_bytes),
                        )]
                    } else if limiter.check().is_err() {
                        s.core.metrics().rate_limited(Limited::ClientFrames);
                        vec![error(ErrorCode::RateLimited, "too many frames; slow down")]
                    } else {
                        match serde_json::from_str::<ClientFrame>(&text) {
                            Ok(frame) => Box::pin(conn.handle(frame)).await,
                            Err(e) => vec![error(ErrorCode::MalformedFrame, format!("malformed frame: {e}"))],
                        }
                    }
                }
            },
        };
        if !frames.is_empty() && !t.send(&frames).await {
            break;
        }
    }
    // Boxed like the frame handling above: closing writes "last seen" to the database, and an
    // unboxed close would reserve ~7.5 KiB in every idle connection's task.
    Box::pin(conn.close()).await;
}
