//! Decoding: bytes to UTF-8 with encoding and delimiter detection.
//!
//! The CSV rules of docs/csv.md. [`open`] turns a file or standard input into a stream of UTF-8
//! bytes for `csv::ReaderBuilder`, plus the encoding and delimiter it chose
//! (for the report). Everything streams: at most a 1 MiB prefix is held in
//! memory, and the up-front scans read the file in 1 MiB chunks.
//!
//! Encoding, in order:
//! - `--encoding NAME` (any WHATWG label known to `encoding_rs`) wins. A BOM
//!   is still skipped when it is the BOM of that very encoding (UTF-8 BOM with
//!   `utf-8`, `FF FE` with `utf-16le`, `FE FF` with `utf-16be`); any other
//!   leading bytes are decoded with the named encoding.
//! - A BOM: `EF BB BF` → UTF-8 (stripped), `FF FE` → UTF-16LE, `FE FF` →
//!   UTF-16BE (transcoded while streaming; a malformed UTF-16 sequence such
//!   as a lone surrogate becomes U+FFFD, which is the only lossy case).
//! - Otherwise UTF-8 when the bytes are valid UTF-8. For a regular file the
//!   whole file is checked up front, so a bad byte on line 900,000 refuses
//!   the file before anything is written; for standard input (or a pipe) the
//!   1 MiB prefix decides and later bad bytes are caught per field by the row
//!   parser via [`invalid_utf8_message`].
//! - Otherwise windows-1252 when auto-detection is sure: chardetng guesses
//!   windows-1252, there is no NUL byte and none of 0x81, 0x8D, 0x8F, 0x90,
//!   0x9D (undefined in windows-1252) anywhere in the file, and the non-ASCII
//!   bytes do not look like UTF-8 (valid multi-byte UTF-8 sequences are
//!   fewer than a tenth of the invalid ones; a UTF-8 file with a few stray
//!   bytes is damaged UTF-8, not windows-1252, and is refused).
//! - Otherwise the file is refused with the line and byte of the first bad
//!   byte ([`DecodeError::InvalidUtf8`]).
//!
//! Line numbers are physical lines (header = line 1, every `\n` counts, also
//! inside quoted fields); byte numbers are 0-based offsets from the start of
//! the file, BOM included (what `csv`'s `Position::byte()` + `bom_len` gives).

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, REPLACEMENT, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use encoding_rs_io::DecodeReaderBytesBuilder;

/// How much of the input is read up front to find the BOM, the header line
/// and (for standard input) the encoding.
const PREFIX_LEN: usize = 1 << 20;
/// Read size of the whole-file scans.
const SCAN_CHUNK: usize = 1 << 20;
/// Granularity at which pure-ASCII stretches are skipped when sniffing.
const SNIFF_PIECE: usize = 64 << 10;
/// At most this much non-ASCII-bearing content is fed to chardetng.
const SNIFF_LIMIT: usize = 4 << 20;

/// Where the import reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// `--encoding NAME`: a WHATWG label (utf-8, utf-16le, windows-1252, latin1, …).
    pub encoding: Option<String>,
    /// Explicit delimiter; overrides detection.
    pub delimiter: Option<u8>,
}

/// The opened input, ready for `csv::ReaderBuilder`.
pub struct Decoded {
    /// UTF-8 bytes (BOM removed) to hand to csv::ReaderBuilder. For UTF-8
    /// input this is the raw file/stdin bytes (no copy, no transcoding):
    /// invalid UTF-8 that shows up later is caught per field by the row
    /// parser, which calls [`invalid_utf8_message`].
    pub reader: Box<dyn Read + Send>,
    /// Name for the report: "UTF-8", "UTF-16LE", "UTF-16BE", "windows-1252",
    /// or `encoding_rs`'s `Encoding::name()` for others.
    pub encoding: &'static str,
    /// Field delimiter (detected or explicit).
    pub delimiter: u8,
    /// true when the bytes are the file's own (UTF-8): byte offsets reported
    /// by csv are file offsets (+ `bom_len`).
    pub passthrough: bool,
    /// Length of the BOM that was skipped (0, 2 or 3), so callers can report
    /// file byte offsets.
    pub bom_len: u64,
    /// Total size in bytes when known (regular file), for a progress bar.
    pub total_bytes: Option<u64>,
    /// True when the lines end with CR alone (classic Mac OS), which the
    /// reader turns into LF.
    pub cr_lines: bool,
    /// The size and SHA-256 of the input's bytes as read, for the import's
    /// record.
    pub digest: FileDigest,
}

/// The size and SHA-256 of an input, computed as the reader goes (on the
/// parser thread); known once the input was read to its end.
#[derive(Clone, Default)]
pub struct FileDigest(std::sync::Arc<std::sync::Mutex<DigestState>>);

#[derive(Default)]
struct DigestState {
    hash: sha2::Sha256,
    bytes: u64,
    done: Option<String>,
}

impl FileDigest {
    fn update(&self, bytes: &[u8]) {
        use sha2::Digest;
        if let Ok(mut s) = self.0.lock() {
            s.hash.update(bytes);
            s.bytes += bytes.len() as u64;
        }
    }
    fn finish(&self) {
        use sha2::Digest;
        if let Ok(mut s) = self.0.lock() {
            if s.done.is_none() {
                let sum = std::mem::take(&mut s.hash).finalize();
                s.done = Some(sum.iter().map(|b| format!("{b:02x}")).collect());
            }
        }
    }
    /// Bytes read so far, and the SHA-256 (hex) once the input ended.
    pub fn get(&self) -> (u64, Option<String>) {
        self.0
            .lock()
            .map(|s| (s.bytes, s.done.clone()))
            .unwrap_or_default()
    }
}

/// Feeds what passes through to a [`FileDigest`].
struct Digesting<R> {
    inner: R,
    digest: FileDigest,
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.digest.finish();
        } else {
            self.digest.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Turns every CR into LF, for files whose lines end with CR alone.
pub(crate) struct CrToLf<R>(pub(crate) R);

impl<R: Read> Read for CrToLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        for b in &mut buf[..n] {
            if *b == b'\r' {
                *b = b'\n';
            }
        }
        Ok(n)
    }
}

/// Formats that are not text at all, by their first bytes: (signature,
/// what it is, what to do).
const SIGNATURES: &[(&[u8], &str, &str)] = &[
    (
        b"\x1f\x8b",
        "a gzip-compressed file",
        "decompress it first (gunzip FILE)",
    ),
    (
        b"PK\x03\x04",
        "a zip archive (or an Excel .xlsx workbook, which is one)",
        "open it and save the sheet as \"CSV UTF-8\", or unzip it first",
    ),
    (
        b"PK\x05\x06",
        "an empty zip archive",
        "export the data as CSV",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Excel .xls workbook (or another Office file)",
        "open it and save the sheet as \"CSV UTF-8\"",
    ),
    (
        b"%PDF-",
        "a PDF document",
        "export the data as CSV from where it came from",
    ),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "choose the CSV file"),
    (b"\xff\xd8\xff", "a JPEG image", "choose the CSV file"),
    (b"GIF8", "a GIF image", "choose the CSV file"),
    (b"\x7fELF", "an ELF program", "choose the CSV file"),
    (b"MZ\x90\x00", "a Windows program", "choose the CSV file"),
    (
        b"BZh",
        "a bzip2-compressed file",
        "decompress it first (bunzip2 FILE)",
    ),
    (
        b"\xfd7zXZ\x00",
        "an xz-compressed file",
        "decompress it first (unxz FILE)",
    ),
    (
        b"\x28\xb5\x2f\xfd",
        "a zstd-compressed file",
        "decompress it first (unzstd FILE)",
    ),
    (
        b"7z\xbc\xaf\x27\x1c",
        "a 7-Zip archive",
        "extract the CSV file first",
    ),
    (
        b"SQLite format 3\x00",
        "a SQLite database",
        "export the data as CSV (roster export contacts writes one from a roster database)",
    ),
];

/// What kind of non-text file `prefix` starts, if it is one.
fn binary_kind(prefix: &[u8]) -> Option<(&'static str, &'static str)> {
    SIGNATURES
        .iter()
        .find(|(sig, _, _)| prefix.starts_with(sig))
        .map(|(_, what, todo)| (*what, *todo))
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoded")
            .field("encoding", &self.encoding)
            .field("delimiter", &char::from(self.delimiter))
            .field("passthrough", &self.passthrough)
            .field("bom_len", &self.bom_len)
            .field("total_bytes", &self.total_bytes)
            .finish_non_exhaustive()
    }
}

/// Why the input cannot be read. Each message is one sentence: what, where,
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Opening or reading failed (`what` is the path or "standard input").
    #[error("cannot read {what}: {error}; check that it exists and is readable")]
    Io { what: String, error: io::Error },
    /// `--encoding NAME` is not a label encoding_rs knows.
    #[error(
        "unknown encoding \"{name}\": --encoding takes a name such as utf-8, utf-16le, \
         utf-16be, windows-1252, latin1 or iso-8859-15"
    )]
    UnknownEncoding { name: String },
    /// Not valid UTF-8 and not surely windows-1252; `byte` is the 0-based file offset.
    #[error("{}", invalid_utf8_message(*.line, *.byte))]
    InvalidUtf8 { line: u64, byte: u64 },
    /// The input starts with the signature of a binary format.
    #[error("{what} is {kind}, not a CSV file; {todo}")]
    NotText {
        what: String,
        kind: &'static str,
        todo: &'static str,
    },
    /// No header line.
    #[error(
        "the file is empty: the first line must hold the column names, \
         e.g. email,first_name,last_name"
    )]
    Empty,
    /// No BOM, but the first line alternates NUL and ASCII bytes.
    #[error(
        "line 1: the file looks like {encoding} without a byte-order mark (its first line \
         is full of NUL bytes); run again with --encoding {label}, or save it as \"CSV UTF-8\"",
        label = .encoding.to_ascii_lowercase()
    )]
    Utf16WithoutBom { encoding: &'static str },
}

/// One sentence for invalid UTF-8 met at physical `line` and 0-based file
/// byte offset `byte`: what, where, what to do.
pub fn invalid_utf8_message(line: u64, byte: u64) -> String {
    format!(
        "line {line}, byte {byte}: the file is not valid UTF-8 (perhaps windows-1252, as \
         Excel's \"CSV (Comma delimited)\" writes); run again with --encoding windows-1252 \
         (or --encoding NAME for another encoding), or save it as \"CSV UTF-8\""
    )
}

/// Opens `input`, picks the encoding and the delimiter, and returns a UTF-8
/// byte stream. See the module documentation for the rules.
pub fn open(input: Input, opts: &DecodeOptions) -> Result<Decoded, DecodeError> {
    let explicit = opts
        .encoding
        .as_deref()
        .map(encoding_for_label)
        .transpose()?;
    match input {
        Input::Stdin => open_source(
            Source::Stream(Box::new(io::stdin())),
            "standard input",
            explicit,
            opts.delimiter,
        ),
        Input::Path(path) => open_path(&path, explicit, opts.delimiter),
    }
}

fn encoding_for_label(name: &str) -> Result<&'static Encoding, DecodeError> {
    match Encoding::for_label(name.trim().as_bytes()) {
        // "replacement" turns the whole input into one U+FFFD: useless here.
        Some(enc) if enc != REPLACEMENT => Ok(enc),
        _ => Err(DecodeError::UnknownEncoding {
            name: name.to_owned(),
        }),
    }
}

fn open_path(
    path: &Path,
    explicit: Option<&'static Encoding>,
    delimiter: Option<u8>,
) -> Result<Decoded, DecodeError> {
    let what = path.display().to_string();
    let io_err = |error| DecodeError::Io {
        what: what.clone(),
        error,
    };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    let source = if meta.is_file() {
        Source::File(file, meta.len())
    } else {
        // FIFO, /dev/stdin, process substitution, …: cannot scan and rewind.
        Source::Stream(Box::new(file))
    };
    open_source(source, &what, explicit, delimiter)
}

enum Source {
    /// A regular file (seekable) and its length.
    File(File, u64),
    /// Standard input or a pipe: only the prefix can be inspected.
    Stream(Box<dyn Read + Send>),
}

/// The core of [`open`]; `what` names the input in I/O errors.
fn open_source(
    mut source: Source,
    what: &str,
    explicit: Option<&'static Encoding>,
    delimiter: Option<u8>,
) -> Result<Decoded, DecodeError> {
    let io_err = |error| DecodeError::Io {
        what: what.to_owned(),
        error,
    };
    let (prefix, eof) = match &mut source {
        Source::File(file, _) => read_prefix(file),
        Source::Stream(reader) => read_prefix(reader),
    }
    .map_err(io_err)?;

    if let Some((kind, todo)) = binary_kind(&prefix) {
        return Err(DecodeError::NotText {
            what: what.to_owned(),
            kind,
            todo,
        });
    }
    let bom = sniff_bom(&prefix);
    let (mut encoding, bom_len, auto) = match (explicit, bom) {
        (Some(enc), Some((bom_enc, len))) if bom_enc == enc => (enc, len, false),
        (Some(enc), _) => (enc, 0, false),
        (None, Some((bom_enc, len))) => (bom_enc, len, false),
        (None, None) => (UTF_8, 0, true),
    };
    let body = &prefix[bom_len..];

    if auto {
        if let Some(enc) = utf16_without_bom(body) {
            return Err(DecodeError::Utf16WithoutBom {
                encoding: enc.name(),
            });
        }
    }

    if encoding == UTF_8 {
        let whole_file = !eof && matches!(source, Source::File(..));
        let bad = match &mut source {
            Source::File(file, _) if whole_file => {
                find_invalid_utf8(&mut Cursor::new(body).chain(&mut *file), 0)
            }
            _ => find_invalid_utf8(&mut Cursor::new(body), if eof { 0 } else { 3 }),
        }
        .map_err(io_err)?;
        if let Some((line, offset)) = bad {
            let sure = auto
                && match &mut source {
                    Source::File(file, _) if whole_file => {
                        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
                        looks_like_windows_1252(file).map_err(io_err)?
                    }
                    _ => looks_like_windows_1252(&mut Cursor::new(body)).map_err(io_err)?,
                };
            if !sure {
                return Err(DecodeError::InvalidUtf8 {
                    line,
                    byte: bom_len as u64 + offset,
                });
            }
            encoding = WINDOWS_1252;
        }
        if let Source::File(file, _) = &mut source {
            if whole_file {
                file.seek(SeekFrom::Start(prefix.len() as u64))
                    .map_err(io_err)?;
            }
        }
    }

    let passthrough = encoding == UTF_8;
    let header = if passthrough {
        Cow::Borrowed(body)
    } else {
        match encoding.decode_without_bom_handling(body).0 {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        }
    };
    if eof && header.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Empty);
    }
    let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(&header));
    // Classic Mac OS files end lines with CR alone: read them as line breaks.
    let cr_lines = !header.contains(&b'\n') && header.contains(&b'\r');
    drop(header);

    let (rest, total_bytes): (Box<dyn Read + Send>, _) = match source {
        Source::File(file, len) => (Box::new(file), Some(len)),
        Source::Stream(reader) => (reader, None),
    };
    let digest = FileDigest::default();
    digest.update(&prefix);
    let rest = Digesting {
        inner: rest,
        digest: digest.clone(),
    };
    let mut head = Cursor::new(prefix);
    head.set_position(bom_len as u64);
    let raw = head.chain(rest);
    let reader: Box<dyn Read + Send> = if passthrough {
        Box::new(raw)
    } else {
        // Explicit encoding: no BOM sniffing; malformed input becomes U+FFFD.
        Box::new(
            DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .build(raw),
        )
    };
    let reader: Box<dyn Read + Send> = if cr_lines {
        Box::new(CrToLf(reader))
    } else {
        reader
    };
    Ok(Decoded {
        reader,
        cr_lines,
        encoding: encoding.name(),
        delimiter,
        passthrough,
        bom_len: bom_len as u64,
        total_bytes,
        digest,
    })
}

/// Reads up to [`PREFIX_LEN`] bytes; the flag is true when the input ended.
fn read_prefix<R: Read>(reader: R) -> io::Result<(Vec<u8>, bool)> {
    let mut prefix = Vec::new();
    reader.take(PREFIX_LEN as u64).read_to_end(&mut prefix)?;
    let eof = prefix.len() < PREFIX_LEN;
    Ok((prefix, eof))
}

fn sniff_bom(bytes: &[u8]) -> Option<(&'static Encoding, usize)> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        Some((UTF_8, 3))
    } else if bytes.starts_with(b"\xFF\xFE") {
        Some((UTF_16LE, 2))
    } else if bytes.starts_with(b"\xFE\xFF") {
        Some((UTF_16BE, 2))
    } else {
        None
    }
}

/// UTF-16 without a BOM is valid UTF-8 (ASCII and NULs); recognise it by
/// the NUL byte of every ASCII character sitting on the same side.
fn utf16_without_bom(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(64) & !1];
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let zero_even = head.chunks_exact(2).filter(|p| p[0] == 0).count();
    let zero_odd = head.chunks_exact(2).filter(|p| p[1] == 0).count();
    if zero_even == 0 && zero_odd * 2 >= pairs {
        Some(UTF_16LE)
    } else if zero_odd == 0 && zero_even * 2 >= pairs {
        Some(UTF_16BE)
    } else {
        None
    }
}

fn read_some(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// Finds the first invalid UTF-8 byte in `reader`, in bounded memory.
/// Returns its physical line (1-based) and 0-based offset from the start of
/// `reader`. Up to `cut_ok` bytes of an incomplete character at the very end
/// are accepted (the input was cut there, not damaged).
fn find_invalid_utf8(reader: &mut dyn Read, cut_ok: usize) -> io::Result<Option<(u64, u64)>> {
    let mut buf = vec![0u8; SCAN_CHUNK];
    let mut kept = 0; // bytes of an incomplete character carried at buf[..kept]
    let mut offset = 0u64; // input offset of buf[0]
    let mut line = 1u64;
    loop {
        let n = read_some(reader, &mut buf[kept..])?;
        if n == 0 {
            return Ok((kept > cut_ok).then_some((line, offset)));
        }
        let end = kept + n;
        let (good, invalid) = match std::str::from_utf8(&buf[..end]) {
            Ok(_) => (end, false),
            Err(e) => (e.valid_up_to(), e.error_len().is_some()),
        };
        line += count_newlines(&buf[..good]);
        if invalid {
            return Ok(Some((line, offset + good as u64)));
        }
        buf.copy_within(good..end, 0);
        kept = end - good;
        offset += good as u64;
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Whether the (not UTF-8) content of `reader` is surely windows-1252. Reads
/// to the end unless a disqualifying byte shows up first.
fn looks_like_windows_1252(reader: &mut dyn Read) -> io::Result<bool> {
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    let mut fed = 0;
    let (mut utf8_chars, mut bad_sequences) = (0u64, 0u64);
    let mut buf = vec![0u8; SCAN_CHUNK];
    loop {
        let n = read_some(reader, &mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        // NUL: binary; the others are undefined in windows-1252.
        if chunk
            .iter()
            .any(|&b| matches!(b, 0 | 0x81 | 0x8D | 0x8F | 0x90 | 0x9D))
        {
            return Ok(false);
        }
        for piece in chunk.chunks(SNIFF_PIECE) {
            if fed < SNIFF_LIMIT && !piece.is_ascii() {
                detector.feed(piece, false);
                fed += piece.len();
                count_utf8_evidence(piece, &mut utf8_chars, &mut bad_sequences);
            }
        }
    }
    Ok(detector.guess(None, Utf8Detection::Allow) == WINDOWS_1252
        && utf8_chars * 10 <= bad_sequences)
}

/// Counts valid multi-byte UTF-8 characters and invalid sequences.
fn count_utf8_evidence(mut bytes: &[u8], utf8_chars: &mut u64, bad_sequences: &mut u64) {
    loop {
        let (good, skip) = match std::str::from_utf8(bytes) {
            Ok(_) => (bytes.len(), None),
            Err(e) => (e.valid_up_to(), e.error_len()),
        };
        // In valid UTF-8 every byte >= 0xC0 starts one multi-byte character.
        *utf8_chars += bytes[..good].iter().filter(|&&b| b >= 0xC0).count() as u64;
        match skip {
            Some(len) => {
                *bad_sequences += 1;
                bytes = &bytes[good + len..];
            }
            None => return,
        }
    }
}

/// The delimiter of the first non-empty line of `text` (UTF-8): comma unless
/// that line, outside double quotes, has no comma and has `;` or tab (the
/// more frequent of the two; tab on a tie).
fn detect_delimiter(text: &[u8]) -> u8 {
    let start = text
        .iter()
        .position(|&b| b != b'\n' && b != b'\r')
        .unwrap_or(text.len());
    let (mut commas, mut semicolons, mut tabs) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    for &b in &text[start..] {
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b'\n' | b'\r' => break,
            b',' => commas += 1,
            b';' => semicolons += 1,
            b'\t' => tabs += 1,
            _ => {}
        }
    }
    if commas > 0 || (semicolons == 0 && tabs == 0) {
        b','
    } else if tabs >= semicolons {
        b'\t'
    } else {
        b';'
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    type Outcome = Result<(&'static str, u8, String), String>;

    fn opts(encoding: Option<&str>, delimiter: Option<u8>) -> DecodeOptions {
        DecodeOptions {
            encoding: encoding.map(str::to_owned),
            delimiter,
        }
    }

    fn finish(result: Result<Decoded, DecodeError>) -> Outcome {
        let mut decoded = result.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        decoded.reader.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        Ok((decoded.encoding, decoded.delimiter, text))
    }

    fn via_file(bytes: &[u8], o: &DecodeOptions) -> Outcome {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file.flush().unwrap();
        finish(open(Input::Path(file.path().to_owned()), o))
    }

    fn via_stream(bytes: &[u8], o: &DecodeOptions) -> Outcome {
        let explicit = o.encoding.as_deref().map(encoding_for_label).transpose();
        let source = Source::Stream(Box::new(Cursor::new(bytes.to_vec())));
        finish(explicit.and_then(|e| open_source(source, "standard input", e, o.delimiter)))
    }

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mut out = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in text.encode_utf16() {
            let pair = if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            out.extend_from_slice(&pair);
        }
        out
    }

    enum Expect {
        Ok(&'static str, u8, &'static str),
        /// The error message contains all these.
        Err(&'static [&'static str]),
    }

    struct Case {
        name: &'static str,
        input: Vec<u8>,
        encoding: Option<&'static str>,
        delimiter: Option<u8>,
        expect: Expect,
    }

    fn case(name: &'static str, input: impl Into<Vec<u8>>, expect: Expect) -> Case {
        Case {
            name,
            input: input.into(),
            encoding: None,
            delimiter: None,
            expect,
        }
    }

    fn cases() -> Vec<Case> {
        use Expect::{Err, Ok};
        let stray = [&b"email,name\na@x.org,Zo\xC3\xAB\nb@x.org,Al\xFFce\n"[..]].concat();
        vec![
            case(
                "utf-8 plain",
                "email,name\na@x.org,Zoë\n",
                Ok("UTF-8", b',', "email,name\na@x.org,Zoë\n"),
            ),
            case(
                "utf-8 bom",
                "\u{FEFF}email,name\r\na@x.org,Zoë\r\n",
                Ok("UTF-8", b',', "email,name\r\na@x.org,Zoë\r\n"),
            ),
            case(
                "utf-16le bom, tabs (Excel Unicode Text)",
                utf16("email\tname\r\na@x.org\tMüller Zoë 山田\r\n", false),
                Ok(
                    "UTF-16LE",
                    b'\t',
                    "email\tname\r\na@x.org\tMüller Zoë 山田\r\n",
                ),
            ),
            case(
                "utf-16be bom",
                utf16("email;name\na@x.org;Zoë\n", true),
                Ok("UTF-16BE", b';', "email;name\na@x.org;Zoë\n"),
            ),
            case(
                "windows-1252 auto-detected",
                &b"email;nom;pr\xE9nom\na@x.de;M\xFCller;Zo\xEB\nb@x.fr;L\xE9v\xEAque;Fran\xE7ois\n"[..],
                Ok(
                    "windows-1252",
                    b';',
                    "email;nom;prénom\na@x.de;Müller;Zoë\nb@x.fr;Lévêque;François\n",
                ),
            ),
            case(
                "utf-8 with a stray 0xFF on line 3 is refused",
                stray.clone(),
                Err(&["line 3, byte 34:", "--encoding windows-1252", "--encoding NAME"]),
            ),
            case(
                "ascii with one 0xFF: no UTF-8 evidence, read as windows-1252",
                &b"email,name\na@x.org,Al\xFFce\n"[..],
                Ok("windows-1252", b',', "email,name\na@x.org,Al\u{FF}ce\n"),
            ),
            case(
                "binary-ish (NUL) refused",
                &b"email,name\na@x.org,\xFF\x00\xFE\n"[..],
                Err(&["line 2, byte 19:", "not valid UTF-8"]),
            ),
            case(
                "undefined windows-1252 byte refused",
                &b"email,name\na@x.org,Zo\xEB\x81\n"[..],
                Err(&["line 2, byte 21:"]),
            ),
            case(
                "truncated character at the end is refused",
                &b"email,name\na@x.org,Zo\xC3"[..],
                Err(&["line 2, byte 21:"]),
            ),
            Case {
                encoding: Some("windows-1252"),
                ..case(
                    "explicit windows-1252",
                    stray,
                    Ok(
                        "windows-1252",
                        b',',
                        "email,name\na@x.org,ZoÃ«\nb@x.org,Alÿce\n",
                    ),
                )
            },
            Case {
                encoding: Some("latin1"),
                ..case(
                    "latin1 is windows-1252",
                    &b"name\nM\xFCller\n"[..],
                    Ok("windows-1252", b',', "name\nMüller\n"),
                )
            },
            Case {
                encoding: Some("iso-8859-15"),
                ..case(
                    "iso-8859-15",
                    &b"name\n\xA4uro\n"[..],
                    Ok("ISO-8859-15", b',', "name\n€uro\n"),
                )
            },
            Case {
                encoding: Some("UTF-8"),
                ..case(
                    "explicit utf-8 still strips its bom",
                    "\u{FEFF}a;b\n1;2\n",
                    Ok("UTF-8", b';', "a;b\n1;2\n"),
                )
            },
            Case {
                encoding: Some("utf-16le"),
                ..case(
                    "explicit utf-16le strips its bom",
                    utf16("a\tb\n", false),
                    Ok("UTF-16LE", b'\t', "a\tb\n"),
                )
            },
            Case {
                encoding: Some("klingon"),
                ..case(
                    "unknown encoding",
                    "a,b\n",
                    Err(&["unknown encoding \"klingon\"", "windows-1252", "utf-8"]),
                )
            },
            case(
                "utf-16le without bom is refused",
                &b"e\0m\0a\0i\0l\0\t\0n\0\r\0\n\0"[..],
                Err(&["UTF-16LE without a byte-order mark", "--encoding utf-16le"]),
            ),
            case(
                "semicolon header",
                "email;first_name;last_name\na@x.org;A;B\n",
                Ok("UTF-8", b';', "email;first_name;last_name\na@x.org;A;B\n"),
            ),
            case(
                "tab header",
                "email\tfirst_name\na@x.org\tA\n",
                Ok("UTF-8", b'\t', "email\tfirst_name\na@x.org\tA\n"),
            ),
            case(
                "tabs beat a semicolon",
                "email\tnotes;misc\tname\n",
                Ok("UTF-8", b'\t', "email\tnotes;misc\tname\n"),
            ),
            case(
                "comma header with semicolons in later values",
                "email,notes\na@x.org,x;y;z\n",
                Ok("UTF-8", b',', "email,notes\na@x.org,x;y;z\n"),
            ),
            case(
                "comma header with a semicolon in a header name",
                "email,\"notes; misc\"\n",
                Ok("UTF-8", b',', "email,\"notes; misc\"\n"),
            ),
            case(
                "quoted header containing a comma, semicolon-separated",
                "\"last, first\";email\n\"B, A\";a@x.org\n",
                Ok("UTF-8", b';', "\"last, first\";email\n\"B, A\";a@x.org\n"),
            ),
            case(
                "quoted header spanning lines",
                "\"a\nb,c\";email\n",
                Ok("UTF-8", b';', "\"a\nb,c\";email\n"),
            ),
            case(
                "leading blank line skipped for detection",
                "\r\nemail;name\n",
                Ok("UTF-8", b';', "\r\nemail;name\n"),
            ),
            case(
                "single column",
                "email\na@x.org\n",
                Ok("UTF-8", b',', "email\na@x.org\n"),
            ),
            Case {
                delimiter: Some(b'|'),
                ..case(
                    "delimiter override",
                    "email;name|x\n",
                    Ok("UTF-8", b'|', "email;name|x\n"),
                )
            },
            case("empty file", "", Err(&["the file is empty", "email,first_name"])),
            case("only a bom", "\u{FEFF}", Err(&["the file is empty"])),
            case("only blank lines", " \r\n\n", Err(&["the file is empty"])),
            case("utf-16 bom only", utf16("\r\n", false), Err(&["the file is empty"])),
        ]
    }

    fn check(case: &Case, how: &str, got: Outcome, failures: &mut Vec<String>) {
        let ok = match (&case.expect, &got) {
            (Expect::Ok(enc, delim, text), Ok(got)) => *got == (*enc, *delim, text.to_string()),
            (Expect::Err(parts), Err(msg)) => parts.iter().all(|p| msg.contains(p)),
            _ => false,
        };
        if !ok {
            failures.push(format!("{} ({how}): got {got:?}", case.name));
        }
    }

    #[test]
    fn table() {
        let mut failures = Vec::new();
        for case in cases() {
            let o = opts(case.encoding, case.delimiter);
            check(&case, "file", via_file(&case.input, &o), &mut failures);
            // The whole input fits in the prefix, so a stream decides alike.
            check(&case, "stream", via_stream(&case.input, &o), &mut failures);
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn reported_fields() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all("\u{FEFF}a,b\n".as_bytes()).unwrap();
        let d = open(Input::Path(file.path().to_owned()), &opts(None, None)).unwrap();
        assert_eq!(
            (d.passthrough, d.bom_len, d.total_bytes),
            (true, 3, Some(7))
        );
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&utf16("a\tb\n", true)).unwrap();
        let d = open(Input::Path(file.path().to_owned()), &opts(None, None)).unwrap();
        assert_eq!((d.passthrough, d.bom_len), (false, 2));
    }

    #[test]
    fn bad_byte_far_beyond_the_prefix_refuses_the_file_up_front() {
        // ~2.5 MiB of valid rows with multi-byte characters (some straddle
        // the 1 MiB chunk boundaries), then a stray byte.
        let row = "a@x.org,Zoë Müller,山田\n";
        let rows = (5 << 19) / row.len();
        let mut bytes = b"\xEF\xBB\xBFemail,name,kanji\n".to_vec();
        for _ in 0..rows {
            bytes.extend_from_slice(row.as_bytes());
        }
        let byte = bytes.len();
        bytes.extend_from_slice(b"b@x.org,Al\xFFce,x\n");
        let o = opts(None, None);
        let want = format!("line {}, byte {}:", rows + 2, byte + 10);
        let err = via_file(&bytes, &o).unwrap_err();
        assert!(err.starts_with(&want), "{err}");
        // A stream cannot be scanned ahead: it passes through, and the parser
        // reports the bad byte when it meets it.
        let (enc, _, _) = via_stream(&bytes, &o).unwrap();
        assert_eq!(enc, "UTF-8");
        // Valid throughout: accepted, bytes unchanged.
        bytes.truncate(byte);
        let (_, _, text) = via_file(&bytes, &o).unwrap();
        assert_eq!(text.as_bytes(), &bytes[3..]);
    }

    #[test]
    fn windows_1252_beyond_the_prefix() {
        // ASCII for more than the prefix, then windows-1252 rows.
        let mut bytes = b"email;name\n".to_vec();
        while bytes.len() < PREFIX_LEN + 100 {
            bytes.extend_from_slice(b"a@x.org;Plain Name\n");
        }
        let line = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let byte = bytes.len() as u64 + 10;
        bytes.extend_from_slice(b"b@x.de;M\xFCller Zo\xEB\nc@x.fr;L\xE9v\xEAque Fran\xE7ois\n");
        let o = opts(None, None);
        let (enc, delim, text) = via_file(&bytes, &o).unwrap();
        assert_eq!((enc, delim), ("windows-1252", b';'));
        assert!(text.ends_with("b@x.de;Müller Zoë\nc@x.fr;Lévêque François\n"));
        assert_eq!(text.len(), bytes.len() + 5);
        // The parser would catch it on a stream; the message names the spot.
        let (enc, _, _) = via_stream(&bytes, &o).unwrap();
        assert_eq!(enc, "UTF-8");
        let msg = invalid_utf8_message(line, byte);
        assert!(
            msg.starts_with(&format!("line {line}, byte {byte}: ")),
            "{msg}"
        );
        assert!(msg.contains("--encoding windows-1252"), "{msg}");
    }

    #[test]
    fn windows_1252_in_a_long_stream_prefix() {
        let mut bytes = b"email,name\n".to_vec();
        while bytes.len() < 2 * PREFIX_LEN {
            bytes.extend_from_slice(b"a@x.de,M\xFCller Zo\xEB\n");
        }
        let (enc, _, text) = via_stream(&bytes, &opts(None, None)).unwrap();
        assert_eq!(enc, "windows-1252");
        assert!(text.ends_with("a@x.de,Müller Zoë\n"));
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.csv");
        let err = open(Input::Path(path.clone()), &opts(None, None)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("cannot read {}: ", path.display())),
            "{msg}"
        );
    }
}
