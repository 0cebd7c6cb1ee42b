//! Account administration for the console: list, create, edit, reset passwords, grant and
//! revoke the admin role. Every action checks the admin role and is audited.

use parley_store::records::UserRec;
use parley_types::UserId;
use parley_types::api::{
    AdminCreateUserRequest, AdminCreatedUser, AdminUpdateUserRequest, AdminUser, AdminUserPage,
    TemporaryPassword, UpdateProfileRequest,
};

use crate::error::{CoreError, Result};
use crate::{AuthContext, Core, NewUser, convert, passwords, tokens};

/// Which users `GET /api/admin/users` lists, and in which order.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub q: Option<String>,
    /// `all`, `active`, `disabled` or `admins`.
    pub status: String,
    /// `username`, `display_name`, `created_at` or `last_seen`.
    pub sort: String,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

fn admin_user(u: &UserRec) -> Result<AdminUser> {
    Ok(AdminUser {
        profile: convert::profile(u, true)?,
        disabled: u.disabled,
        created_at: u.created_at,
        last_seen: u.last_seen,
    })
}

/// A temporary password: long and random, shown once.
fn temporary_password() -> String {
    tokens::random_code(16)
}

impl Core {
    /// `GET /api/admin/users`
    pub async fn admin_users(&self, ctx: &AuthContext, q: UserQuery) -> Result<AdminUserPage> {
        self.require_admin(ctx).await?;
        let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let (total, rows) = self
            .inner
            .store
            .admin_users_page(text, &q.status, &q.sort, q.descending, q.offset, q.limit.clamp(1, 200))
            .await?;
        let users = rows.iter().map(admin_user).collect::<Result<_>>()?;
        Ok(AdminUserPage { total, offset: q.offset, users })
    }

    /// `POST /api/admin/users`
    pub async fn admin_create_user(
        &self,
        ctx: &AuthContext,
        req: AdminCreateUserRequest,
    ) -> Result<AdminCreatedUser> {
        self.require_admin(ctx).await?;
        let generated = req.password.is_none().then(temporary_password);
        let password = req.password.clone().or_else(|| generated.clone()).unwrap_or_default();
        let p = self
            .create_user(NewUser {
                username: req.username,
                password,
                display_name: req.display_name,
                email: req.email,
                phone: req.phone,
                is_admin: req.is_admin,
            })
            .await?;
        let details = serde_json::json!({ "admin": req.is_admin, "temporary_password": generated.is_some() });
        self.inner.audit_by(ctx, "user.created", Some(p.user_id.to_string()), details).await;
        let user = admin_user(&self.user_rec(&p.user_id).await?)?;
        Ok(AdminCreatedUser { user, temporary_password: generated })
    }

    /// `PATCH /api/admin/users/{user_id}`
    pub async fn admin_update_user(
        &self,
        ctx: &AuthContext,
        user: &UserId,
        req: AdminUpdateUserRequest,
    ) -> Result<AdminUser> {
        self.require_admin(ctx).await?;
        let changed: Vec<&str> = [
            ("display_name", req.display_name.is_some()),
            ("about", req.about.is_some()),
            ("email", req.email.is_some()),
            ("phone", req.phone.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        if changed.is_empty() {
            return Err(CoreError::invalid("nothing to change"));
        }
        let update = UpdateProfileRequest {
            display_name: req.display_name,
            about: req.about,
            email: req.email,
            phone: req.phone,
            last_seen_visibility: None,
        };
        let (_, u) = self.apply_profile_update(user, update).await?;
        self.inner
            .audit_by(ctx, "user.updated", Some(user.to_string()), serde_json::json!({ "fields": changed }))
            .await;
        admin_user(&u)
    }

    /// `POST /api/admin/users/{user_id}/reset-password`: a new temporary password; every
    /// session of the user ends.
    pub async fn admin_reset_password(&self, ctx: &AuthContext, user: &UserId) -> Result<TemporaryPassword> {
        self.require_admin(ctx).await?;
        let old = self.user_rec(user).await?;
        let password = temporary_password();
        let mut u = old.clone();
        u.password_hash = Some(passwords::hash(password.clone()).await?);
        self.inner.store.update_user(&old, &u).await?;
        self.revoke_all(user, None, "password reset by an administrator").await?;
        self.inner.audit_by(ctx, "user.password_reset", Some(user.to_string()), serde_json::json!({})).await;
        Ok(TemporaryPassword { temporary_password: password })
    }

    /// `PUT/DELETE /api/admin/users/{user_id}/admin`: the last active admin keeps the role.
    pub async fn admin_set_role(&self, ctx: &AuthContext, user: &UserId, admin: bool) -> Result<AdminUser> {
        self.require_admin(ctx).await?;
        let old = self.user_rec(user).await?;
        if old.is_admin == admin {
            return admin_user(&old);
        }
        if !admin && !old.disabled && self.inner.store.count_admins().await? <= 1 {
            return Err(CoreError::LastAdmin);
        }
        let mut u = old.clone();
        u.is_admin = admin;
        self.inner.store.update_user(&old, &u).await?;
        let action = if admin { "user.admin_granted" } else { "user.admin_revoked" };
        self.inner.audit_by(ctx, action, Some(user.to_string()), serde_json::json!({})).await;
        admin_user(&u)
    }
}
