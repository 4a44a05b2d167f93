//! What the fuzz targets share: a small SQLite database made once per
//! process and copied fresh for every input, option bits, and the import
//! invariants (counts add up, every data row has one outcome, rejected rows
//! are in `--rejects`, a refused file writes nothing, importing the export
//! again changes nothing).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use roster_core::password::PasswordPolicy;
use roster_import::export::{self, ExportOptions};
use roster_import::{DecodeOptions, ImportError, Input, Limits, OnExisting, Options, Report};
use roster_store::{FieldType, NewField, Store};

/// Bits taken from the end of an input, so that seed files (the test
/// fixtures, as they are) are still mostly themselves.
pub struct Bits {
    word: u32,
}

impl Bits {
    /// Splits `data` into its body and the last four bytes as option bits
    /// (all zero when the input is shorter).
    pub fn split(data: &[u8]) -> (&[u8], Bits) {
        if data.len() < 4 {
            return (data, Bits { word: 0 });
        }
        let (body, tail) = data.split_at(data.len() - 4);
        let word = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        (body, Bits { word })
    }
    /// The next `n` bits as a number.
    pub fn take(&mut self, n: u32) -> u32 {
        let v = self.word & ((1 << n) - 1);
        self.word >>= n;
        v
    }
    pub fn flag(&mut self) -> bool {
        self.take(1) == 1
    }
}

/// The database every input starts from: a company, labels that differ
/// only in case, one custom field of each type and two contacts.
pub struct Harness {
    dir: tempfile::TempDir,
    template: PathBuf,
    n: u64,
}

pub const SEED_CONTACTS: &str =
    "email,first_name,last_name,company_id,labels,score,vip,born,plan,note\n\
ann@example.com,Ann,Lee,1,Marketing,1.5,yes,1990-02-28,pro,=1+1\n\
bob@example.org,,,,Trial:marketing,,,,,\n";

impl Harness {
    fn new() -> Harness {
        // Users imports hash passwords: the test parameters keep an input fast.
        std::env::set_var("ROSTER_INSECURE_FAST_HASH", "1");
        let dir = tempfile::Builder::new()
            .prefix("roster-fuzz")
            .tempdir()
            .expect("a temporary folder");
        let template = dir.path().join("template.db");
        {
            let mut s = open(&template);
            s.add_company("Acme").expect("company");
            for l in ["Marketing", "marketing", "Trial"] {
                s.add_label(l).expect("label");
            }
            for (name, t, options) in [
                ("score", FieldType::Number, vec![]),
                ("vip", FieldType::Boolean, vec![]),
                ("born", FieldType::Date, vec![]),
                (
                    "plan",
                    FieldType::Select,
                    vec!["free".to_string(), "pro".to_string()],
                ),
                ("note", FieldType::Text, vec![]),
            ] {
                s.add_field(&NewField {
                    variable_name: name.into(),
                    name: name.into(),
                    field_type: t,
                    options,
                })
                .expect("field");
            }
            let seed = dir.path().join("seed.csv");
            std::fs::write(&seed, SEED_CONTACTS).expect("seed file");
            let report =
                roster_import::import_contacts(&mut *s, Input::Path(seed), &mut Options::default())
                    .expect("seed import");
            assert_eq!(report.created, 2, "{report:?}");
        }
        Harness {
            dir,
            template,
            n: 0,
        }
    }

    /// A fresh copy of the template database, and a scratch folder for the
    /// input's files.
    pub fn fresh(&mut self) -> (Box<dyn Store>, PathBuf) {
        self.n += 1;
        let work = self.dir.path().join("work");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).expect("scratch folder");
        let db = work.join("roster.db");
        std::fs::copy(&self.template, &db).expect("copy of the template");
        (open(&db), work)
    }
}

pub fn open(path: &Path) -> Box<dyn Store> {
    roster_store::open(&format!("sqlite://{}", path.display())).expect("open the database")
}

/// The process's harness (libFuzzer runs inputs one at a time).
pub fn harness() -> MutexGuard<'static, Harness> {
    static H: OnceLock<Mutex<Harness>> = OnceLock::new();
    H.get_or_init(|| Mutex::new(Harness::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

pub fn export_contacts(store: &mut dyn Store) -> Vec<u8> {
    let mut out = Vec::new();
    export::contacts(store, &mut out, ExportOptions::default()).expect("export contacts");
    out
}

pub fn export_users(store: &mut dyn Store) -> Vec<u8> {
    let mut out = Vec::new();
    export::users(store, &mut out, ExportOptions::default()).expect("export users");
    out
}

/// Import options drawn from `bits`.
pub fn options(bits: &mut Bits, work: &Path) -> Options {
    let mut o = Options::default();
    o.decode = DecodeOptions {
        encoding: match bits.take(2) {
            1 => Some("windows-1252".into()),
            2 => Some("utf-16le".into()),
            _ => None,
        },
        delimiter: match bits.take(2) {
            1 => Some(b';'),
            2 => Some(b'\t'),
            3 => Some(b','),
            _ => None,
        },
    };
    if bits.flag() {
        o.map_auto = true;
    }
    if bits.flag() {
        o.maps.push(("E-mail Address".into(), "email".into()));
    }
    o.ignore_unknown_columns = bits.flag();
    o.on_existing = if bits.flag() {
        OnExisting::Skip
    } else {
        OnExisting::Update
    };
    if bits.flag() {
        o.keep.push("labels".into());
    }
    o.create_labels = bits.flag();
    o.replace_labels = bits.flag();
    o.atomic = bits.take(2) == 3;
    o.dry_run = bits.take(2) == 3;
    o.batch_size = Some(match bits.take(2) {
        0 => 1,
        1 => 2,
        2 => 3,
        _ => 4096,
    });
    if bits.flag() {
        o.limits = Limits {
            max_field_bytes: 64,
            max_columns: 12,
        };
    }
    o.rejects = Some(work.join("rejects.csv"));
    o.outcomes = Some(work.join("outcomes.csv"));
    o
}

/// Records of a CSV file we wrote (rejects, outcomes).
fn records(path: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .expect("our own file opens");
    r.records()
        .map(|x| x.expect("our own file is valid CSV"))
        .collect()
}

/// The data rows of `body` as the importer counts them, when that can be
/// known independently: a UTF-8 file with LF or CRLF endings and the
/// report's delimiter. Rows whose every cell is empty are not counted.
fn data_rows(body: &[u8], report: &Report) -> Option<u64> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).ok()?;
    if report.encoding != "UTF-8" || !report.notes.is_empty() || text.contains('\r') {
        return None;
    }
    let delimiter = *report.delimiter.as_bytes().first()?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(text.as_bytes());
    let mut n = 0u64;
    let mut first = true;
    for rec in r.records() {
        let rec = rec.ok()?;
        if first {
            first = false;
            continue;
        }
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        n += 1;
    }
    Some(n)
}

/// The invariants of one import of `body` whose report is `result`.
/// `before` is the export before it, `after` the export after it.
pub fn check_import(
    body: &[u8],
    opts_atomic: bool,
    opts_dry_run: bool,
    result: &Result<Report, ImportError>,
    work: &Path,
    before: &[u8],
    after: &[u8],
) {
    let report = match result {
        Err(e) => {
            // A refused file writes nothing, and says why in one sentence.
            let m = e.to_string();
            assert!(!m.trim().is_empty(), "a refusal without a message");
            assert!(m.len() <= 16 * 1024, "a refusal of {} bytes", m.len());
            assert!(before == after, "a refused file changed the database: {m}");
            return;
        }
        Ok(r) => r,
    };
    // --atomic with a rejected row writes nothing and counts nothing as written.
    let refused_atomic = opts_atomic && report.rejected > 0 && !opts_dry_run;
    let accepted = report.created + report.updated + report.unchanged;
    if refused_atomic {
        assert_eq!(
            accepted, 0,
            "an atomic import with rejected rows counts writes: {report:?}"
        );
    } else {
        assert_eq!(
            report.rows,
            accepted + report.rejected,
            "counts do not add up: {report:?}"
        );
    }
    assert!(report.repeated <= report.rows, "{report:?}");
    assert!(report.committed <= report.rows, "{report:?}");
    if opts_dry_run || (opts_atomic && report.rejected > 0) || report.rows == 0 {
        assert!(
            before == after,
            "a dry run, a refused atomic import or an empty file changed the database: {report:?}"
        );
    }
    if report.failure.is_some() {
        return;
    }
    if !opts_dry_run && !refused_atomic {
        assert_eq!(report.committed, report.rows, "{report:?}");
    }
    // Every data row has exactly one line in --outcomes.
    let outcomes = records(&work.join("outcomes.csv"));
    assert_eq!(
        outcomes[0].iter().collect::<Vec<_>>(),
        ["line", "email", "outcome", "message"]
    );
    let lines = &outcomes[1..];
    assert_eq!(
        lines.len() as u64,
        report.rows,
        "outcomes lines vs rows: {report:?}"
    );
    let count = |o: &str| lines.iter().filter(|r| &r[2] == o).count() as u64;
    assert_eq!(count("rejected"), report.rejected, "{report:?}");
    if !refused_atomic {
        assert_eq!(count("created"), report.created, "{report:?}");
        assert_eq!(count("updated"), report.updated, "{report:?}");
        assert_eq!(count("unchanged"), report.unchanged, "{report:?}");
    }
    // --rejects: the header, then each rejected row; with the accepted rows
    // that is every data row.
    let rejects = records(&work.join("rejects.csv"));
    assert_eq!(
        rejects.len() as u64 - 1,
        report.rejected,
        "rejects file vs report: {report:?}"
    );
    if !refused_atomic {
        assert_eq!(
            rejects.len() as u64 - 1 + accepted,
            report.rows,
            "rejects + accepted != rows: {report:?}"
        );
    }
    // An independent count of the file's data rows, when one is possible.
    if let Some(n) = data_rows(body, report) {
        assert_eq!(
            n, report.rows,
            "the file has {n} data rows, the report {report:?}"
        );
    }
}

/// Imports the export `exported` again: nothing may change.
pub fn check_reimport(store: &mut dyn Store, work: &Path, exported: &[u8], users: bool) {
    let path = work.join("export.csv");
    std::fs::write(&path, exported).expect("write the export");
    let mut o = Options::default();
    let report = if users {
        roster_import::import_users(store, Input::Path(path), &mut o, PasswordPolicy::TEST)
    } else {
        roster_import::import_contacts(store, Input::Path(path), &mut o)
    };
    let report = report.unwrap_or_else(|e| {
        panic!(
            "the export does not import back: {e}\n{}",
            String::from_utf8_lossy(exported)
        )
    });
    assert!(
        report.failure.is_none()
            && report.created == 0
            && report.updated == 0
            && report.rejected == 0,
        "re-importing the export is not a no-op: {report:?}\n{}",
        String::from_utf8_lossy(exported)
    );
    let again = if users {
        export_users(store)
    } else {
        export_contacts(store)
    };
    assert!(
        again == exported,
        "the export changed after importing it back"
    );
}
