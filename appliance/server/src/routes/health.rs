//! Health endpoints and the root page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};

use parley_types::api::Health;

use crate::AppState;

/// `GET /health/live`: the process is up.
pub async fn live() -> axum::Json<Health> {
    axum::Json(Health { status: "ok".into() })
}

/// `GET /health/ready`: the database answers.
pub async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    if s.core.ready().await {
        (StatusCode::OK, axum::Json(Health { status: "ready".into() }))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Health { status: "database unavailable".into() }))
    }
}

/// `GET /`: until the web client is embedded, say what this is and where the API lives.
pub async fn index(State(s): State<AppState>) -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Parley</title>\
         <h1>Parley on {}</h1><p>The appliance is running. The chat API is under <code>/api</code> \
         and the real-time protocol at <code>/api/ws</code>.</p>",
        s.core.server_name()
    ))
}
