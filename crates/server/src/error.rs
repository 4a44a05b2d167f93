//! The one error type of the API, and the one table from error kind to HTTP
//! status and stable `code`. Every error answers
//! `{"code":"snake_case","message":"one sentence"}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_store::StoreError;

/// What went wrong, as scripts see it. The `code` strings are stable: add
/// new kinds, never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A query parameter, header or request shape cannot be used.
    BadRequest,
    /// The body is not JSON (or not the JSON content type).
    MalformedJson,
    /// The JSON has a field the route does not know.
    UnknownField,
    /// A value breaks a rule (a bad email, a number that is not one, …).
    InvalidValue,
    /// No, bad, revoked or expired credentials, or an inactive user.
    Unauthorized,
    /// Signed in, but the role may not do this.
    Forbidden,
    /// A cookie-authenticated write without the right `X-CSRF-Token`.
    CsrfFailed,
    NotFound,
    /// The thing exists already (an email, a label name).
    AlreadyExists,
    /// The record changed since the client read it (`If-Match`).
    EditConflict,
    /// The write would break another rule of the data.
    Conflict,
    PayloadTooLarge,
    RateLimited,
    Internal,
    /// The database cannot be reached; try again.
    Unavailable,
}

/// The table: kind → status and code.
const TABLE: &[(ErrorKind, StatusCode, &str)] = &[
    (
        ErrorKind::BadRequest,
        StatusCode::BAD_REQUEST,
        "bad_request",
    ),
    (
        ErrorKind::MalformedJson,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    ),
    (
        ErrorKind::UnknownField,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_field",
    ),
    (
        ErrorKind::InvalidValue,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
    ),
    (
        ErrorKind::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    ),
    (ErrorKind::Forbidden, StatusCode::FORBIDDEN, "forbidden"),
    (ErrorKind::CsrfFailed, StatusCode::FORBIDDEN, "csrf_failed"),
    (ErrorKind::NotFound, StatusCode::NOT_FOUND, "not_found"),
    (
        ErrorKind::AlreadyExists,
        StatusCode::CONFLICT,
        "already_exists",
    ),
    (
        ErrorKind::EditConflict,
        StatusCode::CONFLICT,
        "edit_conflict",
    ),
    (ErrorKind::Conflict, StatusCode::CONFLICT, "conflict"),
    (
        ErrorKind::PayloadTooLarge,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    ),
    (
        ErrorKind::RateLimited,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    ),
    (
        ErrorKind::Internal,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
    ),
    (
        ErrorKind::Unavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    ),
];

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        TABLE
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |(_, s, _)| *s)
    }
    pub fn code(self) -> &'static str {
        TABLE
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or("internal", |(_, _, c)| c)
    }
}

/// An API error: a kind and one sentence for people.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// Seconds, for `Retry-After` on 429 and 503.
    pub retry_after: Option<u64>,
}

/// The JSON body of every error.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code, e.g. `unauthorized`, `invalid_value`.
    pub code: String,
    /// One sentence: what is wrong, where, what to do.
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidValue, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(m) | StoreError::Stale(m) => ApiError::new(ErrorKind::Conflict, m),
            StoreError::Url(m) => ApiError::internal(m),
            StoreError::Database(m) => ApiError::internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        if status.is_server_error() {
            tracing::error!(code = self.kind.code(), "{}", self.message);
        }
        let body = ErrorBody {
            code: self.kind.code().to_string(),
            message: self.message,
        };
        let mut res = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// Cuts a value echoed in a message to at most 60 characters.
pub fn truncate(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        let mut s: String = value.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_in_the_table_once_and_codes_are_unique() {
        let mut codes: Vec<&str> = TABLE.iter().map(|(_, _, c)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len());
        for (k, s, c) in TABLE {
            assert_eq!(k.status(), *s);
            assert_eq!(k.code(), *c);
            assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }
}
