//! Imports over HTTP (admins only): the upload queues a durable job that a
//! worker runs in the background (see `crate::jobs`); everything else reads
//! the job from the database, so any server sharing it can answer.
//!
//! - `POST /api/imports?kind=contacts|users&OPTIONS`: the body (raw, or the
//!   `file` field of a `multipart/form-data` form) streams to a temporary
//!   file in the data folder (never whole in memory), is counted against
//!   `--max-upload-bytes` as it arrives (413, and the file is deleted), is
//!   stored in the database in chunks, and the answer is `202` with the job.
//!   Options are the CLI's flags with `_` for `-`, checked before anything
//!   is stored (400 naming the option).
//! - `GET /api/imports`, `GET /api/imports/{id}`: status, progress, report.
//! - `GET /api/imports/{id}/errors.csv|outcomes.csv|rejects.csv`.
//! - `GET /api/imports/{id}/events`: Server-Sent Events; each event's id is
//!   the job's change counter, so a client reconnecting with
//!   `Last-Event-ID` gets only what changed since; the stream ends with the
//!   final status.
//! - `POST /api/imports/{id}/cancel`, `POST /api/imports/{id}/undo`.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::{
    DefaultBodyLimit, FromRequest, Multipart, Path as UrlPath, Query, RawQuery, Request, State,
};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use roster_import::job::JobOptions;
use roster_store::{Job, JobFile, NewJob};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::OpenApi;

use crate::api::export::{csv_response, neutralise_csv, ChunkWriter};
use crate::auth::Caller;
use crate::error::{truncate, ApiError, ApiResult, ErrorBody, ErrorKind};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/imports",
            post(upload)
                .get(list)
                // The upload counts its own bytes against --max-upload-bytes.
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/imports/{id}", get(show))
        .route("/api/imports/{id}/events", get(events))
        .route("/api/imports/{id}/cancel", post(cancel))
        .route("/api/imports/{id}/undo", post(undo))
        .route("/api/imports/{id}/{file}", get(download))
}

#[derive(OpenApi)]
#[openapi(
    paths(upload, list, show, events, cancel, undo, download),
    components(schemas(SseEvent))
)]
pub struct Doc;

/// One event of `GET /api/imports/{id}/events` as the stream carries it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the stream's lines; never built
struct SseEvent {
    /// Its number: reconnect with `Last-Event-ID` to resume after it.
    id: String,
    /// `progress` while the import runs, then one `status`.
    event: String,
    /// The import as `GET /api/imports/{id}` answers it, as JSON text.
    data: String,
}

/// A job as the API shows it.
pub fn job_json(job: &Job) -> Value {
    let finished = job.is_finished();
    let report_rows = job
        .report
        .as_ref()
        .and_then(|r| r.get("rows"))
        .and_then(Value::as_u64);
    let rows = match (finished, report_rows) {
        (true, Some(r)) => r,
        _ => job.progress_rows,
    };
    let bytes = if job.status == "succeeded" {
        job.total_bytes
    } else {
        job.progress_bytes
    };
    json!({
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": {
            "bytes": bytes,
            "total_bytes": job.total_bytes,
            "rows": rows,
            "step": job.step,
        },
        "report": job.report,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "file_name": job.file_name,
        "options": job.options,
        "started_by": job.started_by,
        "runner": job.runner,
        "cancel_requested": job.cancel_requested,
        "files_removed": job.files_removed,
        "checksum": job.checksum,
        "undo": job.undo,
        "journal_pruned_at": job.journal_pruned_at,
    })
}

/// Query parameters of the upload besides the options.
const NOT_OPTIONS: &[&str] = &["kind", "name"];

/// Queues an import of the uploaded CSV file.
#[utoipa::path(post, path = "/api/imports", tag = "imports",
    params(
        ("kind" = String, Query, description = "contacts or users"),
        ("name" = Option<String>, Query, description = "The file's name, for the record (a multipart upload sends its own)"),
        ("dry_run" = Option<bool>, Query, description = "Validate and report; write nothing"),
        ("atomic" = Option<bool>, Query, description = "One rejected row and nothing is written"),
        ("create_labels" = Option<bool>, Query, description = "Create missing label names"),
        ("replace_labels" = Option<bool>, Query, description = "A row's labels become the contact's whole set"),
        ("on_existing" = Option<String>, Query, description = "update (default) or skip"),
        ("keep" = Option<Vec<String>>, Query, description = "Never change this column on an existing record (repeatable)"),
        ("map" = Option<Vec<String>>, Query, description = "FROM=TO renames a column (repeatable), or auto"),
        ("ignore_unknown_columns" = Option<bool>, Query, description = "Ignore columns that are not ours"),
        ("encoding" = Option<String>, Query, description = "The file's encoding, e.g. windows-1252"),
        ("delimiter" = Option<String>, Query, description = "',', ';', 'tab' or '|'"),
    ),
    request_body(content = String, content_type = "text/csv", description = "The CSV file, or a multipart/form-data form whose field `file` holds it"),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses(
        (status = 202, description = "Stored and queued: the job", body = Object),
        (status = 400, description = "A bad option or no file", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 413, description = "Larger than --max-upload-bytes; nothing was kept", body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Query(pairs): Query<Vec<(String, String)>>,
    request: Request,
) -> Response {
    match receive(state, caller, pairs, request).await {
        Ok(r) => r,
        Err(e) => {
            // The body may be unread: the connection cannot carry another
            // request, so say so rather than let a client reuse it.
            let mut r = e.into_response();
            r.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            r
        }
    }
}

async fn receive(
    state: AppState,
    caller: Caller,
    pairs: Vec<(String, String)>,
    request: Request,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let mut kind = None;
    let mut name = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "kind" => kind = Some(v.clone()),
            "name" => name = Some(v.clone()),
            _ => {}
        }
    }
    let kind = match kind.as_deref() {
        Some("contacts") | Some("users") => kind.unwrap_or_default(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "kind '{}' is not an import kind; use kind=contacts or kind=users",
                truncate(other)
            )))
        }
        None => {
            return Err(ApiError::bad_request(
                "say what the file holds: add kind=contacts or kind=users to the URL",
            ))
        }
    };
    let options = JobOptions::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        NOT_OPTIONS,
    )
    .map_err(|e| ApiError::bad_request(e.message))?;
    if kind == "users" && (options.create_labels || options.replace_labels) {
        return Err(ApiError::bad_request(
            "create_labels and replace_labels are for contacts; users have no labels",
        ));
    }

    let config = state.config().clone();
    let uploads = config.data_dir.join("uploads");
    tokio::fs::create_dir_all(&uploads).await.map_err(|e| {
        ApiError::internal(format!(
            "cannot create the upload folder '{}': {e}",
            uploads.display()
        ))
    })?;
    let part = Temp(uploads.join(format!(".upload-{}.part", random_name())));
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let limit = config.max_upload_bytes;
    let (size, checksum, file_name) = if is_multipart {
        let mut form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::bad_request(format!("the form cannot be read: {e}")))?;
        let mut got = None;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(format!("the form cannot be read: {e}")))?
        {
            if field.name() != Some("file") {
                continue;
            }
            let file_name = field.file_name().map(str::to_string);
            let stream = field.map(|c| c.map_err(|e| e.to_string()));
            let (size, sum) = save(stream, &part.0, limit).await?;
            got = Some((size, sum, file_name.or(name.clone())));
            break;
        }
        got.ok_or_else(|| {
            ApiError::bad_request(
                "the form has no field named 'file'; send the CSV file as the field 'file'",
            )
        })?
    } else {
        let stream = request
            .into_body()
            .into_data_stream()
            .map(|c| c.map_err(|e| e.to_string()));
        let (size, sum) = save(stream, &part.0, limit).await?;
        (size, sum, name.clone())
    };
    if size == 0 {
        return Err(ApiError::bad_request(
            "the upload is empty; send the CSV file as the request body",
        ));
    }
    // Complete: renamed into place, then stored where every server can read it.
    let complete = Temp(uploads.join(format!(".upload-{}.csv", random_name())));
    tokio::fs::rename(&part.0, &complete.0)
        .await
        .map_err(|e| ApiError::internal(format!("cannot keep the upload: {e}")))?;
    let new = NewJob {
        kind,
        options: serde_json::to_value(&options).unwrap_or_default(),
        started_by: caller.email.clone(),
        file_name: file_name
            .map(|n| truncate(&n))
            .unwrap_or_else(|| "upload.csv".into()),
        total_bytes: size,
        checksum,
    };
    let path = complete.0.clone();
    let job = state
        .db(move |s| {
            let mut file = std::fs::File::open(&path)
                .map_err(|e| ApiError::internal(format!("cannot read the upload back: {e}")))?;
            let id = s.enqueue_job(&new, &mut file)?;
            Ok(s.job(id)?)
        })
        .await?;
    // The worker of this server finds the file here and need not read it
    // back from the database.
    let target = uploads.join(format!("{}.csv", job.id));
    if tokio::fs::rename(&complete.0, &target).await.is_ok() {
        std::mem::forget(complete);
    }
    tracing::info!(import = job.id, bytes = size, by = %caller.email, "import queued");
    Ok((StatusCode::ACCEPTED, Json(job_json(&job))).into_response())
}

/// A file deleted when dropped (on any error path).
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn random_name() -> String {
    crate::auth::random_secret()
        .map(|s| s[..16].to_string())
        .unwrap_or_else(|_| format!("{}", std::process::id()))
}

/// Streams `body` into `path`, refusing past `limit` bytes; returns the
/// size and the SHA-256.
async fn save<S>(mut body: S, path: &Path, limit: u64) -> ApiResult<(u64, String)>
where
    S: futures_util::Stream<Item = Result<axum::body::Bytes, String>> + Unpin,
{
    let io = |e: std::io::Error| {
        ApiError::internal(format!(
            "cannot store the upload in the data folder ({e}); check its free space"
        ))
    };
    let file = tokio::fs::File::create(path).await.map_err(io)?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut hash = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(format!("the upload was cut off ({e}); send it again"))
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "the file is larger than this server accepts ({limit} bytes); split it, or raise the limit with roster serve --max-upload-bytes"
                ),
            ));
        }
        hash.update(&chunk);
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    out.into_inner().sync_all().await.map_err(io)?;
    let sum = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((size, sum))
}

/// Every import (HTTP jobs and the CLI's), newest first.
#[utoipa::path(get, path = "/api/imports", tag = "imports",
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "The imports, newest first", body = [Object]),
        (status = 403, description = "Not an admin", body = ErrorBody)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let jobs = state.db(|s| Ok(s.jobs()?)).await?;
    Ok(Json(Value::Array(jobs.iter().map(job_json).collect())))
}

fn id_param(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::bad_request(format!(
            "'{}' is not an import id; use the number POST /api/imports answered",
            truncate(raw)
        ))
    })
}

/// One import: status, progress and (once it ran) its report.
#[utoipa::path(get, path = "/api/imports/{id}", tag = "imports",
    params(("id" = i64, Path, description = "The import's id")),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "The import", body = Object),
        (status = 404, description = "No such import", body = ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let id = id_param(&id)?;
    let job = state.db(move |s| Ok(s.job(id)?)).await?;
    Ok(Json(job_json(&job)))
}

/// Progress as Server-Sent Events, ending with the final status.
#[utoipa::path(get, path = "/api/imports/{id}/events", tag = "imports",
    params(("id" = i64, Path, description = "The import's id"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event")),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "text/event-stream of `progress` events, then one `status` event", content_type = "text/event-stream", body = SseEvent),
        (status = 404, description = "No such import", body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let id = id_param(&id)?;
    // 404 now rather than an empty stream.
    state.db(move |s| Ok(s.job(id)?)).await?;
    let last: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1);
    let stream = futures_util::stream::unfold(
        (state, last, false),
        move |(state, mut last, done)| async move {
            if done || *state.shutdown().borrow() {
                return None;
            }
            loop {
                let job = match state.db(move |s| Ok(s.job(id)?)).await {
                    Ok(j) => j,
                    Err(e) => {
                        let ev = Event::default().event("error").data(e.message);
                        return Some((Ok::<_, Infallible>(ev), (state, last, true)));
                    }
                };
                let finished = job.is_finished();
                if job.event_seq > last {
                    last = job.event_seq;
                    let ev = Event::default()
                        .id(job.event_seq.to_string())
                        .event(if finished { "status" } else { "progress" })
                        .data(job_json(&job).to_string());
                    return Some((Ok(ev), (state, last, finished)));
                }
                if finished || *state.shutdown().borrow() {
                    // Resumed after the final event, or the server stops
                    // (a browser reconnects to another one): the stream ends.
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Stops a running import between batches (what committed stays), or a
/// queued one at once.
#[utoipa::path(post, path = "/api/imports/{id}/cancel", tag = "imports",
    params(("id" = i64, Path, description = "The import's id")),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 202, description = "Cancelled, or asked to stop: the import", body = Object),
        (status = 404, description = "No such import", body = ErrorBody),
        (status = 409, description = "It has already ended", body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let id = id_param(&id)?;
    let job = state.db(move |s| Ok(s.cancel_job(id)?)).await?;
    tracing::info!(import = id, by = %caller.email, "import cancel asked");
    Ok((StatusCode::ACCEPTED, Json(job_json(&job))).into_response())
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UndoQuery {
    /// Undo even where a later import, edit or captured email touched the
    /// same records (those later changes are lost; the answer lists them).
    #[serde(default)]
    force: bool,
    /// Answer what undo would do (and whether it would refuse); change nothing.
    #[serde(default)]
    dry_run: bool,
}

/// Deletes the records (contacts or users) an import created and puts back
/// the values it changed — for users their previous password hash and
/// `active` flag. `dry_run=true` answers what it would do.
#[utoipa::path(post, path = "/api/imports/{id}/undo", tag = "imports",
    params(("id" = i64, Path, description = "The import's id"), UndoQuery),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "Undone: {id, kind, status, deleted, restored, overwritten_count, overwritten}; or, with dry_run, {id, dry_run, possible, refused, would_delete, would_restore, conflict_count, conflicts, needs_force}", body = Object),
        (status = 404, description = "No such import", body = ErrorBody),
        (status = 409, description = "Not finished, already undone, journal pruned, or later changes: {code, message, conflict_count, conflicts:[{email, reason, undo}]} (force=true overrides the later changes)", body = ErrorBody)))]
async fn undo(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<UndoQuery>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let id = id_param(&id)?;
    let (force, dry_run) = (q.force, q.dry_run);
    let by = caller.email.clone();
    enum Answer {
        Plan(roster_store::UndoPlan),
        Refused(roster_store::UndoPlan),
        Done(roster_store::UndoOutcome),
    }
    let answer = state
        .db(move |s| {
            let rec = s.import(id)?;
            roster_store::lease::settle(s, rec)?;
            if dry_run {
                return Ok(Answer::Plan(s.undo_plan(id)?));
            }
            match s.undo_import(id, force, &by) {
                Ok(done) => Ok(Answer::Done(done)),
                // Later changes: the plan lists them.
                Err(roster_store::StoreError::Conflict(m)) => {
                    let plan = s.undo_plan(id)?;
                    if plan.conflict_count == 0 {
                        return Err(ApiError::new(ErrorKind::Conflict, m));
                    }
                    Ok(Answer::Refused(plan))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    Ok(match answer {
        Answer::Plan(plan) => Json(json!({
            "id": id,
            "kind": plan.kind,
            "dry_run": true,
            "possible": plan.refused.is_none(),
            "refused": plan.refused,
            "would_delete": plan.delete,
            "would_restore": plan.restore,
            "conflict_count": plan.conflict_count,
            "conflicts": plan.conflicts,
            "needs_force": plan.refused.is_none() && plan.conflict_count > 0,
            "resumes": plan.resumes,
        }))
        .into_response(),
        Answer::Refused(plan) => (
            StatusCode::CONFLICT,
            Json(json!({
                "code": ErrorKind::Conflict.code(),
                "message": roster_store::undo::conflict_sentence(&plan, "add force=true"),
                "conflict_count": plan.conflict_count,
                "conflicts": plan.conflicts,
            })),
        )
            .into_response(),
        Answer::Done(done) => {
            tracing::info!(import = id, by = %caller.email, deleted = done.deleted, restored = done.restored,
                overwritten = done.overwritten_count, "import undone");
            Json(json!({
                "id": id,
                "kind": done.kind,
                "status": "undone",
                "deleted": done.deleted,
                "restored": done.restored,
                "forced": done.forced,
                "overwritten_count": done.overwritten_count,
                "overwritten": done.overwritten,
            }))
            .into_response()
        }
    })
}

/// The import's result files: `errors.csv` (`line,column,value,message`),
/// `outcomes.csv` (`line,email,outcome,message`, as `--outcomes`) and
/// `rejects.csv` (the header and each rejected row, as `--rejects`).
#[utoipa::path(get, path = "/api/imports/{id}/{file}", tag = "imports",
    params(("id" = i64, Path, description = "The import's id"),
        ("file" = String, Path, description = "errors.csv, outcomes.csv or rejects.csv"),
        ("formula_safe" = Option<bool>, Query, description = "Neutralise cells a spreadsheet would run as formulas (a leading ' before =, +, -, @, tab or CR), for opening the file in a spreadsheet; leave it off for a rejects.csv to fix and import again")),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "The CSV file", content_type = "text/csv", body = String),
        (status = 404, description = "No such import or file, or removed after the retention time", body = ErrorBody)))]
async fn download(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath((id, file)): UrlPath<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let id = id_param(&id)?;
    let safe = crate::api::export::formula_safe(raw.as_deref())?;
    let which = match file.as_str() {
        "errors.csv" => JobFile::Errors,
        "outcomes.csv" => JobFile::Outcomes,
        "rejects.csv" => JobFile::Rejects,
        other => {
            return Err(ApiError::not_found(format!(
            "import {id} has no file '{}'; the files are errors.csv, outcomes.csv and rejects.csv",
            truncate(other)
        )))
        }
    };
    let job = state.db(move |s| Ok(s.job(id)?)).await?;
    if job.runner != "server" {
        return Err(ApiError::not_found(format!(
            "import {id} ran from the command line, whose --rejects and --outcomes files stay where it wrote them"
        )));
    }
    if job.files_removed {
        return Err(ApiError::not_found(format!(
            "the files of import {id} were removed after the retention time (roster serve --keep-import-files-days); its record and counts remain"
        )));
    }
    // Chunk by chunk from the database to the client: memory stays at one
    // chunk and a slow reader holds one connection at most.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let reader = state.clone();
    tokio::spawn(async move {
        let _ = reader
            .db(move |s| {
                if safe {
                    let out = ChunkWriter::new(tx.clone());
                    let sent = neutralise_csv(|send| s.read_job_file(id, which, send), out);
                    if let Err(e) = sent {
                        let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    }
                    return Ok(());
                }
                let sent = s.read_job_file(id, which, &mut |chunk| {
                    tx.blocking_send(Ok(chunk.to_vec())).map_err(|_| {
                        roster_store::StoreError::Database("the client went away".into())
                    })
                });
                if let Err(e) = sent {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                }
                Ok(())
            })
            .await;
    });
    Ok(csv_response(rx, &format!("import-{id}-{file}")))
}
