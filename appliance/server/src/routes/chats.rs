//! Chats, membership, messages, history, read marks and message info.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use parley_types::Seq;
use parley_types::api::{
    AddMemberRequest, ChatSummary, CreateDirectRequest, CreateGroupRequest, EditMessageRequest, HistoryPage,
    MarkReadRequest, MessageInfo, SendMessageRequest, UpdateGroupRequest,
};
use parley_types::protocol::{Message, ReceiptKind};

use crate::extract::{Auth, Json, chat_id, seq_param, user_id};
use crate::{ApiError, AppState};

type JsonResult<T> = Result<axum::Json<T>, ApiError>;

/// `GET /api/chats`
pub async fn list(State(s): State<AppState>, Auth(ctx): Auth) -> JsonResult<Vec<ChatSummary>> {
    Ok(axum::Json(s.core.chats(&ctx).await?))
}

/// `POST /api/chats/direct`
pub async fn create_direct(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<CreateDirectRequest>,
) -> JsonResult<ChatSummary> {
    Ok(axum::Json(s.core.create_direct(&ctx, &req.user_id).await?))
}

/// `POST /api/chats/group`
pub async fn create_group(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Json(req): Json<CreateGroupRequest>,
) -> Result<(StatusCode, axum::Json<ChatSummary>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.core.create_group(&ctx, req).await?)))
}

/// `GET /api/chats/{chat_id}`
pub async fn get(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(chat): Path<String>,
) -> JsonResult<ChatSummary> {
    Ok(axum::Json(s.core.chat(&ctx, &chat_id(&chat)?).await?))
}

/// `PATCH /api/chats/{chat_id}`
pub async fn update(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(chat): Path<String>,
    Json(req): Json<UpdateGroupRequest>,
) -> JsonResult<ChatSummary> {
    Ok(axum::Json(s.core.update_group(&ctx, &chat_id(&chat)?, req).await?))
}

/// `POST /api/chats/{chat_id}/members`
pub async fn add_member(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(chat): Path<String>,
    Json(req): Json<AddMemberRequest>,
) -> JsonResult<Message> {
    Ok(axum::Json(s.core.add_member(&ctx, &chat_id(&chat)?, &req.user_id).await?))
}

/// `DELETE /api/chats/{chat_id}/members/{user_id}`
pub async fn remove_member(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((chat, user)): Path<(String, String)>,
) -> JsonResult<Message> {
    Ok(axum::Json(s.core.remove_member(&ctx, &chat_id(&chat)?, &user_id(&user)?).await?))
}

/// `PUT /api/chats/{chat_id}/admins/{user_id}`
pub async fn promote(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((chat, user)): Path<(String, String)>,
) -> JsonResult<Message> {
    Ok(axum::Json(s.core.set_admin(&ctx, &chat_id(&chat)?, &user_id(&user)?, true).await?))
}

/// `DELETE /api/chats/{chat_id}/admins/{user_id}`
pub async fn demote(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((chat, user)): Path<(String, String)>,
) -> JsonResult<Message> {
    Ok(axum::Json(s.core.set_admin(&ctx, &chat_id(&chat)?, &user_id(&user)?, false).await?))
}

/// `POST /api/chats/{chat_id}/leave`
pub async fn leave(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(chat): Path<String>,
) -> JsonResult<Message> {
    Ok(axum::Json(s.core.leave(&ctx, &chat_id(&chat)?).await?))
}

/// `POST /api/chats/{chat_id}/read`
pub async fn mark_read(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(chat): Path<String>,
    Json(req): Json<MarkReadRequest>,
) -> Result<StatusCode, ApiError> {
    s.core.mark(&ctx, &chat_id(&chat)?, ReceiptKind::Read, req.seq).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    before: Option<Seq>,
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /api/chats/{chat_id}/messages?before=&limit=`: newest first.
pub async fn history(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(chat): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> JsonResult<HistoryPage> {
    Ok(axum::Json(s.core.history(&ctx, &chat_id(&chat)?, q.before, q.limit.unwrap_or(50)).await?))
}

/// `POST /api/chats/{chat_id}/messages`: the REST twin of the `send` frame.
pub async fn send(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path(chat): Path<String>,
    Json(req): Json<SendMessageRequest>,
) -> Result<(StatusCode, axum::Json<Message>), ApiError> {
    let m = s.core.send(&ctx, &chat_id(&chat)?, &req, None).await?;
    Ok((StatusCode::CREATED, axum::Json(m)))
}

/// `PATCH /api/chats/{chat_id}/messages/{seq}`
pub async fn edit(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((chat, seq)): Path<(String, String)>,
    Json(req): Json<EditMessageRequest>,
) -> JsonResult<Message> {
    Ok(axum::Json(s.core.edit(&ctx, &chat_id(&chat)?, seq_param(&seq)?, &req.text).await?))
}

/// `DELETE /api/chats/{chat_id}/messages/{seq}`: delete for everyone.
pub async fn delete(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((chat, seq)): Path<(String, String)>,
) -> JsonResult<Message> {
    Ok(axum::Json(s.core.delete(&ctx, &chat_id(&chat)?, seq_param(&seq)?).await?))
}

/// `GET /api/chats/{chat_id}/messages/{seq}/info`
pub async fn info(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Path((chat, seq)): Path<(String, String)>,
) -> JsonResult<MessageInfo> {
    Ok(axum::Json(s.core.message_info(&ctx, &chat_id(&chat)?, seq_param(&seq)?).await?))
}
