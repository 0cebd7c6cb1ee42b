//! Uploads, downloads (with ranges) and profile/group pictures.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use parley_core::media::MediaFile;
use parley_types::api::{ChatSummary, Profile, SetAvatarRequest};
use parley_types::protocol::Media;
use parley_types::{ErrorCode, MediaId};

use crate::extract::{Auth, Json, MediaAuth, chat_id};
use crate::{ApiError, AppState};

/// The cookie that lets `<img>`/`<video>` fetch media (they cannot send bearer headers).
pub const COOKIE: &str = "parley_media";

#[derive(Deserialize)]
pub struct UploadParams {
    #[serde(default)]
    name: Option<String>,
}

fn media_id(s: &str) -> Result<MediaId, ApiError> {
    MediaId::parse(s).map_err(|_| ApiError::new(ErrorCode::NotFound, "no such media"))
}

/// `POST /api/media?name=FILE`: the body is the file's bytes.
pub async fn upload(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(p): Query<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<Media>), ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let name = p.name.unwrap_or_default();
    let media = s.core.upload_media(&ctx, &name, declared, body.into_data_stream()).await?;
    Ok((StatusCode::CREATED, axum::Json(media)))
}

/// `GET /api/media/{media_id}`: the file, with range requests.
pub async fn download(
    State(s): State<AppState>,
    MediaAuth(ctx): MediaAuth,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let file = s.core.media_file(&ctx, &media_id(&id)?, false).await?;
    serve(file, req).await
}

/// `GET /api/media/{media_id}/thumbnail`: a JPEG of at most 320 px for images.
pub async fn thumbnail(
    State(s): State<AppState>,
    MediaAuth(ctx): MediaAuth,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let file = s.core.media_file(&ctx, &media_id(&id)?, true).await?;
    serve(file, req).await
}

async fn serve(file: MediaFile, req: Request) -> Result<Response, ApiError> {
    let mime = file.mime.parse().unwrap_or(mime_octet());
    let res = ServeFile::new_with_mime(&file.path, &mime)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("media storage: {e}")))?;
    if res.status() == StatusCode::NOT_FOUND {
        return Err(ApiError::new(ErrorCode::NotFound, "the file is missing from storage"));
    }
    let mut res = res.map(Body::new);
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Even if a browser opened it as a page, nothing in it could run or load anything.
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    // Content-addressed and access-checked: private caches may keep it.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    let ascii: String = file
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' })
        .collect();
    let disposition = format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        if file.inline { "inline" } else { "attachment" },
        utf8_percent_encode(&file.name, NON_ALPHANUMERIC)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

fn mime_octet() -> mime::Mime {
    mime::APPLICATION_OCTET_STREAM
}

/// `POST /api/media/cookie`: sets the media cookie from the bearer token.
pub async fn cookie(State(s): State<AppState>, Auth(_ctx): Auth, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim()
        .to_owned();
    let secure = if s.core.settings().tls_enabled() { "; Secure" } else { "" };
    let ttl = s.core.settings().auth.access_token_ttl_secs;
    let value =
        format!("{COOKIE}={token}; Path=/api/media; HttpOnly; SameSite=Strict; Max-Age={ttl}{secure}");
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// `PUT /api/me/avatar`
pub async fn set_my_avatar(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<SetAvatarRequest>,
) -> Result<axum::Json<Profile>, ApiError> {
    Ok(axum::Json(s.core.set_my_avatar(&ctx, Some(&req.media_id)).await?))
}

/// `DELETE /api/me/avatar`
pub async fn clear_my_avatar(
    State(s): State<AppState>,
    Auth(ctx): Auth,
) -> Result<axum::Json<Profile>, ApiError> {
    Ok(axum::Json(s.core.set_my_avatar(&ctx, None).await?))
}

/// `PUT /api/chats/{chat_id}/avatar`
pub async fn set_group_avatar(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(chat): Path<String>,
    Json(req): Json<SetAvatarRequest>,
) -> Result<axum::Json<ChatSummary>, ApiError> {
    Ok(axum::Json(s.core.set_group_avatar(&ctx, &chat_id(&chat)?, Some(&req.media_id)).await?))
}

/// `DELETE /api/chats/{chat_id}/avatar`
pub async fn clear_group_avatar(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(chat): Path<String>,
) -> Result<axum::Json<ChatSummary>, ApiError> {
    Ok(axum::Json(s.core.set_group_avatar(&ctx, &chat_id(&chat)?, None).await?))
}
