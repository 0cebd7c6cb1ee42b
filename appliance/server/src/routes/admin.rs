//! The first admin routes (the console comes with the admin issue): disabling accounts and
//! invites for the invite-only policy.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use parley_core::AuditFilter;
use parley_core::admin::UserQuery;
use parley_types::ErrorCode;
use parley_types::api::{
    AdminCreateUserRequest, AdminCreatedUser, AdminUpdateUserRequest, AdminUser, AdminUserPage, AuditPage,
    CreateInviteRequest, Invite, Profile, TemporaryPassword,
};

use crate::extract::{Auth, Json, number_param, text_param, user_id};
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

#[derive(serde::Deserialize)]
pub struct AuditParams {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    offset: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// `GET /api/admin/audit?actor=&action=&from=&to=&offset=&limit=` (times in ms), newest first.
pub async fn audit(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(p): Query<AuditParams>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let filter = AuditFilter {
        actor: text_param(p.actor),
        action: text_param(p.action),
        from: number_param(p.from.as_deref(), "from")?,
        to: number_param(p.to.as_deref(), "to")?,
    };
    let offset = number_param::<usize>(p.offset.as_deref(), "offset")?.unwrap_or(0).min(1_000_000);
    let limit = number_param::<usize>(p.limit.as_deref(), "limit")?.unwrap_or(50);
    Ok(axum::Json(s.core.audit_log(&ctx, filter, offset, limit).await?))
}

#[derive(serde::Deserialize)]
pub struct UserParams {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    offset: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// `GET /api/admin/users?q=&status=all|active|disabled|admins&sort=username|display_name|created_at|last_seen&order=asc|desc&offset=&limit=`
pub async fn users(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(p): Query<UserParams>,
) -> Result<axum::Json<AdminUserPage>, ApiError> {
    let invalid = |m: &str| ApiError::new(ErrorCode::InvalidInput, m.to_owned());
    let status = text_param(p.status).unwrap_or_else(|| "all".into());
    if !["all", "active", "disabled", "admins"].contains(&status.as_str()) {
        return Err(invalid("`status` must be all, active, disabled or admins"));
    }
    let sort = text_param(p.sort).unwrap_or_else(|| "username".into());
    if !["username", "display_name", "created_at", "last_seen"].contains(&sort.as_str()) {
        return Err(invalid("`sort` must be username, display_name, created_at or last_seen"));
    }
    let descending = match text_param(p.order).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(invalid("`order` must be asc or desc")),
    };
    let query = UserQuery {
        q: text_param(p.q),
        status,
        sort,
        descending,
        offset: number_param::<usize>(p.offset.as_deref(), "offset")?.unwrap_or(0).min(1_000_000),
        limit: number_param::<usize>(p.limit.as_deref(), "limit")?.unwrap_or(50),
    };
    Ok(axum::Json(s.core.admin_users(&ctx, query).await?))
}

/// `POST /api/admin/users`
pub async fn create_user(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<AdminCreateUserRequest>,
) -> Result<(StatusCode, axum::Json<AdminCreatedUser>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.core.admin_create_user(&ctx, req).await?)))
}

/// `PATCH /api/admin/users/{user_id}`
pub async fn update_user(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Json(req): Json<AdminUpdateUserRequest>,
) -> Result<axum::Json<AdminUser>, ApiError> {
    Ok(axum::Json(s.core.admin_update_user(&ctx, &user_id(&id)?, req).await?))
}

/// `POST /api/admin/users/{user_id}/reset-password`
pub async fn reset_password(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<TemporaryPassword>, ApiError> {
    Ok(axum::Json(s.core.admin_reset_password(&ctx, &user_id(&id)?).await?))
}

/// `PUT /api/admin/users/{user_id}/admin`
pub async fn grant_admin(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<AdminUser>, ApiError> {
    Ok(axum::Json(s.core.admin_set_role(&ctx, &user_id(&id)?, true).await?))
}

/// `DELETE /api/admin/users/{user_id}/admin`
pub async fn revoke_admin(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<AdminUser>, ApiError> {
    Ok(axum::Json(s.core.admin_set_role(&ctx, &user_id(&id)?, false).await?))
}
