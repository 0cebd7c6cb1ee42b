//! Maps core errors to HTTP: one JSON shape `{code, message}` with a stable code, and the
//! status chosen here and only here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use parley_core::CoreError;
use parley_types::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        if let CoreError::Store(inner) = &e {
            tracing::error!(error = %inner, "storage error");
        }
        if let CoreError::Internal(m) = &e {
            tracing::error!(error = %m, "internal error");
        }
        let retry_after = match &e {
            CoreError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        Self { code: e.code(), message: e.to_string(), retry_after }
    }
}

pub fn status(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidInput | MalformedFrame => StatusCode::BAD_REQUEST,
        Unauthenticated | SessionRevoked | InvalidCredentials | InvalidRefreshToken => {
            StatusCode::UNAUTHORIZED
        }
        AccountDisabled | Forbidden | NotMember | NotAdmin | RegistrationClosed | InviteInvalid
        | OriginNotAllowed | ReauthRequired => StatusCode::FORBIDDEN,
        NotFound => StatusCode::NOT_FOUND,
        LastAdmin | UsernameTaken | EmailTaken | PhoneTaken | Conflict => StatusCode::CONFLICT,
        RateLimited => StatusCode::TOO_MANY_REQUESTS,
        PayloadTooLarge | QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
        InvalidMedia | BackupInvalid => StatusCode::UNPROCESSABLE_ENTITY,
        DirectoryError | FederationError => StatusCode::BAD_GATEWAY,
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (status(self.code), axum::Json(ErrorBody { code: self.code, message: self.message }))
            .into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.code == ErrorCode::Unauthenticated || self.code == ErrorCode::SessionRevoked {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}
