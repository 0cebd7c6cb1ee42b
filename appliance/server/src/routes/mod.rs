//! REST routes, one function per endpoint, grouped by resource.

mod admin;
mod auth;
mod chats;
mod health;
mod media;
mod search;
mod users;

use axum::Router;
use axum::routing::{delete, get, patch, post, put};

use crate::AppState;

pub use media::COOKIE as MEDIA_COOKIE;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/refresh", post(auth::refresh))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/logout-all", post(auth::logout_all))
        .route("/api/auth/password", post(auth::change_password))
        .route("/api/me", get(users::me).patch(users::update_me))
        .route("/api/users/lookup", get(users::lookup))
        .route("/api/users/{user_id}", get(users::profile))
        .route("/api/contacts", get(users::contacts))
        .route("/api/contacts/{user_id}", put(users::add_contact).delete(users::remove_contact))
        .route("/api/chats", get(chats::list))
        .route("/api/chats/direct", post(chats::create_direct))
        .route("/api/chats/group", post(chats::create_group))
        .route("/api/chats/{chat_id}", get(chats::get).patch(chats::update))
        .route("/api/chats/{chat_id}/members", post(chats::add_member))
        .route("/api/chats/{chat_id}/members/{user_id}", delete(chats::remove_member))
        .route("/api/chats/{chat_id}/admins/{user_id}", put(chats::promote).delete(chats::demote))
        .route("/api/chats/{chat_id}/leave", post(chats::leave))
        .route("/api/chats/{chat_id}/read", post(chats::mark_read))
        .route("/api/chats/{chat_id}/messages", get(chats::history).post(chats::send))
        .route("/api/chats/{chat_id}/messages/{seq}", patch(chats::edit).delete(chats::delete))
        .route("/api/chats/{chat_id}/messages/{seq}/info", get(chats::info))
        .route("/api/webtransport", get(health::webtransport))
        .route("/api/media", post(media::upload))
        .route("/api/media/cookie", post(media::cookie))
        .route("/api/media/{media_id}", get(media::download))
        .route("/api/media/{media_id}/thumbnail", get(media::thumbnail))
        .route("/api/me/avatar", put(media::set_my_avatar).delete(media::clear_my_avatar))
        .route("/api/chats/{chat_id}/avatar", put(media::set_group_avatar).delete(media::clear_group_avatar))
        .route("/api/search/messages", get(search::messages))
        .route("/api/search/users", get(search::users))
        .route("/api/admin/users", get(admin::users).post(admin::create_user))
        .route("/api/admin/users/{user_id}", patch(admin::update_user).delete(admin::delete_user))
        .route("/api/admin/users/{user_id}/reset-password", post(admin::reset_password))
        .route("/api/admin/users/{user_id}/admin", put(admin::grant_admin).delete(admin::revoke_admin))
        .route("/api/admin/users/{user_id}/disable", post(admin::disable))
        .route("/api/admin/users/{user_id}/enable", post(admin::enable))
        .route("/api/admin/invites", get(admin::invites).post(admin::create_invite))
        .route("/api/admin/invites/{code}", delete(admin::revoke_invite))
        .route("/api/admin/audit", get(admin::audit))
        .route("/api/admin/directory", get(admin::directory))
        .route("/api/admin/units", post(admin::create_unit))
        .route("/api/admin/units/{id}", patch(admin::rename_unit).delete(admin::delete_unit))
        .route("/api/admin/groups", post(admin::create_group))
        .route("/api/admin/groups/{id}", patch(admin::update_group).delete(admin::delete_group))
        .route(
            "/api/admin/groups/{id}/members/{user_id}",
            put(admin::add_group_member).delete(admin::remove_group_member),
        )
        .route("/api/admin/groups/{id}/chat", post(admin::group_chat))
        .route("/api/admin/ldap", get(admin::ldap).put(admin::update_ldap))
        .route("/api/admin/ldap/test", post(admin::test_ldap))
        .route("/api/admin/ldap/sync", post(admin::sync_ldap))
        .route("/api/admin/backups", get(admin::backups).post(admin::create_backup))
        .route("/api/admin/backups/schedule", put(admin::backup_schedule))
        .route("/api/admin/backups/{name}", get(admin::download_backup).delete(admin::delete_backup))
        .route("/api/admin/backups/{name}/restore", post(admin::restore_backup))
        .route("/api/admin/stats", get(admin::stats))
        .route("/api/admin/federation", get(admin::federation))
        .route("/api/admin/federation/invites", post(admin::federation_invite))
        .route("/api/admin/federation/peers", post(admin::federation_accept))
        .route("/api/admin/federation/peers/{name}", delete(admin::federation_revoke))
        .route("/api/admin/settings", get(admin::settings).patch(admin::update_settings))
        .fallback(crate::ui::fallback)
}
