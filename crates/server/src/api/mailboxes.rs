//! Mailboxes and the API door of mail capture: `GET|POST /api/mailboxes`,
//! `DELETE /api/mailboxes/{id}` (admins), and `POST
//! /api/mailboxes/{id}/messages` with a raw message (admins, or any API
//! token — what a mail server's script uses).

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use roster_mail::{CaptureError, CaptureScope, MessageError};
use roster_store::mail::Mailbox;
use roster_store::StoreError;
use utoipa::OpenApi;

use super::contacts::path_id;
use crate::auth::{Admin, Caller, Via};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorKind};
use crate::json::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/mailboxes", get(list).post(add))
        .route("/api/mailboxes/{id}", delete(remove))
        .route(
            "/api/mailboxes/{id}/messages",
            // The message size limit is the mail settings', checked while
            // the body streams in.
            post(receive).layer(DefaultBodyLimit::disable()),
        )
}

#[derive(OpenApi)]
#[openapi(paths(list, add, remove, receive))]
pub struct Doc;

/// A mailbox: mail to its address or an alias becomes contacts.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct MailboxBody {
    id: i64,
    name: String,
    address: String,
    aliases: Vec<String>,
    /// `all` (From, Reply-To, To, Cc) or `senders` (From, Reply-To).
    capture: String,
}

impl From<Mailbox> for MailboxBody {
    fn from(m: Mailbox) -> Self {
        MailboxBody {
            id: m.id,
            name: m.name,
            address: m.address,
            aliases: m.aliases,
            capture: m.capture.as_str().to_string(),
        }
    }
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMailboxBody {
    name: String,
    address: String,
    #[serde(default)]
    aliases: Vec<String>,
    /// `all` (default) or `senders`.
    capture: Option<String>,
}

/// What capturing one message did.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Captured {
    /// New contacts.
    captured: u64,
    /// Addresses not stored (the mailbox's own, users', invalid, no-reply,
    /// every address of machine mail).
    skipped: u64,
    /// Existing contacts that had no name and got one.
    named: u64,
    /// Existing contacts left as they were.
    existing: u64,
    /// The mailbox had captured this Message-ID before.
    duplicate: bool,
    /// Why the message counts as machine mail, or null.
    machine: Option<String>,
    message_id: String,
}

/// Every mailbox.
#[utoipa::path(get, path = "/api/mailboxes", tag = "mail",
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, description = "The mailboxes, by id", body = [MailboxBody]),
        (status = 403, description = "Not an admin", body = ErrorBody)))]
async fn list(State(state): State<AppState>, _: Admin) -> ApiResult<axum::Json<Vec<MailboxBody>>> {
    let all = state.db(|s| Ok(s.mailboxes()?)).await?;
    Ok(axum::Json(all.into_iter().map(MailboxBody::from).collect()))
}

/// Add a mailbox.
#[utoipa::path(post, path = "/api/mailboxes", tag = "mail", request_body = NewMailboxBody,
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 201, description = "Added", body = MailboxBody),
        (status = 409, description = "The name or an address is taken", body = ErrorBody),
        (status = 422, description = "An address is not valid", body = ErrorBody)))]
async fn add(
    State(state): State<AppState>,
    _: Admin,
    Json(body): Json<NewMailboxBody>,
) -> ApiResult<Response> {
    let scope = match body.capture.as_deref() {
        None => CaptureScope::All,
        Some(s) => CaptureScope::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "field 'capture': '{}' is not known; use all or senders",
                crate::error::truncate(s)
            ))
        })?,
    };
    let new = roster_mail::new_mailbox(&body.name, &body.address, &body.aliases, scope)
        .map_err(ApiError::invalid)?;
    let m = state
        .db(move |s| {
            s.add_mailbox(&new).map_err(|e| match e {
                StoreError::Conflict(m) => ApiError::new(ErrorKind::AlreadyExists, m),
                e => e.into(),
            })
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(MailboxBody::from(m))).into_response())
}

/// Remove a mailbox; the contacts it captured stay.
#[utoipa::path(delete, path = "/api/mailboxes/{id}", tag = "mail",
    security(("token" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The mailbox id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such mailbox", body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id("mailbox", &id)?;
    state.db(move |s| Ok(s.remove_mailbox(id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Capture the contacts of one received message (the raw message as the
/// body, `Content-Type: message/rfc822`).
#[utoipa::path(post, path = "/api/mailboxes/{id}/messages", tag = "mail",
    security(("token" = ["agent"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "The mailbox that received the message")),
    request_body(content = String, content_type = "message/rfc822"),
    responses(
        (status = 200, description = "Captured (or already captured)", body = Captured),
        (status = 404, description = "No such mailbox", body = ErrorBody),
        (status = 413, description = "Larger than the message size limit", body = ErrorBody),
        (status = 422, description = "Not an email", body = ErrorBody)))]
async fn receive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<axum::Json<Captured>> {
    if caller.via != Via::Token {
        caller.require_admin()?;
    }
    let id = path_id("mailbox", &id)?;
    let rfc822 = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .is_some_and(|v| v.eq_ignore_ascii_case("message/rfc822"));
    if !rfc822 {
        return Err(ApiError::bad_request(
            "send the raw message as the body with 'Content-Type: message/rfc822'",
        ));
    }
    let settings = state.config().mail.clone();
    let max = settings.limits.max_message_bytes;
    let too_large = move || {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!(
                "the message is larger than {max} bytes (the message size limit); raise it with --max-message-bytes"
            ),
        )
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > max as u64)
    {
        return Err(too_large());
    }
    let raw = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| too_large())?;
    let outcome = state
        .db(move |s| {
            let mailbox = s.mailbox_by_id(id)?.ok_or_else(|| {
                ApiError::not_found(format!("there is no mailbox {id}; see GET /api/mailboxes"))
            })?;
            roster_mail::capture(s, &mailbox, &raw, None, &settings).map_err(|e| match e {
                CaptureError::Message(MessageError::TooLarge(_)) => too_large(),
                CaptureError::Message(e) => ApiError::invalid(e.to_string()),
                CaptureError::Store(StoreError::Database(m)) => {
                    let mut e = ApiError::new(ErrorKind::Unavailable, m);
                    e.retry_after = Some(5);
                    e
                }
                CaptureError::Store(e) => e.into(),
            })
        })
        .await?;
    Ok(axum::Json(Captured {
        captured: outcome.captured,
        skipped: outcome.skipped,
        named: outcome.named,
        existing: outcome.existing,
        duplicate: outcome.duplicate,
        machine: outcome.machine,
        message_id: outcome.message_id,
    }))
}
