//! The job queue on PostgreSQL, shared by every `roster serve` on the
//! database: a claim is one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP
//! LOCKED)`, so two servers never take the same job and never wait on each
//! other; the lease is the owner and its heartbeat time on the job's row,
//! and a batch's checkpoint updates that row only while the owner is still
//! the worker (the row lock orders it against a takeover).

use std::io::Read;

use postgres::Row;

use super::{db, PgStore};
use crate::jobs::{each_chunk, parts_to_job, JobParts, CHUNK_BYTES};
use crate::{now_rfc3339, Checkpoint, Job, JobFile, Jobs, Lease, NewJob, Result};

/// The job queue's schema: job columns on `imports`, and the files.
pub(super) const MIGRATION: &str = r#"
ALTER TABLE imports
    ADD COLUMN runner TEXT NOT NULL DEFAULT 'cli',
    ADD COLUMN created_at TEXT,
    ADD COLUMN file_name TEXT,
    ADD COLUMN checksum TEXT,
    ADD COLUMN total_bytes BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN progress_bytes BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN progress_rows BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN step TEXT NOT NULL DEFAULT '',
    ADD COLUMN checkpoint TEXT,
    ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN files_removed BOOLEAN NOT NULL DEFAULT false;
UPDATE imports SET created_at = started_at;
CREATE INDEX imports_queue ON imports (status, runner, id);
CREATE TABLE import_files (
    import_id BIGINT NOT NULL,
    file TEXT NOT NULL,
    seq BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (import_id, file, seq)
);
"#;

const JOB_COLUMNS: &str = "id, kind, status, runner, options, started_by, file_name, checksum, \
     COALESCE(created_at, started_at), started_at, finished_at, progress_bytes, total_bytes, \
     progress_rows, step, report, checkpoint, cancel_requested, owner, event_seq, files_removed, \
     undo, journal_pruned_at";

fn row_to_parts(r: &Row) -> std::result::Result<JobParts, postgres::Error> {
    Ok(JobParts {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        status: r.try_get(2)?,
        runner: r.try_get(3)?,
        options: r.try_get(4)?,
        started_by: r.try_get(5)?,
        file_name: r.try_get(6)?,
        checksum: r.try_get(7)?,
        created_at: r.try_get(8)?,
        started_at: r.try_get(9)?,
        finished_at: r.try_get(10)?,
        progress_bytes: r.try_get(11)?,
        total_bytes: r.try_get(12)?,
        progress_rows: r.try_get(13)?,
        step: r.try_get(14)?,
        report: r.try_get(15)?,
        checkpoint: r.try_get(16)?,
        cancel_requested: r.try_get(17)?,
        owner: r.try_get(18)?,
        event_seq: r.try_get(19)?,
        files_removed: r.try_get(20)?,
        undo: r.try_get(21)?,
        journal_pruned_at: r.try_get(22)?,
    })
}

fn append(client: &mut postgres::Client, id: i64, appends: &[(JobFile, &[u8])]) -> Result<()> {
    let what = "storing an import's result files";
    for (file, bytes) in appends {
        for piece in bytes.chunks(CHUNK_BYTES) {
            client
                .execute(
                    "INSERT INTO import_files (import_id, file, seq, data) VALUES ($1, $2, \
                     (SELECT COALESCE(MAX(seq) + 1, 0) FROM import_files WHERE import_id = $1 AND file = $2), $3)",
                    &[&id, &file.as_str(), &piece],
                )
                .map_err(db(what))?;
        }
    }
    Ok(())
}

impl PgStore {
    fn try_job(&mut self, id: i64) -> Result<Option<Job>> {
        let row = self
            .client
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM imports WHERE id = $1"),
                &[&id],
            )
            .map_err(db("reading an import"))?;
        row.as_ref()
            .map(row_to_parts)
            .transpose()
            .map(|p| p.map(parts_to_job))
            .map_err(db("reading an import"))
    }
}

impl Jobs for PgStore {
    fn enqueue_job(&mut self, job: &NewJob, file: &mut dyn Read) -> Result<i64> {
        self.in_transaction("BEGIN", |s| {
            let id: i64 = s
                .client
                .query_one(
                    "INSERT INTO imports (kind, status, options, started_by, started_at, runner, \
                     created_at, file_name, checksum, total_bytes, step) \
                     VALUES ($1, 'queued', $2, $3, '', 'server', $4, $5, $6, $7, 'queued') RETURNING id",
                    &[
                        &job.kind,
                        &job.options.to_string(),
                        &job.started_by,
                        &now_rfc3339(),
                        &job.file_name,
                        &job.checksum,
                        &(job.total_bytes as i64),
                    ],
                )
                .and_then(|r| r.try_get(0))
                .map_err(db("queueing an import"))?;
            let st = s
                .client
                .prepare(
                    "INSERT INTO import_files (import_id, file, seq, data) VALUES ($1, 'upload', $2, $3)",
                )
                .map_err(db("storing an upload"))?;
            let client = &mut s.client;
            each_chunk(file, |seq, data| {
                client
                    .execute(&st, &[&id, &seq, &data])
                    .map(|_| ())
                    .map_err(db("storing an upload"))
            })?;
            Ok(id)
        })
    }

    fn interrupt_stale_jobs(&mut self, stale_before: &str, owner_prefix: &str) -> Result<Vec<i64>> {
        let rows = self
            .client
            .query(
                "UPDATE imports SET status = 'interrupted', owner = NULL, step = 'interrupted', \
                 event_seq = event_seq + 1 \
                 WHERE status = 'running' AND runner = 'server' AND (heartbeat_at < $1 \
                 OR ($2 <> '' AND left(owner, length($2)) = $2)) RETURNING id",
                &[&stale_before, &owner_prefix],
            )
            .map_err(db("finding interrupted imports"))?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()
            .map_err(db("finding interrupted imports"))
    }

    fn claim_job(&mut self, owner: &str) -> Result<Option<Job>> {
        let row = self
            .client
            .query_opt(
                "UPDATE imports SET status = 'running', owner = $1, heartbeat_at = $2, \
                 started_at = CASE WHEN started_at = '' THEN $2 ELSE started_at END, \
                 step = 'starting', finished_at = NULL, event_seq = event_seq + 1 \
                 WHERE id = (SELECT id FROM imports WHERE status IN ('queued', 'interrupted') \
                 AND runner = 'server' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                &[&owner, &now_rfc3339()],
            )
            .map_err(db("taking an import from the queue"))?;
        match row {
            Some(r) => {
                let id: i64 = r
                    .try_get(0)
                    .map_err(db("taking an import from the queue"))?;
                self.try_job(id)
            }
            None => Ok(None),
        }
    }

    fn heartbeat_job(
        &mut self,
        id: i64,
        owner: &str,
        bytes: u64,
        rows: u64,
        step: &str,
    ) -> Result<Lease> {
        let row = self
            .client
            .query_opt(
                "UPDATE imports SET heartbeat_at = $3, \
                 event_seq = event_seq + CASE WHEN progress_bytes <> $4 OR progress_rows <> $5 \
                 OR step <> $6 THEN 1 ELSE 0 END, \
                 progress_bytes = $4, progress_rows = $5, step = $6 \
                 WHERE id = $1 AND owner = $2 AND status = 'running' RETURNING cancel_requested",
                &[
                    &id,
                    &owner,
                    &now_rfc3339(),
                    &(bytes as i64),
                    &(rows as i64),
                    &step,
                ],
            )
            .map_err(db("renewing an import's lease"))?;
        let cancel: Option<bool> = row
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(db("renewing an import's lease"))?;
        Ok(Lease {
            owned: cancel.is_some(),
            cancel_requested: cancel.unwrap_or(false),
        })
    }

    fn checkpoint_job(
        &mut self,
        id: i64,
        owner: &str,
        checkpoint: &Checkpoint,
        appends: &[(JobFile, &[u8])],
    ) -> Result<()> {
        let cp = serde_json::to_string(checkpoint).unwrap_or_default();
        let n = self
            .client
            .execute(
                "UPDATE imports SET checkpoint = $3, heartbeat_at = $4 \
                 WHERE id = $1 AND owner = $2 AND status = 'running'",
                &[&id, &owner, &cp, &now_rfc3339()],
            )
            .map_err(db("recording an import's checkpoint"))?;
        if n == 0 {
            return Err(crate::jobs::lease_lost(id));
        }
        append(&mut self.client, id, appends)
    }

    fn finish_job(
        &mut self,
        id: i64,
        owner: &str,
        status: &str,
        report: &serde_json::Value,
        appends: &mut [(JobFile, &mut dyn Read)],
    ) -> Result<bool> {
        self.in_transaction("BEGIN", |s| {
            let n = s
                .client
                .execute(
                    "UPDATE imports SET status = $3, report = $4, finished_at = $5, owner = NULL, \
                     step = $3, event_seq = event_seq + 1 \
                     WHERE id = $1 AND owner = $2 AND status = 'running'",
                    &[&id, &owner, &status, &report.to_string(), &now_rfc3339()],
                )
                .map_err(db("recording an import's result"))?;
            if n == 0 {
                return Ok(false);
            }
            for (file, reader) in appends.iter_mut() {
                let client = &mut s.client;
                each_chunk(*reader, |_, data| append(client, id, &[(*file, data)]))?;
            }
            Ok(true)
        })
    }

    fn cancel_job(&mut self, id: i64) -> Result<Job> {
        let job = self.job(id)?;
        let changed = match crate::jobs::cancel_action(&job)? {
            crate::jobs::CancelAction::Now(report) => self
                .client
                .execute(
                    "UPDATE imports SET status = 'cancelled', report = $3, finished_at = $4, \
                     owner = NULL, step = 'cancelled', event_seq = event_seq + 1 \
                     WHERE id = $1 AND status = $2",
                    &[&id, &job.status, &report.to_string(), &now_rfc3339()],
                )
                .map_err(db("cancelling an import"))?,
            crate::jobs::CancelAction::Flag => self
                .client
                .execute(
                    "UPDATE imports SET cancel_requested = true, event_seq = event_seq + 1 \
                     WHERE id = $1 AND status = 'running'",
                    &[&id],
                )
                .map_err(db("cancelling an import"))?,
        };
        if changed == 0 {
            // The job moved on meanwhile (claimed, or finished): decide again.
            return self.cancel_job(id);
        }
        self.job(id)
    }

    fn job(&mut self, id: i64) -> Result<Job> {
        self.try_job(id)?
            .ok_or_else(|| crate::jobs::no_such_import(id))
    }

    fn jobs(&mut self) -> Result<Vec<Job>> {
        let rows = self
            .client
            .query(
                &format!("SELECT {JOB_COLUMNS} FROM imports ORDER BY id DESC"),
                &[],
            )
            .map_err(db("listing imports"))?;
        rows.iter()
            .map(|r| row_to_parts(r).map(parts_to_job))
            .collect::<std::result::Result<_, _>>()
            .map_err(db("listing imports"))
    }

    fn read_job_file(
        &mut self,
        id: i64,
        file: JobFile,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let what = "reading an import's file";
        let st = self
            .client
            .prepare(
                "SELECT seq, data FROM import_files WHERE import_id = $1 AND file = $2 AND seq >= $3 \
                 ORDER BY seq LIMIT 1",
            )
            .map_err(db(what))?;
        // One chunk per round trip: memory stays at one chunk whatever the file.
        let mut next = 0i64;
        while let Some(r) = self
            .client
            .query_opt(&st, &[&id, &file.as_str(), &next])
            .map_err(db(what))?
        {
            let seq: i64 = r.try_get(0).map_err(db(what))?;
            let data: &[u8] = r.try_get(1).map_err(db(what))?;
            f(data)?;
            next = seq + 1;
        }
        Ok(())
    }

    fn remove_old_job_files(&mut self, finished_before: &str) -> Result<u64> {
        self.in_transaction("BEGIN", |s| {
            let what = "removing old import files";
            let ids: Vec<i64> = s
                .client
                .query(
                    "UPDATE imports SET files_removed = true WHERE files_removed = false \
                     AND runner = 'server' AND finished_at IS NOT NULL AND finished_at < $1 RETURNING id",
                    &[&finished_before],
                )
                .map_err(db(what))?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<std::result::Result<_, _>>()
                .map_err(db(what))?;
            s.client
                .execute(
                    "DELETE FROM import_files WHERE import_id = ANY($1)",
                    &[&ids],
                )
                .map_err(db(what))?;
            Ok(ids.len() as u64)
        })
    }
}
