//! The reader between the decoded bytes and the csv parser: it enforces
//! the limits before the parser buffers anything, refuses a quoted value
//! that never closes, and knows each record's physical line.
//!
//! The csv crate grows a record's buffer to hold whatever a field holds (a
//! 3 GB quoted value is 3 GB of memory), accepts a file that ends inside a
//! quoted value as if the quote had closed, and does not count blank lines
//! in its line numbers. So [`Guard`] scans every byte it hands on with the
//! same state machine the parser uses (RFC 4180: a quote opens a quoted
//! value only at the start of a field; `""` inside one is a quote; records
//! end at an unquoted `\n`) and stops the read — with a [`Limit`] error the
//! pipeline turns into a refusal — as soon as:
//!
//! - a value grows past `max_field_bytes` (counted as the parser will
//!   store it, UTF-8);
//! - a record has more than `max_columns` fields;
//! - a record grows past [`Limits::max_row_bytes`];
//! - the input ends inside a quoted value (naming the line it opened on).
//!
//! What the parser holds is therefore bounded by the limits plus its
//! 8 KiB read-ahead. [`LineMap`] gives the physical line (header = 1, every
//! `\n` counts, blank lines included) of the record starting at a byte.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// The limits on what one file may hold. The defaults are the CLI's and
/// the server's; both can change them (`--max-field-bytes`,
/// `--max-columns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest value, in UTF-8 bytes (default 1 MiB).
    pub max_field_bytes: u64,
    /// The most columns a header or row may have (default 1,000).
    pub max_columns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
            max_columns: DEFAULT_MAX_COLUMNS,
        }
    }
}

pub const DEFAULT_MAX_FIELD_BYTES: u64 = 1 << 20;
pub const DEFAULT_MAX_COLUMNS: usize = 1000;
/// The longest column name in a header, in bytes.
pub const MAX_COLUMN_NAME_BYTES: usize = 256;

impl Limits {
    /// A row may hold at most four times the longest value (4 MiB by
    /// default): enough for a long note beside its ordinary columns,
    /// and a bound on the memory one row takes.
    pub fn max_row_bytes(&self) -> u64 {
        self.max_field_bytes.saturating_mul(4)
    }
}

/// Why the guard stopped reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// A value at `line` (its record starts at `record_line`), column
    /// `column` (1-based) is longer than the limit.
    Field {
        record_line: u64,
        column: usize,
        limit: u64,
    },
    /// The record starting at `line` has more than `limit` fields.
    Columns { line: u64, limit: usize },
    /// The record starting at `line` is longer than `limit` bytes.
    Row { line: u64, limit: u64 },
    /// The input ended inside the quoted value opened at `line`.
    OpenQuote { line: u64, column: usize },
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(&[]))
    }
}

/// "column 3", or "column 3 (note)" when the header names it.
fn column_name(column: usize, names: &[String]) -> String {
    match names.get(column.wrapping_sub(1)) {
        Some(n) if !n.is_empty() => format!("column {column} ({})", crate::header::quoted(n)),
        _ => format!("column {column}"),
    }
}

impl Limit {
    /// The refusal, naming columns by the header's `names` when known.
    pub fn describe(&self, names: &[String]) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let f = &mut out;
        let _ = match self {
            Limit::Field {
                record_line,
                column,
                limit,
            } => write!(
                f,
                "line {record_line}, {}: a value is longer than {limit} bytes, the limit; \
                 if the file is right, run again with --max-field-bytes set higher; if not, look for a \
                 quote (\") that opens a value and never closes",
                column_name(*column, names)
            ),
            Limit::Columns { line, limit } => write!(
                f,
                "line {line}: the row has more than {limit} columns, the limit; run again with \
                 --max-columns set higher if the file is right, or check its delimiter"
            ),
            Limit::Row { line, limit } => write!(
                f,
                "line {line}: the row is longer than {limit} bytes (four times --max-field-bytes); \
                 run again with --max-field-bytes set higher if the file is right, or look for a quote (\") \
                 that opens a value and never closes"
            ),
            Limit::OpenQuote { line, column } => write!(
                f,
                "line {line}, {}: a quoted value starts here and the file ends before its \
                 closing quote (\"), so every line after it would have been read into that one value; \
                 close the quote (a quote inside a value is written \"\"), then import again",
                column_name(*column, names)
            ),
        };
        out
    }
}

impl std::error::Error for Limit {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    Start,
    /// In an unquoted field.
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: `""`, or its end.
    QuoteInQuoted,
}

/// Byte offsets (in the stream the parser reads) of record starts, with
/// their physical lines; filled by the guard, read by the parser loop.
#[derive(Clone, Default)]
pub struct LineMap(Option<Arc<Mutex<Starts>>>);

/// (byte offset, physical line) of record starts, oldest first.
type Starts = VecDeque<(u64, u64)>;

impl LineMap {
    /// A map that records lines (for the parser to read).
    pub fn new() -> LineMap {
        LineMap(Some(Arc::default()))
    }

    /// A map that records nothing (for a scan nobody reads lines from).
    pub fn none() -> LineMap {
        LineMap(None)
    }

    /// The physical line of the record the parser says starts at `byte`;
    /// forgets the records before it (blank lines the parser skipped).
    pub fn line_at(&self, byte: u64) -> Option<u64> {
        let mut q = self.0.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(at, line)) = q.front() {
            if at < byte {
                q.pop_front();
            } else if at == byte {
                return Some(line);
            } else {
                return None;
            }
        }
        None
    }

    fn move_last_to(&self, line: u64) {
        let Some(q) = &self.0 else { return };
        if let Some(last) = q.lock().unwrap_or_else(|e| e.into_inner()).back_mut() {
            last.1 = line;
        }
    }

    fn push(&self, byte: u64, line: u64) {
        let Some(q) = &self.0 else { return };
        q.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((byte, line));
    }
}

pub struct Guard<R> {
    inner: R,
    limits: Limits,
    delimiter: u8,
    state: State,
    /// Bytes handed on so far.
    offset: u64,
    /// The physical line of the next byte.
    line: u64,
    /// The current record's first line, field number (1-based), bytes.
    record_line: u64,
    field: usize,
    row_bytes: u64,
    /// The current value's length as the parser stores it.
    value_bytes: u64,
    /// Where the current quoted value opened.
    quote_line: u64,
    lines: LineMap,
    stopped: Option<Limit>,
}

impl<R: Read> Guard<R> {
    pub fn new(inner: R, delimiter: u8, limits: Limits, lines: LineMap) -> Self {
        lines.push(0, 1);
        Guard {
            inner,
            limits,
            delimiter,
            state: State::Start,
            offset: 0,
            line: 1,
            record_line: 1,
            field: 1,
            row_bytes: 0,
            value_bytes: 0,
            quote_line: 1,
            lines,
            stopped: None,
        }
    }

    /// Scans `buf`; returns the first limit it breaks.
    fn scan(&mut self, buf: &[u8]) -> Option<Limit> {
        let max_value = self.limits.max_field_bytes;
        let max_row = self.limits.max_row_bytes();
        for &b in buf {
            self.offset += 1;
            self.row_bytes += 1;
            let mut end_field = false;
            let mut end_record = false;
            match self.state {
                State::Start | State::Unquoted => {
                    if b == b'"' && self.state == State::Start {
                        self.state = State::Quoted;
                        self.quote_line = self.line;
                    } else if b == self.delimiter {
                        end_field = true;
                    } else if b == b'\n' {
                        end_record = true;
                    } else {
                        self.state = State::Unquoted;
                        self.value_bytes += 1;
                    }
                }
                State::Quoted => {
                    if b == b'"' {
                        self.state = State::QuoteInQuoted;
                    } else {
                        self.value_bytes += 1;
                    }
                }
                State::QuoteInQuoted => {
                    if b == b'"' {
                        self.state = State::Quoted;
                        self.value_bytes += 1;
                    } else if b == self.delimiter {
                        end_field = true;
                    } else if b == b'\n' {
                        end_record = true;
                    } else {
                        self.state = State::Unquoted;
                        self.value_bytes += 1;
                    }
                }
            }
            if b == b'\n' {
                self.line += 1;
            }
            if end_field || end_record {
                self.state = State::Start;
                self.value_bytes = 0;
                self.field += 1;
            }
            if end_record {
                if self.row_bytes == 1 {
                    // A blank line: the parser skips it and reports the
                    // next record as starting where the blank line did.
                    self.lines.move_last_to(self.line);
                } else {
                    self.lines.push(self.offset, self.line);
                }
                self.field = 1;
                self.row_bytes = 0;
                self.record_line = self.line;
            } else if self.field > self.limits.max_columns {
                return Some(Limit::Columns {
                    line: self.record_line,
                    limit: self.limits.max_columns,
                });
            }
            if self.value_bytes > max_value {
                return Some(Limit::Field {
                    record_line: self.record_line,
                    column: self.field,
                    limit: max_value,
                });
            }
            if self.row_bytes > max_row {
                return Some(Limit::Row {
                    line: self.record_line,
                    limit: max_row,
                });
            }
        }
        None
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(limit) = &self.stopped {
            return Err(io::Error::other(limit.clone()));
        }
        let n = self.inner.read(buf)?;
        if n == 0 && matches!(self.state, State::Quoted) {
            let limit = Limit::OpenQuote {
                line: self.quote_line,
                column: self.field,
            };
            self.stopped = Some(limit.clone());
            return Err(io::Error::other(limit));
        }
        if let Some(limit) = self.scan(&buf[..n]) {
            self.stopped = Some(limit.clone());
            return Err(io::Error::other(limit));
        }
        Ok(n)
    }
}

/// Reads `reader` to the end through a guard: the first limit the whole
/// input breaks, before anything is imported. I/O errors are left for
/// the import itself to meet.
pub fn scan(reader: impl Read, delimiter: u8, limits: Limits) -> Option<Limit> {
    let mut guard = Guard::new(reader, delimiter, limits, LineMap::none());
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match guard.read(&mut buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<Limit>())
                    .cloned()
            }
        }
    }
}

/// The limit behind a csv read error, if the guard stopped it.
pub fn limit_of(e: &csv::Error) -> Option<Limit> {
    match e.kind() {
        csv::ErrorKind::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Limit>())
            .cloned(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &str, limits: Limits) -> Result<Vec<(Vec<String>, u64)>, Limit> {
        let lines = LineMap::new();
        let guard = Guard::new(input.as_bytes(), b',', limits, lines.clone());
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .buffer_capacity(16)
            .from_reader(guard);
        let mut out = Vec::new();
        let mut rec = csv::StringRecord::new();
        loop {
            match r.read_record(&mut rec) {
                Ok(true) => {
                    let byte = rec.position().map(|p| p.byte()).unwrap_or(0);
                    let line = lines.line_at(byte).unwrap_or(0);
                    out.push((rec.iter().map(str::to_string).collect(), line));
                }
                Ok(false) => return Ok(out),
                Err(e) => return Err(limit_of(&e).expect("a guard error")),
            }
        }
    }

    #[test]
    fn lines_count_blank_lines_and_quoted_breaks() {
        let got = read_all("a,b\n\n\nc,\"x\ny\"\n\r\nd,e\n", Limits::default()).unwrap();
        let lines: Vec<u64> = got.iter().map(|(_, l)| *l).collect();
        assert_eq!(lines, vec![1, 4, 6, 7]);
    }

    #[test]
    fn an_unterminated_quote_names_its_line() {
        let e = read_all("a,b\nc,d\ne,\"oops\nf,g\nh,i\n", Limits::default()).unwrap_err();
        assert_eq!(e, Limit::OpenQuote { line: 3, column: 2 });
        // A closed quote with a doubled quote inside is fine.
        assert!(read_all("a,\"x\"\"y\"\n", Limits::default()).is_ok());
        // A quote inside an unquoted value is a character, not an opening.
        assert!(read_all("a,x\"y\n", Limits::default()).is_ok());
    }

    #[test]
    fn limits_stop_the_read() {
        let small = Limits {
            max_field_bytes: 4,
            max_columns: 3,
        };
        assert!(read_all("abcd,\"ab\"\"c\"\n", small).is_ok());
        assert_eq!(
            read_all("ok\nabcde\n", small).unwrap_err(),
            Limit::Field {
                record_line: 2,
                column: 1,
                limit: 4
            }
        );
        assert_eq!(
            read_all("a,b,c\na,b,c,d\n", small).unwrap_err(),
            Limit::Columns { line: 2, limit: 3 }
        );
    }
}
