//! The HTTP edge: axum routes for the REST API, the WebSocket endpoint, health checks, and
//! the mapping of core error codes to HTTP statuses. Handlers are thin: parse, call `Core`,
//! serialize. No business rules and no SurrealQL here.
//!
//! [`serve`] and [`serve_tls`] take an already-bound listener and a shutdown future, so
//! tests bind `127.0.0.1:0` and never race for ports.

// The embedded database's query futures are deep; their layout needs a higher limit.
#![recursion_limit = "256"]

mod error;
mod extract;
mod metrics;
mod routes;
mod session;
mod ui;
pub mod webtransport;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use ipnet::IpNet;
use tokio_util::sync::CancellationToken;

use parley_core::Core;

pub use error::ApiError;
pub use metrics::serve_metrics;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// Cancelled at shutdown so long-lived sockets close cleanly.
    pub shutdown: CancellationToken,
    /// Where and how clients reach the WebTransport listener, when one runs.
    pub webtransport: webtransport::InfoCell,
}

pub(crate) fn state(
    core: Core,
    shutdown: CancellationToken,
    webtransport: webtransport::InfoCell,
) -> AppState {
    let trusted = core.settings().trusted_proxies().unwrap_or_default();
    AppState { core, trusted_proxies: Arc::new(trusted), shutdown, webtransport }
}

/// The whole HTTP application.
pub fn router(core: Core, shutdown: CancellationToken, webtransport: webtransport::InfoCell) -> Router {
    let state = state(core, shutdown, webtransport);
    routes::router()
        .merge(ws::router())
        .route("/metrics", axum::routing::get(metrics::guarded))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Serves plain HTTP (behind a reverse proxy, or the dev default) until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    core: Core,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, core, webtransport::InfoCell::default(), shutdown).await
}

/// [`serve`], announcing a running WebTransport listener at `GET /api/webtransport`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    core: Core,
    webtransport: webtransport::InfoCell,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = CancellationToken::new();
    let app = router(core, token.clone(), webtransport).into_make_service_with_connect_info::<SocketAddr>();
    // Frames are small and latency matters: without TCP_NODELAY, Nagle's algorithm holds a
    // frame written after another until the peer's delayed ACK (tens of ms). axum-server (the
    // TLS path) sets it already.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            token.cancel();
        })
        .await
}

/// Serves HTTPS with rustls from PEM files until `shutdown` resolves.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    core: Core,
    cert: &str,
    key: &str,
    webtransport: webtransport::InfoCell,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
    let token = CancellationToken::new();
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    let t = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        t.cancel();
        h.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let app = router(core, token, webtransport).into_make_service_with_connect_info::<SocketAddr>();
    listener.set_nonblocking(true)?;
    axum_server::from_tcp_rustls(listener, config)?.handle(handle).serve(app).await
}
