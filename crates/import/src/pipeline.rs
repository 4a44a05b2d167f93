//! The pipeline both imports share: a parser thread turns bytes into typed
//! rows and batches; the calling thread applies each batch to the store and
//! keeps the report. Memory is bounded by the batch size and the channel's
//! depth, never by the file.

use std::sync::mpsc;

use csv::StringRecord;
use roster_core::email::normalize_email;
use roster_store::{Store, StoreError};

use crate::decode::{self, DecodeError, Input};
use crate::distinct::DistinctCounter;
use crate::guard::{self, limit_of, Guard, LineMap, MAX_COLUMN_NAME_BYTES};
use crate::header::{self, Column, Plan};
use crate::job::{rebuild_distinct, JobSink};
use crate::report::{OutcomesWriter, RejectsWriter, Report, RowError};
use crate::{hooks, ImportError, Options, Outcome, Progress};

/// Batches in flight between the parser and the writer.
const CHANNEL_DEPTH: usize = 2;
/// A batch is sent once its rows hold this many bytes, however few they are.
const MAX_BATCH_BYTES: usize = 16 << 20;
/// ... or this many non-empty values: a parsed value costs far more memory
/// than its bytes in the file, so a wide file (twenty custom fields) sends
/// smaller batches and its peak memory stays that of a narrow one. 36,864
/// is nine values a row for the default 4,096 rows.
const MAX_BATCH_VALUES: usize = 9 * 4096;

/// One data row on its way through the pipeline.
pub(crate) struct Item<R> {
    pub line: u64,
    /// The normalized email, or the cell as written when it is not valid.
    pub email: String,
    /// The email's hash for the `repeated` count, computed on the parser thread.
    pub email_hash: u128,
    /// The row as read, kept only when `--rejects` asks for it.
    pub raw: Option<StringRecord>,
    pub row: Result<R, Vec<RowError>>,
    /// Set by the kind's `apply`.
    pub outcome: Outcome,
    pub message: String,
}

impl<R> Item<R> {
    pub fn reject(&mut self, e: RowError) {
        self.outcome = Outcome::Rejected;
        self.message = e.message.clone();
        match &mut self.row {
            Err(errors) => errors.push(e),
            Ok(_) => self.row = Err(vec![e]),
        }
    }
}

/// Turns the cells of one row into a typed row. Runs on the parser thread:
/// it must not touch the database.
pub(crate) trait RowParser: Send + 'static {
    type Row: Send + 'static;
    /// `cells` are trimmed and indexed like the header; `errors` collects
    /// every problem of the row (the row is rejected if any).
    fn parse(
        &self,
        plan: &Plan,
        cells: &[&str],
        line: u64,
        errors: &mut Vec<RowError>,
    ) -> Option<Self::Row>;
}

/// What differs between the contacts and the users import.
pub(crate) trait Kind {
    type Parser: RowParser;
    fn name(&self) -> &'static str;
    /// Standard column names; the first is the required `email`.
    fn standard_columns(&self) -> &'static [&'static str];
    /// Custom columns accepted besides the standard ones.
    fn custom_columns(&self) -> Vec<String>;
    fn parser(&self, plan: &Plan) -> Self::Parser;
    fn default_batch_size(&self) -> usize;
    /// Checks `--keep` and other options against the plan.
    fn check_options(&mut self, plan: &Plan, opts: &Options) -> Result<(), ImportError>;
    /// Applies a batch in file order, inside the current transaction,
    /// setting every item's outcome. Must be safe to run again on the same
    /// items after a rollback.
    fn apply(
        &mut self,
        store: &mut dyn Store,
        import_id: Option<i64>,
        items: &mut [Item<<Self::Parser as RowParser>::Row>],
    ) -> Result<(), StoreError>;
    /// Empties secrets in a row written to `--rejects`; returns a note for
    /// the report when it did.
    fn redact(&self, _plan: &Plan, _raw: &mut StringRecord) -> Option<String> {
        None
    }
    /// Called after a rollback so caches built inside it are dropped.
    fn rolled_back(&mut self) {}
    /// Called after each commit of rows.
    fn committed(&mut self) {}
    /// Adds what the kind alone knows to the report, at the end.
    fn finish(&mut self, _report: &mut Report) {}
}

/// Batches to the writer, and back to the parser to be freed and reused.
type Channels<R> = (mpsc::SyncSender<Msg<R>>, mpsc::Receiver<Vec<Item<R>>>);

enum Msg<R> {
    Batch { items: Vec<Item<R>>, bytes: u64 },
    Fatal(ImportError),
}

pub(crate) fn delimiter_name(d: u8) -> String {
    (d as char).to_string()
}

pub(crate) fn run<K: Kind>(
    kind: &mut K,
    store: &mut dyn Store,
    input: Input,
    opts: &mut Options,
) -> Result<Report, ImportError> {
    let path = match &input {
        Input::Path(p) => Some(p.clone()),
        Input::Stdin => None,
    };
    let decoded = decode::open(input, &opts.decode)?;
    let digest = decoded.digest.clone();
    let file_size = decoded.total_bytes;
    let lines = LineMap::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(decoded.delimiter)
        // Records end at '\n' only: the '\r' of a CRLF ending is trimmed
        // with the rest of the last cell's white space. (With the default
        // terminator the csv crate reports CRLF files' lines one too low.)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(Box::new(Guard::new(
            decoded.reader,
            decoded.delimiter,
            opts.limits,
            lines.clone(),
        )) as Box<dyn std::io::Read + Send>);
    let mut header_raw = StringRecord::new();
    let read = reader
        .read_record(&mut header_raw)
        .map_err(|e| csv_fatal(e, decoded.bom_len, &lines, &[]))?;
    if !read || header_raw.iter().all(|c| c.trim().is_empty()) {
        return Err(DecodeError::Empty.into());
    }
    let header_line = header_raw
        .position()
        .and_then(|p| lines.line_at(p.byte()))
        .unwrap_or(1);
    if let Some((i, name)) = header_raw
        .iter()
        .enumerate()
        .find(|(_, c)| c.trim().len() > MAX_COLUMN_NAME_BYTES)
    {
        return Err(ImportError::Limit(format!(
            "line {header_line}, column {}: the column name is {} bytes long, and a column name is at most {MAX_COLUMN_NAME_BYTES}; \
             the first line must hold the column names (email,first_name,…) — is this the right file?",
            i + 1,
            name.trim().len()
        )));
    }
    let names: Vec<String> = header_raw.iter().map(|c| c.trim().to_string()).collect();
    // A regular UTF-8 file is checked whole against the limits (and for a
    // quote that never closes) before anything is written: one sequential
    // read, in bounded memory.
    if let (Some(path), Some(_), true) = (&path, decoded.total_bytes, decoded.passthrough) {
        if let Ok(mut file) = std::fs::File::open(path) {
            use std::io::{Seek, SeekFrom};
            if file.seek(SeekFrom::Start(decoded.bom_len)).is_ok() {
                let file = std::io::BufReader::new(file);
                let found = if decoded.cr_lines {
                    guard::scan(decode::CrToLf(file), decoded.delimiter, opts.limits)
                } else {
                    guard::scan(file, decoded.delimiter, opts.limits)
                };
                if let Some(limit) = found {
                    return Err(ImportError::Limit(limit.describe(&names)));
                }
            }
        }
    }
    let custom = kind.custom_columns();
    let custom_refs: Vec<&str> = custom.iter().map(String::as_str).collect();
    let plan = header::plan(
        &names,
        kind.standard_columns(),
        &custom_refs,
        &opts.maps,
        opts.map_auto,
        opts.ignore_unknown_columns,
    )?;
    kind.check_options(&plan, opts)?;

    let mut report = Report {
        kind: kind.name().to_string(),
        encoding: decoded.encoding.to_string(),
        delimiter: delimiter_name(decoded.delimiter),
        dry_run: opts.dry_run,
        mapped_columns: plan.mapped.clone(),
        ignored_columns: plan.ignored.clone(),
        ..Report::default()
    };
    if decoded.cr_lines {
        report.notes.push(
            "the file's lines end with a carriage return alone (classic Mac OS); each was read as a line break"
                .into(),
        );
    }
    let rejects = match &opts.rejects {
        Some(p) => Some(RejectsWriter::create(
            p,
            &header_raw.as_byte_record().clone(),
        )?),
        None => None,
    };
    let outcomes = match &opts.outcomes {
        Some(p) => Some(OutcomesWriter::create(p)?),
        None => None,
    };
    let one_transaction = opts.atomic || opts.dry_run;
    let mut job = match opts.job.take() {
        Some(run) => {
            // A job runs under the record and lease its runner claimed.
            opts.owner = Some(run.owner.clone());
            opts.record = Some(run.id);
            Some(JobSink::new(
                run,
                header_raw.as_byte_record(),
                one_transaction,
            )?)
        }
        None => None,
    };
    let mut committed = Counts::default();
    if let Some(cp) = job.as_ref().and_then(|j| j.run.resume.as_ref()) {
        // Carry on from the last committed batch (see `job.rs`).
        let before: Report = serde_json::from_value(cp.report.clone()).map_err(|e| {
            ImportError::Options(format!("the import's checkpoint cannot be read ({e})"))
        })?;
        committed = Counts {
            rows: before.rows,
            created: before.created,
            updated: before.updated,
            unchanged: before.unchanged,
            rejected: before.rejected,
        };
        committed.set_in(&mut report);
        report.errors = before.errors;
        report.errors_truncated = before.errors_truncated;
        report.notes = before.notes;
    }
    let owner = opts
        .owner
        .clone()
        .unwrap_or_else(roster_store::lease::new_owner);
    let import_id = match (opts.dry_run, opts.record) {
        (true, _) => None,
        (false, Some(id)) => Some(id),
        (false, None) => {
            Some(store.start_import(kind.name(), &opts.to_json(), &opts.started_by, &owner)?)
        }
    };
    report.id = import_id.or(job.as_ref().map(|j| j.run.id));
    let lease = import_id.map(|id| Lease { id, owner });

    let batch_size = opts
        .batch_size
        .unwrap_or_else(|| kind.default_batch_size())
        .max(1);
    let parser = kind.parser(&plan);
    let keep_raw = rejects.is_some() || job.is_some();
    let (tx, rx) = mpsc::sync_channel::<Msg<<K::Parser as RowParser>::Row>>(CHANNEL_DEPTH);
    let (recycle_tx, recycle_rx) = mpsc::sync_channel(CHANNEL_DEPTH);
    let parse_plan = plan.clone();
    let bom_len = decoded.bom_len;
    let delimiter = decoded.delimiter;
    let parse_lines = lines.clone();
    let parser_thread = std::thread::Builder::new()
        .name("roster-parse".into())
        .spawn(move || {
            let job = ParseJob {
                plan: parse_plan,
                parser,
                batch_size,
                keep_raw,
                bom_len,
                delimiter,
                lines: parse_lines,
            };
            job.run(reader, (tx, recycle_rx))
        });
    let written = match parser_thread {
        Ok(thread) => {
            let mut outputs = Outputs { rejects, outcomes };
            let written = write_rows(
                kind,
                store,
                opts,
                &plan,
                lease.as_ref(),
                (rx, recycle_tx),
                decoded.total_bytes,
                &mut outputs,
                &mut job,
                &mut report,
                &mut committed,
            )
            .and_then(|()| outputs.finish());
            // The channel is closed by now: the parser stops at its next send.
            if thread.join().is_err() && report.failure.is_none() {
                report.failure =
                    Some("the CSV parser stopped unexpectedly; nothing more was read".into());
            }
            written
        }
        Err(e) => Err(ImportError::Options(format!(
            "cannot start the parser thread: {e}"
        ))),
    };
    if let Err(e) = &written {
        if report.failure.is_none() {
            report.failure = Some(e.to_string());
        }
    }
    if report.failure.is_some() {
        // Whatever went wrong (a full disk under --outcomes, a decoding
        // error, the database gone), what is still open is dropped and the
        // record ends `failed` with what was committed.
        let _ = store.rollback();
        kind.rolled_back();
    }
    if report.failure.is_some() {
        // The counts are what is in the database, not what was read.
        committed.set_in(&mut report);
        if opts.dry_run {
            report.committed = 0;
        }
    }
    kind.finish(&mut report);
    if let Some(j) = job {
        let status = if j.cancelled {
            "cancelled"
        } else if report.failure.is_some() || (opts.atomic && report.rejected > 0) {
            "failed"
        } else {
            "succeeded"
        };
        // A stopped job stays `running` until its runner marks it
        // interrupted; it resumes from its checkpoint.
        if !j.stopped {
            j.finish(store, status, &report)?;
        }
    } else if let Some(lease) = &lease {
        let status = if report.failure.is_some() || (opts.atomic && report.rejected > 0) {
            "failed"
        } else {
            "succeeded"
        };
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap_or_default();
        // The file, for the record: its name as given, its size and, when
        // it was read to its end, its SHA-256.
        let (read, checksum) = digest.get();
        let name = path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "-".into());
        let size = if checksum.is_some() {
            read
        } else {
            file_size.unwrap_or(read)
        };
        store.record_import_file(lease.id, &name, size, checksum.as_deref())?;
        if !store.finish_import(lease.id, &lease.owner, status, &json)? {
            let now = store
                .import(lease.id)
                .map(|r| r.status)
                .unwrap_or_else(|_| "unknown".into());
            report.notes.push(format!(
                "the record of import {} was changed to '{now}' while it ran, and was left so",
                lease.id
            ));
            if report.failure.is_none() {
                report.failure = Some(format!(
                    "import {} was marked '{now}' by another command while it ran; check roster imports list",
                    lease.id
                ));
            }
        }
    }
    Ok(report)
}

/// Batches from the parser, and back to it to be freed.
type WriterChannels<R> = (mpsc::Receiver<Msg<R>>, mpsc::SyncSender<Vec<Item<R>>>);

/// The running import's record and the lease this process holds on it.
struct Lease {
    id: i64,
    owner: String,
}

/// Rows counted by outcome.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    rows: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
}

impl Counts {
    fn of<R>(items: &[Item<R>]) -> Counts {
        let mut c = Counts::default();
        for item in items {
            c.rows += 1;
            match item.outcome {
                Outcome::Created => c.created += 1,
                Outcome::Updated => c.updated += 1,
                Outcome::Unchanged => c.unchanged += 1,
                Outcome::Rejected => c.rejected += 1,
            }
        }
        c
    }

    fn plus(self, o: Counts) -> Counts {
        Counts {
            rows: self.rows + o.rows,
            created: self.created + o.created,
            updated: self.updated + o.updated,
            unchanged: self.unchanged + o.unchanged,
            rejected: self.rejected + o.rejected,
        }
    }

    fn set_in(self, report: &mut Report) {
        report.rows = self.rows;
        report.created = self.created;
        report.updated = self.updated;
        report.unchanged = self.unchanged;
        report.rejected = self.rejected;
        report.committed = self.rows;
    }

    /// The lease's `progress`: what is committed once the heartbeat commits.
    fn progress(self, kind: &str, bytes: u64) -> serde_json::Value {
        serde_json::json!({
            "kind": kind,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "committed": self.rows,
            "bytes": bytes,
        })
    }
}

/// Renews the lease inside the transaction about to commit; a lost lease
/// (the import undone, cancelled or declared interrupted meanwhile) makes
/// the transaction roll back instead.
fn renew(
    store: &mut dyn Store,
    lease: Option<&Lease>,
    kind: &str,
    progress: Counts,
    bytes: u64,
) -> Result<(), StoreError> {
    let Some(lease) = lease else { return Ok(()) };
    if store.heartbeat_import(lease.id, &lease.owner, &progress.progress(kind, bytes))? {
        Ok(())
    } else {
        let now = store
            .import(lease.id)
            .map(|r| r.status)
            .unwrap_or_else(|_| "unknown".into());
        Err(StoreError::Stale(format!(
            "import {} was marked '{now}' by another command while it ran, so it stopped",
            lease.id
        )))
    }
}

/// The `--rejects` and `--outcomes` files.
struct Outputs {
    rejects: Option<RejectsWriter>,
    outcomes: Option<OutcomesWriter>,
}

impl Outputs {
    fn finish(&mut self) -> Result<(), ImportError> {
        if let Some(w) = self.rejects.take() {
            w.finish()?;
        }
        if let Some(w) = self.outcomes.take() {
            w.finish()?;
        }
        Ok(())
    }
}

/// Applies every batch the parser sends, committing as the backend and
/// the options say, and fills the report. On an error the caller rolls
/// back what is open; `committed` always holds what was committed.
#[allow(clippy::too_many_arguments)]
fn write_rows<K: Kind>(
    kind: &mut K,
    store: &mut dyn Store,
    opts: &mut Options,
    plan: &Plan,
    lease: Option<&Lease>,
    (rx, recycle_tx): WriterChannels<<K::Parser as RowParser>::Row>,
    total_bytes: Option<u64>,
    outputs: &mut Outputs,
    job: &mut Option<JobSink>,
    report: &mut Report,
    committed: &mut Counts,
) -> Result<(), ImportError> {
    let import_id = lease.map(|l| l.id);
    let name = kind.name();
    let one_transaction = opts.atomic || opts.dry_run;
    if one_transaction {
        store.begin()?;
    }
    let mut distinct = match job.as_ref() {
        Some(j) if j.run.resume.is_some() => rebuild_distinct(store, j.run.id)?,
        _ => DistinctCounter::default(),
    };
    let mut redaction_noted = !report.notes.is_empty();
    // Backends that write faster in bigger transactions (SQLite) commit
    // every `group_rows` rows instead of every batch. A job's checkpoint
    // goes inside the transaction after the batch's accounting, so a job
    // always takes this path (one batch per transaction on PostgreSQL, or
    // when asked).
    let group_rows = match job.as_ref() {
        _ if one_transaction => 0,
        Some(j) if j.run.commit_every_batch => 1,
        Some(_) => (store.rows_per_transaction() as u64).max(1),
        None => match store.rows_per_transaction() as u64 {
            0 => 0,
            n => opts.commit_rows.or_else(hooks::commit_rows).unwrap_or(n),
        },
    };
    let mut open = Counts::default();
    let mut open_from = 0u64;
    let mut open_since = std::time::Instant::now();
    let mut last_bytes = 0u64;
    for msg in rx.iter() {
        let (mut items, bytes) = match msg {
            Msg::Batch { items, bytes } => (items, bytes),
            Msg::Fatal(e) => {
                report.failure = Some(e.to_string());
                break;
            }
        };
        last_bytes = bytes;
        if let Some(j) = job.as_mut() {
            if j.skip > 0 {
                // Committed before the job stopped: read, not applied again.
                let n = (j.skip as usize).min(items.len());
                items.drain(..n);
                j.skip -= n as u64;
                if items.is_empty() {
                    if let Some(progress) = &mut opts.progress {
                        progress(Progress {
                            bytes,
                            total_bytes,
                            rows: report.rows,
                        });
                    }
                    let _ = recycle_tx.try_send(items);
                    continue;
                }
            }
            if j.run.cancelled() {
                j.cancelled = true;
                break;
            }
            if j.run.stopped() {
                j.stopped = true;
                break;
            }
        }
        let first = items.first().map(|i| i.line).unwrap_or(0);
        let applied = if one_transaction {
            kind.apply(store, import_id, &mut items)
        } else if group_rows > 0 {
            let mut attempt = 0;
            loop {
                let begun = if open.rows == 0 {
                    open_from = first;
                    open_since = std::time::Instant::now();
                    store.begin()
                } else {
                    Ok(())
                };
                match begun.and_then(|()| kind.apply(store, import_id, &mut items)) {
                    // Alone in its transaction, the batch can be tried again.
                    Err(StoreError::Conflict(_)) if open.rows == 0 && attempt < MAX_RETRIES => {
                        let _ = store.rollback();
                        kind.rolled_back();
                        attempt += 1;
                        report.retries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(20 << attempt));
                    }
                    other => break other,
                }
            }
        } else {
            apply_batch(
                kind,
                store,
                import_id,
                &mut items,
                &mut report.retries,
                &mut |store, items| {
                    renew(store, lease, name, committed.plus(Counts::of(items)), bytes)
                },
            )
        };
        if let Err(e) = applied {
            let from = if group_rows > 0 { open_from } else { first };
            report.failure = Some(format!(
                "{e}; the rows from line {from} on were not written"
            ));
            if group_rows > 0 {
                let _ = store.rollback();
                kind.rolled_back();
                if let Some(j) = job.as_mut() {
                    j.discard_pending();
                }
            }
            break;
        }
        let counts = Counts::of(&items);
        if group_rows == 0 && !one_transaction {
            // apply_batch committed it.
            *committed = committed.plus(counts);
            report.committed = committed.rows;
        }
        report.rows += counts.rows;
        report.created += counts.created;
        report.updated += counts.updated;
        report.unchanged += counts.unchanged;
        report.rejected += counts.rejected;
        for item in items.iter_mut() {
            if item.outcome != Outcome::Rejected {
                distinct.add(item.email_hash).map_err(ImportError::Output)?;
            }
            if let Some(out) = &mut outputs.outcomes {
                out.write(item.line, &item.email, item.outcome, &item.message)?;
            }
            if let Some(j) = job.as_mut() {
                j.outcome(item.line, &item.email, item.outcome, &item.message)?;
            }
            if let Err(errors) = &mut item.row {
                if let Some(j) = job.as_mut() {
                    for e in errors.iter() {
                        j.error(e)?;
                    }
                }
                for e in errors.drain(..) {
                    report.add_error(e);
                }
                if let Some(raw) = &mut item.raw {
                    if let Some(note) = kind.redact(plan, raw) {
                        if !redaction_noted {
                            report.notes.push(note);
                            redaction_noted = true;
                        }
                    }
                    if let Some(w) = &mut outputs.rejects {
                        w.write(raw.as_byte_record())?;
                    }
                    if let Some(j) = job.as_mut() {
                        j.reject(raw.as_byte_record())?;
                    }
                }
            }
        }
        if group_rows > 0 {
            open = open.plus(counts);
            if let Some(j) = job.as_mut() {
                // The checkpoint and the files' new bytes join the batch's
                // transaction; a lost lease rolls the batch back.
                if let Err(e) = j.checkpoint(store, report, bytes) {
                    report.failure = Some(format!(
                        "{e}; the rows from line {open_from} on were not written"
                    ));
                    let _ = store.rollback();
                    kind.rolled_back();
                    j.discard_pending();
                    open = Counts::default();
                    break;
                }
            }
            // Commit by size, and at least every second so a crash or kill
            // loses little work.
            if open.rows >= group_rows || open_since.elapsed() >= MAX_TRANSACTION_AGE {
                let upto = committed.plus(open);
                if let Err(e) = renew(store, lease, name, upto, bytes).and_then(|()| store.commit())
                {
                    report.failure = Some(format!(
                        "{e}; the rows from line {open_from} on were not written"
                    ));
                    let _ = store.rollback();
                    kind.rolled_back();
                    open = Counts::default();
                    break;
                }
                *committed = upto;
                kind.committed();
                open = Counts::default();
                if let Some(j) = job.as_mut() {
                    j.committed();
                }
                hooks::reached("commit");
            }
        }
        report.committed = committed.rows;
        if let Err(e) = roster_store::fault::check("pipeline.after_batch") {
            report.failure = Some(e.to_string());
            break;
        }
        if let Some(progress) = &mut opts.progress {
            progress(Progress {
                bytes,
                total_bytes,
                rows: report.rows,
            });
        }
        // Back to the parser thread, which frees the rows it allocated;
        // when it has enough already, they are freed here.
        let _ = recycle_tx.try_send(items);
    }
    drop(rx);
    if report.failure.is_some() && open.rows > 0 {
        // The rows since the last commit are dropped with the failure.
        store.rollback()?;
        kind.rolled_back();
        open = Counts::default();
        if let Some(j) = job.as_mut() {
            j.discard_pending();
        }
    }
    if open.rows > 0 {
        let upto = committed.plus(open);
        renew(store, lease, name, upto, last_bytes)?;
        store.commit()?;
        *committed = upto;
        kind.committed();
        hooks::reached("commit");
    }
    report.repeated = distinct.repeated().map_err(ImportError::Output)?;

    let (cancelled, stopped) = job
        .as_ref()
        .map(|j| (j.cancelled, j.stopped))
        .unwrap_or_default();
    if cancelled {
        let n = committed.plus(open).rows;
        report.notes.push(if one_transaction && !opts.dry_run {
            "cancelled: nothing was written (atomic); the rest of the file was not read".to_string()
        } else {
            format!(
                "cancelled: the {n} row{} read before the cancel {} committed and stay{}; the rest of the file was not read",
                if n == 1 { "" } else { "s" },
                if n == 1 { "was" } else { "were" },
                if opts.dry_run { " (a dry run writes nothing)" } else { "" },
            )
        });
    }
    if one_transaction {
        if opts.dry_run || cancelled || stopped || report.failure.is_some() || report.rejected > 0 {
            store.rollback()?;
            kind.rolled_back();
            if opts.atomic && !opts.dry_run && report.failure.is_none() {
                if !cancelled && !stopped {
                    report.notes.push(format!(
                    "nothing was written: --atomic and {} row{} rejected; fix them (see --rejects) and import again",
                    report.rejected,
                    if report.rejected == 1 { " was" } else { "s were" }
                    ));
                }
                report.created = 0;
                report.updated = 0;
                report.unchanged = 0;
            }
        } else {
            let all = Counts {
                rows: report.rows,
                created: report.created,
                updated: report.updated,
                unchanged: report.unchanged,
                rejected: report.rejected,
            };
            renew(store, lease, name, all, last_bytes)?;
            store.commit()?;
            *committed = all;
            kind.committed();
            hooks::reached("commit");
        }
    }
    report.committed = committed.rows;
    Ok(())
}

/// Applies one batch as its own transaction, retrying it when a concurrent
/// writer got in the way.
type BeforeCommit<'a, R> = dyn FnMut(&mut dyn Store, &[Item<R>]) -> Result<(), StoreError> + 'a;

fn apply_batch<K: Kind>(
    kind: &mut K,
    store: &mut dyn Store,
    import_id: Option<i64>,
    items: &mut [Item<<K::Parser as RowParser>::Row>],
    retries: &mut u64,
    before_commit: &mut BeforeCommit<'_, <K::Parser as RowParser>::Row>,
) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        store.begin()?;
        match kind
            .apply(store, import_id, items)
            .and_then(|()| before_commit(store, items))
            .and_then(|()| store.commit())
        {
            Ok(()) => {
                kind.committed();
                hooks::reached("commit");
                return Ok(());
            }
            Err(e) => {
                let _ = store.rollback();
                kind.rolled_back();
                // Another writer touched the same emails at the same time:
                // the batch is applied again on top of what it committed.
                if matches!(e, StoreError::Conflict(_)) && attempt < MAX_RETRIES {
                    attempt += 1;
                    *retries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20 << attempt));
                    continue;
                }
                return Err(e);
            }
        }
    }
}

/// The longest a grouped transaction stays open before it is committed.
const MAX_TRANSACTION_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// How often a batch is tried again after a conflict with a concurrent writer.
const MAX_RETRIES: u32 = 5;

/// A read error of the csv parser as a refusal. `names` are the header's
/// (empty while reading the header).
fn csv_fatal(e: csv::Error, bom_len: u64, lines: &LineMap, names: &[String]) -> ImportError {
    if let Some(limit) = limit_of(&e) {
        return ImportError::Limit(limit.describe(names));
    }
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, err } => {
            let (line, byte) = pos
                .as_ref()
                .map(|p| {
                    (
                        lines.line_at(p.byte()).unwrap_or(p.line()),
                        p.byte() + bom_len,
                    )
                })
                .unwrap_or((0, 0));
            let _ = err;
            DecodeError::InvalidUtf8 { line, byte }.into()
        }
        _ => ImportError::Options(format!("cannot read the file: {e}")),
    }
}

/// What the parser thread needs besides the reader and the channel.
struct ParseJob<P> {
    plan: Plan,
    parser: P,
    batch_size: usize,
    keep_raw: bool,
    bom_len: u64,
    delimiter: u8,
    lines: LineMap,
}

impl<P: RowParser> ParseJob<P> {
    fn run(self, reader: csv::Reader<Box<dyn std::io::Read + Send>>, channels: Channels<P::Row>) {
        let ParseJob {
            plan,
            parser,
            batch_size,
            keep_raw,
            bom_len,
            delimiter,
            lines,
        } = self;
        parse_rows(
            reader,
            &plan,
            &parser,
            batch_size,
            keep_raw,
            (bom_len, delimiter, &lines),
            channels,
        )
    }
}

fn parse_rows<P: RowParser>(
    mut reader: csv::Reader<Box<dyn std::io::Read + Send>>,
    plan: &Plan,
    parser: &P,
    batch_size: usize,
    keep_raw: bool,
    (bom_len, delimiter, lines): (u64, u8, &LineMap),
    (tx, recycled): Channels<P::Row>,
) {
    let mut record = StringRecord::new();
    let mut batch = Vec::with_capacity(batch_size);
    let mut batch_bytes = 0usize;
    let mut batch_values = 0usize;
    let width = plan.columns.len();
    let email_at = plan.standard_at[0].unwrap_or(0);
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let _ = tx.send(Msg::Fatal(csv_fatal(e, bom_len, lines, &plan.names)));
                return;
            }
        }
        // The physical line: the csv crate's own count skips blank lines.
        let line = record
            .position()
            .map(|p| lines.line_at(p.byte()).unwrap_or(p.line()))
            .unwrap_or(0);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut errors = Vec::new();
        let mut email_cell = record.get(email_at).unwrap_or("").trim();
        if let Some(sep) = plan.email_first_of {
            email_cell = email_cell.split(sep).next().unwrap_or("").trim();
        }
        let mut email = email_cell.to_string();
        let row = if record.len() != width {
            errors.push(RowError {
                line,
                column: None,
                value: None,
                message: format!(
                    "this row has {} fields but the header has {width}; check for a missing or extra '{}' (quote values that contain it)",
                    record.len(),
                    delimiter_name(delimiter).replace('\t', "tab")
                ),
            });
            None
        } else {
            let cells: Vec<&str> = record.iter().map(str::trim).collect();
            if let Some(i) = cells.iter().position(|c| c.contains('\0')) {
                errors.push(RowError {
                    line,
                    column: Some(plan.names[i].clone()),
                    value: None,
                    message: "the value contains a NUL character (byte 0), which cannot be stored; remove it".into(),
                });
            }
            for (i, col) in plan.columns.iter().enumerate() {
                if *col == Column::Unnamed && !cells[i].is_empty() {
                    errors.push(RowError {
                        line,
                        column: Some(format!("column {}", i + 1)),
                        value: Some(cells[i].to_string()),
                        message: format!(
                            "column {} has no name in the header but this row has a value there; name the column or delete the value",
                            i + 1
                        ),
                    });
                }
            }
            if email_cell.is_empty() {
                errors.push(RowError {
                    line,
                    column: Some("email".into()),
                    value: None,
                    message: "the email is empty; every row needs one".into(),
                });
            } else {
                match normalize_email(email_cell) {
                    Ok(e) => email = e,
                    Err(e) => errors.push(RowError {
                        line,
                        column: Some("email".into()),
                        value: Some(email_cell.to_string()),
                        message: e.to_string(),
                    }),
                }
            }
            parser.parse(plan, &cells, line, &mut errors)
        };
        // A rejected value is echoed at most clipped, however long it was.
        errors.iter_mut().for_each(RowError::clip);
        let (row, outcome, message) = match row {
            Some(r) if errors.is_empty() => (Ok(r), Outcome::Unchanged, String::new()),
            _ => {
                let message = errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
                (Err(errors), Outcome::Rejected, message)
            }
        };
        batch.push(Item {
            line,
            email_hash: crate::distinct::hash128(&email),
            email,
            raw: keep_raw.then(|| record.clone()),
            row,
            outcome,
            message,
        });
        batch_bytes += record.as_byte_record().as_slice().len();
        batch_values += record.iter().filter(|c| !c.is_empty()).count();
        // Long values or many columns make a batch big long before it has
        // `batch_size` rows: it goes when any bound is reached, so memory
        // stays bounded.
        if batch.len() >= batch_size
            || batch_bytes >= MAX_BATCH_BYTES
            || batch_values >= MAX_BATCH_VALUES
        {
            batch_bytes = 0;
            batch_values = 0;
            let bytes = record.position().map(|p| p.byte()).unwrap_or(0) + bom_len;
            // Reuse a batch the writer is done with: its rows are freed
            // here, on the thread that allocated them.
            let next = match recycled.try_recv() {
                Ok(mut old) => {
                    old.clear();
                    old
                }
                Err(_) => Vec::with_capacity(batch_size),
            };
            let full = std::mem::replace(&mut batch, next);
            if tx.send(Msg::Batch { items: full, bytes }).is_err() {
                return;
            }
        }
    }
    if !batch.is_empty() {
        let bytes = reader.position().byte() + bom_len;
        let _ = tx.send(Msg::Batch {
            items: batch,
            bytes,
        });
    }
}
