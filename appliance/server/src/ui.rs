//! The browser UIs, embedded with `rust-embed` (as quickwit does): `web-client/dist` at `/`
//! and the admin console, `admin-ui/dist`, at `/admin/` (built with Vite's `base: '/admin/'`).
//! Unknown non-API paths get `index.html` so client-side routes survive a reload. Vite names
//! the files under `assets/` by content hash, so those are cached for a year; everything else
//! is revalidated with its ETag.
//!
//! Debug builds read the files from disk at request time (rust-embed's default), so a rebuilt
//! UI shows up without recompiling the server. A build without `dist/` still compiles and
//! serves a page that says how to build the UI.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::{EmbeddedFile, RustEmbed};

use crate::ApiError;

#[derive(RustEmbed)]
// Relative to this crate's manifest (rust-embed expands `$VARS` only with a feature).
#[folder = "../../web-client/dist"]
#[allow_missing = true]
struct WebClient;

#[derive(RustEmbed)]
#[folder = "../../admin-ui/dist"]
#[allow_missing = true]
struct AdminUi;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Fallback for every path no route claimed: API paths get a JSON 404, the rest the web client.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path == "/api" || path.starts_with("/health/") {
        return ApiError::new(parley_types::ErrorCode::NotFound, "no such endpoint").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(parley_types::ErrorCode::NotFound, "no such endpoint").into_response();
    }
    if path == "/admin" || path.starts_with("/admin/") {
        let rest = path.trim_start_matches("/admin").trim_start_matches('/');
        return serve::<AdminUi>(rest, &headers, "admin-ui");
    }
    serve::<WebClient>(path.trim_start_matches('/'), &headers, "web-client")
}

fn serve<E: RustEmbed>(path: &str, headers: &HeaderMap, ui: &str) -> Response {
    if !path.is_empty()
        && let Some(file) = E::get(path)
    {
        let cache = if path.starts_with("assets/") { IMMUTABLE } else { REVALIDATE };
        return file_response(file, cache, headers);
    }
    // A missing asset is a real 404; anything else is a client-side route.
    if path.starts_with("assets/") || path.rsplit('/').next().is_some_and(|last| last.contains('.')) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match E::get("index.html") {
        Some(index) => file_response(index, REVALIDATE, headers),
        None => not_built(ui),
    }
}

fn file_response(file: EmbeddedFile, cache: &'static str, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mut response = if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = file.metadata.mimetype().to_owned();
        let mut r = Response::new(Body::from(file.data.into_owned()));
        if let Ok(v) = HeaderValue::from_str(&mime) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

fn not_built(ui: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Parley</title>\
         <h1>Parley is running, but this build has no {ui}</h1>\
         <p>The browser UI is built with Node.js and embedded when the server is compiled. \
         Build it with <code>cargo xtask run</code> (or <code>npm ci &amp;&amp; npm run build</code> \
         in <code>{ui}/</code>, then rebuild <code>parley</code>).</p>\
         <p>The chat API is under <code>/api</code> and the real-time protocol at <code>/api/ws</code>.</p>"
    );
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, axum::response::Html(body)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
