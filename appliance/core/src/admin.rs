//! Account administration for the console: list, create, edit, reset passwords, grant and
//! revoke the admin role. Every action checks the admin role and is audited.

use parley_store::records::UserRec;
use parley_types::api::{
    AdminCreateUserRequest, AdminCreatedUser, AdminUpdateUserRequest, AdminUser, AdminUserPage, InviteInfo,
    InviteList, TemporaryPassword, UpdateProfileRequest,
};
use parley_types::{UserId, now_millis};

use crate::directory::DirectoryIndex;
use crate::error::{CoreError, Result};
use crate::writer::Op;
use crate::{AuthContext, Core, NewUser, convert, passwords, tokens};

/// Which users `GET /api/admin/users` lists, and in which order.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub q: Option<String>,
    /// Only users of this unit.
    pub unit: Option<String>,
    /// `all`, `active`, `disabled` or `admins`.
    pub status: String,
    /// `username`, `display_name`, `created_at` or `last_seen`.
    pub sort: String,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

fn admin_user(u: &UserRec, dir: &DirectoryIndex) -> Result<AdminUser> {
    Ok(AdminUser {
        profile: convert::profile(u, true)?,
        disabled: u.disabled,
        created_at: u.created_at,
        last_seen: u.last_seen,
        source: if u.is_ldap() { "ldap" } else { "local" }.to_owned(),
        unit_id: u.unit_id.clone(),
        unit_path: u.unit_id.as_deref().map(|id| dir.path(id)).unwrap_or_default(),
        title: u.title.clone(),
        groups: dir.groups_of(&u.user_id),
    })
}

fn not_for_directory_users() -> CoreError {
    CoreError::Conflict("this user logs in with their directory (LDAP) password; change it there".into())
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
            .admin_users_page(
                &parley_store::UserFilter {
                    q: text,
                    unit: q.unit.as_deref(),
                    status: &q.status,
                    sort: &q.sort,
                    descending: q.descending,
                },
                q.offset,
                q.limit.clamp(1, 200),
            )
            .await?;
        let dir = self.directory_index().await?;
        let users = rows.iter().map(|u| admin_user(u, &dir)).collect::<Result<_>>()?;
        Ok(AdminUserPage { total, offset: q.offset, users })
    }

    /// `POST /api/admin/users`
    pub async fn admin_create_user(
        &self,
        ctx: &AuthContext,
        req: AdminCreateUserRequest,
    ) -> Result<AdminCreatedUser> {
        self.require_admin(ctx).await?;
        let unit_id = self.check_unit(req.unit_id.as_deref()).await?;
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
                unit_id,
                title: req.title.as_deref().map(clean_title).transpose()?.flatten(),
                directory: None,
            })
            .await?;
        let details = serde_json::json!({ "admin": req.is_admin, "temporary_password": generated.is_some() });
        self.inner.audit_by(ctx, "user.created", Some(p.user_id.to_string()), details).await;
        let user = self.admin_user_view(&p.user_id).await?;
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
            ("unit_id", req.unit_id.is_some()),
            ("title", req.title.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        if changed.is_empty() {
            return Err(CoreError::invalid("nothing to change"));
        }
        let unit = match &req.unit_id {
            Some(id) => Some(self.check_unit(Some(id)).await?),
            None => None,
        };
        let title = req.title.as_deref().map(clean_title).transpose()?;
        let update = UpdateProfileRequest {
            display_name: req.display_name,
            about: req.about,
            email: req.email,
            phone: req.phone,
            last_seen_visibility: None,
        };
        let profile_changed = changed.iter().any(|f| !matches!(*f, "unit_id" | "title"));
        if profile_changed {
            self.apply_profile_update(user, update).await?;
        }
        if unit.is_some() || title.is_some() {
            let old = self.user_rec(user).await?;
            let mut u = old.clone();
            if let Some(unit) = unit {
                u.unit_id = unit;
            }
            if let Some(title) = title {
                u.title = title;
            }
            self.inner.store.update_user(&old, &u).await?;
        }
        self.inner
            .audit_by(ctx, "user.updated", Some(user.to_string()), serde_json::json!({ "fields": changed }))
            .await;
        self.admin_user_view(user).await
    }

    async fn admin_user_view(&self, user: &UserId) -> Result<AdminUser> {
        let dir = self.directory_index().await?;
        admin_user(&self.user_rec(user).await?, &dir)
    }

    /// Checks the admin's own password again before a destructive action.
    pub(crate) async fn reauthenticate(&self, ctx: &AuthContext, password: Option<&str>) -> Result<()> {
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Err(CoreError::ReauthRequired);
        };
        let me = self.user_rec(&ctx.user).await?;
        let ok = if me.is_ldap() {
            self.directory_password_ok(&me, password).await?
        } else {
            passwords::verify(password.to_owned(), me.password_hash.clone()).await?
        };
        if !ok {
            self.inner
                .audit_by(ctx, "admin.reauth_failed", Some(ctx.user.to_string()), serde_json::json!({}))
                .await;
            return Err(CoreError::ReauthRequired);
        }
        Ok(())
    }

    /// `DELETE /api/admin/users/{user_id}`: closes the account for good. Its messages stay in
    /// their chats (shown as from "Deleted user"); its email and phone are freed (the username
    /// is its address, so it stays reserved); it leaves every group chat and directory group;
    /// its profile picture is released for collection.
    pub async fn admin_delete_user(
        &self,
        ctx: &AuthContext,
        user: &UserId,
        password: Option<&str>,
    ) -> Result<()> {
        self.require_admin(ctx).await?;
        self.reauthenticate(ctx, password).await?;
        if user == &ctx.user {
            return Err(CoreError::invalid("you cannot delete your own account"));
        }
        let old = self.user_rec(user).await?;
        if old.is_deleted() {
            return Err(CoreError::NotFound("user"));
        }
        if old.is_admin && !old.disabled && self.inner.store.count_admins().await? <= 1 {
            return Err(CoreError::LastAdmin);
        }
        // Sessions first, so nothing the user does races the rest.
        self.revoke_all(user, None, "account deleted").await?;
        self.leave_all_groups(user).await?;
        self.inner.store.remove_from_all_groups(user.as_str()).await?;
        let closed = UserRec {
            user_id: old.user_id.clone(),
            // The username is part of the user's ID (name@server): it stays, and stays taken.
            username: old.username.clone(),
            display_name: "Deleted user".into(),
            about: String::new(),
            is_admin: false,
            disabled: true,
            deleted: Some(true),
            last_seen_visibility: "nobody".into(),
            created_at: old.created_at,
            ..Default::default()
        };
        if let Some(avatar) = &old.avatar {
            let pic = parley_store::Picture::User;
            self.inner.store.set_picture(pic, user.as_str(), None, Some(avatar)).await?;
        }
        self.inner.store.close_user(&old, &closed).await?;
        self.inner.wake_media_gc();
        self.inner.index_user(&closed);
        let details = serde_json::json!({ "username": old.username, "source": closed.source });
        self.inner.audit_by(ctx, "user.deleted", Some(user.to_string()), details).await;
        Ok(())
    }

    /// Takes a user out of every group chat; where they are the last admin, the longest
    /// serving other member is promoted first (a group needs an admin).
    async fn leave_all_groups(&self, user: &UserId) -> Result<()> {
        for m in self.inner.store.memberships(user.as_str()).await? {
            let Ok(chat) = parley_types::ChatId::parse(&m.chat_id) else { continue };
            let Some(state) = self.inner.chat_state(&chat).await? else { continue };
            if state.kind != parley_types::api::ChatKind::Group || state.member(user).is_none() {
                continue;
            }
            let admin = parley_types::api::Role::Admin;
            let other_admin = state.members.iter().any(|(u, m)| u != user && m.role == admin);
            let user_is_admin = state.member(user).is_some_and(|m| m.role == admin);
            if user_is_admin && !other_admin {
                let successor =
                    state.members.iter().filter(|(u, _)| *u != user).min_by_key(|(_, m)| m.joined_seq);
                if let Some((next, _)) = successor {
                    let op = Op::SetRole {
                        chat: chat.clone(),
                        actor: user.clone(),
                        user: next.clone(),
                        admin: true,
                    };
                    self.inner.submit(op, None).await?;
                }
            }
            match self.inner.submit(Op::Leave { chat: chat.clone(), user: user.clone() }, None).await {
                // The last member of a group cannot hand it over; leaving it as is harms no one.
                Ok(_) | Err(CoreError::LastAdmin) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `GET /api/admin/invites`
    pub async fn invites(&self, ctx: &AuthContext) -> Result<InviteList> {
        self.require_admin(ctx).await?;
        let now = now_millis();
        let invites = self
            .inner
            .store
            .invites()
            .await?
            .into_iter()
            .map(|i| InviteInfo {
                expired: i.expires_at <= now || i.uses_left <= 0,
                code: i.code,
                created_at: i.created_at,
                created_by: i.created_by,
                expires_at: i.expires_at,
                uses_left: i.uses_left.max(0) as u32,
                max_uses: i.max_uses.map(|m| m.max(0) as u32),
            })
            .collect();
        Ok(InviteList { invites })
    }

    /// `DELETE /api/admin/invites/{code}`
    pub async fn revoke_invite(&self, ctx: &AuthContext, code: &str) -> Result<()> {
        self.require_admin(ctx).await?;
        if !self.inner.store.delete_invite(code).await? {
            return Err(CoreError::NotFound("invite"));
        }
        self.inner.audit_by(ctx, "invite.revoked", None, serde_json::json!({})).await;
        Ok(())
    }

    /// `POST /api/admin/users/{user_id}/reset-password`: a new temporary password; every
    /// session of the user ends.
    pub async fn admin_reset_password(&self, ctx: &AuthContext, user: &UserId) -> Result<TemporaryPassword> {
        self.require_admin(ctx).await?;
        let old = self.user_rec(user).await?;
        if old.is_ldap() {
            return Err(not_for_directory_users());
        }
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
            return self.admin_user_view(user).await;
        }
        if !admin && !old.disabled && self.inner.store.count_admins().await? <= 1 {
            return Err(CoreError::LastAdmin);
        }
        let mut u = old.clone();
        u.is_admin = admin;
        self.inner.store.update_user(&old, &u).await?;
        let action = if admin { "user.admin_granted" } else { "user.admin_revoked" };
        self.inner.audit_by(ctx, action, Some(user.to_string()), serde_json::json!({})).await;
        self.admin_user_view(user).await
    }
}

/// A job title: at most 100 characters; blank clears it.
fn clean_title(t: &str) -> Result<Option<String>> {
    let t = t.trim();
    if t.chars().count() > 100 {
        return Err(CoreError::invalid("title must be at most 100 characters"));
    }
    Ok((!t.is_empty()).then(|| t.to_owned()))
}
