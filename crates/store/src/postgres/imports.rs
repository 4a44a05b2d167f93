//! The record of imports on PostgreSQL: leases, conditional status
//! changes, undo. The same rules as SQLite's (`sqlite/imports.rs`).

use postgres::types::ToSql;
use postgres::{Client, Row};
use serde_json::{Map, Value};

use super::{db, PgStore};
use crate::sqlite::imports::undoable_list;
use crate::undo::{self, Current, JournalRow, Names, RecordKind, Touched, UndoRow, UndoSql};
use crate::{now_rfc3339, ImportRecord, Imports, Result, StoreError, UndoOutcome, UndoPlan, User};

/// Undo's schema: the users' journal, the undo's progress, pruning.
pub(super) const UNDO_MIGRATION: &str = r#"
CREATE TABLE import_user_changes (
    import_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    before TEXT NOT NULL,
    changed_by BIGINT,
    PRIMARY KEY (import_id, user_id)
);
ALTER TABLE imports ADD COLUMN undo_state TEXT;
ALTER TABLE imports ADD COLUMN undo TEXT;
ALTER TABLE imports ADD COLUMN journal_pruned_at TEXT;
"#;

fn row_to_import(r: &Row) -> std::result::Result<ImportRecord, postgres::Error> {
    let options: String = r.try_get(3)?;
    let report: String = r.try_get(4)?;
    let progress: String = r.try_get(10)?;
    let undo: Option<String> = r.try_get(15)?;
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
        runner: r.try_get(11)?,
        file_name: r.try_get(12)?,
        total_bytes: r.try_get::<_, i64>(13)?.max(0) as u64,
        checksum: r.try_get(14)?,
        undo: undo
            .and_then(|u| serde_json::from_str(&u).ok())
            .unwrap_or_default(),
        journal_pruned_at: r.try_get(16)?,
    })
}

const IMPORT_COLUMNS: &str = "id, kind, status, options, report, started_by, started_at, finished_at, owner, heartbeat_at, progress, \
     runner, file_name, total_bytes, checksum, undo, journal_pruned_at";

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

    fn undo_plan(&mut self, id: i64) -> Result<UndoPlan> {
        undo::plan(self, id)
    }

    fn undo_import(&mut self, id: i64, force: bool, by: &str) -> Result<UndoOutcome> {
        undo::run(self, id, force, by)
    }

    fn prune_journals(&mut self, finished_before: &str) -> Result<Vec<i64>> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT id FROM imports WHERE journal_pruned_at IS NULL AND status IN ({}) \
                     AND COALESCE(finished_at, started_at) < $1 ORDER BY id",
                    undoable_list()
                ),
                &[&finished_before],
            )
            .map_err(db("pruning journals"))?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()
            .map_err(db("pruning journals"))?;
        for id in &ids {
            self.in_transaction("BEGIN", |s| {
                let c = &mut s.client;
                c.execute("DELETE FROM import_changes WHERE import_id = $1", &[id])
                    .map_err(db("pruning journals"))?;
                c.execute("DELETE FROM import_user_changes WHERE import_id = $1", &[id])
                    .map_err(db("pruning journals"))?;
                c.execute(
                    &format!(
                        "UPDATE imports SET journal_pruned_at = $2 WHERE id = $1 AND status IN ({})",
                        undoable_list()
                    ),
                    &[id, &now_rfc3339()],
                )
                .map_err(db("pruning journals"))?;
                Ok(())
            })?;
        }
        Ok(ids)
    }

    fn record_import_file(
        &mut self,
        id: i64,
        name: &str,
        bytes: u64,
        checksum: Option<&str>,
    ) -> Result<()> {
        self.client
            .execute(
                "UPDATE imports SET file_name = $2, total_bytes = $3, checksum = $4 WHERE id = $1",
                &[&id, &name, &(bytes as i64), &checksum],
            )
            .map_err(db("recording the imported file"))?;
        Ok(())
    }
}

/// Journals records whose first journal entry could not simply be
/// inserted: the import created them (nothing to keep), or already kept an
/// entry for them (merged, its first values win). At most four statements
/// for any number of records (a file that repeats its emails across
/// batches has one such contact per repeat).
pub(super) fn journal_again(
    client: &mut Client,
    kind: RecordKind,
    import_id: i64,
    entries: &[(i64, String)],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let what = "recording the import for undo";
    let (table, journal, key) = (kind.table(), kind.journal(), kind.key());
    let ids: Vec<i64> = entries.iter().map(|(id, _)| *id).collect();
    let created: std::collections::HashSet<i64> = client
        .query(
            &format!("SELECT id FROM {table} WHERE id = ANY($1) AND created_import = $2"),
            &[&ids, &import_id],
        )
        .map_err(db(what))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut kept: std::collections::HashMap<i64, String> = client
        .query(
            &format!(
                "SELECT {key}, before FROM {journal} WHERE import_id = $1 AND {key} = ANY($2)"
            ),
            &[&import_id, &ids],
        )
        .map_err(db(what))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let (mut merged_ids, mut merged) = (Vec::new(), Vec::new());
    let (mut new_ids, mut new_entries) = (Vec::new(), Vec::new());
    for (id, entry) in entries {
        if created.contains(id) {
            continue;
        }
        match kept.remove(id) {
            Some(k) => {
                merged_ids.push(*id);
                merged.push(undo::merge_journal(&k, entry)?);
            }
            None => {
                new_ids.push(*id);
                new_entries.push(entry.as_str());
            }
        }
    }
    if !merged_ids.is_empty() {
        client
            .execute(
                &format!(
                    "UPDATE {journal} j SET before = u.before \
                     FROM unnest($2::bigint[], $3::text[]) AS u(id, before) \
                     WHERE j.import_id = $1 AND j.{key} = u.id"
                ),
                &[&import_id, &merged_ids, &merged],
            )
            .map_err(db(what))?;
    }
    if !new_ids.is_empty() {
        let sql = match kind {
            RecordKind::Contacts => {
                "INSERT INTO import_changes (import_id, contact_id, before) \
                 SELECT $1, id, before FROM unnest($2::bigint[], $3::text[]) AS u(id, before)"
            }
            // A user's entry also keeps who changed it before.
            RecordKind::Users => {
                "INSERT INTO import_user_changes (import_id, user_id, before, changed_by) \
                 SELECT $1, s.id, u.before, s.changed_by \
                 FROM unnest($2::bigint[], $3::text[]) AS u(id, before) JOIN users s ON s.id = u.id"
            }
        };
        client
            .execute(sql, &[&import_id, &new_ids, &new_entries])
            .map_err(db(what))?;
    }
    Ok(())
}

/// Journals a user import `import_id` is about to change (before the
/// update, so the row's `changed_by` is still the previous one).
pub(super) fn journal_user(client: &mut Client, import_id: i64, b: &User, a: &User) -> Result<()> {
    let entry = undo::user_journal(b, a);
    let n = client
        .execute(
            "INSERT INTO import_user_changes (import_id, user_id, before, changed_by) \
             SELECT $1::bigint, id, $3::text, changed_by FROM users WHERE id = $2 AND created_import IS DISTINCT FROM $1 \
             ON CONFLICT DO NOTHING",
            &[&import_id, &b.id, &entry],
        )
        .map_err(db("recording the import for undo"))?;
    if n == 0 {
        journal_again(client, RecordKind::Users, import_id, &[(b.id, entry)])?;
    }
    Ok(())
}

fn attr_value(r: &Row, i: usize, attr: &str) -> std::result::Result<Value, postgres::Error> {
    Ok(match attr {
        "active" => r
            .try_get::<_, Option<bool>>(i)?
            .map(Value::Bool)
            .unwrap_or(Value::Null),
        "company_id" => r
            .try_get::<_, Option<i64>>(i)?
            .map(Value::from)
            .unwrap_or(Value::Null),
        _ => r
            .try_get::<_, Option<String>>(i)?
            .map(Value::String)
            .unwrap_or(Value::Null),
    })
}

impl UndoSql for PgStore {
    fn begin_write(&mut self) -> Result<()> {
        crate::Transactions::begin(self)
    }
    fn commit_write(&mut self) -> Result<()> {
        crate::Transactions::commit(self)
    }
    fn rollback_write(&mut self) {
        let _ = crate::Transactions::rollback(self);
    }

    fn undo_state(&mut self, id: i64) -> Result<Option<UndoRow>> {
        // Locked inside a transaction: two undo processes take turns.
        let lock = if self.in_tx { " FOR UPDATE" } else { "" };
        let row = self
            .client
            .query_opt(
                &format!("SELECT kind, status, undo_state, undo, journal_pruned_at FROM imports WHERE id = $1{lock}"),
                &[&id],
            )
            .map_err(db("reading an import"))?;
        let Some(r) = row else { return Ok(None) };
        let undo: Option<String> = r.get(3);
        Ok(Some(UndoRow {
            kind: r.get(0),
            status: r.get(1),
            undo_state: r.get(2),
            progress: undo
                .and_then(|u| serde_json::from_str(&u).ok())
                .unwrap_or_default(),
            pruned_at: r.get(4),
        }))
    }

    fn set_undo_state(&mut self, id: i64, state: &str, progress: &Value) -> Result<()> {
        self.client
            .execute(
                "UPDATE imports SET undo_state = $2, undo = $3, event_seq = event_seq + 1 WHERE id = $1",
                &[&id, &state, &progress.to_string()],
            )
            .map_err(db("recording the undo's progress"))?;
        Ok(())
    }

    fn claim_undo(&mut self, id: i64, progress: &Value) -> Result<bool> {
        let n = self
            .client
            .execute(
                &format!(
                    "UPDATE imports SET status = 'undone', undo_state = 'running', undo = $2, event_seq = event_seq + 1 \
                     WHERE id = $1 AND status IN ({}) AND journal_pruned_at IS NULL",
                    undoable_list()
                ),
                &[&id, &progress.to_string()],
            )
            .map_err(db("undoing an import"))?;
        Ok(n == 1)
    }

    fn created_range(&mut self, kind: RecordKind, id: i64) -> Result<(u64, i64, i64)> {
        let r = self
            .client
            .query_one(
                &format!(
                    "SELECT count(*), COALESCE(min(id), 0), COALESCE(max(id), -1) FROM {} WHERE created_import = $1",
                    kind.table()
                ),
                &[&id],
            )
            .map_err(db("reading what an import created"))?;
        Ok((r.get::<_, i64>(0) as u64, r.get(1), r.get(2)))
    }

    fn created_touched(
        &mut self,
        kind: RecordKind,
        id: i64,
        window: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<(u64, Vec<Touched>)> {
        let what = "checking the import for undo";
        let (lo, hi) = window.unwrap_or((i64::MIN, i64::MAX));
        let filter = format!(
            "FROM {} WHERE created_import = $1 AND changed_by IS DISTINCT FROM $1 AND id BETWEEN $2 AND $3",
            kind.table()
        );
        let count: i64 = self
            .client
            .query_one(&format!("SELECT count(*) {filter}"), &[&id, &lo, &hi])
            .map_err(db(what))?
            .get(0);
        if count == 0 {
            return Ok((0, Vec::new()));
        }
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT email, changed_by, updated_at {filter} ORDER BY email COLLATE \"C\" LIMIT $4"
                ),
                &[&id, &lo, &hi, &(limit as i64)],
            )
            .map_err(db(what))?;
        let list = rows
            .iter()
            .map(|r| Touched {
                email: r.get(0),
                changed_by: r.get(1),
                updated_at: r.get(2),
            })
            .collect();
        Ok((count as u64, list))
    }

    fn delete_created(&mut self, kind: RecordKind, id: i64, lo: i64, hi: i64) -> Result<u64> {
        let what = "deleting what an import created";
        if kind == RecordKind::Users {
            self.client
                .execute(
                    "DELETE FROM credentials WHERE user_id IN \
                     (SELECT id FROM users WHERE id BETWEEN $2 AND $3 AND created_import = $1)",
                    &[&id, &lo, &hi],
                )
                .map_err(db(what))?;
        }
        self.client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE id BETWEEN $2 AND $3 AND created_import = $1",
                    kind.table()
                ),
                &[&id, &lo, &hi],
            )
            .map_err(db(what))
    }

    fn journal_page(
        &mut self,
        kind: RecordKind,
        id: i64,
        after: i64,
        limit: usize,
    ) -> Result<Vec<JournalRow>> {
        let what = "reading an import's journal";
        let attrs = kind.attributes();
        let cols: Vec<String> = attrs.iter().map(|a| format!("c.{a}")).collect();
        let before_by = match kind {
            RecordKind::Contacts => "NULL::bigint",
            RecordKind::Users => "k.changed_by",
        };
        let lock = if self.in_tx { " FOR UPDATE OF k" } else { "" };
        let sql = format!(
            "SELECT k.{key}, k.before, {before_by}, c.id, c.email, c.changed_by, c.updated_at, {cols} \
             FROM {journal} k LEFT JOIN {table} c ON c.id = k.{key} \
             WHERE k.import_id = $1 AND k.{key} > $2 ORDER BY k.{key} LIMIT $3{lock}",
            key = kind.key(),
            journal = kind.journal(),
            table = kind.table(),
            cols = cols.join(", "),
        );
        let rows = self
            .client
            .query(&sql, &[&id, &after, &(limit as i64)])
            .map_err(db(what))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let key: i64 = r.try_get(0).map_err(db(what))?;
            let before: String = r.try_get(1).map_err(db(what))?;
            let before_by: Option<i64> = r.try_get(2).map_err(db(what))?;
            let exists: Option<i64> = r.try_get(3).map_err(db(what))?;
            let current = match exists {
                None => None,
                Some(_) => {
                    let mut m = Map::new();
                    for (i, a) in attrs.iter().enumerate() {
                        m.insert(a.to_string(), attr_value(r, 7 + i, a).map_err(db(what))?);
                    }
                    Some(Current {
                        email: r.try_get(4).map_err(db(what))?,
                        changed_by: r.try_get(5).map_err(db(what))?,
                        updated_at: r.try_get(6).map_err(db(what))?,
                        attrs: m,
                    })
                }
            };
            let by = (kind == RecordKind::Users).then_some(before_by);
            out.push(undo::journal_row(key, &before, by, current)?);
        }
        Ok(out)
    }

    fn journal_touched(&mut self, kind: RecordKind, id: i64) -> Result<u64> {
        self.client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {journal} k JOIN {table} c ON c.id = k.{key} \
                     WHERE k.import_id = $1 AND c.changed_by IS DISTINCT FROM $1",
                    journal = kind.journal(),
                    table = kind.table(),
                    key = kind.key()
                ),
                &[&id],
            )
            .map(|r| r.get::<_, i64>(0) as u64)
            .map_err(db("checking the import for undo"))
    }

    fn write_restored(
        &mut self,
        kind: RecordKind,
        rows: &[(i64, Map<String, Value>, Option<i64>)],
    ) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let what = "restoring what an import changed";
        let now = now_rfc3339();
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let by: Vec<Option<i64>> = rows.iter().map(|r| r.2).collect();
        let text = |a: &str| -> Vec<Option<String>> {
            rows.iter()
                .map(|r| r.1.get(a).and_then(Value::as_str).map(str::to_string))
                .collect()
        };
        let first = text("first_name");
        let last = text("last_name");
        match kind {
            RecordKind::Contacts => {
                let company: Vec<Option<i64>> = rows
                    .iter()
                    .map(|r| r.1.get("company_id").and_then(Value::as_i64))
                    .collect();
                let labels: Vec<String> = text("labels")
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect();
                let custom: Vec<String> = text("custom")
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect();
                let params: [&(dyn ToSql + Sync); 8] =
                    [&ids, &first, &last, &company, &labels, &custom, &by, &now];
                self.client
                    .execute(
                        "UPDATE contacts c SET first_name = u.first_name, last_name = u.last_name, company_id = u.company_id, \
                         labels = u.labels, custom = u.custom, changed_by = u.changed_by, updated_at = $8 \
                         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[]) \
                         AS u(id, first_name, last_name, company_id, labels, custom, changed_by) WHERE c.id = u.id",
                        &params,
                    )
                    .map_err(db(what))
            }
            RecordKind::Users => {
                let hash: Vec<String> = text("password_hash")
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect();
                let active: Vec<bool> = rows
                    .iter()
                    .map(|r| r.1.get("active").and_then(Value::as_bool).unwrap_or(false))
                    .collect();
                let role: Vec<String> = text("role")
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect();
                let params: [&(dyn ToSql + Sync); 8] =
                    [&ids, &first, &last, &hash, &active, &role, &by, &now];
                self.client
                    .execute(
                        "UPDATE users c SET first_name = u.first_name, last_name = u.last_name, password_hash = u.password_hash, \
                         active = u.active, role = u.role, changed_by = u.changed_by, updated_at = $8 \
                         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::bigint[]) \
                         AS u(id, first_name, last_name, password_hash, active, role, changed_by) WHERE c.id = u.id",
                        &params,
                    )
                    .map_err(db(what))
            }
        }
    }

    fn drop_journal(&mut self, kind: RecordKind, id: i64, upto: i64) -> Result<()> {
        self.client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE import_id = $1 AND {} <= $2",
                    kind.journal(),
                    kind.key()
                ),
                &[&id, &upto],
            )
            .map_err(db("undoing an import"))?;
        Ok(())
    }

    fn names(&mut self) -> Result<Names> {
        use crate::Catalog;
        Ok(Names {
            labels: self.labels()?.into_iter().map(|l| (l.id, l.name)).collect(),
            fields: self
                .fields()?
                .into_iter()
                .map(|f| (f.id, f.variable_name))
                .collect(),
        })
    }
}
