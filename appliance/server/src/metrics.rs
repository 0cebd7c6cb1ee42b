//! Prometheus exposition and HTTP request metrics.
//!
//! `/metrics` is served on its own listener (`metrics.listen`, loopback by default) and, when
//! `metrics.bearer_token` is set, also on the main listener behind that token.

use std::future::Future;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use parley_core::Core;
use parley_types::ErrorCode;

use crate::{ApiError, AppState};

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn exposition(core: &Core) -> Response {
    let mut r = core.metrics().render().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

/// `GET /metrics` on the main listener: only with the configured bearer token.
pub async fn guarded(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let expected = &s.core.settings().metrics.bearer_token;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Comparing digests keeps the comparison time independent of the token's characters.
    if expected.is_empty() || Sha256::digest(given.trim()) != Sha256::digest(expected) {
        return ApiError::new(ErrorCode::Unauthenticated, "metrics need the configured bearer token")
            .into_response();
    }
    exposition(&s.core)
}

/// Middleware: counts and times every request by method, route template and status.
pub async fn track(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    };
    // Templates (`/api/chats/{chat_id}`) keep the label set small; anything unrouted is one value.
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let response = next.run(req).await;
    let route = route.as_deref().unwrap_or("unmatched");
    let m = s.core.metrics();
    let status = response.status();
    m.http_requests.with_label_values(&[method, route, status.as_str()]).inc();
    m.http_duration.with_label_values(&[method, route]).observe(started.elapsed().as_secs_f64());
    response
}

/// Serves `GET /metrics` alone on `listener` until `shutdown` resolves.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    core: Core,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new().route("/metrics", get(move || async move { exposition(&core) }));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
