//! Registration, login, token refresh, logout and password change.

use axum::extract::State;
use axum::http::StatusCode;

use parley_types::api::{
    ChangePasswordRequest, LoginRequest, RefreshRequest, RegisterRequest, TokenResponse,
};

use crate::extract::{Auth, ClientIp, Json};
use crate::{ApiError, AppState};

type JsonResult<T> = Result<axum::Json<T>, ApiError>;

/// `POST /api/auth/register`
pub async fn register(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<TokenResponse>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.core.register(req, &ip.to_string()).await?)))
}

/// `POST /api/auth/login`
pub async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> JsonResult<TokenResponse> {
    Ok(axum::Json(s.core.login(req, &ip.to_string()).await?))
}

/// `POST /api/auth/refresh`
pub async fn refresh(
    State(s): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> JsonResult<TokenResponse> {
    Ok(axum::Json(s.core.refresh(&req.refresh_token).await?))
}

/// `POST /api/auth/logout`
pub async fn logout(State(s): State<AppState>, Auth(ctx): Auth) -> Result<StatusCode, ApiError> {
    s.core.logout(&ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/logout-all`
pub async fn logout_all(State(s): State<AppState>, Auth(ctx): Auth) -> Result<StatusCode, ApiError> {
    s.core.logout_all(&ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/password`
pub async fn change_password(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    s.core.change_password(&ctx, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
