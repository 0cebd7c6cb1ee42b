//! Health endpoints and the root page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use parley_types::api::Health;

use crate::AppState;

/// `GET /health/live`: the process is up.
pub async fn live() -> axum::Json<Health> {
    axum::Json(Health { status: "ok".into() })
}

/// `GET /health/ready`: not shutting down, and the database answers.
pub async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    match s.core.ready().await {
        Ok(()) => (StatusCode::OK, axum::Json(Health { status: "ready".into() })),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Health { status: why.into() })),
    }
}

/// `GET /api/webtransport`: how to reach the WebTransport listener (404 when none runs).
pub async fn webtransport(
    State(s): State<AppState>,
    crate::extract::Auth(_): crate::extract::Auth,
) -> Result<axum::Json<serde_json::Value>, crate::ApiError> {
    use base64::Engine;
    let info = s.webtransport.get().ok_or_else(|| {
        crate::ApiError::new(parley_types::ErrorCode::NotFound, "WebTransport is not enabled on this server")
    })?;
    let hashes: Vec<serde_json::Value> = info
        .certificate_hashes
        .iter()
        .map(|h| {
            serde_json::json!({
                "algorithm": "sha-256",
                "value": base64::engine::general_purpose::STANDARD.encode(h),
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "port": info.port, "path": "/api/wt", "certificate_hashes": hashes })))
}
