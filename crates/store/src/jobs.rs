//! Imports as durable background jobs: the queue, the lease, checkpoints,
//! and the files (the upload and the result files) kept in the database in
//! chunks, so that any server sharing the database can run or answer for
//! any job without a shared filesystem.
//!
//! A job is a row of `imports` whose `runner` is `server` (the CLI's
//! foreground imports are rows with `runner = 'cli'`, so history and undo
//! see both). Its life:
//!
//! ```text
//! queued ──claim──▶ running ──finish──▶ succeeded | failed | cancelled
//!   │                 │  ▲
//!   │ cancel          │  └──claim── interrupted ◀── lease lapsed / owner restarted
//!   ▼                 ▼
//! cancelled       (cancel flag: stops between batches)
//! ```
//!
//! *Architecture Invariant*: a batch commits only while its worker owns the
//! lease — [`Jobs::checkpoint_job`] checks the owner inside the batch's own
//! transaction — and the checkpoint (rows and bytes committed, the partial
//! report, the result files' new chunks) is written in that same
//! transaction, so a resumed job starts exactly after the last committed
//! batch.

use std::io::Read;

use crate::Result;

/// Which file of a job a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFile {
    /// The uploaded CSV, as received.
    Upload,
    /// `line,email,outcome,message` for every data row.
    Outcomes,
    /// The header, then every rejected row as read.
    Rejects,
    /// `line,column,value,message` for every error.
    Errors,
}

impl JobFile {
    pub fn as_str(self) -> &'static str {
        match self {
            JobFile::Upload => "upload",
            JobFile::Outcomes => "outcomes",
            JobFile::Rejects => "rejects",
            JobFile::Errors => "errors",
        }
    }
}

/// Bytes per stored chunk of an upload.
pub const CHUNK_BYTES: usize = 1 << 20;

/// A job to queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub options: serde_json::Value,
    pub started_by: String,
    pub file_name: String,
    pub total_bytes: u64,
    /// SHA-256 of the upload, hex.
    pub checksum: String,
}

/// Where a job stands after its last committed batch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Data rows accounted for (committed, or rejected before writing).
    pub rows: u64,
    /// Bytes of the upload read up to the last of those rows.
    pub bytes: u64,
    /// The report so far (the pipeline's own type, as JSON).
    pub report: serde_json::Value,
}

/// A job as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub runner: String,
    pub options: serde_json::Value,
    pub started_by: String,
    pub file_name: Option<String>,
    pub checksum: Option<String>,
    pub created_at: String,
    /// None while queued.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub progress_bytes: u64,
    pub total_bytes: u64,
    pub progress_rows: u64,
    /// What the job is doing ("queued", "uploading", "importing", …).
    pub step: String,
    /// The final report; None until the job ends.
    pub report: Option<serde_json::Value>,
    pub checkpoint: Option<Checkpoint>,
    pub cancel_requested: bool,
    pub owner: Option<String>,
    /// Grows with every change of progress or status: the id of the event
    /// stream's events.
    pub event_seq: i64,
    /// True once retention removed the upload and the result files.
    pub files_removed: bool,
    /// The undo's progress or result (see [`crate::ImportRecord::undo`]).
    pub undo: serde_json::Value,
    /// When `roster imports prune` dropped its undo journal.
    pub journal_pruned_at: Option<String>,
}

impl Job {
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status.as_str(),
            "succeeded" | "failed" | "cancelled" | "undone"
        )
    }
}

/// What a heartbeat learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// False when another worker took the job over (or it ended).
    pub owned: bool,
    pub cancel_requested: bool,
}

/// The job queue. Every backend implements it; PostgreSQL lets several
/// servers share it (claims use `FOR UPDATE SKIP LOCKED`).
pub trait Jobs {
    /// Queues an import of `file` (read to its end and stored in chunks of
    /// [`CHUNK_BYTES`]) in one transaction; returns its id.
    fn enqueue_job(&mut self, job: &NewJob, file: &mut dyn Read) -> Result<i64>;

    /// Marks `running` jobs whose lease lapsed (no heartbeat since
    /// `stale_before`, RFC 3339) or whose owner starts with `owner_prefix`
    /// (this node, restarted) as `interrupted`; returns their ids.
    fn interrupt_stale_jobs(&mut self, stale_before: &str, owner_prefix: &str) -> Result<Vec<i64>>;

    /// Takes the oldest `queued` or `interrupted` job for `owner`, or None.
    fn claim_job(&mut self, owner: &str) -> Result<Option<Job>>;

    /// Renews the lease, records progress, and reads the cancel flag.
    fn heartbeat_job(
        &mut self,
        id: i64,
        owner: &str,
        bytes: u64,
        rows: u64,
        step: &str,
    ) -> Result<Lease>;

    /// Inside the batch's open transaction: checks that `owner` still holds
    /// the lease (a [`crate::StoreError::Conflict`] otherwise, so the batch
    /// rolls back), records the checkpoint and appends the result files'
    /// new bytes.
    fn checkpoint_job(
        &mut self,
        id: i64,
        owner: &str,
        checkpoint: &Checkpoint,
        appends: &[(JobFile, &[u8])],
    ) -> Result<()>;

    /// Ends the job (while `owner` holds it) with `status` and `report`,
    /// appending what each reader holds to the result files, in one
    /// transaction; false when the lease was lost.
    fn finish_job(
        &mut self,
        id: i64,
        owner: &str,
        status: &str,
        report: &serde_json::Value,
        appends: &mut [(JobFile, &mut dyn Read)],
    ) -> Result<bool>;

    /// Cancels a queued or interrupted job at once, or asks a running one
    /// to stop between batches. Returns the job as it now stands.
    fn cancel_job(&mut self, id: i64) -> Result<Job>;

    fn job(&mut self, id: i64) -> Result<Job>;

    /// Every import, newest first.
    fn jobs(&mut self) -> Result<Vec<Job>>;

    /// Calls `f` with each stored chunk of a job's file, in order.
    fn read_job_file(
        &mut self,
        id: i64,
        file: JobFile,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()>;

    /// Deletes the files of jobs that finished before `finished_before`
    /// (RFC 3339), keeping their records and counts; returns how many jobs.
    fn remove_old_job_files(&mut self, finished_before: &str) -> Result<u64>;
}

/// Splits everything `file` holds into chunks of [`CHUNK_BYTES`], calling
/// `f` with each (sequence number from 0).
pub(crate) fn each_chunk(
    file: &mut dyn Read,
    mut f: impl FnMut(i64, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut seq = 0i64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(crate::StoreError::Database(format!(
                        "cannot read the uploaded file to store it: {e}"
                    )))
                }
            }
        }
        if filled == 0 {
            return Ok(());
        }
        f(seq, &buf[..filled])?;
        seq += 1;
        if filled < buf.len() {
            return Ok(());
        }
    }
}

/// A job's columns as both backends read them.
pub(crate) struct JobParts {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub runner: String,
    pub options: String,
    pub started_by: String,
    pub file_name: Option<String>,
    pub checksum: Option<String>,
    pub created_at: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub progress_bytes: i64,
    pub total_bytes: i64,
    pub progress_rows: i64,
    pub step: String,
    pub report: String,
    pub checkpoint: Option<String>,
    pub cancel_requested: bool,
    pub owner: Option<String>,
    pub event_seq: i64,
    pub files_removed: bool,
    pub undo: Option<String>,
    pub journal_pruned_at: Option<String>,
}

pub(crate) fn parts_to_job(p: JobParts) -> Job {
    let checkpoint: Option<Checkpoint> = p
        .checkpoint
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    let finished = matches!(
        p.status.as_str(),
        "succeeded" | "failed" | "cancelled" | "undone"
    );
    // The final report once the job ended; the partial one (as of the
    // last committed batch) before.
    let report = if finished {
        serde_json::from_str::<serde_json::Value>(&p.report)
            .ok()
            .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
    } else {
        checkpoint.as_ref().map(|c| c.report.clone())
    };
    Job {
        id: p.id,
        kind: p.kind,
        status: p.status,
        runner: p.runner,
        options: serde_json::from_str(&p.options).unwrap_or_default(),
        started_by: p.started_by,
        file_name: p.file_name,
        checksum: p.checksum,
        created_at: p.created_at,
        started_at: Some(p.started_at).filter(|s| !s.is_empty()),
        finished_at: p.finished_at,
        progress_bytes: p.progress_bytes.max(0) as u64,
        total_bytes: p.total_bytes.max(0) as u64,
        progress_rows: p.progress_rows.max(0) as u64,
        step: p.step,
        report,
        checkpoint,
        cancel_requested: p.cancel_requested,
        owner: p.owner,
        event_seq: p.event_seq,
        files_removed: p.files_removed,
        undo: p
            .undo
            .as_deref()
            .and_then(|u| serde_json::from_str(u).ok())
            .unwrap_or_default(),
        journal_pruned_at: p.journal_pruned_at,
    }
}

pub(crate) fn lease_lost(id: i64) -> crate::StoreError {
    crate::StoreError::Database(format!(
        "import {id} is no longer held by this server (its lease lapsed or it was cancelled); \
         the batch was rolled back and the server now running it carries on"
    ))
}

pub(crate) fn no_such_import(id: i64) -> crate::StoreError {
    crate::StoreError::NotFound(format!("there is no import {id}; see GET /api/imports"))
}

pub(crate) enum CancelAction {
    /// Not running: cancelled at once, with this report.
    Now(serde_json::Value),
    /// Running: the worker stops between batches.
    Flag,
}

pub(crate) fn cancel_action(job: &Job) -> Result<CancelAction> {
    if job.runner != "server" {
        return Err(crate::StoreError::Conflict(format!(
            "import {} runs in the foreground of a `roster import` command; stop it there",
            job.id
        )));
    }
    match job.status.as_str() {
        "queued" | "interrupted" => {
            let mut report = job
                .report
                .clone()
                .unwrap_or_else(|| serde_json::json!({ "kind": job.kind }));
            if let Some(o) = report.as_object_mut() {
                o.insert("id".into(), serde_json::json!(job.id));
                o.insert("cancelled".into(), serde_json::json!(true));
            }
            Ok(CancelAction::Now(report))
        }
        "running" => Ok(CancelAction::Flag),
        other => Err(crate::StoreError::Conflict(format!(
            "import {} has already ended ({other}); there is nothing to cancel",
            job.id
        ))),
    }
}
