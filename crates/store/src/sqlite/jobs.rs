//! The job queue on SQLite. One process runs a database's jobs one at a
//! time; the queue, checkpoints and files live in the database file, so
//! they survive a restart.

use std::io::Read;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{db, SqliteStore};
use crate::jobs::{each_chunk, parts_to_job, JobParts, CHUNK_BYTES};
use crate::{now_rfc3339, Checkpoint, Job, JobFile, Jobs, Lease, NewJob, Result};

/// The job queue's schema: job columns on `imports`, and the files.
pub(super) const MIGRATION: &str = r#"
ALTER TABLE imports ADD COLUMN runner TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE imports ADD COLUMN created_at TEXT;
ALTER TABLE imports ADD COLUMN file_name TEXT;
ALTER TABLE imports ADD COLUMN checksum TEXT;
ALTER TABLE imports ADD COLUMN total_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN progress_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN progress_rows INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN step TEXT NOT NULL DEFAULT '';
ALTER TABLE imports ADD COLUMN checkpoint TEXT;
ALTER TABLE imports ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN files_removed INTEGER NOT NULL DEFAULT 0;
UPDATE imports SET created_at = started_at;
CREATE INDEX imports_queue ON imports (status, runner, id);
CREATE TABLE import_files (
    import_id INTEGER NOT NULL,
    file TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (import_id, file, seq)
);
"#;

const JOB_COLUMNS: &str = "id, kind, status, runner, options, started_by, file_name, checksum, \
     COALESCE(created_at, started_at), started_at, finished_at, progress_bytes, total_bytes, \
     progress_rows, step, report, checkpoint, cancel_requested, owner, event_seq, files_removed, \
     undo, journal_pruned_at";

fn row_to_parts(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobParts> {
    Ok(JobParts {
        id: r.get(0)?,
        kind: r.get(1)?,
        status: r.get(2)?,
        runner: r.get(3)?,
        options: r.get(4)?,
        started_by: r.get(5)?,
        file_name: r.get(6)?,
        checksum: r.get(7)?,
        created_at: r.get(8)?,
        started_at: r.get(9)?,
        finished_at: r.get(10)?,
        progress_bytes: r.get(11)?,
        total_bytes: r.get(12)?,
        progress_rows: r.get(13)?,
        step: r.get(14)?,
        report: r.get(15)?,
        checkpoint: r.get(16)?,
        cancel_requested: r.get(17)?,
        owner: r.get(18)?,
        event_seq: r.get(19)?,
        files_removed: r.get(20)?,
        undo: r.get(21)?,
        journal_pruned_at: r.get(22)?,
    })
}

fn append(conn: &rusqlite::Connection, id: i64, appends: &[(JobFile, &[u8])]) -> Result<()> {
    let mut st = conn
        .prepare_cached(
            "INSERT INTO import_files (import_id, file, seq, data) VALUES (?1, ?2, \
             (SELECT COALESCE(MAX(seq) + 1, 0) FROM import_files WHERE import_id = ?1 AND file = ?2), ?3)",
        )
        .map_err(db("storing an import's result files"))?;
    for (file, bytes) in appends {
        for piece in bytes.chunks(CHUNK_BYTES) {
            st.execute(params![id, file.as_str(), piece])
                .map_err(db("storing an import's result files"))?;
        }
    }
    Ok(())
}

impl SqliteStore {
    fn try_job(&mut self, id: i64) -> Result<Option<Job>> {
        let parts = self
            .conn
            .query_row(
                &format!("SELECT {JOB_COLUMNS} FROM imports WHERE id = ?1"),
                [id],
                row_to_parts,
            )
            .optional()
            .map_err(db("reading an import"))?;
        Ok(parts.map(parts_to_job))
    }
}

impl Jobs for SqliteStore {
    fn enqueue_job(&mut self, job: &NewJob, file: &mut dyn Read) -> Result<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("queueing an import"))?;
        tx.execute(
            "INSERT INTO imports (kind, status, options, started_by, started_at, runner, created_at, \
             file_name, checksum, total_bytes, step) \
             VALUES (?1, 'queued', ?2, ?3, '', 'server', ?4, ?5, ?6, ?7, 'queued')",
            params![
                job.kind,
                job.options.to_string(),
                job.started_by,
                now_rfc3339(),
                job.file_name,
                job.checksum,
                job.total_bytes as i64
            ],
        )
        .map_err(db("queueing an import"))?;
        let id = tx.last_insert_rowid();
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO import_files (import_id, file, seq, data) VALUES (?1, 'upload', ?2, ?3)",
                )
                .map_err(db("storing an upload"))?;
            each_chunk(file, |seq, data| {
                st.execute(params![id, seq, data])
                    .map(|_| ())
                    .map_err(db("storing an upload"))
            })?;
        }
        tx.commit().map_err(db("queueing an import"))?;
        Ok(id)
    }

    fn interrupt_stale_jobs(&mut self, stale_before: &str, owner_prefix: &str) -> Result<Vec<i64>> {
        let mut st = self
            .conn
            .prepare(
                "UPDATE imports SET status = 'interrupted', owner = NULL, step = 'interrupted', \
                 event_seq = event_seq + 1 \
                 WHERE status = 'running' AND runner = 'server' AND (heartbeat_at < ?1 \
                 OR (?2 <> '' AND substr(owner, 1, length(?2)) = ?2)) RETURNING id",
            )
            .map_err(db("finding interrupted imports"))?;
        let rows = st
            .query_map(params![stale_before, owner_prefix], |r| r.get(0))
            .map_err(db("finding interrupted imports"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("finding interrupted imports"))
    }

    fn claim_job(&mut self, owner: &str) -> Result<Option<Job>> {
        let now = now_rfc3339();
        let id: Option<i64> = self
            .conn
            .query_row(
                "UPDATE imports SET status = 'running', owner = ?1, heartbeat_at = ?2, \
                 started_at = CASE WHEN started_at = '' THEN ?2 ELSE started_at END, \
                 step = 'starting', finished_at = NULL, event_seq = event_seq + 1 \
                 WHERE id = (SELECT id FROM imports WHERE status IN ('queued', 'interrupted') \
                 AND runner = 'server' ORDER BY id LIMIT 1) RETURNING id",
                params![owner, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("taking an import from the queue"))?;
        match id {
            Some(id) => self.try_job(id),
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
        let cancel: Option<bool> = self
            .conn
            .query_row(
                "UPDATE imports SET heartbeat_at = ?3, \
                 event_seq = event_seq + (progress_bytes <> ?4 OR progress_rows <> ?5 OR step <> ?6), \
                 progress_bytes = ?4, progress_rows = ?5, step = ?6 \
                 WHERE id = ?1 AND owner = ?2 AND status = 'running' RETURNING cancel_requested",
                params![id, owner, now_rfc3339(), bytes as i64, rows as i64, step],
                |r| r.get(0),
            )
            .optional()
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
            .conn
            .prepare_cached(
                "UPDATE imports SET checkpoint = ?3, heartbeat_at = ?4 \
                 WHERE id = ?1 AND owner = ?2 AND status = 'running'",
            )
            .and_then(|mut st| st.execute(params![id, owner, cp, now_rfc3339()]))
            .map_err(db("recording an import's checkpoint"))?;
        if n == 0 {
            return Err(crate::jobs::lease_lost(id));
        }
        append(&self.conn, id, appends)
    }

    fn finish_job(
        &mut self,
        id: i64,
        owner: &str,
        status: &str,
        report: &serde_json::Value,
        appends: &mut [(JobFile, &mut dyn Read)],
    ) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("recording an import's result"))?;
        let n = tx
            .execute(
                "UPDATE imports SET status = ?3, report = ?4, finished_at = ?5, owner = NULL, \
                 step = ?3, event_seq = event_seq + 1 \
                 WHERE id = ?1 AND owner = ?2 AND status = 'running'",
                params![id, owner, status, report.to_string(), now_rfc3339()],
            )
            .map_err(db("recording an import's result"))?;
        if n == 0 {
            return Ok(false);
        }
        for (file, reader) in appends.iter_mut() {
            each_chunk(*reader, |_, data| append(&tx, id, &[(*file, data)]))?;
        }
        tx.commit().map_err(db("recording an import's result"))?;
        Ok(true)
    }

    fn cancel_job(&mut self, id: i64) -> Result<Job> {
        let job = self.job(id)?;
        let changed = match crate::jobs::cancel_action(&job)? {
            crate::jobs::CancelAction::Now(report) => self
                .conn
                .execute(
                    "UPDATE imports SET status = 'cancelled', report = ?3, finished_at = ?4, \
                     owner = NULL, step = 'cancelled', event_seq = event_seq + 1 \
                     WHERE id = ?1 AND status = ?2",
                    params![id, job.status, report.to_string(), now_rfc3339()],
                )
                .map_err(db("cancelling an import"))?,
            crate::jobs::CancelAction::Flag => self
                .conn
                .execute(
                    "UPDATE imports SET cancel_requested = 1, event_seq = event_seq + 1 \
                     WHERE id = ?1 AND status = 'running'",
                    [id],
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
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM imports ORDER BY id DESC"
            ))
            .map_err(db("listing imports"))?;
        let rows = st
            .query_map([], row_to_parts)
            .map_err(db("listing imports"))?;
        let parts: Vec<JobParts> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(db("listing imports"))?;
        Ok(parts.into_iter().map(parts_to_job).collect())
    }

    fn read_job_file(
        &mut self,
        id: i64,
        file: JobFile,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut st = self
            .conn
            .prepare(
                "SELECT data FROM import_files WHERE import_id = ?1 AND file = ?2 ORDER BY seq",
            )
            .map_err(db("reading an import's file"))?;
        let mut rows = st
            .query(params![id, file.as_str()])
            .map_err(db("reading an import's file"))?;
        while let Some(r) = rows.next().map_err(db("reading an import's file"))? {
            let data: Vec<u8> = r.get(0).map_err(db("reading an import's file"))?;
            f(&data)?;
        }
        Ok(())
    }

    fn remove_old_job_files(&mut self, finished_before: &str) -> Result<u64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("removing old import files"))?;
        let old = "SELECT id FROM imports WHERE files_removed = 0 AND runner = 'server' \
                   AND finished_at IS NOT NULL AND finished_at < ?1";
        tx.execute(
            &format!("DELETE FROM import_files WHERE import_id IN ({old})"),
            [finished_before],
        )
        .map_err(db("removing old import files"))?;
        let n = tx
            .execute(
                &format!("UPDATE imports SET files_removed = 1 WHERE id IN ({old})"),
                [finished_before],
            )
            .map_err(db("removing old import files"))?;
        tx.commit().map_err(db("removing old import files"))?;
        Ok(n as u64)
    }
}
