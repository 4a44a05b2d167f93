//! The record of imports on SQLite: leases, conditional status changes, undo.

use rusqlite::{params, OptionalExtension};

use super::{db, SqliteStore};
use crate::{
    now_rfc3339, parse_snapshot, ImportRecord, Imports, Result, StoreError, UndoConflict,
    UNDOABLE_STATUSES,
};

fn row_to_import(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImportRecord> {
    let options: String = r.get(3)?;
    let report: String = r.get(4)?;
    let progress: String = r.get(10)?;
    Ok(ImportRecord {
        id: r.get(0)?,
        kind: r.get(1)?,
        status: r.get(2)?,
        options: serde_json::from_str(&options).unwrap_or_default(),
        report: serde_json::from_str(&report).unwrap_or_default(),
        started_by: r.get(5)?,
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
        owner: r.get(8)?,
        heartbeat_at: r.get(9)?,
        progress: serde_json::from_str(&progress).unwrap_or_default(),
    })
}

const IMPORT_COLUMNS: &str = "id, kind, status, options, report, started_by, started_at, finished_at, owner, heartbeat_at, progress";

/// `'succeeded','failed',…` for an `IN (…)`.
pub(crate) fn undoable_list() -> String {
    UNDOABLE_STATUSES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Why import `id` (in `status`) cannot be undone.
pub(crate) fn not_undoable(id: i64, status: &str) -> StoreError {
    match status {
        "undone" => StoreError::Stale(format!("import {id} was already undone")),
        "running" | "queued" => StoreError::Stale(format!(
            "import {id} is still {status}; wait until it has finished (see roster imports list), then undo it"
        )),
        other => StoreError::Stale(format!(
            "import {id} is {other} and cannot be undone"
        )),
    }
}

impl Imports for SqliteStore {
    fn start_import(
        &mut self,
        kind: &str,
        options: &serde_json::Value,
        started_by: &str,
        owner: &str,
    ) -> Result<i64> {
        let now = now_rfc3339();
        self.conn
            .execute(
                "INSERT INTO imports (kind, status, options, started_by, started_at, owner, heartbeat_at) \
                 VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?4)",
                params![kind, options.to_string(), started_by, now, owner],
            )
            .map_err(db("recording the import"))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn heartbeat_import(
        &mut self,
        id: i64,
        owner: &str,
        progress: &serde_json::Value,
    ) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE imports SET heartbeat_at = ?3, progress = ?4 \
                 WHERE id = ?1 AND owner = ?2 AND status = 'running'",
            )
            .and_then(|mut st| st.execute(params![id, owner, now_rfc3339(), progress.to_string()]))
            .map_err(db("renewing the import's heartbeat"))?;
        Ok(n == 1)
    }

    fn finish_import(
        &mut self,
        id: i64,
        owner: &str,
        status: &str,
        report: &serde_json::Value,
    ) -> Result<bool> {
        let now = now_rfc3339();
        let n = self
            .conn
            .execute(
                "UPDATE imports SET status = ?3, report = ?4, finished_at = ?5, heartbeat_at = ?5 \
                 WHERE id = ?1 AND owner = ?2 AND status = 'running'",
                params![id, owner, status, report.to_string(), now],
            )
            .map_err(db("recording the import's result"))?;
        Ok(n == 1)
    }

    fn interrupt_import(
        &mut self,
        id: i64,
        owner: Option<&str>,
        heartbeat_at: Option<&str>,
    ) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE imports SET status = 'interrupted', report = progress, finished_at = ?4 \
                 WHERE id = ?1 AND status = 'running' AND owner IS ?2 AND heartbeat_at IS ?3",
                params![id, owner, heartbeat_at, now_rfc3339()],
            )
            .map_err(db("marking an import interrupted"))?;
        Ok(n == 1)
    }

    fn imports(&mut self) -> Result<Vec<ImportRecord>> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {IMPORT_COLUMNS} FROM imports ORDER BY id"))
            .map_err(db("listing imports"))?;
        let rows = st
            .query_map([], row_to_import)
            .map_err(db("listing imports"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing imports"))
    }

    fn import(&mut self, id: i64) -> Result<ImportRecord> {
        self.conn
            .query_row(
                &format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = ?1"),
                [id],
                row_to_import,
            )
            .optional()
            .map_err(db("reading an import"))?
            .ok_or_else(|| {
                StoreError::NotFound(format!("there is no import {id}; see roster imports list"))
            })
    }

    fn undo_conflicts(&mut self, id: i64) -> Result<Vec<UndoConflict>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT email, 'created by this import, changed since' FROM contacts WHERE created_import = ?1 AND changed_by IS NOT ?1 \
                 UNION ALL \
                 SELECT c.email, 'updated by this import, changed since' FROM import_changes k JOIN contacts c ON c.id = k.contact_id \
                 WHERE k.import_id = ?1 AND c.changed_by IS NOT ?1 ORDER BY 1",
            )
            .map_err(db("checking the import for undo"))?;
        let rows = st
            .query_map([id], |r| {
                Ok(UndoConflict {
                    email: r.get(0)?,
                    reason: r.get(1)?,
                })
            })
            .map_err(db("checking the import for undo"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("checking the import for undo"))
    }

    fn undo_import(&mut self, id: i64) -> Result<(u64, u64)> {
        let status = self.import(id)?.status;
        // BEGIN IMMEDIATE: the status check and the undo are one write, so no
        // import can start committing under a record being undone.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("undoing an import"))?;
        let now = now_rfc3339();
        let claimed = tx
            .execute(
                &format!(
                    "UPDATE imports SET status = 'undone', finished_at = ?2 WHERE id = ?1 AND status IN ({})",
                    undoable_list()
                ),
                params![id, now],
            )
            .map_err(db("undoing an import"))?;
        if claimed != 1 {
            let now_status: String = tx
                .query_row("SELECT status FROM imports WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .unwrap_or(status);
            return Err(not_undoable(id, &now_status));
        }
        let deleted = tx
            .execute("DELETE FROM contacts WHERE created_import = ?1", [id])
            .map_err(db("deleting the contacts an import created"))? as u64;
        let mut restored = 0;
        {
            let mut st = tx
                .prepare("SELECT contact_id, before FROM import_changes WHERE import_id = ?1")
                .map_err(db("undoing an import"))?;
            let mut upd = tx
                .prepare(
                    "UPDATE contacts SET first_name = ?2, last_name = ?3, company_id = ?4, labels = ?5, custom = ?6, changed_by = ?7, updated_at = ?8 WHERE id = ?1",
                )
                .map_err(db("undoing an import"))?;
            let mut rows = st.query([id]).map_err(db("undoing an import"))?;
            while let Some(r) = rows.next().map_err(db("undoing an import"))? {
                let cid: i64 = r.get(0).map_err(db("undoing an import"))?;
                let before: String = r.get(1).map_err(db("undoing an import"))?;
                let s = parse_snapshot(&before)?;
                restored += upd
                    .execute(params![
                        cid,
                        s.first_name,
                        s.last_name,
                        s.company_id,
                        s.labels,
                        s.custom,
                        s.changed_by,
                        now
                    ])
                    .map_err(db("restoring a contact"))? as u64;
            }
        }
        tx.execute("DELETE FROM import_changes WHERE import_id = ?1", [id])
            .map_err(db("undoing an import"))?;
        tx.commit().map_err(db("undoing an import"))?;
        Ok((deleted, restored))
    }
}
