//! The first admin routes (the console comes with the admin issue): disabling accounts and
//! invites for the invite-only policy.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use parley_types::api::{CreateInviteRequest, Invite, Profile};

use crate::extract::{Auth, Json, user_id};
use crate::{ApiError, AppState};

/// `POST /api/admin/users/{user_id}/disable`: revokes the user's sessions and closes sockets.
pub async fn disable(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<Profile>, ApiError> {
    Ok(axum::Json(s.core.set_disabled(&ctx, &user_id(&id)?, true).await?))
}

/// `POST /api/admin/users/{user_id}/enable`
pub async fn enable(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<Profile>, ApiError> {
    Ok(axum::Json(s.core.set_disabled(&ctx, &user_id(&id)?, false).await?))
}

/// `POST /api/admin/invites`
pub async fn create_invite(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<CreateInviteRequest>,
) -> Result<(StatusCode, axum::Json<Invite>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.core.create_invite(&ctx, req).await?)))
}
