//! An import run as a server job: its result files go to the database with
//! each committed batch, a checkpoint is written in the batch's own
//! transaction (so it says exactly what committed), a cancel flag is
//! checked between batches, and a resumed run skips what the checkpoint
//! covers.
//!
//! *The resume rule*: a job that stopped (its process died, or its lease
//! lapsed) starts again from its upload with the same options; the rows the
//! checkpoint counts are read and skipped without being applied, the report
//! and the result files carry on from the checkpoint, and the `repeated`
//! count is rebuilt from the stored outcomes. Because rows apply in file
//! order whatever the batch size, the final data and report are those of
//! an uninterrupted run.

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use roster_store::{Checkpoint, JobFile, Store};

use crate::distinct::DistinctCounter;
use crate::report::{Outcome, Report, RowError};
use crate::ImportError;

/// What the job runner hands the pipeline.
pub struct JobRun {
    /// The job's import record (already `running`, held by `owner`).
    pub id: i64,
    /// The lease holder, checked inside every batch's transaction.
    pub owner: String,
    /// Where the last run stopped; None for a first run.
    pub resume: Option<Checkpoint>,
    /// Set (by the runner's heartbeat) when someone asked to cancel.
    pub cancel: Arc<AtomicBool>,
    /// Set when the server stops or the lease was lost: the run ends after
    /// the current batch without finishing the job, which stays resumable.
    pub stop: Arc<AtomicBool>,
    /// Commit after every batch (instead of grouping batches per
    /// transaction), so a checkpoint follows each batch.
    pub commit_every_batch: bool,
    /// Test hook: after this many commits, wait this long (or until
    /// cancelled) — a deterministic "mid-import" for tests.
    pub pause_after_commits: Option<(u64, Duration)>,
}

impl JobRun {
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Bytes waiting for the next checkpoint; in one-transaction mode (where
/// nothing is written before the end) they move to a temporary file past
/// 1 MiB, so memory stays flat.
#[derive(Default)]
pub(crate) struct SpoolInner {
    buf: Vec<u8>,
    file: Option<File>,
    spill: bool,
}

/// A writer into a shared [`SpoolInner`] (the csv writer owns one handle,
/// the sink another to take the bytes out).
#[derive(Clone, Default)]
pub(crate) struct Spool(Rc<RefCell<SpoolInner>>);

const SPILL_AT: usize = 1 << 20;

impl Write for Spool {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut this = self.0.borrow_mut();
        let this = &mut *this;
        this.buf.extend_from_slice(data);
        if this.spill && this.buf.len() >= SPILL_AT {
            if this.file.is_none() {
                this.file = Some(tempfile::tempfile()?);
            }
            if let Some(f) = &mut this.file {
                f.write_all(&this.buf)?;
            }
            this.buf.clear();
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Spool {
    /// Everything held, as one reader (the file's part first).
    fn into_reader(self) -> std::io::Result<Box<dyn Read>> {
        let mut this = self.0.borrow_mut();
        let tail = std::io::Cursor::new(std::mem::take(&mut this.buf));
        match this.file.take() {
            Some(mut f) => {
                f.seek(SeekFrom::Start(0))?;
                Ok(Box::new(f.chain(tail)))
            }
            None => Ok(Box::new(tail)),
        }
    }
}

fn io_err(e: impl std::fmt::Display) -> ImportError {
    ImportError::Output(format!(
        "cannot keep the import's result files in the temporary folder ({e}); check free space in $TMPDIR"
    ))
}

impl Spool {
    fn new(spill: bool) -> Spool {
        Spool(Rc::new(RefCell::new(SpoolInner {
            spill,
            ..SpoolInner::default()
        })))
    }
    /// The bytes held in memory, taken out.
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.borrow_mut().buf)
    }
}

/// The job side of a pipeline run.
pub(crate) struct JobSink {
    pub run: JobRun,
    outcomes: csv::Writer<Spool>,
    rejects: csv::Writer<Spool>,
    errors: csv::Writer<Spool>,
    /// The same spools, to take their bytes (outcomes, rejects, errors).
    spools: [Spool; 3],
    /// Rows the checkpoint covers that are still to be skipped.
    pub skip: u64,
    pub commits: u64,
    /// The run stopped at a cancel request.
    pub cancelled: bool,
    /// The run stopped for a server shutdown or a lost lease.
    pub stopped: bool,
}

impl JobSink {
    pub fn new(
        run: JobRun,
        header: &csv::ByteRecord,
        one_transaction: bool,
    ) -> Result<JobSink, ImportError> {
        let spools = [
            Spool::new(one_transaction),
            Spool::new(one_transaction),
            Spool::new(one_transaction),
        ];
        let mut sink = JobSink {
            skip: run.resume.as_ref().map(|c| c.rows).unwrap_or(0),
            run,
            outcomes: csv::Writer::from_writer(spools[0].clone()),
            rejects: csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(spools[1].clone()),
            errors: csv::Writer::from_writer(spools[2].clone()),
            spools,
            commits: 0,
            cancelled: false,
            stopped: false,
        };
        if sink.run.resume.is_none() {
            // A resumed job's files already start with their headers.
            sink.outcomes
                .write_record(["line", "email", "outcome", "message"])
                .map_err(io_err)?;
            sink.rejects.write_byte_record(header).map_err(io_err)?;
            sink.errors
                .write_record(["line", "column", "value", "message"])
                .map_err(io_err)?;
        }
        Ok(sink)
    }

    pub fn outcome(
        &mut self,
        line: u64,
        email: &str,
        outcome: Outcome,
        message: &str,
    ) -> Result<(), ImportError> {
        roster_store::fault::check_io("outcomes.write").map_err(io_err)?;
        self.outcomes
            .write_record([line.to_string().as_str(), email, outcome.as_str(), message])
            .map_err(io_err)
    }

    pub fn error(&mut self, e: &RowError) -> Result<(), ImportError> {
        self.errors
            .write_record([
                e.line.to_string().as_str(),
                e.column.as_deref().unwrap_or(""),
                e.value.as_deref().unwrap_or(""),
                &e.message,
            ])
            .map_err(io_err)
    }

    pub fn reject(&mut self, raw: &csv::ByteRecord) -> Result<(), ImportError> {
        roster_store::fault::check_io("rejects.write").map_err(io_err)?;
        self.rejects.write_byte_record(raw).map_err(io_err)
    }

    /// Inside the open transaction: checks the lease, records the
    /// checkpoint and hands the store the files' new bytes.
    pub fn checkpoint(
        &mut self,
        store: &mut dyn Store,
        report: &Report,
        bytes: u64,
    ) -> Result<(), ImportError> {
        for w in [&mut self.outcomes, &mut self.rejects, &mut self.errors] {
            w.flush().map_err(io_err)?;
        }
        let mut cp_report = report.clone();
        cp_report.committed = report.rows;
        let checkpoint = Checkpoint {
            rows: report.rows,
            bytes,
            report: serde_json::to_value(&cp_report).unwrap_or_default(),
        };
        let [o, r, e] = [
            self.spools[0].take(),
            self.spools[1].take(),
            self.spools[2].take(),
        ];
        store.checkpoint_job(
            self.run.id,
            &self.run.owner,
            &checkpoint,
            &[
                (JobFile::Outcomes, &o),
                (JobFile::Rejects, &r),
                (JobFile::Errors, &e),
            ],
        )?;
        Ok(())
    }

    /// Forgets the bytes of batches that were rolled back.
    pub fn discard_pending(&mut self) {
        for w in [&mut self.outcomes, &mut self.rejects, &mut self.errors] {
            let _ = w.flush();
        }
        for s in &self.spools {
            s.take();
        }
    }

    /// After a commit: the test pause, when asked for.
    pub fn committed(&mut self) {
        self.commits += 1;
        if let Some((n, wait)) = self.run.pause_after_commits {
            if self.commits == n {
                let until = std::time::Instant::now() + wait;
                while std::time::Instant::now() < until
                    && !self.run.cancelled()
                    && !self.run.stopped()
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Ends the job with the report and whatever the files still hold.
    pub fn finish(
        self,
        store: &mut dyn Store,
        status: &str,
        report: &Report,
    ) -> Result<bool, ImportError> {
        let JobSink {
            run,
            outcomes,
            rejects,
            errors,
            spools,
            ..
        } = self;
        let take = |w: csv::Writer<Spool>| -> Result<Box<dyn Read>, ImportError> {
            w.into_inner()
                .map_err(|e| io_err(e.error()))?
                .into_reader()
                .map_err(io_err)
        };
        drop(spools);
        let mut o = take(outcomes)?;
        let mut r = take(rejects)?;
        let mut e = take(errors)?;
        let json = serde_json::to_value(report).unwrap_or_default();
        Ok(store.finish_job(
            run.id,
            &run.owner,
            status,
            &json,
            &mut [
                (JobFile::Outcomes, &mut *o as &mut dyn Read),
                (JobFile::Rejects, &mut *r),
                (JobFile::Errors, &mut *e),
            ],
        )?)
    }
}

/// The `repeated` count's state as of a checkpoint, rebuilt from the stored
/// outcomes (every accepted row's email).
pub(crate) fn rebuild_distinct(
    store: &mut dyn Store,
    id: i64,
) -> Result<DistinctCounter, ImportError> {
    let mut tmp = tempfile::tempfile().map_err(io_err)?;
    store.read_job_file(id, JobFile::Outcomes, &mut |chunk| {
        tmp.write_all(chunk).map_err(|e| {
            roster_store::StoreError::Database(format!(
                "cannot copy the stored outcomes to a temporary file: {e}"
            ))
        })
    })?;
    tmp.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut distinct = DistinctCounter::default();
    let mut reader = csv::Reader::from_reader(std::io::BufReader::new(tmp));
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(io_err)? {
        if record.get(2) == Some(b"rejected".as_slice()) {
            continue;
        }
        let email = String::from_utf8_lossy(record.get(1).unwrap_or_default());
        distinct
            .add(crate::distinct::hash128(&email))
            .map_err(ImportError::Output)?;
    }
    Ok(distinct)
}

/// An import's options as a job stores them: the CLI's flags, named as the
/// HTTP API's query parameters (`dry_run`, `on_existing`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct JobOptions {
    pub dry_run: bool,
    pub atomic: bool,
    pub create_labels: bool,
    pub replace_labels: bool,
    /// `update` (the default) or `skip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_existing: Option<String>,
    pub keep: Vec<String>,
    /// `FROM=TO`, or `auto`.
    pub map: Vec<String>,
    pub ignore_unknown_columns: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Rows per batch (the CLI's `--batch-size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// The CLI's `--max-field-bytes` (default 1 MiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_field_bytes: Option<u64>,
    /// The CLI's `--max-columns` (default 1,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_columns: Option<usize>,
}

/// An option that cannot be used: which, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub name: String,
    pub message: String,
}

fn flag(name: &str, value: &str) -> Result<bool, OptionError> {
    match value.to_ascii_lowercase().as_str() {
        "" | "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(OptionError {
            name: name.into(),
            message: format!(
                "the option {name} takes true or false, not '{}'",
                short(value)
            ),
        }),
    }
}

fn short(v: &str) -> String {
    if v.chars().count() > 60 {
        format!("{}…", v.chars().take(60).collect::<String>())
    } else {
        v.to_string()
    }
}

/// `,` `;` tab or `|`, by character or name (the CLI's `--delimiter`).
pub fn parse_delimiter(s: &str) -> Option<u8> {
    match s {
        "," | "comma" => Some(b','),
        ";" | "semicolon" => Some(b';'),
        "\t" | "\\t" | "tab" => Some(b'\t'),
        "|" | "pipe" => Some(b'|'),
        _ => None,
    }
}

impl JobOptions {
    /// Reads query parameters (`name=value`, repeatable `keep` and `map`);
    /// parameters in `ignore` (e.g. `kind`) are skipped. Every value is
    /// checked here, before anything is stored.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        ignore: &[&str],
    ) -> Result<JobOptions, OptionError> {
        let mut o = JobOptions::default();
        for (name, value) in pairs {
            let bad = |message: String| OptionError {
                name: name.to_string(),
                message,
            };
            match name {
                n if ignore.contains(&n) => {}
                "dry_run" => o.dry_run = flag(name, value)?,
                "atomic" => o.atomic = flag(name, value)?,
                "create_labels" => o.create_labels = flag(name, value)?,
                "replace_labels" => o.replace_labels = flag(name, value)?,
                "ignore_unknown_columns" => o.ignore_unknown_columns = flag(name, value)?,
                "on_existing" => match value {
                    "update" | "skip" => o.on_existing = Some(value.to_string()),
                    _ => {
                        return Err(bad(format!(
                            "on_existing takes update or skip, not '{}'",
                            short(value)
                        )))
                    }
                },
                "keep" => {
                    let v = value.trim();
                    if v.is_empty() {
                        return Err(bad("keep needs a column name, e.g. keep=labels".into()));
                    }
                    o.keep.push(v.to_string());
                }
                "map" => {
                    let ok = value == "auto"
                        || value
                            .rsplit_once('=')
                            .is_some_and(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty());
                    if !ok {
                        return Err(bad(format!(
                            "map '{}' needs the form FROM=TO (e.g. map=E-mail Address=email) or map=auto",
                            short(value)
                        )));
                    }
                    o.map.push(value.to_string());
                }
                "encoding" => {
                    if encoding_rs::Encoding::for_label(value.trim().as_bytes()).is_none() {
                        return Err(bad(format!(
                            "encoding '{}' is not an encoding this server knows; use e.g. utf-8, utf-16le or windows-1252",
                            short(value)
                        )));
                    }
                    o.encoding = Some(value.trim().to_string());
                }
                "delimiter" => {
                    if parse_delimiter(value).is_none() {
                        return Err(bad(format!(
                            "delimiter '{}' is not supported; use ',', ';', 'tab' or '|'",
                            short(value)
                        )));
                    }
                    o.delimiter = Some(value.to_string());
                }
                "batch_size" => match value.parse::<usize>() {
                    Ok(n) if (1..=1_000_000).contains(&n) => o.batch_size = Some(n),
                    _ => {
                        return Err(bad(format!(
                            "batch_size takes a number of rows from 1 to 1000000, not '{}'",
                            short(value)
                        )))
                    }
                },
                "max_field_bytes" => match value.parse::<u64>() {
                    Ok(n) if n >= 1 => o.max_field_bytes = Some(n),
                    _ => {
                        return Err(bad(format!(
                            "max_field_bytes takes a number of bytes (at least 1), not '{}'",
                            short(value)
                        )))
                    }
                },
                "max_columns" => match value.parse::<usize>() {
                    Ok(n) if (1..=1_000_000).contains(&n) => o.max_columns = Some(n),
                    _ => {
                        return Err(bad(format!(
                            "max_columns takes a number from 1 to 1000000, not '{}'",
                            short(value)
                        )))
                    }
                },
                _ => {
                    return Err(bad(format!(
                        "'{}' is not an import option; the options are dry_run, atomic, create_labels, replace_labels, on_existing, keep, map, ignore_unknown_columns, encoding, delimiter, max_field_bytes and max_columns",
                        short(name)
                    )))
                }
            }
        }
        Ok(o)
    }

    /// The pipeline's options (no files, no progress, no job yet).
    pub fn to_options(&self, started_by: &str) -> crate::Options {
        let mut o = crate::Options {
            decode: crate::DecodeOptions {
                encoding: self.encoding.clone(),
                delimiter: self.delimiter.as_deref().and_then(parse_delimiter),
            },
            ignore_unknown_columns: self.ignore_unknown_columns,
            on_existing: if self.on_existing.as_deref() == Some("skip") {
                crate::OnExisting::Skip
            } else {
                crate::OnExisting::Update
            },
            keep: self.keep.clone(),
            atomic: self.atomic,
            dry_run: self.dry_run,
            batch_size: self.batch_size,
            create_labels: self.create_labels,
            replace_labels: self.replace_labels,
            started_by: started_by.to_string(),
            limits: crate::Limits {
                max_field_bytes: self
                    .max_field_bytes
                    .unwrap_or(crate::guard::DEFAULT_MAX_FIELD_BYTES),
                max_columns: self
                    .max_columns
                    .unwrap_or(crate::guard::DEFAULT_MAX_COLUMNS),
            },
            ..crate::Options::default()
        };
        for m in &self.map {
            // Checked when the job was queued.
            let _ = o.add_map(m);
        }
        o
    }
}
