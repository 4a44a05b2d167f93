//! The import rules, checked against an independent model (model.rs):
//! for random files (repeated emails, two spellings of one address, rows
//! that reuse the emails of accepted and of rejected rows, blank lines,
//! every kind of bad value) under random options (`--on-existing skip`,
//! `--keep` of any columns, `--create-labels`, `--replace-labels`,
//! `--atomic`, `--dry-run`, batch and transaction sizes), on top of the
//! rows of an earlier import, three things must agree:
//!
//! - the file imported as a whole at a random batch size,
//! - the same rows imported one file per row, in order,
//! - the model,
//!
//! on every row's outcome and kind of message, every count of the report,
//! the final contacts or users and labels, and — for contacts — what
//! `imports undo` of the file puts back.
//!
//! 256 cases per test and backend in CI; `PROPTEST_CASES=5000 cargo test
//! --test behaviour property::` runs a nightly-sized search (see
//! docs/testing.md).

use std::collections::BTreeSet;

use proptest::prelude::*;
use roster_core::password::{Password, PasswordPolicy};
use roster_import::{Input, OnExisting, Options, Report};
use roster_store::Store;

use crate::model::{self, ContactRow, Counts, Directory, Flags, RowResult, Team, UserRow};
use crate::support::{postgres_url, Backend};

/// Cases per test: `PROPTEST_CASES`, or 256.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

struct Db {
    store: Box<dyn Store>,
    _dir: tempfile::TempDir,
    schema: Option<(String, String)>,
    /// The ids of the labels Marketing and Trial.
    marketing: i64,
    trial: i64,
    /// The id of the company Acme.
    acme: i64,
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

static SCHEMAS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    /// PostgreSQL schemas of earlier cases of this thread, to empty and
    /// use again (creating one takes the migrations' lock).
    static SPARE: std::cell::RefCell<Vec<Db>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A database for one case, handed back to [`SPARE`] when the case ends.
struct Fresh(Option<Db>);

impl std::ops::Deref for Fresh {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.0.as_ref().expect("a database")
    }
}

impl std::ops::DerefMut for Fresh {
    fn deref_mut(&mut self) -> &mut Db {
        self.0.as_mut().expect("a database")
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Some(db) = self.0.take() {
            if db.schema.is_some() && !std::thread::panicking() {
                SPARE.with(|s| s.borrow_mut().push(db));
            }
        }
    }
}

/// An empty database with the catalog every case starts from: labels
/// Marketing and Trial, company 1, the number field `seats`.
fn fresh(backend: Backend) -> Option<Fresh> {
    if backend == Backend::Postgres {
        if let Some(mut db) = SPARE.with(|s| s.borrow_mut().pop()) {
            let (base, schema) = db.schema.clone().expect("a PostgreSQL schema");
            let mut c = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
            let tables: Vec<String> = c
                .query(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables \
                     WHERE schemaname = $1 AND tablename <> 'roster_schema_version'",
                    &[&schema],
                )
                .expect("list the tables")
                .iter()
                .map(|r| r.get(0))
                .collect();
            // (DELETE: quicker than TRUNCATE on tables this small; the
            // cases read the ids they use.)
            let mut sql = String::from("SET session_replication_role = replica;");
            for t in &tables {
                sql.push_str(&format!("DELETE FROM {t};"));
            }
            c.batch_execute(&sql).expect("empty the tables");
            catalog(&mut db);
            return Some(Fresh(Some(db)));
        }
    }
    let mut db = open(backend)?;
    catalog(&mut db);
    Some(Fresh(Some(db)))
}

fn catalog(db: &mut Db) {
    let store = &mut db.store;
    db.marketing = store.add_label("Marketing").expect("label");
    db.trial = store.add_label("Trial").expect("label");
    db.acme = store.add_company("Acme").expect("company");
    store
        .add_field(&roster_store::NewField {
            variable_name: "seats".into(),
            name: "Seats".into(),
            field_type: roster_store::FieldType::Number,
            options: vec![],
        })
        .expect("field");
}

fn open(backend: Backend) -> Option<Db> {
    let dir = tempfile::tempdir().ok()?;
    let (url, schema) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", dir.path().join("p.db").display()),
            None,
        ),
        Backend::Postgres => {
            let base = postgres_url()?;
            let n = SCHEMAS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let schema = format!("prop_{}_{n}", std::process::id());
            let sep = if base.contains('?') { '&' } else { '?' };
            // Cases need no durability: commits do not wait for the disk.
            (
                format!("{base}{sep}schema={schema}&options=-c%20synchronous_commit%3Doff"),
                Some((base, schema)),
            )
        }
    };
    let store = roster_store::open(&url).expect("open the store");
    Some(Db {
        store,
        _dir: dir,
        schema,
        marketing: 0,
        trial: 0,
        acme: 0,
    })
}

/// What one import told: every row's result, and the report.
struct Told {
    rows: Vec<RowResult>,
    report: Report,
}

impl Told {
    fn counts(&self) -> Counts {
        let r = &self.report;
        Counts {
            rows: r.rows,
            created: r.created,
            updated: r.updated,
            unchanged: r.unchanged,
            rejected: r.rejected,
            repeated: r.repeated,
            committed: r.committed,
            labels_created: r.labels_created,
        }
    }
}

fn options(
    flags: &Flags,
    batch: usize,
    commit_rows: Option<u64>,
    outcomes: &std::path::Path,
) -> Options {
    Options {
        batch_size: Some(batch),
        commit_rows,
        on_existing: if flags.skip {
            OnExisting::Skip
        } else {
            OnExisting::Update
        },
        create_labels: flags.create_labels,
        replace_labels: flags.replace_labels,
        keep: flags.keep.clone(),
        atomic: flags.atomic,
        dry_run: flags.dry_run,
        outcomes: Some(outcomes.to_path_buf()),
        ..Options::default()
    }
}

/// Reads `--outcomes` and the report into each row's result: the kind of
/// a rejected row is the column of its first error in the report.
fn told(outcomes: &std::path::Path, report: Report) -> Told {
    let mut r = csv::Reader::from_path(outcomes).expect("the outcomes file");
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.expect("an outcomes line");
            let line: u64 = rec[0].parse().expect("a line number");
            let outcome = model::Outcome::parse(&rec[2]);
            let message = &rec[3];
            let kind = match outcome {
                model::Outcome::Rejected => report
                    .errors
                    .iter()
                    .find(|e| e.line == line)
                    .map(|e| e.column.clone().unwrap_or_else(|| "row".into()))
                    .unwrap_or_else(|| {
                        panic!("line {line} is rejected but the report has no error for it")
                    }),
                _ if message.starts_with("skipped: ") => "skipped".into(),
                _ => {
                    assert_eq!(message, "", "an accepted row's message");
                    String::new()
                }
            };
            RowResult {
                line,
                email: rec[1].to_string(),
                outcome,
                kind,
            }
        })
        .collect();
    Told { rows, report }
}

/// Writes a CSV file (cells quoted where they must be).
fn write_csv(header: &str, rows: &[[String; 7]], file: &std::path::Path) {
    let mut w = csv::Writer::from_path(file).expect("create the file");
    w.write_record(header.split(',')).expect("write");
    for r in rows {
        w.write_record(r).expect("write");
    }
    w.flush().expect("write the file");
}

fn import_contacts(
    db: &mut Db,
    rows: &[ContactRow],
    flags: &Flags,
    batch: usize,
    commit_rows: Option<u64>,
) -> Told {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("contacts.csv");
    write_csv(model::CONTACT_HEADER, rows, &file);
    let outcomes = tmp.path().join("outcomes.csv");
    let mut opts = options(flags, batch, commit_rows, &outcomes);
    let report = roster_import::import_contacts(db.store.as_mut(), Input::Path(file), &mut opts)
        .expect("the import runs");
    assert_eq!(report.failure, None, "the import failed");
    told(&outcomes, report)
}

/// The stored contacts as the model keeps them (labels by name).
fn stored_contacts(db: &mut Db) -> Vec<model::Contact> {
    let labels: std::collections::HashMap<i64, String> = db
        .store
        .labels()
        .expect("labels")
        .into_iter()
        .map(|l| (l.id, l.name))
        .collect();
    let seats = db
        .store
        .fields()
        .expect("fields")
        .into_iter()
        .find(|f| f.variable_name == "seats")
        .expect("the seats field")
        .id;
    let mut all = Vec::new();
    db.store
        .each_contact(&mut |c| {
            assert!(
                c.custom.keys().all(|k| *k == seats),
                "only seats is a custom field"
            );
            all.push(model::Contact {
                email: c.email.clone(),
                first_name: c.first_name.clone(),
                last_name: c.last_name.clone(),
                company_id: c.company_id,
                labels: c.labels.iter().map(|id| labels[id].clone()).collect(),
                seats: c.custom.get(&seats).cloned(),
            });
            Ok(())
        })
        .expect("read contacts");
    all
}

fn label_names(db: &mut Db) -> BTreeSet<String> {
    db.store
        .labels()
        .expect("labels")
        .into_iter()
        .map(|l| l.name)
        .collect()
}

fn model_contacts(m: &Directory) -> Vec<model::Contact> {
    m.contacts.values().cloned().collect()
}

fn model_labels(m: &Directory) -> BTreeSet<String> {
    m.labels
        .keys()
        .chain(m.new_labels.iter())
        .cloned()
        .collect()
}

/// One row at a time leaves `repeated` at 0 in each report and commits
/// whatever each row did: the sums of the other counts are the model's.
fn sums(each: &[Told]) -> Counts {
    let mut c = Counts::default();
    for t in each {
        let n = t.counts();
        c.rows += n.rows;
        c.created += n.created;
        c.updated += n.updated;
        c.unchanged += n.unchanged;
        c.rejected += n.rejected;
        c.committed += n.committed;
        c.labels_created += n.labels_created;
        assert_eq!(n.repeated, 0, "a one-row file repeats nothing");
    }
    c
}

fn without_line(rows: &[RowResult]) -> Vec<RowResult> {
    rows.iter()
        .map(|r| RowResult {
            line: 0,
            ..r.clone()
        })
        .collect()
}

fn contacts_agree(
    backend: Backend,
    seed: Vec<ContactRow>,
    rows: Vec<ContactRow>,
    flags: Flags,
    batch: usize,
    commit_rows: Option<u64>,
) -> Result<(), TestCaseError> {
    let Some(mut whole) = fresh(backend) else {
        return Ok(());
    };
    let mut single = match backend {
        Backend::Sqlite => fresh(backend),
        Backend::Postgres => None,
    };
    if let Some(single) = &single {
        assert_eq!(
            (whole.marketing, whole.trial),
            (single.marketing, single.trial)
        );
    }
    let ids = (whole.marketing, whole.trial, whole.acme);
    let seed = fill(seed, ids);
    let rows = fill(rows, ids);
    let mut m = Directory {
        labels: [
            ("Marketing".to_string(), whole.marketing),
            ("Trial".to_string(), whole.trial),
        ]
        .into(),
        companies: whole
            .store
            .companies()
            .expect("companies")
            .iter()
            .map(|c| c.id)
            .collect(),
        ..Directory::default()
    };
    // An earlier import, so rows meet contacts that existed before.
    let plain = Flags {
        create_labels: true,
        ..Flags::default()
    };
    let (seed_rows, seed_counts) = m.import(&seed, &plain);
    for db in std::iter::once(&mut whole).chain(single.as_mut()) {
        let t = import_contacts(db, &seed, &plain, 3, None);
        prop_assert_eq!(&t.rows, &seed_rows, "the earlier import's rows");
        prop_assert_eq!(
            t.counts(),
            seed_counts.clone(),
            "the earlier import's report"
        );
    }
    let before = m.clone();

    // The whole file.
    let t = import_contacts(&mut whole, &rows, &flags, batch, commit_rows);
    let (expected, counts) = m.import(&rows, &flags);
    prop_assert_eq!(&t.rows, &expected, "each row's outcome and message");
    prop_assert_eq!(t.counts(), counts, "the report's counts");
    prop_assert_eq!(t.report.id.is_some(), !flags.dry_run, "the import's id");
    prop_assert_eq!(
        stored_contacts(&mut whole),
        model_contacts(&m),
        "the contacts"
    );
    prop_assert_eq!(label_names(&mut whole), model_labels(&m), "the labels");

    // One row at a time (each file alone is all or nothing and written),
    // on SQLite: the batching is the engine's, the same on both backends.
    if let Some(single) = &mut single {
        // One row at a time (each file alone is all or nothing and written).
        let alone = Flags {
            atomic: false,
            dry_run: false,
            ..flags.clone()
        };
        let mut m1 = before.clone();
        let (expected1, counts1) = m1.import(&rows, &alone);
        let mut each = Vec::new();
        for r in &rows {
            each.push(import_contacts(
                single,
                std::slice::from_ref(r),
                &alone,
                1,
                None,
            ));
        }
        let got: Vec<RowResult> = each.iter().flat_map(|t| t.rows.clone()).collect();
        prop_assert_eq!(
            without_line(&got),
            without_line(&expected1),
            "one row at a time"
        );
        prop_assert_eq!(
            sums(&each),
            Counts {
                repeated: 0,
                ..counts1
            },
            "the counts, one row at a time"
        );
        prop_assert_eq!(
            stored_contacts(single),
            model_contacts(&m1),
            "the contacts, one row at a time"
        );
        prop_assert_eq!(label_names(single), model_labels(&m1));
    }

    // Undo puts back the contacts as they were before the file (labels
    // --create-labels made stay).
    if let (Some(id), false) = (t.report.id, flags.atomic && t.report.rejected > 0) {
        let undone = whole.store.undo_import(id, false, "test").expect("undo");
        prop_assert_eq!(
            undone.deleted,
            t.report.created,
            "undo deletes what the import created"
        );
        prop_assert_eq!(
            stored_contacts(&mut whole),
            model_contacts(&before),
            "the contacts after undo"
        );
    }
    Ok(())
}

// ----- users

/// A PHC string of "secret9" from another system, made once.
fn imported_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        PasswordPolicy::TEST
            .hash(&Password::new("secret9".into()))
            .expect("hash")
    })
}

/// The rows with their placeholders filled in: {m}, {t}: the ids of the
/// labels Marketing and Trial; {c}: the company's; {hash}: the imported hash.
fn fill<const N: usize>(rows: Vec<[String; N]>, (m, t, c): (i64, i64, i64)) -> Vec<[String; N]> {
    rows.into_iter()
        .map(|r| {
            r.map(|cell| {
                cell.replace("{m}", &m.to_string())
                    .replace("{t}", &t.to_string())
                    .replace("{c}", &c.to_string())
                    .replace("{hash}", imported_hash())
            })
        })
        .collect()
}

fn import_users(
    db: &mut Db,
    rows: &[UserRow],
    flags: &Flags,
    batch: usize,
    commit_rows: Option<u64>,
) -> Told {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("users.csv");
    write_csv(model::USER_HEADER, rows, &file);
    let outcomes = tmp.path().join("outcomes.csv");
    let mut opts = options(flags, batch, commit_rows, &outcomes);
    let report = roster_import::import_users(
        db.store.as_mut(),
        Input::Path(file),
        &mut opts,
        PasswordPolicy::TEST,
    )
    .expect("the import runs");
    assert_eq!(report.failure, None, "the import failed");
    told(&outcomes, report)
}

/// Checks the stored users against the model's: same fields, and each
/// signs in with the model's password (an imported hash stored as it was).
fn users_match(db: &mut Db, team: &Team) -> Result<(), TestCaseError> {
    let mut stored = Vec::new();
    db.store
        .each_user(&mut |u| {
            stored.push(u);
            Ok(())
        })
        .expect("read users");
    let emails: Vec<&str> = stored.iter().map(|u| u.email.as_str()).collect();
    let want: Vec<&str> = team.users.keys().map(String::as_str).collect();
    prop_assert_eq!(emails, want, "the users");
    for u in &stored {
        let m = &team.users[&u.email];
        prop_assert_eq!(&u.first_name, &m.first_name, "{}'s first name", u.email);
        prop_assert_eq!(&u.last_name, &m.last_name, "{}'s last name", u.email);
        prop_assert_eq!(u.active, m.active, "{} active", u.email);
        prop_assert_eq!(
            u.role == roster_store::Role::Admin,
            m.admin,
            "{}'s role",
            u.email
        );
        match &m.imported_hash {
            Some(h) => prop_assert_eq!(&u.password_hash, h, "{}'s imported hash", u.email),
            None => prop_assert!(
                PasswordPolicy::TEST
                    .verify(&u.password_hash, &Password::new(m.password.clone()))
                    .ok,
                "{} signs in with {}",
                u.email,
                m.password
            ),
        }
    }
    Ok(())
}

fn users_agree(
    backend: Backend,
    seed: Vec<UserRow>,
    rows: Vec<UserRow>,
    flags: Flags,
    batch: usize,
    commit_rows: Option<u64>,
) -> Result<(), TestCaseError> {
    let Some(mut whole) = fresh(backend) else {
        return Ok(());
    };
    let mut single = match backend {
        Backend::Sqlite => fresh(backend),
        Backend::Postgres => None,
    };
    let seed = fill(seed, (0, 0, 0));
    let rows = fill(rows, (0, 0, 0));
    let mut m = Team {
        hashes: [(imported_hash().to_string(), "secret9".to_string())].into(),
        ..Team::default()
    };
    let plain = Flags::default();
    let (seed_rows, seed_counts) = m.import(&seed, &plain);
    for db in std::iter::once(&mut whole).chain(single.as_mut()) {
        let t = import_users(db, &seed, &plain, 3, None);
        prop_assert_eq!(&t.rows, &seed_rows, "the earlier import's rows");
        prop_assert_eq!(
            t.counts(),
            seed_counts.clone(),
            "the earlier import's report"
        );
    }
    let before = m.clone();

    let t = import_users(&mut whole, &rows, &flags, batch, commit_rows);
    let (expected, counts) = m.import(&rows, &flags);
    prop_assert_eq!(&t.rows, &expected, "each row's outcome and message");
    prop_assert_eq!(t.counts(), counts, "the report's counts");
    users_match(&mut whole, &m)?;

    if let Some(single) = &mut single {
        let alone = Flags {
            atomic: false,
            dry_run: false,
            ..flags.clone()
        };
        let mut m1 = before.clone();
        let (expected1, counts1) = m1.import(&rows, &alone);
        let mut each = Vec::new();
        for r in &rows {
            each.push(import_users(
                single,
                std::slice::from_ref(r),
                &alone,
                1,
                None,
            ));
        }
        let got: Vec<RowResult> = each.iter().flat_map(|t| t.rows.clone()).collect();
        prop_assert_eq!(
            without_line(&got),
            without_line(&expected1),
            "one row at a time"
        );
        prop_assert_eq!(
            sums(&each),
            Counts {
                repeated: 0,
                ..counts1
            },
            "the counts, one row at a time"
        );
        users_match(single, &m1)?;
    }
    Ok(())
}

// ----- the random files and options

/// Mostly a good value, sometimes a bad one.
fn pick(good: &'static [&'static str], bad: &'static [&'static str]) -> BoxedStrategy<String> {
    if bad.is_empty() {
        return prop::sample::select(good).prop_map(String::from).boxed();
    }
    prop_oneof![
        8 => prop::sample::select(good).prop_map(String::from),
        1 => prop::sample::select(bad).prop_map(String::from),
    ]
    .boxed()
}

fn contact_row() -> impl Strategy<Value = ContactRow> {
    let row = (
        pick(
            &[
                "ann@example.com",
                " ANN@Example.COM",
                "bob@example.com",
                "cid@example.com",
            ],
            &["not-an-email", ""],
        ),
        pick(&["", "", "Ann", "Zed"], &[]),
        pick(&["", "", "Lee", "Ng"], &[]),
        pick(&["", "", "{c}"], &["999999", "x"]),
        pick(
            &[
                "",
                "",
                "Marketing",
                "Trial",
                "Marketing:Trial",
                " Trial : ",
                "New",
                "Other:Trial",
            ],
            &["marketing", "New:marketing", "Marketing,Trial", "new"],
        ),
        pick(&["", "", "", "{m}", "{t}", "{m}:{t}"], &["999999", "a"]),
        pick(&["", "", "1", "01.50", "+2.0"], &["x", "1,200"]),
    )
        .prop_map(|(e, f, l, c, lb, li, s)| [e, f, l, c, lb, li, s]);
    prop_oneof![
        20 => row,
        1 => Just(Default::default()),
    ]
}

fn keep(columns: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(any::<bool>(), columns.len()).prop_map(move |on| {
        columns
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(c, _)| c.to_string())
            .collect()
    })
}

fn flags(columns: &'static [&'static str], labels: bool) -> impl Strategy<Value = Flags> {
    (
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.5).prop_flat_map(move |on| {
            if on {
                keep(columns).boxed()
            } else {
                Just(Vec::new()).boxed()
            }
        }),
        prop::bool::weighted(if labels { 0.5 } else { 0.0 }),
        prop::bool::weighted(if labels { 0.3 } else { 0.0 }),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(skip, keep, create_labels, replace_labels, atomic, dry_run)| Flags {
                skip,
                keep,
                create_labels,
                replace_labels,
                atomic,
                dry_run,
            },
        )
}

const CONTACT_KEEP: &[&str] = &[
    "first_name",
    "last_name",
    "company_id",
    "labels",
    "labels_id",
    "seats",
];
const USER_KEEP: &[&str] = &["first_name", "last_name", "password", "active", "role"];

fn user_row() -> impl Strategy<Value = UserRow> {
    // The password and password_hash cells together: one, the other, none,
    // or a bad pair.
    let credentials = pick(
        &["", "", "secret1", "secret9", "secret9", "hash", "hash"],
        &["short", "both", "bad hash"],
    )
    .prop_map(|c| {
        let (p, h) = match c.as_str() {
            "" => ("", ""),
            "hash" => ("", "{hash}"),
            "short" => ("short", ""),
            "both" => ("secret1", "{hash}"),
            "bad hash" => ("", "$argon2id$nope"),
            p => (p, ""),
        };
        (p.to_string(), h.to_string())
    });
    let row = (
        pick(
            &["ann@example.com", "ANN@example.com", "bob@example.com"],
            &["bob", ""],
        ),
        pick(&["", "", "Ann", "Zed"], &[]),
        pick(&["", "", "Lee"], &[]),
        credentials,
        pick(&["", "", "true", "FALSE"], &["maybe"]),
        pick(&["", "", "admin", "Agent"], &["boss"]),
    )
        .prop_map(|(e, f, l, (p, h), a, r)| [e, f, l, p, a, r, h]);
    prop_oneof![
        20 => row,
        1 => Just(Default::default()),
    ]
}

/// Commit every N rows (SQLite), or the backend's size.
fn commit_rows() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), (1u64..4).prop_map(Some)]
}

/// Runs `test` on `cases()` values of `strategy`, then drops the spare
/// schemas (while the thread can still close their connections).
fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases()));
    let result = runner.run(&strategy, test);
    SPARE.with(|s| s.borrow_mut().clear());
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn contacts_case(
) -> impl Strategy<Value = (Vec<ContactRow>, Vec<ContactRow>, Flags, usize, Option<u64>)> {
    (
        prop::collection::vec(contact_row(), 0..4),
        prop::collection::vec(contact_row(), 1..10),
        flags(CONTACT_KEEP, true),
        1usize..5,
        commit_rows(),
    )
}

fn users_case() -> impl Strategy<Value = (Vec<UserRow>, Vec<UserRow>, Flags, usize, Option<u64>)> {
    (
        prop::collection::vec(user_row(), 0..3),
        prop::collection::vec(user_row(), 1..8),
        flags(USER_KEEP, false),
        1usize..5,
        commit_rows(),
    )
}

#[test]
fn sqlite_contacts_follow_the_model() {
    check(contacts_case(), |(seed, rows, f, batch, commit)| {
        contacts_agree(Backend::Sqlite, seed, rows, f, batch, commit)
    });
}

#[test]
fn postgres_contacts_follow_the_model() {
    check(contacts_case(), |(seed, rows, f, batch, _)| {
        contacts_agree(Backend::Postgres, seed, rows, f, batch, None)
    });
}

#[test]
fn sqlite_users_follow_the_model() {
    check(users_case(), |(seed, rows, f, batch, commit)| {
        users_agree(Backend::Sqlite, seed, rows, f, batch, commit)
    });
}

#[test]
fn postgres_users_follow_the_model() {
    check(users_case(), |(seed, rows, f, batch, _)| {
        users_agree(Backend::Postgres, seed, rows, f, batch, None)
    });
}
