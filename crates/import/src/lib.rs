//! Roster's import pipeline (the rules are in the user guide, docs/csv.md).
//!
//! bytes → [`decode`] (encoding, delimiter) → csv records with positions →
//! [`header`] plan → typed rows (a kind's `parse`, on the parser thread) →
//! batches → the kind's `apply` (on the writer thread, against the store) →
//! [`report`].
//!
//! *Architecture Invariant*: parsing a row never touches the database; the
//! parser thread only sees bytes and the catalog snapshot taken at start.
//! *Architecture Invariant*: rows are applied in file order and every
//! outcome is the one importing the rows one at a time would give, whatever
//! the batch size.

pub mod contacts;
pub mod decode;
mod distinct;
pub mod export;
pub mod guard;
pub mod header;
mod hooks;
pub mod job;
pub mod mapping;
mod pipeline;
pub mod preview;
pub mod report;
pub mod users;

use std::path::PathBuf;

pub use decode::{DecodeOptions, Input};
pub use guard::Limits;
pub use job::JobRun;
pub use report::{Outcome, Report, RowError};

/// A refusal or failure of the import as a whole (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Decode(#[from] decode::DecodeError),
    /// The header cannot be used; nothing was written.
    #[error("{0}")]
    Header(String),
    /// The file is over a limit ([`Limits`]) or ends inside a quoted value.
    #[error("{0}")]
    Limit(String),
    /// An option cannot be used with this file or database.
    #[error("{0}")]
    Options(String),
    /// The rejects or outcomes file cannot be written.
    #[error("{0}")]
    Output(String),
    #[error("{0}")]
    Store(#[from] roster_store::StoreError),
}

/// `--on-existing`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnExisting {
    #[default]
    Update,
    Skip,
}

/// How far an import has got, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub bytes: u64,
    pub total_bytes: Option<u64>,
    pub rows: u64,
}

/// Options shared by both imports.
pub struct Options {
    pub decode: DecodeOptions,
    /// `--map FROM=TO` renames, in the order given.
    pub maps: Vec<(String, String)>,
    /// `--map auto`: recognise foreign exports' columns, ignore the rest.
    pub map_auto: bool,
    pub ignore_unknown_columns: bool,
    pub on_existing: OnExisting,
    /// Columns never changed on an existing record.
    pub keep: Vec<String>,
    pub atomic: bool,
    pub dry_run: bool,
    pub rejects: Option<PathBuf>,
    pub outcomes: Option<PathBuf>,
    /// Rows per batch (each batch is one transaction); None picks the kind's default.
    pub batch_size: Option<usize>,
    /// Rows per transaction on the backends that group batches (SQLite);
    /// None takes the backend's size. The result never depends on it.
    pub commit_rows: Option<u64>,
    /// Contacts only.
    pub create_labels: bool,
    /// Contacts only.
    pub replace_labels: bool,
    /// Who started it, for the import record.
    pub started_by: String,
    /// The lease owner the import record is held under (a job runner's
    /// worker id); None makes a fresh `HOST:PID:NONCE` one.
    pub owner: Option<String>,
    /// The longest value and the most columns a file may have.
    pub limits: Limits,
    /// An import record already claimed by `owner` (a job runner's) to run
    /// under; None records a new one.
    pub record: Option<i64>,
    pub progress: Option<Box<dyn FnMut(Progress) + Send>>,
    /// Set when the import runs as a server job (see [`job`]).
    pub job: Option<job::JobRun>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            decode: DecodeOptions {
                encoding: None,
                delimiter: None,
            },
            maps: Vec::new(),
            map_auto: false,
            ignore_unknown_columns: false,
            on_existing: OnExisting::Update,
            keep: Vec::new(),
            atomic: false,
            dry_run: false,
            rejects: None,
            outcomes: None,
            batch_size: None,
            commit_rows: None,
            create_labels: false,
            replace_labels: false,
            started_by: "cli".into(),
            owner: None,
            limits: Limits::default(),
            record: None,
            progress: None,
            job: None,
        }
    }
}

impl Options {
    /// Adds one `--map` value (the CLI flag, or the API's `map=`): `auto`,
    /// or `FILE COLUMN=column` split at the last `=`. Empty sides are
    /// refused when the header is read, where the message can list the
    /// file's columns.
    pub fn add_map(&mut self, value: &str) -> Result<(), ImportError> {
        if value.trim() == "auto" {
            self.map_auto = true;
            return Ok(());
        }
        let (from, to) = value.rsplit_once('=').ok_or_else(|| {
            ImportError::Options(format!(
                "--map '{value}' needs the form 'FILE COLUMN=column' (e.g. --map 'E-mail Address=email'), or 'auto'"
            ))
        })?;
        self.maps
            .push((from.trim().to_string(), to.trim().to_string()));
        Ok(())
    }

    /// The options as recorded with the import (no callbacks, no secrets).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "encoding": self.decode.encoding,
            "delimiter": self.decode.delimiter.map(|d| (d as char).to_string()),
            "map": self.maps.iter().map(|(a, b)| format!("{a}={b}")).chain(self.map_auto.then(|| "auto".to_string())).collect::<Vec<_>>(),
            "ignore_unknown_columns": self.ignore_unknown_columns,
            "on_existing": match self.on_existing { OnExisting::Update => "update", OnExisting::Skip => "skip" },
            "keep": self.keep,
            "atomic": self.atomic,
            "create_labels": self.create_labels,
            "replace_labels": self.replace_labels,
        })
    }
}

pub use contacts::import_contacts;
pub use users::import_users;
