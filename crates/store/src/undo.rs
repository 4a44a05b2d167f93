//! Import history and undo, the same on every backend.
//!
//! **The journal.** An import writes, in the transaction of each batch, what
//! undo needs: a record it created carries `created_import` (no journal row:
//! undo deletes it); a record it changed gets one journal row
//! (`import_changes` for contacts, `import_user_changes` for users) holding
//! the previous value of every attribute the import changed — labels as a
//! whole set, custom values field by field, for users the previous password
//! hash (never a password) and `active` — and which import had last changed
//! the record before. A record changed by several batches of one import
//! keeps its first previous values, merged with the attributes later
//! batches changed first ([`merge_journal`]).
//!
//! **Conflicts.** A record's `changed_by` names the import that last changed
//! it (NULL: an API edit, a roster command or a captured email). Undo of
//! import N refuses when a record N created or changed has a `changed_by`
//! other than N — something touched it since — unless forced, and lists
//! those records with what changed since and what undo would put back.
//!
//! **The undo** runs in batches, each its own transaction: a window of ids
//! of the created records is deleted, or a page of the journal is restored
//! and its journal rows deleted; the record's `undo` column keeps the
//! progress. The first batch moves the record to `undone` (from a finished
//! status only) with `undo_state = 'running'`; the last sets `done`. An undo
//! killed half-way leaves `running`, and `undo` again carries on where it
//! stopped. Memory is one batch, whatever the import's size.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::{decode_custom, encode_custom, encode_ids, Contact, Result, StoreError, User};

/// Records per undo batch (one transaction each).
pub const UNDO_BATCH: usize = 8_192;

/// Test hooks: `ROSTER_TEST_UNDO_BATCH` sets the batch size, and
/// `ROSTER_TEST_UNDO_ABORT_AFTER=N` kills the process (abort, no clean-up)
/// after N committed batches — a deterministic "killed half-way".
fn batch_size() -> usize {
    std::env::var("ROSTER_TEST_UNDO_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(UNDO_BATCH)
}

fn committed_batch(done: &mut u64) {
    *done += 1;
    if let Some(n) = std::env::var("ROSTER_TEST_UNDO_ABORT_AFTER")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        if *done >= n {
            std::process::abort();
        }
    }
}
/// Conflicts listed at most (the count is never capped).
pub const MAX_LISTED: usize = 1_000;

/// Whether imports keep the undo journal: always, except in the benchmark
/// that measures what it costs (`ROSTER_BENCH_NO_JOURNAL=1`, undocumented
/// for users: an import made so cannot be undone).
pub fn journal_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("ROSTER_BENCH_NO_JOURNAL").map_or(true, |v| v != "1"))
}

/// Which records an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Contacts,
    Users,
}

impl RecordKind {
    pub fn parse(kind: &str) -> Option<RecordKind> {
        match kind {
            "contacts" => Some(RecordKind::Contacts),
            "users" => Some(RecordKind::Users),
            _ => None,
        }
    }
    pub fn table(self) -> &'static str {
        match self {
            RecordKind::Contacts => "contacts",
            RecordKind::Users => "users",
        }
    }
    pub fn journal(self) -> &'static str {
        match self {
            RecordKind::Contacts => "import_changes",
            RecordKind::Users => "import_user_changes",
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            RecordKind::Contacts => "contact_id",
            RecordKind::Users => "user_id",
        }
    }
    /// The attributes a journal may hold, as stored columns.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            RecordKind::Contacts => &["first_name", "last_name", "company_id", "labels", "custom"],
            RecordKind::Users => &["first_name", "last_name", "password_hash", "active", "role"],
        }
    }
    /// "contact" / "user", with a plural.
    pub fn noun(self, n: u64) -> &'static str {
        match (self, n) {
            (RecordKind::Contacts, 1) => "contact",
            (RecordKind::Contacts, _) => "contacts",
            (RecordKind::Users, 1) => "user",
            (RecordKind::Users, _) => "users",
        }
    }
}

/// A record undo would have to overwrite: something touched it after the
/// import.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UndoConflict {
    pub email: String,
    /// What changed since ("changed by import 7 at …", "edited at …").
    pub reason: String,
    /// What undo puts back over it ("deleted", "first_name 'Bob' → 'Robert'").
    pub undo: String,
}

/// What undoing an import would do (a dry run), or why it cannot.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UndoPlan {
    pub id: i64,
    pub kind: String,
    /// Records the import created that are still there.
    pub delete: u64,
    /// Records the import changed that are still there.
    pub restore: u64,
    /// Of those, how many something touched since.
    pub conflict_count: u64,
    /// The first [`MAX_LISTED`] of them, by email.
    pub conflicts: Vec<UndoConflict>,
    /// Why undo is refused whatever the conflicts (already undone, pruned,
    /// still running), or None.
    pub refused: Option<String>,
    /// An undo was started and stopped before its end; running it again
    /// finishes it.
    pub resumes: bool,
}

/// What an undo did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UndoOutcome {
    pub id: i64,
    pub kind: String,
    pub deleted: u64,
    pub restored: u64,
    /// Records a forced undo overwrote (later changes lost).
    pub overwritten_count: u64,
    pub overwritten: Vec<UndoConflict>,
    pub forced: bool,
}

/// The journal entry of a contact an import changed: the previous value of
/// each changed attribute (custom values by field id) and the import that
/// had changed it before.
pub(crate) fn contact_journal(b: &Contact, a: &Contact) -> String {
    let mut m = Map::new();
    if b.first_name != a.first_name {
        m.insert("first_name".into(), json!(b.first_name));
    }
    if b.last_name != a.last_name {
        m.insert("last_name".into(), json!(b.last_name));
    }
    if b.company_id != a.company_id {
        m.insert("company_id".into(), json!(b.company_id));
    }
    if b.labels != a.labels {
        m.insert("labels".into(), json!(encode_ids(&b.labels)));
    }
    if b.custom != a.custom {
        let mut c = Map::new();
        for k in b.custom.keys().chain(a.custom.keys()) {
            if b.custom.get(k) != a.custom.get(k) {
                c.insert(k.to_string(), json!(b.custom.get(k)));
            }
        }
        m.insert("custom".into(), Value::Object(c));
    }
    m.insert("changed_by".into(), json!(b.changed_by));
    Value::Object(m).to_string()
}

/// The journal entry of a user an import changed (the previous password
/// hash, never a password). Which import had changed it before is kept in
/// the journal row's own column.
pub(crate) fn user_journal(b: &User, a: &User) -> String {
    let mut m = Map::new();
    if b.first_name != a.first_name {
        m.insert("first_name".into(), json!(b.first_name));
    }
    if b.last_name != a.last_name {
        m.insert("last_name".into(), json!(b.last_name));
    }
    if b.password_hash != a.password_hash {
        m.insert("password_hash".into(), json!(b.password_hash));
    }
    if b.active != a.active {
        m.insert("active".into(), json!(b.active));
    }
    if b.role != a.role {
        m.insert("role".into(), json!(b.role.as_str()));
    }
    Value::Object(m).to_string()
}

/// Merges a later batch's entry into the one the import already kept for
/// the record: the first previous value of each attribute wins (it is the
/// value from before the import), attributes only the later batch changed
/// are added.
pub(crate) fn merge_journal(kept: &str, later: &str) -> Result<String> {
    let mut kept = parse_journal(kept)?;
    let later = parse_journal(later)?;
    for (k, v) in later {
        match (kept.get_mut(&k), v) {
            (None, v) => {
                kept.insert(k, v);
            }
            (Some(Value::Object(kc)), Value::Object(lc)) => {
                for (f, fv) in lc {
                    kc.entry(f).or_insert(fv);
                }
            }
            _ => {}
        }
    }
    Ok(Value::Object(kept).to_string())
}

pub(crate) fn parse_journal(s: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) | Err(_) => Err(StoreError::Database(
            "a stored undo journal entry is damaged (not a JSON object)".into(),
        )),
    }
}

/// A record as it stands now, as undo reads it.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub email: String,
    pub changed_by: Option<i64>,
    pub updated_at: String,
    /// The stored columns of [`RecordKind::attributes`]: strings, numbers,
    /// booleans or null.
    pub attrs: Map<String, Value>,
}

/// One journal row with the record it belongs to (None: deleted since).
pub(crate) struct JournalRow {
    pub key: i64,
    pub before: Map<String, Value>,
    /// Users keep it in a column; contacts in the entry.
    pub before_changed_by: Option<Option<i64>>,
    pub current: Option<Current>,
}

/// A created record that something touched since.
pub(crate) struct Touched {
    pub email: String,
    pub changed_by: Option<i64>,
    pub updated_at: String,
}

/// Names for messages: labels and custom fields by id.
#[derive(Default)]
pub(crate) struct Names {
    pub labels: BTreeMap<i64, String>,
    pub fields: BTreeMap<i64, String>,
}

/// What changed a record after import `id`.
pub(crate) fn since(id: i64, changed_by: Option<i64>, updated_at: &str) -> String {
    let _ = id;
    match changed_by {
        Some(other) => format!("changed since by import {other} ({updated_at})"),
        None => format!(
            "edited since through the API, a roster command or a captured email ({updated_at})"
        ),
    }
}

/// The record's attributes with the journal's previous values put back,
/// and what that overwrites (attribute by attribute, for messages).
pub(crate) struct Restored {
    pub attrs: Map<String, Value>,
    pub changed_by: Option<i64>,
    pub overwrites: Vec<String>,
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "empty".into(),
        Value::String(s) if s.is_empty() => "empty".into(),
        Value::String(s) => format!("'{}'", clip(s)),
        other => other.to_string(),
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(59).collect();
        t.push('…');
        t
    }
}

fn label_names(ids: &str, names: &Names) -> Value {
    if ids.is_empty() {
        return Value::Null;
    }
    let shown: Vec<String> = crate::decode_ids(ids)
        .iter()
        .map(|id| {
            names
                .labels
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_string())
        })
        .collect();
    Value::String(shown.join(":"))
}

pub(crate) fn restore(row: &JournalRow, cur: &Current, names: &Names) -> Restored {
    let mut attrs = cur.attrs.clone();
    let mut overwrites = Vec::new();
    for (k, before) in &row.before {
        match k.as_str() {
            "changed_by" => {}
            "custom" => {
                let now_text = cur
                    .attrs
                    .get("custom")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let now = decode_custom(now_text);
                let restored: BTreeMap<i64, String> = match before {
                    // Per field (what imports write).
                    Value::Object(fields) => {
                        let mut m = now.clone();
                        for (f, v) in fields {
                            let Ok(f) = f.parse::<i64>() else { continue };
                            match v.as_str() {
                                Some(v) => {
                                    m.insert(f, v.to_string());
                                }
                                None => {
                                    m.remove(&f);
                                }
                            }
                        }
                        m
                    }
                    // A whole snapshot (older journals).
                    Value::String(s) => decode_custom(s),
                    _ => now.clone(),
                };
                let fields: std::collections::BTreeSet<&i64> =
                    now.keys().chain(restored.keys()).collect();
                for f in fields {
                    let (a, b) = (now.get(f), restored.get(f));
                    if a != b {
                        overwrites.push(format!(
                            "{} {} → {}",
                            field_label(*f, names),
                            shown(&json!(a)),
                            shown(&json!(b))
                        ));
                    }
                }
                let text = if restored.is_empty() {
                    String::new()
                } else {
                    encode_custom(&restored)
                };
                attrs.insert("custom".into(), Value::String(text));
            }
            attr => {
                let now = cur.attrs.get(attr).cloned().unwrap_or(Value::Null);
                if &now != before {
                    overwrites.push(match attr {
                        "password_hash" => "password (the one from before the import)".into(),
                        "labels" => format!(
                            "labels {} → {}",
                            shown(&label_names(now.as_str().unwrap_or(""), names)),
                            shown(&label_names(before.as_str().unwrap_or(""), names))
                        ),
                        _ => format!("{attr} {} → {}", shown(&now), shown(before)),
                    });
                }
                attrs.insert(attr.to_string(), before.clone());
            }
        }
    }
    let changed_by = match row.before_changed_by {
        Some(c) => c,
        None => row.before.get("changed_by").and_then(Value::as_i64),
    };
    Restored {
        attrs,
        changed_by,
        overwrites,
    }
}

fn field_label(id: i64, names: &Names) -> String {
    names
        .fields
        .get(&id)
        .cloned()
        .unwrap_or_else(|| format!("custom field {id}"))
}

/// The sentence for "undo would put back": the overwrites, or "no change".
pub(crate) fn describe_overwrites(o: &[String]) -> String {
    if o.is_empty() {
        "its values are already those from before the import".into()
    } else {
        format!("puts back {}", o.join(", "))
    }
}

/// The SQL primitives undo needs from a backend.
pub(crate) trait UndoSql {
    /// Starts a write transaction (SQLite: IMMEDIATE, so check and write
    /// are one).
    fn begin_write(&mut self) -> Result<()>;
    fn commit_write(&mut self) -> Result<()>;
    fn rollback_write(&mut self);
    /// The import's (kind, status, undo_state, undo progress, pruned at),
    /// locked until the transaction ends where the backend can.
    fn undo_state(&mut self, id: i64) -> Result<Option<UndoRow>>;
    fn set_undo_state(&mut self, id: i64, state: &str, progress: &Value) -> Result<()>;
    /// Moves the record to `undone` from a finished status; false when it
    /// was in none.
    fn claim_undo(&mut self, id: i64, progress: &Value) -> Result<bool>;
    /// How many records import `id` created are still there, and the
    /// smallest and largest id among them.
    fn created_range(&mut self, kind: RecordKind, id: i64) -> Result<(u64, i64, i64)>;
    /// Records import `id` created (ids in `lo..=hi` when given) that
    /// something touched since: up to `limit`, by email, and their count.
    fn created_touched(
        &mut self,
        kind: RecordKind,
        id: i64,
        window: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<(u64, Vec<Touched>)>;
    /// Deletes the records import `id` created with ids in `lo..=hi`.
    fn delete_created(&mut self, kind: RecordKind, id: i64, lo: i64, hi: i64) -> Result<u64>;
    /// Up to `limit` journal rows of import `id` with keys above `after`,
    /// in key order, each with its record as it stands.
    fn journal_page(
        &mut self,
        kind: RecordKind,
        id: i64,
        after: i64,
        limit: usize,
    ) -> Result<Vec<JournalRow>>;
    /// Records import `id` changed (still there) that something touched since.
    fn journal_touched(&mut self, kind: RecordKind, id: i64) -> Result<u64>;
    /// Writes restored attributes; returns how many records it updated.
    fn write_restored(
        &mut self,
        kind: RecordKind,
        rows: &[(i64, Map<String, Value>, Option<i64>)],
    ) -> Result<u64>;
    /// Deletes import `id`'s journal rows with keys up to `upto`.
    fn drop_journal(&mut self, kind: RecordKind, id: i64, upto: i64) -> Result<()>;
    fn names(&mut self) -> Result<Names>;
}

pub(crate) struct UndoRow {
    pub kind: String,
    pub status: String,
    pub undo_state: Option<String>,
    pub progress: Value,
    pub pruned_at: Option<String>,
}

fn pruned_sentence(id: i64, at: &str) -> String {
    format!(
        "import {id} can no longer be undone: its journal was pruned on {at} (roster imports prune), so what it changed is not known any more"
    )
}

/// Why import `id` cannot be undone at all, or None.
fn refusal(id: i64, row: &UndoRow) -> Option<String> {
    if RecordKind::parse(&row.kind).is_none() {
        return Some(format!(
            "import {id} imported {}, which undo does not know",
            row.kind
        ));
    }
    if let Some(at) = &row.pruned_at {
        return Some(pruned_sentence(id, at));
    }
    match (row.status.as_str(), row.undo_state.as_deref()) {
        ("undone", Some("running")) => None,
        ("undone", _) => Some(format!(
            "import {id} was already undone; an undo cannot be undone"
        )),
        ("running" | "queued", _) => Some(format!(
            "import {id} is still {}; wait until it has finished (or cancel it), then undo it",
            row.status
        )),
        (s, _) if crate::UNDOABLE_STATUSES.contains(&s) => None,
        (other, _) => Some(format!("import {id} is {other} and cannot be undone")),
    }
}

fn no_such(id: i64) -> StoreError {
    StoreError::NotFound(format!("there is no import {id}; see roster imports list"))
}

/// What undoing import `id` would do. Reads only.
pub(crate) fn plan(s: &mut dyn UndoSql, id: i64) -> Result<UndoPlan> {
    let row = s.undo_state(id)?.ok_or_else(|| no_such(id))?;
    let mut plan = UndoPlan {
        id,
        kind: row.kind.clone(),
        refused: refusal(id, &row),
        resumes: row.undo_state.as_deref() == Some("running"),
        ..UndoPlan::default()
    };
    let Some(kind) = RecordKind::parse(&row.kind) else {
        return Ok(plan);
    };
    if row.pruned_at.is_some() || (row.status == "undone" && !plan.resumes) {
        return Ok(plan);
    }
    let names = s.names()?;
    let (created, _, _) = s.created_range(kind, id)?;
    plan.delete = created;
    let (n, touched) = s.created_touched(kind, id, None, MAX_LISTED)?;
    plan.conflict_count = n;
    for t in touched {
        plan.conflicts.push(UndoConflict {
            reason: format!(
                "created by this import, {}",
                since(id, t.changed_by, &t.updated_at)
            ),
            email: t.email,
            undo: "deletes it".into(),
        });
    }
    let mut after = i64::MIN;
    loop {
        let page = s.journal_page(kind, id, after, UNDO_BATCH)?;
        let Some(last) = page.last() else { break };
        after = last.key;
        for row in &page {
            let Some(cur) = &row.current else { continue };
            plan.restore += 1;
            if cur.changed_by != Some(id) {
                plan.conflict_count += 1;
                if plan.conflicts.len() < MAX_LISTED {
                    let r = restore(row, cur, &names);
                    plan.conflicts.push(UndoConflict {
                        email: cur.email.clone(),
                        reason: format!(
                            "updated by this import, {}",
                            since(id, cur.changed_by, &cur.updated_at)
                        ),
                        undo: describe_overwrites(&r.overwrites),
                    });
                }
            }
        }
    }
    plan.conflicts.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(plan)
}

/// The sentence refusing an undo because of `plan`'s conflicts.
pub fn conflict_sentence(plan: &UndoPlan, force_hint: &str) -> String {
    let kind = RecordKind::parse(&plan.kind).unwrap_or(RecordKind::Contacts);
    let n = plan.conflict_count;
    let mut list: Vec<String> = plan
        .conflicts
        .iter()
        .take(20)
        .map(|c| format!("{} ({})", c.email, c.reason))
        .collect();
    if n > list.len() as u64 {
        list.push(format!("and {} more", n - list.len() as u64));
    }
    format!(
        "import {} cannot be undone safely: {n} {} {} changed after it: {}; {force_hint} to undo anyway (those later changes are lost)",
        plan.id,
        kind.noun(n),
        if n == 1 { "was" } else { "were" },
        list.join(", ")
    )
}

/// Undoes import `id` (see the module documentation): refuses when the
/// import cannot be undone, or — unless `force` — when something touched
/// its records since ([`StoreError::Conflict`] with the list). `by` is who
/// asked, for the record.
pub(crate) fn run(s: &mut dyn UndoSql, id: i64, force: bool, by: &str) -> Result<UndoOutcome> {
    let row = s.undo_state(id)?.ok_or_else(|| no_such(id))?;
    if let Some(why) = refusal(id, &row) {
        return Err(StoreError::Stale(why));
    }
    let kind = RecordKind::parse(&row.kind).unwrap_or(RecordKind::Contacts);
    if !force {
        // Counted in SQL; the full plan (with the list) only to refuse.
        let touched = s.created_touched(kind, id, None, 0)?.0 + s.journal_touched(kind, id)?;
        if touched > 0 {
            let plan = plan(s, id)?;
            return Err(StoreError::Conflict(conflict_sentence(
                &plan,
                &format!("run roster imports undo {id} --force"),
            )));
        }
    }
    let plan = UndoPlan {
        id,
        kind: row.kind.clone(),
        ..UndoPlan::default()
    };
    let names = s.names()?;
    // Claim: the first transaction moves the record to `undone` and notes
    // where the created records lie (a resumed undo keeps its progress).
    s.begin_write()?;
    let claimed = (|| -> Result<Value> {
        let row = s.undo_state(id)?.ok_or_else(|| no_such(id))?;
        if let Some(why) = refusal(id, &row) {
            return Err(StoreError::Stale(why));
        }
        if row.undo_state.as_deref() == Some("running") {
            let mut p = row.progress;
            p["forced"] = json!(p["forced"].as_bool().unwrap_or(false) || force);
            return Ok(p);
        }
        let (_, lo, hi) = s.created_range(kind, id)?;
        let p = json!({
            "state": "running", "by": by, "started_at": crate::now_rfc3339(), "forced": force,
            "deleted": 0, "restored": 0, "overwritten": 0, "next_id": lo, "last_id": hi,
        });
        if !s.claim_undo(id, &p)? {
            return Err(StoreError::Stale(format!(
                "import {id} changed status while the undo started; see roster imports show {id}"
            )));
        }
        Ok(p)
    })();
    let mut progress = match claimed {
        Ok(p) => {
            s.set_undo_state(id, "running", &p)?;
            s.commit_write()?;
            p
        }
        Err(e) => {
            s.rollback_write();
            return Err(e);
        }
    };
    let mut out = UndoOutcome {
        id,
        kind: plan.kind.clone(),
        forced: force,
        ..UndoOutcome::default()
    };
    let n = |p: &Value, k: &str| p[k].as_u64().unwrap_or(0);
    let batch = batch_size();
    let mut batches = 0u64;
    // The records it created, a window of ids per transaction.
    loop {
        let next = progress["next_id"].as_i64().unwrap_or(0);
        let last = progress["last_id"].as_i64().unwrap_or(-1);
        if next > last {
            break;
        }
        let hi = next.saturating_add(batch as i64 - 1).min(last);
        let step = (|| -> Result<Value> {
            s.begin_write()?;
            let row = s.undo_state(id)?.ok_or_else(|| no_such(id))?;
            if row.undo_state.as_deref() != Some("running") {
                return Err(StoreError::Stale(format!(
                    "import {id} is not being undone any more; see roster imports show {id}"
                )));
            }
            let mut p = row.progress;
            if p["next_id"].as_i64() != Some(next) {
                // Another undo process took this window: carry on from its progress.
                return Ok(p);
            }
            let (touched_n, touched) = s.created_touched(kind, id, Some((next, hi)), MAX_LISTED)?;
            if touched_n > 0 && !force {
                return Err(StoreError::Conflict(format!(
                    "import {id} was partly undone when {touched_n} {} it created changed meanwhile ({}); run roster imports undo {id} again to see them, and --force to finish anyway",
                    kind.noun(touched_n),
                    touched.iter().take(5).map(|t| t.email.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            for t in touched {
                if out.overwritten.len() < MAX_LISTED {
                    out.overwritten.push(UndoConflict {
                        reason: format!(
                            "created by this import, {}",
                            since(id, t.changed_by, &t.updated_at)
                        ),
                        email: t.email,
                        undo: "deleted it".into(),
                    });
                }
            }
            let deleted = s.delete_created(kind, id, next, hi)?;
            p["next_id"] = json!(hi + 1);
            p["deleted"] = json!(n(&p, "deleted") + deleted);
            p["overwritten"] = json!(n(&p, "overwritten") + touched_n);
            s.set_undo_state(id, "running", &p)?;
            Ok(p)
        })();
        match step.and_then(|p| s.commit_write().map(|()| p)) {
            Ok(p) => {
                progress = p;
                committed_batch(&mut batches);
            }
            Err(e) => {
                s.rollback_write();
                return Err(e);
            }
        }
    }
    // The records it changed, a page of the journal per transaction.
    loop {
        let step = (|| -> Result<Option<()>> {
            s.begin_write()?;
            let row = s.undo_state(id)?.ok_or_else(|| no_such(id))?;
            if row.undo_state.as_deref() != Some("running") {
                return Err(StoreError::Stale(format!(
                    "import {id} is not being undone any more; see roster imports show {id}"
                )));
            }
            let mut p = row.progress;
            // From where the last batch stopped (its rows are deleted, but
            // PostgreSQL's index keeps them until a vacuum: never rescan them).
            let after = p["after_key"].as_i64().unwrap_or(i64::MIN);
            let page = s.journal_page(kind, id, after, batch)?;
            let Some(last) = page.last().map(|r| r.key) else {
                return Ok(None);
            };
            let mut writes = Vec::with_capacity(page.len());
            let mut touched = 0u64;
            let mut late = Vec::new();
            for row in &page {
                let Some(cur) = &row.current else { continue };
                let r = restore(row, cur, &names);
                let conflict = cur.changed_by != Some(id);
                if conflict {
                    touched += 1;
                    if !force {
                        late.push(cur.email.clone());
                        continue;
                    }
                    if out.overwritten.len() < MAX_LISTED {
                        out.overwritten.push(UndoConflict {
                            email: cur.email.clone(),
                            reason: format!(
                                "updated by this import, {}",
                                since(id, cur.changed_by, &cur.updated_at)
                            ),
                            undo: describe_overwrites(&r.overwrites),
                        });
                    }
                }
                // A forced restore is a change of its own, after the later
                // one: no import is its last changer any more.
                let changed_by = if conflict { None } else { r.changed_by };
                writes.push((row.key, r.attrs, changed_by));
            }
            if !late.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "import {id} was partly undone when {} {} it changed were changed meanwhile ({}); run roster imports undo {id} again to see them, and --force to finish anyway",
                    late.len(),
                    kind.noun(late.len() as u64),
                    late.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            let restored = s.write_restored(kind, &writes)?;
            s.drop_journal(kind, id, last)?;
            p["after_key"] = json!(last);
            p["restored"] = json!(n(&p, "restored") + restored);
            p["overwritten"] = json!(n(&p, "overwritten") + touched);
            s.set_undo_state(id, "running", &p)?;
            Ok(Some(()))
        })();
        match step {
            Ok(Some(_)) => match s.commit_write() {
                Ok(()) => committed_batch(&mut batches),
                Err(e) => {
                    s.rollback_write();
                    return Err(e);
                }
            },
            Ok(None) => {
                s.rollback_write();
                break;
            }
            Err(e) => {
                s.rollback_write();
                return Err(e);
            }
        }
    }
    // Done.
    s.begin_write()?;
    let done = (|| -> Result<Value> {
        let row = s.undo_state(id)?.ok_or_else(|| no_such(id))?;
        let mut p = row.progress;
        if row.undo_state.as_deref() == Some("running") {
            p["state"] = json!("done");
            p["finished_at"] = json!(crate::now_rfc3339());
            s.set_undo_state(id, "done", &p)?;
        }
        Ok(p)
    })();
    let p = match done.and_then(|p| s.commit_write().map(|()| p)) {
        Ok(p) => p,
        Err(e) => {
            s.rollback_write();
            return Err(e);
        }
    };
    out.deleted = n(&p, "deleted");
    out.restored = n(&p, "restored");
    out.overwritten_count = n(&p, "overwritten");
    out.forced = p["forced"].as_bool().unwrap_or(force);
    Ok(out)
}

/// Shared by both backends: the journal rows, parsed.
pub(crate) fn journal_row(
    key: i64,
    before: &str,
    before_changed_by: Option<Option<i64>>,
    current: Option<Current>,
) -> Result<JournalRow> {
    Ok(JournalRow {
        key,
        before: parse_journal(before)?,
        before_changed_by,
        current,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(first: &str, labels: &[i64], custom: &[(i64, &str)]) -> Contact {
        Contact {
            id: 1,
            email: "a@example.com".into(),
            first_name: Some(first.into()),
            labels: labels.to_vec(),
            custom: custom.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            ..Contact::default()
        }
    }

    #[test]
    fn a_journal_keeps_only_what_changed_and_merges_first_value_first() {
        let b = contact("Ann", &[1], &[(3, "x")]);
        let a = contact("Anne", &[1], &[(3, "x"), (4, "y")]);
        let j = contact_journal(&b, &a);
        let m = parse_journal(&j).unwrap();
        assert_eq!(m["first_name"], "Ann");
        assert!(!m.contains_key("labels"));
        assert_eq!(m["custom"], json!({"4": null}));
        // A later batch changed first_name again and labels.
        let later = contact_journal(&a, &contact("Annie", &[1, 2], &[(3, "x"), (4, "y")]));
        let merged = parse_journal(&merge_journal(&j, &later).unwrap()).unwrap();
        assert_eq!(merged["first_name"], "Ann");
        assert_eq!(merged["labels"], "1");
    }

    #[test]
    fn restore_puts_back_changed_attributes_only() {
        let row = JournalRow {
            key: 1,
            before: parse_journal(
                r#"{"first_name":"Ann","custom":{"4":null,"3":"x"},"changed_by":2}"#,
            )
            .unwrap(),
            before_changed_by: None,
            current: None,
        };
        let cur = Current {
            email: "a@example.com".into(),
            changed_by: Some(5),
            updated_at: String::new(),
            attrs: serde_json::from_value(json!({
                "first_name": "Anne", "last_name": "Later", "company_id": null, "labels": "1",
                "custom": r#"{"3":"z","4":"y"}"#
            }))
            .unwrap(),
        };
        let r = restore(&row, &cur, &Names::default());
        assert_eq!(r.attrs["first_name"], "Ann");
        assert_eq!(r.attrs["last_name"], "Later");
        assert_eq!(r.attrs["custom"], r#"{"3":"x"}"#);
        assert_eq!(r.changed_by, Some(2));
        assert_eq!(r.overwrites.len(), 3, "{:?}", r.overwrites);
    }
}
