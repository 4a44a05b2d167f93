//! The embedded SQLite backend: one file, nothing to install.
//!
//! Bulk writes are prepared statements (cached, reused across a batch) in
//! one transaction per batch. Pragmas, and why:
//! - `journal_mode=WAL`: readers never block the writer, and a commit is one
//!   sequential append;
//! - `synchronous=NORMAL`: in WAL mode a crash or kill can never corrupt the
//!   database or leave half a transaction (a batch is all or nothing); at
//!   worst a power cut forgets the last committed batches, which importing
//!   the file again restores;
//! - `busy_timeout`: several `roster` processes may share the file;
//! - `wal_autocheckpoint=16384` (64 MB of WAL between checkpoints): each
//!   checkpoint syncs the WAL and the database, and with the default (4 MB)
//!   a million-row import spent more time in those syncs than in its work;
//! - `cache_size=-16000` (16 MB): most of the email index stays cached
//!   while keeping an import's peak memory under 64 MB.

mod credentials;
mod directory;
mod jobs;

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

mod mail;

use crate::{
    decode_custom, decode_ids, encode_custom, encode_ids, now_rfc3339, Catalog, Company, Contact,
    ContactWrite, Contacts, CustomField, FieldType, Label, NewField, Result, Role, Store,
    StoreError, Transactions, User, UserWrite, Users,
};

pub(crate) mod imports;

use crate::undo::RecordKind;

/// Each entry moves the schema one version forward; never edit a shipped one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE companies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE custom_fields (
    id INTEGER PRIMARY KEY,
    variable_name TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    first_name TEXT,
    last_name TEXT,
    company_id INTEGER REFERENCES companies(id),
    labels TEXT NOT NULL DEFAULT '',
    custom TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    created_import INTEGER,
    changed_by INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    first_name TEXT,
    last_name TEXT,
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL,
    role TEXT NOT NULL,
    created_import INTEGER,
    changed_by INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    options TEXT NOT NULL,
    report TEXT NOT NULL DEFAULT '{}',
    started_by TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE import_changes (
    import_id INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    before TEXT NOT NULL,
    PRIMARY KEY (import_id, contact_id)
) WITHOUT ROWID;
"#,
    credentials::MIGRATION,
    r#"
ALTER TABLE imports ADD COLUMN owner TEXT;
ALTER TABLE imports ADD COLUMN heartbeat_at TEXT;
ALTER TABLE imports ADD COLUMN progress TEXT NOT NULL DEFAULT '{}';
"#,
    jobs::MIGRATION,
    mail::SCHEMA,
    directory::SEARCH_MIGRATION,
    imports::UNDO_MIGRATION,
    directory::SEARCH_MIGRATION_LEAN,
];

pub struct SqliteStore {
    conn: Connection,
    /// The ids (first, last) of contacts an import created in the open
    /// transaction that are not in the search index yet: indexed in one
    /// statement before the transaction commits, or before one of them is
    /// updated (see `write_contacts`).
    unindexed: Option<(i64, i64)>,
}

pub(crate) fn db(what: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Database(format!("SQLite could not go on {what}: {LOCKED_MESSAGE}"))
        }
        _ => StoreError::Database(format!("SQLite failed while {what}: {e}")),
    }
}

/// Why a write waited [`busy_timeout`] and gave up, and what to do.
pub const LOCKED_MESSAGE: &str = "the database file is locked by another roster process that kept \
     writing for longer than this one waits (ROSTER_SQLITE_BUSY_TIMEOUT, 30 seconds by default; an \
     --atomic import keeps the lock until it ends); see roster imports list for a running import, \
     wait until it has finished, then run this again";

/// How long a write waits for another process's lock:
/// `ROSTER_SQLITE_BUSY_TIMEOUT` seconds, 30 by default.
pub fn busy_timeout() -> std::time::Duration {
    let secs = std::env::var("ROSTER_SQLITE_BUSY_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(30);
    std::time::Duration::from_secs(secs)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl SqliteStore {
    /// Opens the file at `path` (":memory:" works too), creating it and
    /// migrating it to the current schema when needed.
    pub fn open(path: &str) -> Result<Self> {
        if path.is_empty() {
            return Err(StoreError::Url(
                "the SQLite URL has no path; use sqlite://roster.db".into(),
            ));
        }
        if let Some(parent) = Path::new(path).parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                return Err(StoreError::Url(format!(
                    "the folder '{}' for the database does not exist; create it or choose another path",
                    parent.display()
                )));
            }
        }
        let conn = Connection::open(path).map_err(|e| {
            StoreError::Database(format!("cannot open the SQLite database '{path}': {e}"))
        })?;
        conn.busy_timeout(busy_timeout())
            .map_err(db("setting the busy timeout"))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16000; \
             PRAGMA wal_autocheckpoint=16384;",
        )
        .map_err(|e| {
            StoreError::Database(format!(
                "cannot use '{path}' as a SQLite database ({e}); is it another kind of file?"
            ))
        })?;
        let mut store = SqliteStore {
            conn,
            unindexed: None,
        };
        store.migrate()?;
        if let Some(pages) = crate::fault::sqlite_max_pages() {
            // A database that cannot grow past this many pages: SQLite's
            // own "database or disk is full", for the full-disk tests.
            store
                .conn
                .execute_batch(&format!("PRAGMA max_page_count={pages}"))
                .map_err(db("limiting the database's size"))?;
        }
        Ok(store)
    }

    /// `id, name` of every row of `table` (companies, labels), by id.
    fn id_names(&mut self, table: &str) -> Result<Vec<(i64, String)>> {
        let what = format!("listing {table}");
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT id, name FROM {table} ORDER BY id"))
            .map_err(db(&what))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db(&what))?;
        rows.collect::<rusqlite::Result<_>>().map_err(db(&what))
    }

    fn migrate(&mut self) -> Result<()> {
        let read_version = |c: &Connection| -> Result<i64> {
            c.query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(db("reading the schema version"))
        };
        let known = MIGRATIONS.len() as i64;
        if read_version(&self.conn)? == known {
            return Ok(());
        }
        // Under the write lock, so two processes opening a new file at once
        // do not both migrate it: the second sees the first's version.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("migrating"))?;
        let version = read_version(&tx)?;
        if version > known {
            return Err(StoreError::Database(format!(
                "the database has schema version {version}, newer than this roster knows ({known}); upgrade roster"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(db("migrating the schema"))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(db("migrating"))?;
        }
        tx.commit().map_err(db("migrating"))?;
        Ok(())
    }
}

fn row_to_contact(r: &rusqlite::Row<'_>) -> rusqlite::Result<Contact> {
    Ok(Contact {
        id: r.get(0)?,
        email: r.get(1)?,
        first_name: r.get(2)?,
        last_name: r.get(3)?,
        company_id: r.get(4)?,
        labels: decode_ids(r.get_ref(5)?.as_str()?),
        custom: decode_custom(r.get_ref(6)?.as_str()?),
        changed_by: r.get(7)?,
    })
}

const CONTACT_COLUMNS: &str =
    "id, email, first_name, last_name, company_id, labels, custom, changed_by";

fn custom_text(c: &Contact) -> String {
    if c.custom.is_empty() {
        String::new()
    } else {
        encode_custom(&c.custom)
    }
}

fn row_to_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(6)?;
    Ok(User {
        id: r.get(0)?,
        email: r.get(1)?,
        first_name: r.get(2)?,
        last_name: r.get(3)?,
        password_hash: r.get(4)?,
        active: r.get(5)?,
        role: Role::parse(&role).unwrap_or_default(),
    })
}

const USER_COLUMNS: &str = "id, email, first_name, last_name, password_hash, active, role";

impl Transactions for SqliteStore {
    fn begin(&mut self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(db("starting a transaction"))
    }
    fn commit(&mut self) -> Result<()> {
        if let Some((first, last)) = self.unindexed.take() {
            directory::index_created(&self.conn, first, last)?;
        }
        crate::fault::check("store.commit")?;
        self.conn
            .execute_batch("COMMIT")
            .map_err(db("committing"))?;
        crate::fault::check("store.after_commit")
    }
    fn rollback(&mut self) -> Result<()> {
        self.unindexed = None;
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.conn
            .execute_batch("ROLLBACK")
            .map_err(db("rolling back"))
    }
}

impl Catalog for SqliteStore {
    fn add_company(&mut self, name: &str) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO companies (name, created_at) VALUES (?1, ?2)",
                params![name, now_rfc3339()],
            )
            .map_err(db("adding a company"))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn companies(&mut self) -> Result<Vec<Company>> {
        Ok(self
            .id_names("companies")?
            .into_iter()
            .map(|(id, name)| Company { id, name })
            .collect())
    }

    fn company_exists(&mut self, id: i64) -> Result<bool> {
        let mut st = self
            .conn
            .prepare_cached("SELECT 1 FROM companies WHERE id = ?1")
            .map_err(db("looking up a company"))?;
        st.exists([id]).map_err(db("looking up a company"))
    }

    fn add_label(&mut self, name: &str) -> Result<i64> {
        match self.conn.execute(
            "INSERT INTO labels (name, created_at) VALUES (?1, ?2)",
            params![name, now_rfc3339()],
        ) {
            Ok(_) => Ok(self.conn.last_insert_rowid()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "a label named '{name}' already exists"
            ))),
            Err(e) => Err(db("adding a label")(e)),
        }
    }

    fn ensure_label(&mut self, name: &str) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO labels (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, now_rfc3339()],
            )
            .map_err(db("creating a label"))?;
        self.conn
            .query_row("SELECT id FROM labels WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .map_err(db("creating a label"))
    }

    fn labels(&mut self) -> Result<Vec<Label>> {
        Ok(self
            .id_names("labels")?
            .into_iter()
            .map(|(id, name)| Label { id, name })
            .collect())
    }

    fn add_field(&mut self, f: &NewField) -> Result<i64> {
        let options = serde_json::to_string(&f.options).unwrap_or_else(|_| "[]".into());
        match self.conn.execute(
            "INSERT INTO custom_fields (variable_name, name, type, options, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![f.variable_name, f.name, f.field_type.as_str(), options, now_rfc3339()],
        ) {
            Ok(_) => Ok(self.conn.last_insert_rowid()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "a custom field with variable name '{}' already exists",
                f.variable_name
            ))),
            Err(e) => Err(db("adding a custom field")(e)),
        }
    }

    fn fields(&mut self) -> Result<Vec<CustomField>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, variable_name, name, type, options FROM custom_fields ORDER BY id",
            )
            .map_err(db("listing custom fields"))?;
        let rows = st
            .query_map([], |r| {
                let t: String = r.get(3)?;
                let options: String = r.get(4)?;
                Ok(CustomField {
                    id: r.get(0)?,
                    variable_name: r.get(1)?,
                    name: r.get(2)?,
                    field_type: FieldType::parse(&t).unwrap_or(FieldType::Text),
                    options: serde_json::from_str(&options).unwrap_or_default(),
                })
            })
            .map_err(db("listing custom fields"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing custom fields"))
    }
}

impl Contacts for SqliteStore {
    fn load_contacts(&mut self, emails: &[&str]) -> Result<Vec<Contact>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE email = ?1"
            ))
            .map_err(db("loading contacts"))?;
        let mut out = Vec::new();
        for email in emails {
            if let Some(c) = st
                .query_row([email], row_to_contact)
                .optional()
                .map_err(db("loading contacts"))?
            {
                out.push(c);
            }
        }
        Ok(out)
    }

    fn write_contacts(&mut self, import_id: Option<i64>, writes: &[ContactWrite]) -> Result<()> {
        let now = now_rfc3339();
        let source = if import_id.is_some() { "import" } else { "api" };
        let journal = crate::undo::journal_on();
        let created_import = import_id.filter(|_| journal);
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO contacts (email, first_name, last_name, company_id, labels, custom, source, created_import, changed_by, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?10, ?8, ?9, ?9)",
            )
            .map_err(db("writing contacts"))?;
        let mut update = self
            .conn
            .prepare_cached(
                "UPDATE contacts SET first_name = ?2, last_name = ?3, company_id = ?4, labels = ?5, custom = ?6, changed_by = ?7, updated_at = ?8 WHERE id = ?1",
            )
            .map_err(db("writing contacts"))?;
        let mut keep = self
            .conn
            .prepare_cached(
                "INSERT INTO import_changes (import_id, contact_id, before) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            )
            .map_err(db("recording the import for undo"))?;
        // The contacts an import creates reach the search index in one
        // statement (see `directory::index_created`) per transaction, not
        // per batch: each statement makes the index flush a segment that
        // later merges rewrite. It runs before any update that could
        // change one of them (its trigger would delete index entries that
        // are not there yet) and before the transaction ends.
        let tx = if self.conn.is_autocommit() {
            Some(
                self.conn
                    .unchecked_transaction()
                    .map_err(db("writing contacts"))?,
            )
        } else {
            None
        };
        let mut created: Option<(i64, i64)> = if tx.is_none() {
            self.unindexed.take()
        } else {
            None
        };
        for w in writes {
            let a = &w.after;
            let labels = encode_ids(&a.labels);
            let custom = custom_text(a);
            match &w.before {
                None => {
                    insert
                        .execute(params![
                            a.email,
                            a.first_name,
                            a.last_name,
                            a.company_id,
                            labels,
                            custom,
                            source,
                            import_id,
                            now,
                            created_import
                        ])
                        .map_err(db("inserting a contact"))?;
                    if import_id.is_some() {
                        let id = self.conn.last_insert_rowid();
                        created = Some(created.map_or((id, id), |(f, _)| (f, id)));
                    }
                }
                Some(b) => {
                    if let Some((first, last)) = created.filter(|(first, _)| b.id >= *first) {
                        directory::index_created(&self.conn, first, last)?;
                        created = None;
                    }
                    update
                        .execute(params![
                            b.id,
                            a.first_name,
                            a.last_name,
                            a.company_id,
                            labels,
                            custom,
                            import_id,
                            now
                        ])
                        .map_err(db("updating a contact"))?;
                    if let Some(import_id) = import_id.filter(|_| journal) {
                        let entry = crate::undo::contact_journal(b, a);
                        // A contact this import already changed (or
                        // created) in an earlier batch takes the slow path.
                        let kept = b.changed_by != Some(import_id)
                            && keep
                                .execute(params![import_id, b.id, entry])
                                .map_err(db("recording the import for undo"))?
                                == 1;
                        if !kept {
                            imports::journal_again(
                                &self.conn,
                                RecordKind::Contacts,
                                import_id,
                                b.id,
                                &entry,
                                None,
                            )?;
                        }
                    }
                }
            }
        }
        match tx {
            Some(tx) => {
                if let Some((first, last)) = created {
                    directory::index_created(&self.conn, first, last)?;
                }
                tx.commit().map_err(db("writing contacts"))?;
            }
            None => self.unindexed = created,
        }
        Ok(())
    }

    fn each_contact(&mut self, f: &mut dyn FnMut(Contact) -> Result<()>) -> Result<()> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts ORDER BY email"
            ))
            .map_err(db("reading contacts"))?;
        let mut rows = st.query([]).map_err(db("reading contacts"))?;
        while let Some(r) = rows.next().map_err(db("reading contacts"))? {
            f(row_to_contact(r).map_err(db("reading contacts"))?)?;
        }
        Ok(())
    }

    fn count_contacts(&mut self) -> Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM contacts", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(db("counting contacts"))
    }
}

impl Users for SqliteStore {
    fn load_users(&mut self, emails: &[&str]) -> Result<Vec<User>> {
        let mut out = Vec::new();
        for email in emails {
            if let Some(u) = self.user_by_email(email)? {
                out.push(u);
            }
        }
        Ok(out)
    }

    fn write_users(&mut self, import_id: Option<i64>, writes: &[UserWrite]) -> Result<()> {
        let now = now_rfc3339();
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO users (email, first_name, last_name, password_hash, active, role, created_import, changed_by, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?8)",
            )
            .map_err(db("writing users"))?;
        let mut update = self
            .conn
            .prepare_cached(
                "UPDATE users SET first_name = ?2, last_name = ?3, password_hash = ?4, active = ?5, role = ?6, changed_by = ?7, updated_at = ?8 WHERE id = ?1",
            )
            .map_err(db("writing users"))?;
        for w in writes {
            let a = &w.after;
            match &w.before {
                None => insert
                    .execute(params![
                        a.email,
                        a.first_name,
                        a.last_name,
                        a.password_hash,
                        a.active,
                        a.role.as_str(),
                        import_id,
                        now
                    ])
                    .map_err(db("inserting a user"))?,
                Some(b) => {
                    if let Some(import_id) = import_id {
                        imports::journal_user(&self.conn, import_id, b, a)?;
                    }
                    update
                        .execute(params![
                            b.id,
                            a.first_name,
                            a.last_name,
                            a.password_hash,
                            a.active,
                            a.role.as_str(),
                            import_id,
                            now
                        ])
                        .map_err(db("updating a user"))?
                }
            };
        }
        Ok(())
    }

    fn user_by_email(&mut self, email: &str) -> Result<Option<User>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE email = ?1"
            ))
            .map_err(db("loading a user"))?;
        st.query_row([email], row_to_user)
            .optional()
            .map_err(db("loading a user"))
    }

    fn set_password_hash(&mut self, id: i64, hash: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, hash, now_rfc3339()],
            )
            .map_err(db("updating a password hash"))?;
        Ok(())
    }

    fn each_user(&mut self, f: &mut dyn FnMut(User) -> Result<()>) -> Result<()> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))
            .map_err(db("reading users"))?;
        let mut rows = st.query([]).map_err(db("reading users"))?;
        while let Some(r) = rows.next().map_err(db("reading users"))? {
            f(row_to_user(r).map_err(db("reading users"))?)?;
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    /// Each commit writes every page the transaction dirtied to the WAL, and
    /// a batch of random emails dirties pages all over the email index:
    /// fewer, bigger transactions write each page fewer times (measured: a
    /// 1M-row import went from 26 s to 19 s going from 8k to 64k rows per
    /// transaction). The writer lock is held at most this many rows.
    fn rows_per_transaction(&self) -> usize {
        262_144
    }
}
