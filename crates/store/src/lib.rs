//! Roster's storage: small capability traits and one implementation per
//! backend, chosen once at start-up from the database URL ([`open`]).
//!
//! *Architecture Invariant*: only this crate speaks SQL. The import pipeline
//! decides *what* to write (it folds rows into final states); a backend only
//! decides *how* (prepared statements on SQLite, binary `COPY` + one
//! set-based upsert on PostgreSQL).
//!
//! *API Boundary*: the traits below. A backend must return contacts and
//! users exactly as they were written, so that outcomes and exports are
//! byte-identical across backends.

use std::collections::BTreeMap;
use std::fmt;

pub use roster_core::field::{CustomField, FieldType};

pub mod auth;
pub mod credentials;
pub mod directory;
pub mod fault;
pub mod jobs;
pub mod lease;
pub mod mail;
pub mod postgres;
pub mod sqlite;
mod time;
pub mod undo;

pub use credentials::{CredentialKind, Credentials, NewCredential, TokenInfo};
pub use directory::{ContactPage, ContactQuery, ContactRecord, Directory, UserRecord};
pub use jobs::{Checkpoint, Job, JobFile, Jobs, Lease, NewJob};
pub use time::{now_rfc3339, rfc3339_after, rfc3339_from_unix_millis};
pub use undo::{UndoConflict, UndoOutcome, UndoPlan};

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://roster.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The write would break a rule of the data (a duplicate name, say).
    #[error("{0}")]
    Conflict(String),
    /// The database URL cannot be used.
    #[error("{0}")]
    Url(String),
    /// The database failed; the message says what it was doing.
    #[error("{0}")]
    Database(String),
    /// A conditional transition found the record changed meanwhile (an
    /// import no longer running, a lease held by someone else); the
    /// transaction it ran in must not commit.
    #[error("{0}")]
    Stale(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Company {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    pub id: i64,
    pub name: String,
}

/// What `fields add` stores.
#[derive(Debug, Clone)]
pub struct NewField {
    pub variable_name: String,
    pub name: String,
    pub field_type: FieldType,
    pub options: Vec<String>,
}

/// A contact's stored state. `labels` is sorted ascending and has no
/// repeats; `custom` maps a custom field id to its canonical value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_id: Option<i64>,
    pub labels: Vec<i64>,
    pub custom: BTreeMap<i64, String>,
    /// The import that last changed this contact (None: changed otherwise).
    pub changed_by: Option<i64>,
}

impl Contact {
    /// True when the two hold the same data (ids and bookkeeping aside).
    pub fn same_data(&self, other: &Contact) -> bool {
        self.first_name == other.first_name
            && self.last_name == other.last_name
            && self.company_id == other.company_id
            && self.labels == other.labels
            && self.custom == other.custom
    }
}

/// One contact to write: `before` is None for a new contact (its `after.id`
/// is then ignored and assigned by the database).
#[derive(Debug, Clone)]
pub struct ContactWrite {
    pub before: Option<Contact>,
    pub after: Contact,
}

/// A user's stored state. The password hash is a PHC string.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password_hash: String,
    pub active: bool,
    pub role: Role,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("password_hash", &"[redacted]")
            .field("active", &self.active)
            .field("role", &self.role)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    #[default]
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserWrite {
    pub before: Option<User>,
    pub after: User,
}

/// A recorded import ("import job"). While `running`, `owner` holds its
/// lease and `heartbeat_at` / `progress` are renewed with every commit (see
/// [`lease`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportRecord {
    pub id: i64,
    pub kind: String,
    /// queued, running, succeeded, failed, cancelled, interrupted or undone.
    pub status: String,
    pub options: serde_json::Value,
    pub report: serde_json::Value,
    pub started_by: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Who holds (or last held) the lease: `HOST:PID:NONCE` for a CLI run.
    pub owner: Option<String>,
    /// When the owner last renewed the lease.
    pub heartbeat_at: Option<String>,
    /// The committed counts as of the last heartbeat (a JSON object).
    pub progress: serde_json::Value,
    /// `cli` or `server`.
    pub runner: String,
    /// The file's name as given (a CLI import of standard input: `-`).
    pub file_name: Option<String>,
    /// The file's size in bytes (0 when not known).
    pub total_bytes: u64,
    /// SHA-256 of the file's bytes, hex (None when it was not read whole).
    pub checksum: Option<String>,
    /// The undo's progress or result (`state`: running or done, `deleted`,
    /// `restored`, `overwritten`, `forced`, `by`, times), or null.
    pub undo: serde_json::Value,
    /// When `roster imports prune` dropped its journal (it cannot be
    /// undone since), or None.
    pub journal_pruned_at: Option<String>,
}

/// Statuses an import can be undone from (it is over, whatever it wrote).
pub const UNDOABLE_STATUSES: &[&str] = &["succeeded", "failed", "cancelled", "interrupted"];

/// Transactions around a batch. Every write below happens inside one.
pub trait Transactions {
    fn begin(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;
}

/// Companies, labels and custom field definitions.
pub trait Catalog {
    fn add_company(&mut self, name: &str) -> Result<i64>;
    fn companies(&mut self) -> Result<Vec<Company>>;
    fn company_exists(&mut self, id: i64) -> Result<bool>;
    /// Adds a label; a label of that exact name is a [`StoreError::Conflict`].
    fn add_label(&mut self, name: &str) -> Result<i64>;
    /// Returns the id of the label with this exact name, creating it if needed
    /// (safe when several processes do it at once).
    fn ensure_label(&mut self, name: &str) -> Result<i64>;
    fn labels(&mut self) -> Result<Vec<Label>>;
    fn add_field(&mut self, field: &NewField) -> Result<i64>;
    /// Custom fields in creation order.
    fn fields(&mut self) -> Result<Vec<CustomField>>;
}

/// Contacts: the import's bulk path and the export.
pub trait Contacts {
    /// The stored contacts with these (normalized) emails, in any order. On
    /// a backend with concurrent writers, the rows stay locked until the
    /// transaction ends.
    fn load_contacts(&mut self, emails: &[&str]) -> Result<Vec<Contact>>;
    /// Writes the final state of each contact of a batch (each email once)
    /// and, for an import, what undo needs. Returns the ids of new contacts
    /// in the order of `writes` (0 for updates).
    fn write_contacts(&mut self, import_id: Option<i64>, writes: &[ContactWrite]) -> Result<()>;
    /// Every contact, sorted by email in UTF-8 byte order.
    fn each_contact(&mut self, f: &mut dyn FnMut(Contact) -> Result<()>) -> Result<()>;
    fn count_contacts(&mut self) -> Result<u64>;
}

/// Users: the import's bulk path, sign-in and the export.
pub trait Users {
    fn load_users(&mut self, emails: &[&str]) -> Result<Vec<User>>;
    fn write_users(&mut self, import_id: Option<i64>, writes: &[UserWrite]) -> Result<()>;
    fn user_by_email(&mut self, email: &str) -> Result<Option<User>>;
    fn set_password_hash(&mut self, id: i64, hash: &str) -> Result<()>;
    /// Every user, sorted by email in UTF-8 byte order.
    fn each_user(&mut self, f: &mut dyn FnMut(User) -> Result<()>) -> Result<()>;
}

/// The record of imports, and undo. Every status change is a conditional
/// `UPDATE` (see [`lease`]): it says which status (and owner) it expects,
/// and reports whether it found them.
pub trait Imports {
    /// Records a new import, `running` and leased to `owner`, with a first
    /// heartbeat.
    fn start_import(
        &mut self,
        kind: &str,
        options: &serde_json::Value,
        started_by: &str,
        owner: &str,
    ) -> Result<i64>;
    /// Renews `owner`'s lease on running import `id` and records the
    /// committed `progress`. Call it inside the transaction that commits
    /// the rows it counts. False when the import is not running under this
    /// owner any more (undone, cancelled, declared interrupted): the caller
    /// must roll back and stop.
    fn heartbeat_import(
        &mut self,
        id: i64,
        owner: &str,
        progress: &serde_json::Value,
    ) -> Result<bool>;
    /// running → `status` with its final report, only while `owner` holds
    /// it; false when the record had changed meanwhile (then it is left as
    /// it is).
    fn finish_import(
        &mut self,
        id: i64,
        owner: &str,
        status: &str,
        report: &serde_json::Value,
    ) -> Result<bool>;
    /// running → `interrupted` for an owner that is gone, only if the
    /// record still has the owner and heartbeat it was seen with; its report
    /// becomes its last committed progress. False when it had changed.
    fn interrupt_import(
        &mut self,
        id: i64,
        owner: Option<&str>,
        heartbeat_at: Option<&str>,
    ) -> Result<bool>;
    fn imports(&mut self) -> Result<Vec<ImportRecord>>;
    fn import(&mut self, id: i64) -> Result<ImportRecord>;
    /// What undoing import `id` would do: the records it would delete and
    /// restore, and those something touched since (see [`undo`]). Reads
    /// only; `refused` says why it cannot be undone at all.
    fn undo_plan(&mut self, id: i64) -> Result<UndoPlan>;
    /// Undoes import `id` in batches (see [`undo`]): deletes the records it
    /// created and puts back the previous values of what it changed. An
    /// import that cannot be undone (running, already undone, pruned) is a
    /// [`StoreError::Stale`]; records touched since, unless `force`, a
    /// [`StoreError::Conflict`] listing them, and nothing changes. An undo
    /// stopped half-way carries on when called again. `by` is who asked.
    fn undo_import(&mut self, id: i64, force: bool, by: &str) -> Result<UndoOutcome>;
    /// Drops the journals of imports that ended before `finished_before`
    /// (RFC 3339), keeping their records and counts; returns their ids.
    fn prune_journals(&mut self, finished_before: &str) -> Result<Vec<i64>>;
    /// Records the imported file's name, size and SHA-256 (None when it was
    /// not read to its end).
    fn record_import_file(
        &mut self,
        id: i64,
        name: &str,
        bytes: u64,
        checksum: Option<&str>,
    ) -> Result<()>;
}

/// Everything a command needs; one implementation per backend.
pub trait Store:
    Transactions
    + Catalog
    + Contacts
    + Users
    + Imports
    + Credentials
    + Jobs
    + mail::Mail
    + Directory
    + Send
{
    /// "sqlite" or "postgres", for messages.
    fn backend(&self) -> &'static str;
    /// Rows an import writes per transaction; 0 means one transaction per
    /// batch (retried as a whole on a conflict with another writer).
    fn rows_per_transaction(&self) -> usize {
        0
    }
}

/// Opens (creating and migrating when needed) the database named by `url`:
/// `sqlite://PATH` (or a plain path) or `postgres://…`/`postgresql://…`.
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(postgres::PgStore::open(url)?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Box::new(sqlite::SqliteStore::open(path)?))
    } else if url.contains("://") {
        Err(StoreError::Url(format!(
            "the database URL '{}' has an unknown scheme; use sqlite://PATH or postgres://USER@HOST/DB",
            url.split("://").next().unwrap_or(url)
        )))
    } else {
        Ok(Box::new(sqlite::SqliteStore::open(url)?))
    }
}

/// Opens the database named by `url` like [`open`], but refuses a SQLite
/// file that does not exist instead of creating it: every command but
/// `init`, the imports and `serve` uses this, so a mistyped path is an
/// error, not an empty directory.
pub fn open_existing(url: &str) -> Result<Box<dyn Store>> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| (!url.contains("://")).then_some(url));
    if let Some(path) = path {
        if !path.is_empty() && path != ":memory:" && !std::path::Path::new(path).exists() {
            return Err(StoreError::NotFound(format!(
                "the database '{path}' does not exist; check --database (or ROSTER_DATABASE_URL), or create it with roster init"
            )));
        }
    }
    open(url)
}

/// Label ids as stored: ascending, comma-separated ("" for none).
pub fn encode_ids(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 4);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s
}

pub fn decode_ids(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|p| p.parse().ok()).collect()
}

/// Custom values as stored: a JSON object from field id to canonical value.
pub fn encode_custom(custom: &BTreeMap<i64, String>) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(2 + custom.values().map(|v| v.len() + 8).sum::<usize>());
    s.push('{');
    for (i, (k, v)) in custom.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\"{k}\":");
        // serde_json escapes the value exactly as a JSON string needs.
        s.push_str(&serde_json::to_string(v).unwrap_or_default());
    }
    s.push('}');
    s
}

pub fn decode_custom(s: &str) -> BTreeMap<i64, String> {
    if s.is_empty() {
        return BTreeMap::new();
    }
    serde_json::from_str(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_custom_roundtrip() {
        assert_eq!(encode_ids(&[]), "");
        assert_eq!(encode_ids(&[1, 12, 300]), "1,12,300");
        assert_eq!(decode_ids("1,12,300"), vec![1, 12, 300]);
        assert!(decode_ids("").is_empty());
        let mut m = BTreeMap::new();
        m.insert(2, "x\"y".to_string());
        m.insert(10, "1.5".to_string());
        assert_eq!(encode_custom(&m), r#"{"2":"x\"y","10":"1.5"}"#);
        assert_eq!(decode_custom(&encode_custom(&m)), m);
        m.insert(3, "é\n\u{1}".to_string());
        assert_eq!(decode_custom(&encode_custom(&m)), m);
    }

    #[test]
    fn unknown_scheme_is_refused() {
        let e = open("mysql://x").err().unwrap();
        assert!(e.to_string().contains("unknown scheme"), "{e}");
    }
}
