//! Profiles, user lookup and contacts.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use parley_types::api::{Contact, Profile, UpdateProfileRequest};

use crate::extract::{Auth, Json, user_id};
use crate::{ApiError, AppState};

type JsonResult<T> = Result<axum::Json<T>, ApiError>;

/// `GET /api/me`
pub async fn me(State(s): State<AppState>, Auth(ctx): Auth) -> JsonResult<Profile> {
    Ok(axum::Json(s.core.me(&ctx).await?))
}

/// `PATCH /api/me`
pub async fn update_me(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<UpdateProfileRequest>,
) -> JsonResult<Profile> {
    Ok(axum::Json(s.core.update_profile(&ctx, req).await?))
}

/// `GET /api/users/{user_id}`
pub async fn profile(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> JsonResult<Profile> {
    Ok(axum::Json(s.core.profile(&ctx, &user_id(&id)?).await?))
}

#[derive(Deserialize)]
pub struct LookupQuery {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// `GET /api/users/lookup?username=|email=|phone=`: exact match.
pub async fn lookup(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(q): Query<LookupQuery>,
) -> JsonResult<Profile> {
    let query = q
        .username
        .or(q.email)
        .or(q.phone)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("give username, email or phone"))?;
    Ok(axum::Json(s.core.lookup(&ctx, &query).await?))
}

/// `GET /api/contacts`
pub async fn contacts(State(s): State<AppState>, Auth(ctx): Auth) -> JsonResult<Vec<Contact>> {
    Ok(axum::Json(s.core.contacts(&ctx).await?))
}

/// `PUT /api/contacts/{user_id}`
pub async fn add_contact(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core.add_contact(&ctx, &user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/contacts/{user_id}`
pub async fn remove_contact(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core.remove_contact(&ctx, &user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
