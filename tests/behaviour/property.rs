//! "The result is always the one that importing the rows one at a
//! time would give, however the work is batched": for random sequences of
//! rows (repeats, invalid ones, label and keep options), importing them in
//! one file at a random batch size equals importing each row alone in
//! sequence — same per-row outcomes, same final contacts.

use proptest::prelude::*;
use roster_import::{Input, OnExisting, Options, Outcome};
use roster_store::{Contact, Store};

use crate::support::{postgres_url, Backend};

const EMAILS: [&str; 5] = [
    "ann@example.com",
    "ANN@example.com",
    "bob@example.com",
    "cid@example.com",
    "not-an-email",
];
const NAMES: [&str; 3] = ["", "Ann", "Zed"];
const LABELS: [&str; 6] = [
    "",
    "Marketing",
    "Trial",
    "Marketing:Trial",
    "marketing",
    "New",
];
const SEATS: [&str; 4] = ["", "1", "01.50", "x"];

fn row() -> impl Strategy<Value = String> {
    (
        0..EMAILS.len(),
        0..NAMES.len(),
        0..LABELS.len(),
        0..SEATS.len(),
        0..3usize,
    )
        .prop_map(|(e, n, l, s, c)| {
            format!(
                "{},{},{},{},{}",
                EMAILS[e],
                NAMES[n],
                LABELS[l],
                SEATS[s],
                ["", "1", "9"][c]
            )
        })
}

struct Db {
    store: Box<dyn Store>,
    _dir: tempfile::TempDir,
    schema: Option<(String, String)>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema {
            if let Ok(mut c) = postgres::Client::connect(base, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
            }
        }
    }
}

fn fresh(backend: Backend, tag: &str) -> Option<Db> {
    let dir = tempfile::tempdir().ok()?;
    let (url, schema) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", dir.path().join("p.db").display()),
            None,
        ),
        Backend::Postgres => {
            let base = postgres_url()?;
            let n = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let schema = format!("prop_{tag}_{}_{n}", std::process::id());
            let sep = if base.contains('?') { '&' } else { '?' };
            (format!("{base}{sep}schema={schema}"), Some((base, schema)))
        }
    };
    let mut store = roster_store::open(&url).expect("open the store");
    store.add_label("Marketing").expect("label");
    store.add_label("Trial").expect("label");
    store.add_company("Acme").expect("company");
    store
        .add_field(&roster_store::NewField {
            variable_name: "seats".into(),
            name: "Seats".into(),
            field_type: roster_store::FieldType::Number,
            options: vec![],
        })
        .expect("field");
    Some(Db {
        store,
        _dir: dir,
        schema,
    })
}

#[derive(Clone, Copy, Debug)]
struct Flags {
    skip: bool,
    create_labels: bool,
    replace_labels: bool,
    keep_first_name: bool,
}

fn import(
    db: &mut Db,
    rows: &[String],
    batch: usize,
    flags: Flags,
    dir: &std::path::Path,
) -> Vec<(Outcome, String)> {
    let file = dir.join(format!("in-{}.csv", rows.len()));
    let mut body = String::from("email,first_name,labels,seats,company_id\n");
    for r in rows {
        body.push_str(r);
        body.push('\n');
    }
    std::fs::write(&file, body).expect("write");
    let outcomes = dir.join("outcomes.csv");
    let mut opts = Options {
        batch_size: Some(batch),
        on_existing: if flags.skip {
            OnExisting::Skip
        } else {
            OnExisting::Update
        },
        create_labels: flags.create_labels,
        replace_labels: flags.replace_labels,
        keep: if flags.keep_first_name {
            vec!["first_name".into()]
        } else {
            vec![]
        },
        outcomes: Some(outcomes.clone()),
        ..Options::default()
    };
    roster_import::import_contacts(db.store.as_mut(), Input::Path(file), &mut opts)
        .expect("import");
    let text = std::fs::read_to_string(outcomes).expect("outcomes");
    text.lines()
        .skip(1)
        .map(|l| {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(l.as_bytes());
            let rec = r
                .records()
                .next()
                .and_then(Result::ok)
                .expect("an outcome line");
            let o = match &rec[2] {
                "created" => Outcome::Created,
                "updated" => Outcome::Updated,
                "unchanged" => Outcome::Unchanged,
                _ => Outcome::Rejected,
            };
            (o, rec[3].to_string())
        })
        .collect()
}

fn contacts(db: &mut Db) -> Vec<Contact> {
    let mut all = Vec::new();
    db.store
        .each_contact(&mut |mut c| {
            c.id = 0;
            c.changed_by = None;
            all.push(c);
            Ok(())
        })
        .expect("read contacts");
    all
}

fn one_file_equals_one_at_a_time(
    backend: Backend,
    rows: Vec<String>,
    batch: usize,
    flags: Flags,
) -> Result<(), TestCaseError> {
    let tmp = tempfile::tempdir().expect("tmp");
    let (Some(mut whole), Some(mut single)) = (fresh(backend, "w"), fresh(backend, "s")) else {
        return Ok(());
    };
    let together = import(&mut whole, &rows, batch, flags, tmp.path());
    let mut alone = Vec::new();
    for r in &rows {
        alone.extend(import(
            &mut single,
            std::slice::from_ref(r),
            1,
            flags,
            tmp.path(),
        ));
    }
    prop_assert_eq!(
        &together,
        &alone,
        "outcomes of {:?} at batch size {}",
        rows,
        batch
    );
    prop_assert_eq!(contacts(&mut whole), contacts(&mut single));
    Ok(())
}

fn flags() -> impl Strategy<Value = Flags> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(skip, create_labels, replace_labels, keep_first_name)| Flags {
            skip,
            create_labels,
            replace_labels,
            keep_first_name,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_batches_equal_rows_one_at_a_time(rows in prop::collection::vec(row(), 1..12), batch in 1usize..6, f in flags()) {
        one_file_equals_one_at_a_time(Backend::Sqlite, rows, batch, f)?;
    }

    #[test]
    fn postgres_batches_equal_rows_one_at_a_time(rows in prop::collection::vec(row(), 1..12), batch in 1usize..6, f in flags()) {
        one_file_equals_one_at_a_time(Backend::Postgres, rows, batch, f)?;
    }
}
