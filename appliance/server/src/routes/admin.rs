//! The admin API (`/api/admin/...`, see `docs/admin-api.md`): users, invites, the directory,
//! LDAP, backups, the audit log, dashboard figures and runtime settings. The core checks the
//! admin role (and the password again for destructive actions) on every call.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use parley_core::AuditFilter;
use parley_core::admin::UserQuery;
use parley_core::stats::Stats;
use parley_types::ErrorCode;
use parley_types::api::{
    AdminCreateUserRequest, AdminCreatedUser, AdminUpdateUserRequest, AdminUser, AdminUserPage, AuditPage,
    BackupInfo, BackupList, BackupSchedule, CreateInviteRequest, CreateUnitRequest, DirectoryView, Group,
    GroupChat, GroupRequest, Invite, InviteList, LdapConfig, LdapConfigUpdate, Profile, Reauth,
    RenameRequest, RuntimeSettings, RuntimeSettingsUpdate, SyncReport, TemporaryPassword, Unit,
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
    target: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    offset: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// `GET /api/admin/audit?actor=&action=&target=&from=&to=&offset=&limit=` (times in ms), newest
/// first; an `action` ending in `.` is a prefix.
pub async fn audit(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(p): Query<AuditParams>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let filter = AuditFilter {
        actor: text_param(p.actor),
        action: text_param(p.action),
        target: text_param(p.target),
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
    #[serde(default)]
    unit: Option<String>,
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
        unit: text_param(p.unit),
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

/// A JSON body that may be absent (an empty body is `None`).
fn optional_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("invalid JSON body: {e}")))
}

/// `DELETE /api/admin/users/{user_id}` with `{"password": "..."}` (the admin's own).
pub async fn delete_user(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let password = optional_json::<Reauth>(&body)?.and_then(|b| b.password);
    s.core.admin_delete_user(&ctx, &user_id(&id)?, password.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/invites`
pub async fn invites(State(s): State<AppState>, Auth(ctx): Auth) -> Result<axum::Json<InviteList>, ApiError> {
    Ok(axum::Json(s.core.invites(&ctx).await?))
}

/// `DELETE /api/admin/invites/{code}`
pub async fn revoke_invite(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core.revoke_invite(&ctx, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/directory`
pub async fn directory(
    State(s): State<AppState>,
    Auth(ctx): Auth,
) -> Result<axum::Json<DirectoryView>, ApiError> {
    Ok(axum::Json(s.core.directory(&ctx).await?))
}

/// `POST /api/admin/units`
pub async fn create_unit(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<CreateUnitRequest>,
) -> Result<(StatusCode, axum::Json<Unit>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.core.create_unit(&ctx, req).await?)))
}

/// `PATCH /api/admin/units/{id}`
pub async fn rename_unit(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Json(req): Json<RenameRequest>,
) -> Result<axum::Json<Unit>, ApiError> {
    Ok(axum::Json(s.core.rename_unit(&ctx, &id, req).await?))
}

/// `DELETE /api/admin/units/{id}`
pub async fn delete_unit(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core.delete_unit(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/admin/groups`
pub async fn create_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<GroupRequest>,
) -> Result<(StatusCode, axum::Json<Group>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.core.create_dir_group(&ctx, req).await?)))
}

/// `PATCH /api/admin/groups/{id}`
pub async fn update_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    Json(req): Json<GroupRequest>,
) -> Result<axum::Json<Group>, ApiError> {
    Ok(axum::Json(s.core.update_dir_group(&ctx, &id, req).await?))
}

/// `DELETE /api/admin/groups/{id}`
pub async fn delete_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core.delete_dir_group(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/admin/groups/{id}/members/{user_id}`
pub async fn add_group_member(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, user)): Path<(String, String)>,
) -> Result<axum::Json<Group>, ApiError> {
    Ok(axum::Json(s.core.set_group_member(&ctx, &id, &user_id(&user)?, true).await?))
}

/// `DELETE /api/admin/groups/{id}/members/{user_id}`
pub async fn remove_group_member(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((id, user)): Path<(String, String)>,
) -> Result<axum::Json<Group>, ApiError> {
    Ok(axum::Json(s.core.set_group_member(&ctx, &id, &user_id(&user)?, false).await?))
}

/// `POST /api/admin/groups/{id}/chat`
pub async fn group_chat(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<GroupChat>, ApiError> {
    Ok(axum::Json(s.core.seed_group_chat(&ctx, &id).await?))
}

/// `GET /api/admin/ldap`
pub async fn ldap(State(s): State<AppState>, Auth(ctx): Auth) -> Result<axum::Json<LdapConfig>, ApiError> {
    Ok(axum::Json(s.core.ldap_config(&ctx).await?))
}

/// `PUT /api/admin/ldap`
pub async fn update_ldap(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<LdapConfigUpdate>,
) -> Result<axum::Json<LdapConfig>, ApiError> {
    Ok(axum::Json(s.core.update_ldap(&ctx, req).await?))
}

/// `POST /api/admin/ldap/test` with optional settings to try.
pub async fn test_ldap(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let settings =
        optional_json::<serde_json::Value>(&body)?.filter(|v| v.as_object().is_some_and(|o| !o.is_empty()));
    Ok(axum::Json(s.core.test_ldap(&ctx, settings).await?))
}

/// `POST /api/admin/ldap/sync`
pub async fn sync_ldap(
    State(s): State<AppState>,
    Auth(ctx): Auth,
) -> Result<axum::Json<SyncReport>, ApiError> {
    Ok(axum::Json(s.core.sync_ldap_now(&ctx).await?))
}

/// `GET /api/admin/backups`
pub async fn backups(State(s): State<AppState>, Auth(ctx): Auth) -> Result<axum::Json<BackupList>, ApiError> {
    Ok(axum::Json(s.core.backup_list(&ctx).await?))
}

/// `POST /api/admin/backups`
pub async fn create_backup(
    State(s): State<AppState>,
    Auth(ctx): Auth,
) -> Result<(StatusCode, axum::Json<BackupInfo>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.core.admin_create_backup(&ctx).await?)))
}

/// `GET /api/admin/backups/{name}`: the archive, as a download.
pub async fn download_backup(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let path = s.core.backup_path(&ctx, &name).await?;
    let mime = "application/gzip".parse().unwrap_or(mime::APPLICATION_OCTET_STREAM);
    let res = ServeFile::new_with_mime(&path, &mime)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("backup storage: {e}")))?;
    let mut res = res.map(Body::new);
    let disposition = format!("attachment; filename=\"{name}\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `DELETE /api/admin/backups/{name}`
pub async fn delete_backup(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.core.delete_backup(&ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/admin/backups/schedule`
pub async fn backup_schedule(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<BackupSchedule>,
) -> Result<axum::Json<BackupSchedule>, ApiError> {
    Ok(axum::Json(s.core.set_backup_schedule(&ctx, req).await?))
}

/// `POST /api/admin/backups/{name}/restore` with `{"password": "..."}`: staged; the appliance
/// restarts to apply it.
pub async fn restore_backup(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let password = optional_json::<Reauth>(&body)?.and_then(|b| b.password);
    s.core.stage_restore(&ctx, &name, password.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(serde_json::json!({ "restart": true }))))
}

/// `GET /api/admin/stats`
pub async fn stats(State(s): State<AppState>, Auth(ctx): Auth) -> Result<axum::Json<Stats>, ApiError> {
    Ok(axum::Json(s.core.stats(&ctx).await?))
}

/// `GET /api/admin/settings`
pub async fn settings(
    State(s): State<AppState>,
    Auth(ctx): Auth,
) -> Result<axum::Json<RuntimeSettings>, ApiError> {
    Ok(axum::Json(s.core.admin_settings(&ctx).await?))
}

/// `PATCH /api/admin/settings`
pub async fn update_settings(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<RuntimeSettingsUpdate>,
) -> Result<axum::Json<RuntimeSettings>, ApiError> {
    Ok(axum::Json(s.core.update_settings(&ctx, req).await?))
}

/// `GET /api/admin/federation`
pub async fn federation(
    State(s): State<AppState>,
    Auth(ctx): Auth,
) -> Result<axum::Json<parley_types::api::FederationInfo>, ApiError> {
    Ok(axum::Json(s.core.admin_federation(&ctx).await?))
}

/// `POST /api/admin/federation/invites` with `{"ttl_hours": 24}` (optional)
pub async fn federation_invite(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<parley_types::api::FederationInvite>), ApiError> {
    let req = optional_json::<parley_types::api::CreateFederationInviteRequest>(&body)?.unwrap_or_default();
    Ok((StatusCode::CREATED, axum::Json(s.core.admin_federation_invite(&ctx, req.ttl_hours).await?)))
}

/// `POST /api/admin/federation/peers` with `{"invite": "parley-fed:..."}`
pub async fn federation_accept(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<parley_types::api::AcceptFederationInviteRequest>,
) -> Result<(StatusCode, axum::Json<parley_types::api::FederationPeer>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.core.admin_federation_accept(&ctx, &req.invite).await?)))
}

/// `DELETE /api/admin/federation/peers/{name}` with `{"password": "..."}`
pub async fn federation_revoke(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let password = optional_json::<Reauth>(&body)?.and_then(|b| b.password);
    s.core.admin_federation_revoke(&ctx, &name, password.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
