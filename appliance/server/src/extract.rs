//! Extractors: the authenticated caller, the client IP (honouring X-Forwarded-For only from
//! trusted proxies), JSON bodies and typed path IDs with our error shape on rejection.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use parley_core::AuthContext;
use parley_types::{ChatId, ErrorCode, UserId};

use crate::{ApiError, AppState};

/// The caller, from `Authorization: Bearer <access token>` of a live session.
pub struct Auth(pub AuthContext);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "missing bearer token"))?;
        let mut ctx = state.core.authenticate(token.trim()).await?;
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        ctx.ip = Some(ip.to_string());
        Ok(Auth(ctx))
    }
}

/// The caller for media downloads: the bearer header, or the media cookie that
/// `POST /api/media/cookie` set (`<img>` and `<video>` cannot send headers).
pub struct MediaAuth(pub AuthContext);

impl FromRequestParts<AppState> for MediaAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Auth::from_request_parts(parts, state).await.map(|Auth(c)| MediaAuth(c));
        }
        let prefix = format!("{}=", crate::routes::MEDIA_COOKIE);
        let token = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(prefix.as_str()))
            .ok_or_else(|| {
                ApiError::new(ErrorCode::Unauthenticated, "missing bearer token or media cookie")
            })?;
        Ok(MediaAuth(state.core.authenticate(token.trim()).await?))
    }
}

/// The client's IP address.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Ok(ClientIp(client_ip(
            peer,
            parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
            state,
        )))
    }
}

/// Walks X-Forwarded-For from the right while hops are trusted proxies; the first untrusted
/// address is the client. Without a trusted peer the header is ignored (it is forgeable).
fn client_ip(peer: IpAddr, xff: Option<&str>, state: &AppState) -> IpAddr {
    let trusted = |ip: &IpAddr| state.trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    if let Some(xff) = xff {
        for hop in xff.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !trusted(&ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    client
}

/// A JSON body whose rejection uses our error shape.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

fn json_rejection(e: JsonRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorCode::PayloadTooLarge, "request body too large");
    }
    ApiError::invalid(e.body_text())
}

pub fn chat_id(s: &str) -> Result<ChatId, ApiError> {
    ChatId::parse(s).map_err(|e| ApiError::invalid(format!("bad chat id: {e}")))
}

pub fn user_id(s: &str) -> Result<UserId, ApiError> {
    UserId::parse(s).map_err(|e| ApiError::invalid(format!("bad user id: {e}")))
}

/// An optional numeric query parameter; blank counts as absent. Query strings are parsed by
/// hand (all fields `Option<String>`) so bad values get our error shape, not axum's.
pub fn number_param<T: std::str::FromStr>(v: Option<&str>, name: &str) -> Result<Option<T>, ApiError> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => {
            s.parse().map(Some).map_err(|_| ApiError::invalid(format!("`{name}` must be a whole number")))
        }
    }
}

/// An optional text query parameter, trimmed; blank counts as absent.
pub fn text_param(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub fn seq_param(s: &str) -> Result<parley_types::Seq, ApiError> {
    s.parse().map_err(|_| ApiError::invalid("seq must be a positive integer"))
}
