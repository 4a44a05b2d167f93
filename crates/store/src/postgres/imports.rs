//! The record of imports on PostgreSQL: leases, conditional status
//! changes, undo. The same rules as SQLite's (`sqlite/imports.rs`).

use postgres::{Client, Row};

use super::{db, PgStore, PAGE};
use crate::sqlite::imports::{not_undoable, undoable_list};
use crate::{now_rfc3339, parse_snapshot, ImportRecord, Imports, Result, StoreError, UndoConflict};

fn row_to_import(r: &Row) -> std::result::Result<ImportRecord, postgres::Error> {
    let options: String = r.try_get(3)?;
    let report: String = r.try_get(4)?;
    let progress: String = r.try_get(10)?;
    Ok(ImportRecord {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        status: r.try_get(2)?,
        options: serde_json::from_str(&options).unwrap_or_default(),
        report: serde_json::from_str(&report).unwrap_or_default(),
        started_by: r.try_get(5)?,
        started_at: r.try_get(6)?,
        finished_at: r.try_get(7)?,
        owner: r.try_get(8)?,
        heartbeat_at: r.try_get(9)?,
        progress: serde_json::from_str(&progress).unwrap_or_default(),
    })
}

const IMPORT_COLUMNS: &str = "id, kind, status, options, report, started_by, started_at, finished_at, owner, heartbeat_at, progress";

impl Imports for PgStore {
    fn start_import(
        &mut self,
        kind: &str,
        options: &serde_json::Value,
        started_by: &str,
        owner: &str,
    ) -> Result<i64> {
        self.client
            .query_one(
                "INSERT INTO imports (kind, status, options, started_by, started_at, owner, heartbeat_at) \
                 VALUES ($1, 'running', $2, $3, $4, $5, $4) RETURNING id",
                &[&kind, &options.to_string(), &started_by, &now_rfc3339(), &owner],
            )
            .and_then(|r| r.try_get(0))
            .map_err(db("recording the import"))
    }

    fn heartbeat_import(
        &mut self,
        id: i64,
        owner: &str,
        progress: &serde_json::Value,
    ) -> Result<bool> {
        let n = self
            .client
            .execute(
                "UPDATE imports SET heartbeat_at = $3, progress = $4 \
                 WHERE id = $1 AND owner = $2 AND status = 'running'",
                &[&id, &owner, &now_rfc3339(), &progress.to_string()],
            )
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
            .client
            .execute(
                "UPDATE imports SET status = $3, report = $4, finished_at = $5, heartbeat_at = $5 \
                 WHERE id = $1 AND owner = $2 AND status = 'running'",
                &[&id, &owner, &status, &report.to_string(), &now],
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
            .client
            .execute(
                "UPDATE imports SET status = 'interrupted', report = progress, finished_at = $4 \
                 WHERE id = $1 AND status = 'running' AND owner IS NOT DISTINCT FROM $2 \
                 AND heartbeat_at IS NOT DISTINCT FROM $3",
                &[&id, &owner, &heartbeat_at, &now_rfc3339()],
            )
            .map_err(db("marking an import interrupted"))?;
        Ok(n == 1)
    }

    fn imports(&mut self) -> Result<Vec<ImportRecord>> {
        let rows = self
            .client
            .query(
                &format!("SELECT {IMPORT_COLUMNS} FROM imports ORDER BY id"),
                &[],
            )
            .map_err(db("listing imports"))?;
        rows.iter()
            .map(row_to_import)
            .collect::<std::result::Result<_, _>>()
            .map_err(db("listing imports"))
    }

    fn import(&mut self, id: i64) -> Result<ImportRecord> {
        self.client
            .query_opt(
                &format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1"),
                &[&id],
            )
            .and_then(|r| r.as_ref().map(row_to_import).transpose())
            .map_err(db("reading an import"))?
            .ok_or_else(|| {
                StoreError::NotFound(format!("there is no import {id}; see roster imports list"))
            })
    }

    fn undo_conflicts(&mut self, id: i64) -> Result<Vec<UndoConflict>> {
        let rows = self
            .client
            .query(
                "SELECT email, reason FROM ( \
                 SELECT email, 'created by this import, changed since' AS reason FROM contacts \
                 WHERE created_import = $1 AND changed_by IS DISTINCT FROM $1 \
                 UNION ALL \
                 SELECT c.email, 'updated by this import, changed since' FROM import_changes k JOIN contacts c ON c.id = k.contact_id \
                 WHERE k.import_id = $1 AND c.changed_by IS DISTINCT FROM $1 \
                 ) u ORDER BY email COLLATE \"C\", reason COLLATE \"C\"",
                &[&id],
            )
            .map_err(db("checking the import for undo"))?;
        rows.iter()
            .map(|r| {
                Ok(UndoConflict {
                    email: r.try_get(0)?,
                    reason: r.try_get(1)?,
                })
            })
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(db("checking the import for undo"))
    }

    fn undo_import(&mut self, id: i64) -> Result<(u64, u64)> {
        let status = self.import(id)?.status;
        self.in_transaction("BEGIN", |s| undo_import(&mut s.client, id, &status))
    }
}

/// Moves the record to `undone` (only from a finished status; the row lock
/// this takes makes a running batch's heartbeat wait, then fail), deletes
/// what import `id` created, then restores what it changed, a page of
/// snapshots at a time (one `UPDATE … FROM unnest(…)` per page).
fn undo_import(client: &mut Client, id: i64, status: &str) -> Result<(u64, u64)> {
    let now = now_rfc3339();
    let claimed = client
        .query_opt(
            &format!(
                "UPDATE imports SET status = 'undone', finished_at = $2 WHERE id = $1 AND status IN ({}) RETURNING id",
                undoable_list()
            ),
            &[&id, &now],
        )
        .map_err(db("undoing an import"))?;
    if claimed.is_none() {
        let now_status: String = client
            .query_opt("SELECT status FROM imports WHERE id = $1", &[&id])
            .ok()
            .flatten()
            .and_then(|r| r.try_get(0).ok())
            .unwrap_or_else(|| status.to_string());
        return Err(not_undoable(id, &now_status));
    }
    let deleted = client
        .execute("DELETE FROM contacts WHERE created_import = $1", &[&id])
        .map_err(db("deleting the contacts an import created"))?;
    let page = client
        .prepare(
            "SELECT contact_id, before FROM import_changes WHERE import_id = $1 AND contact_id > $2 \
             ORDER BY contact_id LIMIT $3",
        )
        .map_err(db("undoing an import"))?;
    let restore = client
        .prepare(
            "UPDATE contacts c SET first_name = u.first_name, last_name = u.last_name, company_id = u.company_id, \
             labels = u.labels, custom = u.custom, changed_by = u.changed_by, updated_at = $8 \
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[]) \
             AS u(id, first_name, last_name, company_id, labels, custom, changed_by) WHERE c.id = u.id",
        )
        .map_err(db("undoing an import"))?;
    let mut restored = 0;
    let mut after = i64::MIN;
    loop {
        let rows = client
            .query(&page, &[&id, &after, &PAGE])
            .map_err(db("undoing an import"))?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0).map_err(db("undoing an import"))?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut first_names = Vec::with_capacity(rows.len());
        let mut last_names = Vec::with_capacity(rows.len());
        let mut companies = Vec::with_capacity(rows.len());
        let mut labels = Vec::with_capacity(rows.len());
        let mut customs = Vec::with_capacity(rows.len());
        let mut changed_by = Vec::with_capacity(rows.len());
        for r in &rows {
            let cid: i64 = r.try_get(0).map_err(db("undoing an import"))?;
            let before: String = r.try_get(1).map_err(db("undoing an import"))?;
            let s = parse_snapshot(&before)?;
            ids.push(cid);
            first_names.push(s.first_name);
            last_names.push(s.last_name);
            companies.push(s.company_id);
            labels.push(s.labels);
            customs.push(s.custom);
            changed_by.push(s.changed_by);
        }
        restored += client
            .execute(
                &restore,
                &[
                    &ids,
                    &first_names,
                    &last_names,
                    &companies,
                    &labels,
                    &customs,
                    &changed_by,
                    &now,
                ],
            )
            .map_err(db("restoring contacts"))?;
    }
    client
        .execute("DELETE FROM import_changes WHERE import_id = $1", &[&id])
        .map_err(db("undoing an import"))?;
    Ok((deleted, restored))
}
