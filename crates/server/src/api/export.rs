//! Exports: `GET /api/export/contacts.csv` (any signed-in user: agents may
//! read contacts) and `GET /api/export/users.csv` (admins), the CSV of
//! `roster export contacts|users`, streamed from the database.
//!
//! `formula_safe=true` neutralises cells a spreadsheet would run as
//! formulas (a leading `'` before `=`, `+`, `-`, `@`, tab or CR); without
//! it the file is the exact round trip. The same option applies to an
//! import's result files (`/api/imports/{id}/errors.csv` and the others),
//! whose cells hold values exactly as strangers wrote them.

use std::io::{Read, Write};
use std::sync::mpsc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use roster_import::export::{self, ExportOptions};
use roster_store::StoreError;
use utoipa::OpenApi;

use crate::api::contacts::query_pairs;
use crate::auth::Caller;
use crate::error::{truncate, ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/export/contacts.csv", get(contacts))
        .route("/api/export/users.csv", get(users))
}

#[derive(OpenApi)]
#[openapi(paths(contacts, users))]
pub struct Doc;

/// Reads `formula_safe=true|false` (the only parameter a CSV download takes).
pub fn formula_safe(raw: Option<&str>) -> ApiResult<bool> {
    let mut safe = false;
    for (k, v) in query_pairs(raw)? {
        match k.as_str() {
            "formula_safe" => {
                safe = match v.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "" => true,
                    "false" | "0" | "no" => false,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "query parameter 'formula_safe': '{}' is not true or false",
                            truncate(&v)
                        )))
                    }
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                "unknown query parameter '{}'; a CSV download takes only formula_safe=true|false",
                truncate(other)
            )))
            }
        }
    }
    Ok(safe)
}

/// Chunks on their way from a blocking database thread to the response.
pub(crate) type Chunks = tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>;

/// A `Write` that hands its bytes to the response body, 64 KiB at a time.
pub(crate) struct ChunkWriter {
    tx: Chunks,
    buf: Vec<u8>,
}

impl ChunkWriter {
    pub(crate) fn new(tx: Chunks) -> Self {
        ChunkWriter {
            tx,
            buf: Vec::with_capacity(64 << 10),
        }
    }
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(64 << 10));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
    /// Ends the body with an error, so the client sees a cut download
    /// rather than a short file that looks whole.
    pub(crate) fn fail(&mut self, message: String) {
        let _ = self.send();
        let _ = self.tx.blocking_send(Err(std::io::Error::other(message)));
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 << 10 {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// The response body fed by `rx`, as a CSV attachment named `filename`.
pub(crate) fn csv_response(
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
    filename: &str,
) -> Response {
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// A `Read` over chunks sent from another thread.
struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.chunk = c;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Streams CSV `source` (which calls its argument with each chunk of the
/// file) to `out` with every cell neutralised, in bounded memory: the CSV
/// is re-read record by record on a helper thread.
pub(crate) fn neutralise_csv(
    source: impl FnOnce(&mut dyn FnMut(&[u8]) -> Result<(), StoreError>) -> Result<(), StoreError>,
    out: ChunkWriter,
) -> Result<(), StoreError> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(2);
    let rewriter = std::thread::Builder::new()
        .name("roster-formula-safe".into())
        .spawn(move || {
            let mut out = out;
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(ChunkReader {
                    rx,
                    chunk: Vec::new(),
                    at: 0,
                });
            let mut writer = csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(&mut out);
            let mut record = csv::ByteRecord::new();
            let mut safe = csv::ByteRecord::new();
            let result = loop {
                match reader.read_byte_record(&mut record) {
                    Ok(false) => break writer.flush().map_err(|e| e.to_string()),
                    Ok(true) => {
                        safe.clear();
                        for cell in record.iter() {
                            safe.push_field(&roster_core::spreadsheet::neutralise_bytes(cell));
                        }
                        if let Err(e) = writer.write_byte_record(&safe) {
                            break Err(e.to_string());
                        }
                    }
                    Err(e) => break Err(format!("cannot read the stored file: {e}")),
                }
            };
            drop(writer);
            if let Err(e) = result {
                out.fail(e);
            }
        })
        .map_err(|e| StoreError::Database(format!("cannot start a thread: {e}")))?;
    let sent = source(&mut |chunk| {
        tx.send(chunk.to_vec())
            .map_err(|_| StoreError::Database("the client went away".into()))
    });
    drop(tx);
    let _ = rewriter.join();
    sent
}

fn export_response(
    state: AppState,
    filename: &'static str,
    opts: ExportOptions,
    write: fn(
        &mut dyn roster_store::Store,
        &mut dyn Write,
        ExportOptions,
    ) -> Result<(), StoreError>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        let _ = state
            .db(move |s| {
                let mut out = ChunkWriter::new(tx);
                match write(s, &mut out, opts)
                    .and_then(|()| out.flush().map_err(|e| StoreError::Database(e.to_string())))
                {
                    Ok(()) => {}
                    Err(e) => out.fail(e.to_string()),
                }
                Ok(())
            })
            .await;
    });
    csv_response(rx, filename)
}

/// Every contact as CSV, as `roster export contacts` writes it.
#[utoipa::path(get, path = "/api/export/contacts.csv", tag = "export",
    params(("formula_safe" = Option<bool>, Query, description = "Neutralise cells a spreadsheet would run as formulas (a leading ' before =, +, -, @, tab or CR); the file then no longer imports back unchanged")),
    security(("token" = ["agent"]), ("session" = ["agent"])),
    responses((status = 200, description = "The CSV file", content_type = "text/csv", body = String),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn contacts(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let opts = ExportOptions {
        formula_safe: formula_safe(raw.as_deref())?,
    };
    Ok(export_response(
        state,
        "contacts.csv",
        opts,
        export::contacts,
    ))
}

/// Every user as CSV (`email,first_name,last_name,active`; never a password).
#[utoipa::path(get, path = "/api/export/users.csv", tag = "export",
    params(("formula_safe" = Option<bool>, Query, description = "Neutralise cells a spreadsheet would run as formulas (a leading ' before =, +, -, @, tab or CR)")),
    security(("token" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, description = "The CSV file", content_type = "text/csv", body = String),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)))]
async fn users(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let opts = ExportOptions {
        formula_safe: formula_safe(raw.as_deref())?,
    };
    Ok(export_response(state, "users.csv", opts, export::users))
}
