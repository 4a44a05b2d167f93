//! The record of imports on SQLite: leases, conditional status changes, undo.

use rusqlite::{params, OptionalExtension};

use serde_json::{Map, Value};

use super::{db, SqliteStore};
use crate::undo::{self, Current, JournalRow, Names, RecordKind, Touched, UndoRow, UndoSql};
use crate::{
    now_rfc3339, ImportRecord, Imports, Result, StoreError, UndoOutcome, UndoPlan, User,
    UNDOABLE_STATUSES,
};

/// Undo's schema: the users' journal, the undo's progress, pruning.
pub(super) const UNDO_MIGRATION: &str = r#"
CREATE TABLE import_user_changes (
    import_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    before TEXT NOT NULL,
    changed_by INTEGER,
    PRIMARY KEY (import_id, user_id)
) WITHOUT ROWID;
ALTER TABLE imports ADD COLUMN undo_state TEXT;
ALTER TABLE imports ADD COLUMN undo TEXT;
ALTER TABLE imports ADD COLUMN journal_pruned_at TEXT;
"#;

fn row_to_import(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImportRecord> {
    let options: String = r.get(3)?;
    let report: String = r.get(4)?;
    let progress: String = r.get(10)?;
    let undo: Option<String> = r.get(15)?;
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
        runner: r.get(11)?,
        file_name: r.get(12)?,
        total_bytes: r.get::<_, i64>(13)?.max(0) as u64,
        checksum: r.get(14)?,
        undo: undo
            .and_then(|u| serde_json::from_str(&u).ok())
            .unwrap_or_default(),
        journal_pruned_at: r.get(16)?,
    })
}

const IMPORT_COLUMNS: &str = "id, kind, status, options, report, started_by, started_at, finished_at, owner, heartbeat_at, progress, \
     runner, file_name, total_bytes, checksum, undo, journal_pruned_at";

/// `'succeeded','failed',…` for an `IN (…)`.
pub(crate) fn undoable_list() -> String {
    UNDOABLE_STATUSES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(",")
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

    fn undo_plan(&mut self, id: i64) -> Result<UndoPlan> {
        undo::plan(self, id)
    }

    fn undo_import(&mut self, id: i64, force: bool, by: &str) -> Result<UndoOutcome> {
        undo::run(self, id, force, by)
    }

    fn prune_journals(&mut self, finished_before: &str) -> Result<Vec<i64>> {
        let ids: Vec<i64> = {
            let mut st = self
                .conn
                .prepare(&format!(
                    "SELECT id FROM imports WHERE journal_pruned_at IS NULL AND status IN ({}) \
                     AND COALESCE(finished_at, started_at) < ?1 ORDER BY id",
                    undoable_list()
                ))
                .map_err(db("pruning journals"))?;
            let rows = st
                .query_map([finished_before], |r| r.get(0))
                .map_err(db("pruning journals"))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(db("pruning journals"))?
        };
        for id in &ids {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db("pruning journals"))?;
            tx.execute("DELETE FROM import_changes WHERE import_id = ?1", [id])
                .map_err(db("pruning journals"))?;
            tx.execute("DELETE FROM import_user_changes WHERE import_id = ?1", [id])
                .map_err(db("pruning journals"))?;
            tx.execute(
                &format!(
                    "UPDATE imports SET journal_pruned_at = ?2 WHERE id = ?1 AND status IN ({})",
                    undoable_list()
                ),
                params![id, now_rfc3339()],
            )
            .map_err(db("pruning journals"))?;
            tx.commit().map_err(db("pruning journals"))?;
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
        self.conn
            .execute(
                "UPDATE imports SET file_name = ?2, total_bytes = ?3, checksum = ?4 WHERE id = ?1",
                params![id, name, bytes as i64, checksum],
            )
            .map_err(db("recording the imported file"))?;
        Ok(())
    }
}

/// Journals a contact or user whose first journal entry could not simply
/// be inserted: the import created it (nothing to keep: undo deletes it),
/// or already kept an entry for it (merged, its first values win).
pub(super) fn journal_again(
    conn: &rusqlite::Connection,
    kind: RecordKind,
    import_id: i64,
    key: i64,
    entry: &str,
    changed_by: Option<Option<i64>>,
) -> Result<()> {
    let what = "recording the import for undo";
    let created: Option<i64> = conn
        .query_row(
            &format!("SELECT created_import FROM {} WHERE id = ?1", kind.table()),
            [key],
            |r| r.get(0),
        )
        .optional()
        .map_err(db(what))?
        .flatten();
    if created == Some(import_id) {
        return Ok(());
    }
    let kept: Option<String> = conn
        .query_row(
            &format!(
                "SELECT before FROM {} WHERE import_id = ?1 AND {} = ?2",
                kind.journal(),
                kind.key()
            ),
            params![import_id, key],
            |r| r.get(0),
        )
        .optional()
        .map_err(db(what))?;
    match kept {
        Some(kept) => {
            let merged = undo::merge_journal(&kept, entry)?;
            conn.execute(
                &format!(
                    "UPDATE {} SET before = ?3 WHERE import_id = ?1 AND {} = ?2",
                    kind.journal(),
                    kind.key()
                ),
                params![import_id, key, merged],
            )
            .map_err(db(what))?;
        }
        None => match kind {
            RecordKind::Contacts => {
                conn.execute(
                    "INSERT INTO import_changes (import_id, contact_id, before) VALUES (?1, ?2, ?3)",
                    params![import_id, key, entry],
                )
                .map_err(db(what))?;
            }
            RecordKind::Users => {
                conn.execute(
                    "INSERT INTO import_user_changes (import_id, user_id, before, changed_by) VALUES (?1, ?2, ?3, ?4)",
                    params![import_id, key, entry, changed_by.flatten()],
                )
                .map_err(db(what))?;
            }
        },
    }
    Ok(())
}

/// Journals a user import `import_id` is about to change (before the
/// update, so the row's `changed_by` is still the previous one).
pub(super) fn journal_user(
    conn: &rusqlite::Connection,
    import_id: i64,
    b: &User,
    a: &User,
) -> Result<()> {
    let what = "recording the import for undo";
    let entry = undo::user_journal(b, a);
    let n = conn
        .prepare_cached(
            "INSERT INTO import_user_changes (import_id, user_id, before, changed_by) \
             SELECT ?1, id, ?3, changed_by FROM users WHERE id = ?2 AND created_import IS NOT ?1 \
             ON CONFLICT DO NOTHING",
        )
        .and_then(|mut st| st.execute(params![import_id, b.id, entry]))
        .map_err(db(what))?;
    if n == 0 {
        journal_again(conn, RecordKind::Users, import_id, b.id, &entry, None)?;
    }
    Ok(())
}

fn attr_value(r: &rusqlite::Row<'_>, i: usize, bool_: bool) -> rusqlite::Result<Value> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) if bool_ => Value::Bool(n != 0),
        ValueRef::Integer(n) => Value::from(n),
        ValueRef::Real(f) => Value::from(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::String(String::from_utf8_lossy(t).into_owned())
        }
    })
}

impl UndoSql for SqliteStore {
    fn begin_write(&mut self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(db("undoing an import"))
    }
    fn commit_write(&mut self) -> Result<()> {
        self.conn
            .execute_batch("COMMIT")
            .map_err(db("undoing an import"))
    }
    fn rollback_write(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn undo_state(&mut self, id: i64) -> Result<Option<UndoRow>> {
        self.conn
            .query_row(
                "SELECT kind, status, undo_state, undo, journal_pruned_at FROM imports WHERE id = ?1",
                [id],
                |r| {
                    let undo: Option<String> = r.get(3)?;
                    Ok(UndoRow {
                        kind: r.get(0)?,
                        status: r.get(1)?,
                        undo_state: r.get(2)?,
                        progress: undo
                            .and_then(|u| serde_json::from_str(&u).ok())
                            .unwrap_or_default(),
                        pruned_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(db("reading an import"))
    }

    fn set_undo_state(&mut self, id: i64, state: &str, progress: &Value) -> Result<()> {
        self.conn
            .execute(
                "UPDATE imports SET undo_state = ?2, undo = ?3, event_seq = event_seq + 1 WHERE id = ?1",
                params![id, state, progress.to_string()],
            )
            .map_err(db("recording the undo's progress"))?;
        Ok(())
    }

    fn claim_undo(&mut self, id: i64, progress: &Value) -> Result<bool> {
        let n = self
            .conn
            .execute(
                &format!(
                    "UPDATE imports SET status = 'undone', undo_state = 'running', undo = ?2, event_seq = event_seq + 1 \
                     WHERE id = ?1 AND status IN ({}) AND journal_pruned_at IS NULL",
                    undoable_list()
                ),
                params![id, progress.to_string()],
            )
            .map_err(db("undoing an import"))?;
        Ok(n == 1)
    }

    fn created_range(&mut self, kind: RecordKind, id: i64) -> Result<(u64, i64, i64)> {
        self.conn
            .query_row(
                &format!(
                    "SELECT count(*), COALESCE(min(id), 0), COALESCE(max(id), -1) FROM {} WHERE created_import = ?1",
                    kind.table()
                ),
                [id],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)),
            )
            .map_err(db("reading what an import created"))
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
            "FROM {} WHERE created_import = ?1 AND changed_by IS NOT ?1 AND id BETWEEN ?2 AND ?3",
            kind.table()
        );
        let count: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) {filter}"),
                params![id, lo, hi],
                |r| r.get(0),
            )
            .map_err(db(what))?;
        if count == 0 {
            return Ok((0, Vec::new()));
        }
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT email, changed_by, updated_at {filter} ORDER BY email LIMIT ?4"
            ))
            .map_err(db(what))?;
        let rows = st
            .query_map(params![id, lo, hi, limit as i64], |r| {
                Ok(Touched {
                    email: r.get(0)?,
                    changed_by: r.get(1)?,
                    updated_at: r.get(2)?,
                })
            })
            .map_err(db(what))?;
        let list = rows.collect::<rusqlite::Result<_>>().map_err(db(what))?;
        Ok((count as u64, list))
    }

    fn delete_created(&mut self, kind: RecordKind, id: i64, lo: i64, hi: i64) -> Result<u64> {
        let what = "deleting what an import created";
        if kind == RecordKind::Users {
            self.conn
                .execute(
                    "DELETE FROM credentials WHERE user_id IN \
                     (SELECT id FROM users WHERE id BETWEEN ?2 AND ?3 AND created_import = ?1)",
                    params![id, lo, hi],
                )
                .map_err(db(what))?;
        }
        let n = self
            .conn
            .execute(
                &format!(
                    "DELETE FROM {} WHERE id BETWEEN ?2 AND ?3 AND created_import = ?1",
                    kind.table()
                ),
                params![id, lo, hi],
            )
            .map_err(db(what))?;
        Ok(n as u64)
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
            RecordKind::Contacts => "NULL",
            RecordKind::Users => "k.changed_by",
        };
        let sql = format!(
            "SELECT k.{key}, k.before, {before_by}, c.id, c.email, c.changed_by, c.updated_at, {cols} \
             FROM {journal} k LEFT JOIN {table} c ON c.id = k.{key} \
             WHERE k.import_id = ?1 AND k.{key} > ?2 ORDER BY k.{key} LIMIT ?3",
            key = kind.key(),
            journal = kind.journal(),
            table = kind.table(),
            cols = cols.join(", "),
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(db(what))?;
        let mut rows = st
            .query(params![id, after, limit as i64])
            .map_err(db(what))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db(what))? {
            let key: i64 = r.get(0).map_err(db(what))?;
            let before: String = r.get(1).map_err(db(what))?;
            let before_by: Option<i64> = r.get(2).map_err(db(what))?;
            let exists: Option<i64> = r.get(3).map_err(db(what))?;
            let current = match exists {
                None => None,
                Some(_) => {
                    let mut m = Map::new();
                    for (i, a) in attrs.iter().enumerate() {
                        m.insert(
                            a.to_string(),
                            attr_value(r, 7 + i, *a == "active").map_err(db(what))?,
                        );
                    }
                    Some(Current {
                        email: r.get(4).map_err(db(what))?,
                        changed_by: r.get(5).map_err(db(what))?,
                        updated_at: r.get(6).map_err(db(what))?,
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
        self.conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {journal} k JOIN {table} c ON c.id = k.{key} \
                     WHERE k.import_id = ?1 AND c.changed_by IS NOT ?1",
                    journal = kind.journal(),
                    table = kind.table(),
                    key = kind.key()
                ),
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(db("checking the import for undo"))
    }

    fn write_restored(
        &mut self,
        kind: RecordKind,
        rows: &[(i64, Map<String, Value>, Option<i64>)],
    ) -> Result<u64> {
        let what = "restoring what an import changed";
        let now = now_rfc3339();
        let attrs = kind.attributes();
        let sets: Vec<String> = attrs
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{a} = ?{}", i + 2))
            .collect();
        let n = attrs.len();
        let sql = format!(
            "UPDATE {} SET {}, changed_by = ?{}, updated_at = ?{} WHERE id = ?1",
            kind.table(),
            sets.join(", "),
            n + 2,
            n + 3
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(db(what))?;
        let mut done = 0;
        for (key, m, changed_by) in rows {
            let mut values: Vec<rusqlite::types::Value> = vec![(*key).into()];
            for a in attrs {
                values.push(sql_value(m.get(*a).unwrap_or(&Value::Null)));
            }
            values.push((*changed_by).into());
            values.push(now.clone().into());
            done += st
                .execute(rusqlite::params_from_iter(values))
                .map_err(db(what))? as u64;
        }
        Ok(done)
    }

    fn drop_journal(&mut self, kind: RecordKind, id: i64, upto: i64) -> Result<()> {
        self.conn
            .execute(
                &format!(
                    "DELETE FROM {} WHERE import_id = ?1 AND {} <= ?2",
                    kind.journal(),
                    kind.key()
                ),
                params![id, upto],
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

fn sql_value(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Integer(*b as i64),
        Value::Number(n) => n.as_i64().map(V::Integer).unwrap_or(V::Null),
        Value::String(s) => V::Text(s.clone()),
        other => V::Text(other.to_string()),
    }
}
