//! `POST /api/imports/preview`: the columns of a file before it is
//! imported, for the web UI's mapping step (admins). Read-only: nothing is
//! stored; the body (at most 4 MiB: the browser sends the file's first
//! megabyte) is read into a temporary file that is gone when the answer is.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::routing::post;
use axum::Router;
use roster_import::preview::Preview;
use roster_import::DecodeOptions;
use utoipa::OpenApi;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorKind};
use crate::state::AppState;

/// Largest body the preview reads.
pub const PREVIEW_LIMIT: usize = 4 << 20;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/imports/preview", post(preview))
}

#[derive(OpenApi)]
#[openapi(paths(preview))]
pub struct Doc;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// `contacts` (default) or `users`.
    kind: Option<String>,
    /// true when the body is only the beginning of the file: its last
    /// record may be cut and is not read.
    #[serde(default)]
    partial: bool,
    /// As the import's `encoding` option.
    encoding: Option<String>,
    /// As the import's `delimiter` option (one character).
    delimiter: Option<String>,
}

/// The file's columns with sample values, fill counts, the mapping
/// `map=auto` suggests (and why) and the label names not known yet.
#[utoipa::path(post, path = "/api/imports/preview", tag = "imports",
    params(PreviewQuery),
    request_body(content = String, content_type = "text/csv", description = "The file, or its beginning with partial=true (at most 4 MiB)"),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 200, description = "The file's columns", body = Object),
        (status = 400, description = "The file cannot be read as CSV", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 413, description = "More than 4 MiB", body = ErrorBody)))]
async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PreviewQuery>,
    body: Body,
) -> ApiResult<axum::Json<Preview>> {
    caller.require_admin()?;
    let users = match q.kind.as_deref().unwrap_or("contacts") {
        "contacts" => false,
        "users" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "kind '{}' is not an import kind; use kind=contacts or kind=users",
                crate::error::truncate(other)
            )))
        }
    };
    let delimiter = match q.delimiter.as_deref() {
        None | Some("") => None,
        Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
        Some("\\t") | Some("tab") => Some(b'\t'),
        Some(d) => {
            return Err(ApiError::bad_request(format!(
                "delimiter '{}' is not one character; use e.g. delimiter=; or delimiter=tab",
                crate::error::truncate(d)
            )))
        }
    };
    let bytes = axum::body::to_bytes(body, PREVIEW_LIMIT)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorKind::PayloadTooLarge,
                "the preview reads at most 4 MiB; send the file's beginning with partial=true",
            )
        })?;
    let opts = DecodeOptions {
        encoding: q.encoding.filter(|e| !e.is_empty()),
        delimiter,
    };
    let partial = q.partial;
    state
        .db(move |s| {
            let dir = tempfile::tempdir()
                .map_err(|e| ApiError::internal(format!("no room for the preview: {e}")))?;
            let path = dir.path().join("preview.csv");
            std::fs::write(&path, &bytes)
                .map_err(|e| ApiError::internal(format!("no room for the preview: {e}")))?;
            let fields = if users { Vec::new() } else { s.fields()? };
            let custom: Vec<&str> = fields.iter().map(|f| f.variable_name.as_str()).collect();
            let labels: std::collections::HashSet<String> = if users {
                Default::default()
            } else {
                s.labels()?.into_iter().map(|l| l.name).collect()
            };
            let standard: &[&str] = if users {
                roster_import::users::USER_COLUMNS
            } else {
                roster_core::field::CONTACT_COLUMNS
            };
            let suggest = |h: &[String]| roster_import::preview::suggest(standard, &custom, h);
            roster_import::preview::preview(
                &path,
                &opts,
                &custom,
                &suggest,
                &|l| users || labels.contains(l),
                partial,
            )
            .map(axum::Json)
            .map_err(|e| ApiError::bad_request(e.to_string()))
        })
        .await
}
