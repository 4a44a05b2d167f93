//! The outcome of an import: counts, per-row errors, and the files a user
//! can act on (`--rejects`, `--outcomes`).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ImportError;

/// Errors kept in the report (the counts are never capped; `--rejects` and
/// `--outcomes` have every row).
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// One reason a row was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: u64,
    /// The column's name, or None when the problem is the row as a whole.
    pub column: Option<String>,
    /// The offending value (never a password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
}

/// Created labels named in a report (the count is never capped).
pub const MAX_LISTED_LABELS: usize = 100;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Values echoed in messages, reports and stored records are cut to this
/// many characters (followed by "…" and the value's full length).
pub const MAX_ECHOED_VALUE_CHARS: usize = 200;
/// Messages longer than this many bytes keep their start and their end
/// (what to do) around a note of the length cut.
pub const MAX_MESSAGE_BYTES: usize = 1000;

/// A value as messages echo it: whole when short, else its first
/// [`MAX_ECHOED_VALUE_CHARS`] characters, "…" and its full length.
/// Clipping a clipped value changes nothing.
pub fn clip_value(value: &str) -> String {
    if value.len() <= MAX_ECHOED_VALUE_CHARS + 40
        || value.chars().count() <= MAX_ECHOED_VALUE_CHARS + 40
    {
        return value.to_string();
    }
    let cut: String = value.chars().take(MAX_ECHOED_VALUE_CHARS).collect();
    format!("{cut}… ({} bytes in all)", value.len())
}

/// A message bounded to about [`MAX_MESSAGE_BYTES`]: a long one keeps its
/// first 600 and last 300 characters (what to do is at the end).
pub fn clip_message(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_string();
    }
    let chars = message.chars().count();
    if chars <= 1000 {
        return message.to_string();
    }
    let head: String = message.chars().take(600).collect();
    let tail: String = message.chars().skip(chars - 300).collect();
    format!(
        "{head} … ({} bytes cut) … {tail}",
        message.len() - head.len() - tail.len()
    )
}

impl RowError {
    /// The error with its value and message bounded for reports.
    pub fn clipped(mut self) -> RowError {
        self.clip();
        self
    }

    pub fn clip(&mut self) {
        if let Some(v) = &self.value {
            if v.len() > MAX_ECHOED_VALUE_CHARS + 40 {
                self.value = Some(clip_value(v));
            }
        }
        if self.message.len() > MAX_MESSAGE_BYTES {
            self.message = clip_message(&self.message);
        }
        if let Some(c) = &self.column {
            if c.len() > MAX_ECHOED_VALUE_CHARS + 40 {
                self.column = Some(clip_value(c));
            }
        }
    }
}

/// What happened to one data row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Rejected => "rejected",
        }
    }
}

/// A column of the file renamed to one of ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedColumn {
    /// As written in the file.
    pub column: String,
    /// The column of ours it feeds.
    pub to: String,
    /// The `--map` that did it (for `--map auto`, which format or rule).
    pub by: String,
}

/// A column of the file that was ignored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgnoredColumn {
    /// As written in the file.
    pub column: String,
    pub reason: String,
}

/// The report of an import; `--json` prints it as one object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub repeated: u64,
    pub encoding: String,
    pub delimiter: String,
    pub dry_run: bool,
    /// Rows whose batch was committed (all of them after a successful run).
    pub committed: u64,
    /// Batches applied again after a conflict with a concurrent writer
    /// (PostgreSQL).
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u64,
    /// Columns renamed by `--map` or `--map auto`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mapped_columns: Vec<MappedColumn>,
    /// Columns ignored by `--map auto` or `--ignore-unknown-columns`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_columns: Vec<IgnoredColumn>,
    /// Labels `--create-labels` created (committed), counted in full.
    #[serde(skip_serializing_if = "is_zero")]
    pub labels_created: u64,
    /// Their names (the first [`MAX_LISTED_LABELS`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub created_labels: Vec<String>,
    pub errors: Vec<RowError>,
    /// True when `errors` holds fewer entries than there were.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub errors_truncated: bool,
    /// Set when the import as a whole failed: why, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Notes for the reader (e.g. that passwords were removed from --rejects).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    pub fn add_error(&mut self, e: RowError) {
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(e.clipped());
        } else {
            self.errors_truncated = true;
        }
    }

    /// Exit status: 0 all imported, 1 some rows rejected, 2 the
    /// file was refused or the import failed.
    pub fn exit_code(&self) -> i32 {
        if self.failure.is_some() {
            2
        } else if self.rejected > 0 {
            1
        } else {
            0
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let what = if self.dry_run {
            "Dry run of import"
        } else {
            "Import"
        };
        let _ = match self.id {
            Some(id) => writeln!(s, "{what} {id} of {}", self.kind),
            None => writeln!(s, "{what} of {}", self.kind),
        };
        let _ = writeln!(
            s,
            "  encoding {}, delimiter {}",
            self.encoding, self.delimiter
        );
        for m in &self.mapped_columns {
            let _ = writeln!(s, "  column '{}' → {} ({})", m.column, m.to, m.by);
        }
        // Ignored columns, grouped by reason so a 60-column export stays readable.
        let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
        for c in &self.ignored_columns {
            match reasons.iter_mut().find(|(r, _)| *r == c.reason) {
                Some((_, cols)) => cols.push(&c.column),
                None => reasons.push((&c.reason, vec![&c.column])),
            }
        }
        for (reason, cols) in reasons {
            let quoted: Vec<String> = cols.iter().map(|c| format!("'{c}'")).collect();
            let _ = writeln!(s, "  ignored {}: {reason}", quoted.join(", "));
        }
        let would = if self.dry_run { " (would be)" } else { "" };
        let _ = writeln!(
            s,
            "  rows {}: created {}, updated {}, unchanged {}, rejected {}{would}; repeated emails {}",
            self.rows, self.created, self.updated, self.unchanged, self.rejected, self.repeated
        );
        if self.labels_created > 0 {
            let more = self.labels_created - self.created_labels.len() as u64;
            let _ = writeln!(
                s,
                "  labels created{would}: {}{}",
                self.created_labels
                    .iter()
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        for e in &self.errors {
            let col = e
                .column
                .as_deref()
                .map(|c| format!(", column {c}"))
                .unwrap_or_default();
            let val = e
                .value
                .as_deref()
                .map(|v| format!(" ({v:?})"))
                .unwrap_or_default();
            let _ = writeln!(s, "  line {}{col}{val}: {}", e.line, e.message);
        }
        if self.errors_truncated {
            let _ = writeln!(
                s,
                "  … more errors: see --rejects / --outcomes for every row"
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        if let Some(f) = &self.failure {
            let _ = writeln!(s, "  FAILED: {f}");
            let _ = writeln!(s, "  rows committed before the failure: {}", self.committed);
        }
        s
    }
}

fn create(path: &Path, what: &str) -> Result<BufWriter<File>, ImportError> {
    File::create(path).map(BufWriter::new).map_err(|e| {
        ImportError::Output(format!(
            "cannot create the {what} file '{}': {e}",
            path.display()
        ))
    })
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> ImportError {
    ImportError::Output(format!("cannot write '{}': {e}", path.display()))
}

/// `--rejects FILE`: the original header, then each rejected row as read.
pub struct RejectsWriter {
    path: std::path::PathBuf,
    out: csv::Writer<BufWriter<File>>,
}

impl RejectsWriter {
    pub fn create(path: &Path, header: &csv::ByteRecord) -> Result<Self, ImportError> {
        let mut out = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(create(path, "rejects")?);
        out.write_byte_record(header)
            .map_err(|e| write_err(path, e))?;
        Ok(RejectsWriter {
            path: path.to_path_buf(),
            out,
        })
    }
    pub fn write(&mut self, record: &csv::ByteRecord) -> Result<(), ImportError> {
        roster_store::fault::check_io("rejects.write").map_err(|e| write_err(&self.path, e))?;
        self.out
            .write_byte_record(record)
            .map_err(|e| write_err(&self.path, e))
    }
    pub fn finish(mut self) -> Result<(), ImportError> {
        self.out.flush().map_err(|e| write_err(&self.path, e))
    }
}

/// `--outcomes FILE`: `line,email,outcome,message` for every data row.
pub struct OutcomesWriter {
    path: std::path::PathBuf,
    out: csv::Writer<BufWriter<File>>,
}

impl OutcomesWriter {
    pub fn create(path: &Path) -> Result<Self, ImportError> {
        let mut out = csv::Writer::from_writer(create(path, "outcomes")?);
        out.write_record(["line", "email", "outcome", "message"])
            .map_err(|e| write_err(path, e))?;
        Ok(OutcomesWriter {
            path: path.to_path_buf(),
            out,
        })
    }
    pub fn write(
        &mut self,
        line: u64,
        email: &str,
        outcome: Outcome,
        message: &str,
    ) -> Result<(), ImportError> {
        roster_store::fault::check_io("outcomes.write").map_err(|e| write_err(&self.path, e))?;
        let mut buf = itoa_line(line);
        self.out
            .write_record([buf.as_mut_str() as &str, email, outcome.as_str(), message])
            .map_err(|e| write_err(&self.path, e))
    }
    pub fn finish(mut self) -> Result<(), ImportError> {
        self.out.flush().map_err(|e| write_err(&self.path, e))
    }
}

fn itoa_line(n: u64) -> String {
    n.to_string()
}
