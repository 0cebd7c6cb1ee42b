//! Message and user search.

use axum::extract::{Query, State};
use serde::Deserialize;

use parley_types::api::{MessageSearchResults, Profile, SearchOrder};
use parley_types::{ChatId, ErrorCode};

use crate::extract::{Auth, number_param};
use crate::{ApiError, AppState};

type JsonResult<T> = Result<axum::Json<T>, ApiError>;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

/// Raw query parameters: all text, so that bad values get our error shape, not axum's.
#[derive(Deserialize)]
pub struct Params {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    chat_id: Option<String>,
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    offset: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, msg)
}

fn number(v: Option<&str>, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
    match number_param::<usize>(v, name) {
        Ok(n) if n.is_none_or(|n| n <= max) => Ok(n.unwrap_or(default)),
        _ => Err(invalid(format!("`{name}` must be a whole number from 0 to {max}"))),
    }
}

fn query_text(p: &Params) -> Result<String, ApiError> {
    match p.q.as_deref().map(str::trim) {
        Some(q) if !q.is_empty() => Ok(p.q.clone().unwrap_or_default()),
        _ => Err(invalid("`q` is required: type something to search for")),
    }
}

/// `GET /api/search/messages?q=&chat_id=&order=newest|best&offset=&limit=`
pub async fn messages(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(p): Query<Params>,
) -> JsonResult<MessageSearchResults> {
    let text = query_text(&p)?;
    let chat = match p.chat_id.as_deref() {
        None | Some("") => None,
        Some(c) => Some(ChatId::parse(c).map_err(|_| invalid("`chat_id` is not a chat ID"))?),
    };
    let order = match p.order.as_deref() {
        None | Some("") | Some("newest") => SearchOrder::Newest,
        Some("best") => SearchOrder::Best,
        Some(_) => return Err(invalid("`order` must be `newest` or `best`")),
    };
    let offset = number(p.offset.as_deref(), "offset", 0, 10_000)?;
    let limit = number(p.limit.as_deref(), "limit", DEFAULT_LIMIT, MAX_LIMIT)?.max(1);
    Ok(axum::Json(s.core.search_messages(&ctx, text, chat, order, offset, limit).await?))
}

/// `GET /api/search/users?q=&limit=`
pub async fn users(
    State(s): State<AppState>,
    Auth(ctx): Auth,
    Query(p): Query<Params>,
) -> JsonResult<Vec<Profile>> {
    let text = query_text(&p)?;
    let limit = number(p.limit.as_deref(), "limit", DEFAULT_LIMIT, MAX_LIMIT)?.max(1);
    Ok(axum::Json(s.core.search_users(&ctx, text, limit).await?))
}
