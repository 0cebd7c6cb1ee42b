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
