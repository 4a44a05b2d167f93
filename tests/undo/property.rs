//! The property: for random sequences of contacts and users imports (random
//! flags and batch sizes; each email once per file) and edits, undoing one
//! import
//! - predicts in its dry run exactly what it then does, changing nothing;
//! - restores exactly the state from before it when it is the last change;
//! - otherwise puts back its records, or refuses naming exactly the records
//!   a later import or edit touched — and `force` then puts back the values
//!   it had changed (created records deleted) and leaves the rest;
//! - restores users' password hashes and `active` flags;
//! - is refused a second time.

use std::cell::Cell;
use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use roster_core::password::PasswordPolicy;
use roster_import::{Input, OnExisting, Options};
use roster_store::{ContactWrite, Store, StoreError, UserWrite};

use crate::support::{Backend, Env};
use crate::{state, State};

/// Cases per backend: keeps the binary well under a minute in CI.
const CASES: u32 = 24;

// How the cases went (printed, so a run shows the property was exercised).
thread_local! {
    static CLEAN: Cell<u32> = const { Cell::new(0) };
    static LAST: Cell<u32> = const { Cell::new(0) };
    static FORCED: Cell<u32> = const { Cell::new(0) };
    static USERS_UNDONE: Cell<u32> = const { Cell::new(0) };
}

fn bump(c: &'static std::thread::LocalKey<Cell<u32>>) {
    c.with(|c| c.set(c.get() + 1));
}

const CONTACTS: usize = 6;
const USERS: usize = 4;

#[derive(Debug, Clone)]
struct ContactRow {
    email: usize,
    first: &'static str,
    last: &'static str,
    company: &'static str,
    labels: &'static str,
    tier: &'static str,
}

#[derive(Debug, Clone)]
struct UserRow {
    email: usize,
    first: &'static str,
    password: &'static str,
    active: &'static str,
}

#[derive(Debug, Clone)]
enum Op {
    Contacts {
        rows: Vec<ContactRow>,
        replace_labels: bool,
        skip: bool,
        keep: Option<&'static str>,
        batch: usize,
    },
    Users {
        rows: Vec<UserRow>,
        skip: bool,
        keep_active: bool,
        batch: usize,
    },
    EditContact {
        email: usize,
        first: &'static str,
    },
    EditUser {
        email: usize,
    },
}

fn contact_row() -> impl Strategy<Value = ContactRow> {
    (
        0..CONTACTS,
        prop::sample::select(vec!["", "Ann", "Bob"]),
        prop::sample::select(vec!["", "Lee", "Kim"]),
        prop::sample::select(vec!["", "1", "2"]),
        prop::sample::select(vec!["", "A", "B", "A:C", "B:C"]),
        prop::sample::select(vec!["", "gold", "silver"]),
    )
        .prop_map(|(email, first, last, company, labels, tier)| ContactRow {
            email,
            first,
            last,
            company,
            labels,
            tier,
        })
}

fn user_row() -> impl Strategy<Value = UserRow> {
    (
        0..USERS,
        prop::sample::select(vec!["", "Uma", "Ted"]),
        prop::sample::select(vec!["", "secret-one", "secret-two"]),
        prop::sample::select(vec!["", "true", "false"]),
    )
        .prop_map(|(email, first, password, active)| UserRow {
            email,
            first,
            password,
            active,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (
            prop::collection::vec(contact_row(), 1..6),
            any::<bool>(),
            prop::bool::weighted(0.25),
            prop::sample::select(vec![None, None, Some("first_name"), Some("labels")]),
            1..4usize,
        )
            .prop_map(|(rows, replace_labels, skip, keep, batch)| Op::Contacts {
                rows,
                // --keep labels and --replace-labels contradict each other.
                replace_labels: replace_labels && keep != Some("labels"),
                skip,
                keep,
                batch,
            }),
        2 => (
            prop::collection::vec(user_row(), 1..5),
            prop::bool::weighted(0.25),
            prop::bool::weighted(0.25),
            1..3usize,
        )
            .prop_map(|(rows, skip, keep_active, batch)| Op::Users {
                rows,
                skip,
                keep_active,
                batch,
            }),
        1 => (0..CONTACTS, prop::sample::select(vec!["Edited", "Other"]))
            .prop_map(|(email, first)| Op::EditContact { email, first }),
        1 => (0..USERS).prop_map(|email| Op::EditUser { email }),
    ]
}

fn contact_email(i: usize) -> String {
    format!("c{i}@example.com")
}

fn user_email(i: usize) -> String {
    format!("u{i}@example.com")
}

/// A record: (is a user, email).
type Key = (bool, String);

/// The records whose data differ between two states (created ones too).
fn touched(a: &State, b: &State) -> BTreeSet<Key> {
    let mut out = BTreeSet::new();
    for (e, c) in &b.contacts {
        if a.contacts.get(e) != Some(c) {
            out.insert((false, e.clone()));
        }
    }
    for (e, u) in &b.users {
        if a.users.get(e) != Some(u) {
            out.insert((true, e.clone()));
        }
    }
    out
}

/// The rows whose email no earlier row had. (A record written by several
/// batches of one import is the deterministic tests' subject: a model of
/// what each batch wrote would be the import itself.)
fn once_per_email<T>(rows: &[T], email: impl Fn(&T) -> usize) -> Vec<&T> {
    let mut seen = BTreeSet::new();
    rows.iter().filter(|r| seen.insert(email(r))).collect()
}

/// One import done in the sequence.
struct Done {
    id: i64,
    before: State,
    after: State,
    /// Records it created or changed.
    touched: BTreeSet<Key>,
    /// Records something after it touched.
    later: BTreeSet<Key>,
}

fn run_op(env: &Env, store: &mut dyn Store, n: usize, op: &Op) -> Option<i64> {
    match op {
        Op::Contacts {
            rows,
            replace_labels,
            skip,
            keep,
            batch,
        } => {
            let mut csv = String::from("email,first_name,last_name,company_id,labels,tier\n");
            for r in once_per_email(rows, |r| r.email) {
                csv.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    contact_email(r.email),
                    r.first,
                    r.last,
                    r.company,
                    r.labels,
                    r.tier
                ));
            }
            let path = env.write(&format!("op{n}.csv"), csv);
            let mut opts = Options {
                replace_labels: *replace_labels,
                on_existing: if *skip {
                    OnExisting::Skip
                } else {
                    OnExisting::Update
                },
                keep: keep.iter().map(|k| k.to_string()).collect(),
                batch_size: Some(*batch),
                ..Options::default()
            };
            let report = roster_import::import_contacts(store, Input::Path(path), &mut opts)
                .expect("the contacts import runs");
            report.id
        }
        Op::Users {
            rows,
            skip,
            keep_active,
            batch,
        } => {
            let mut csv = String::from("email,first_name,password,active\n");
            for r in once_per_email(rows, |r| r.email) {
                csv.push_str(&format!(
                    "{},{},{},{}\n",
                    user_email(r.email),
                    r.first,
                    r.password,
                    r.active
                ));
            }
            let path = env.write(&format!("op{n}.csv"), csv);
            let mut opts = Options {
                on_existing: if *skip {
                    OnExisting::Skip
                } else {
                    OnExisting::Update
                },
                keep: if *keep_active {
                    vec!["active".to_string()]
                } else {
                    Vec::new()
                },
                batch_size: Some(*batch),
                ..Options::default()
            };
            let report = roster_import::import_users(
                store,
                Input::Path(path),
                &mut opts,
                PasswordPolicy::TEST,
            )
            .expect("the users import runs");
            report.id
        }
        Op::EditContact { email, first } => {
            // What PATCH /api/contacts/{id} writes.
            let email = contact_email(*email);
            if let Some(before) = store.load_contacts(&[&email]).expect("load").pop() {
                let mut after = before.clone();
                after.first_name = Some(first.to_string());
                store
                    .write_contacts(
                        None,
                        &[ContactWrite {
                            before: Some(before),
                            after,
                        }],
                    )
                    .expect("edit a contact");
            }
            None
        }
        Op::EditUser { email } => {
            // What PATCH /api/users/{id} writes.
            let email = user_email(*email);
            if let Some(before) = store.load_users(&[&email]).expect("load").pop() {
                let mut after = before.clone();
                after.active = !after.active;
                store
                    .write_users(
                        None,
                        &[UserWrite {
                            before: Some(before),
                            after,
                        }],
                    )
                    .expect("edit a user");
            }
            None
        }
    }
}

/// `now` with `target`'s records put back: created ones gone, changed ones
/// with the attributes it changed as they were before it (all of them when
/// nothing touched the record since).
fn put_back(now: &State, target: &Done) -> State {
    let mut out = now.clone();
    for (is_user, email) in &target.touched {
        if *is_user {
            match (
                target.before.users.get(email),
                target.after.users.get(email),
            ) {
                (None, _) => {
                    out.users.remove(email);
                }
                (Some(b), Some(a)) => {
                    if let Some(cur) = out.users.get_mut(email) {
                        if b.first_name != a.first_name {
                            cur.first_name = b.first_name.clone();
                        }
                        if b.last_name != a.last_name {
                            cur.last_name = b.last_name.clone();
                        }
                        if b.password_hash != a.password_hash {
                            cur.password_hash = b.password_hash.clone();
                        }
                        if b.active != a.active {
                            cur.active = b.active;
                        }
                        if b.role != a.role {
                            cur.role = b.role.clone();
                        }
                    }
                }
                (Some(_), None) => unreachable!("no import deletes"),
            }
        } else {
            match (
                target.before.contacts.get(email),
                target.after.contacts.get(email),
            ) {
                (None, _) => {
                    out.contacts.remove(email);
                }
                (Some(b), Some(a)) => {
                    if let Some(cur) = out.contacts.get_mut(email) {
                        if b.first_name != a.first_name {
                            cur.first_name = b.first_name.clone();
                        }
                        if b.last_name != a.last_name {
                            cur.last_name = b.last_name.clone();
                        }
                        if b.company_id != a.company_id {
                            cur.company_id = b.company_id;
                        }
                        if b.labels != a.labels {
                            cur.labels = b.labels.clone();
                        }
                        let fields: BTreeSet<i64> =
                            b.custom.keys().chain(a.custom.keys()).copied().collect();
                        for f in fields {
                            if b.custom.get(&f) != a.custom.get(&f) {
                                match b.custom.get(&f) {
                                    Some(v) => {
                                        cur.custom.insert(f, v.clone());
                                    }
                                    None => {
                                        cur.custom.remove(&f);
                                    }
                                }
                            }
                        }
                    }
                }
                (Some(_), None) => unreachable!("no import deletes"),
            }
        }
    }
    out
}

fn check(backend: Backend, ops: &[Op], pick: usize) -> Result<(), TestCaseError> {
    let Some(env) = Env::new(backend, "undo_property") else {
        return Ok(());
    };
    let mut store = roster_store::open(&env.url).expect("open the database");
    let store = store.as_mut();
    for name in ["A", "B", "C"] {
        store.add_label(name).expect("label");
    }
    store.add_company("One").expect("company");
    store.add_company("Two").expect("company");
    store
        .add_field(&roster_store::NewField {
            variable_name: "tier".into(),
            name: "Tier".into(),
            field_type: roster_store::FieldType::Text,
            options: Vec::new(),
        })
        .expect("field");

    let mut done: Vec<Done> = Vec::new();
    let mut last_change_was_import = false;
    for (n, op) in ops.iter().enumerate() {
        let before = state(store);
        let id = run_op(&env, store, n, op);
        let after = state(store);
        let mut changed = touched(&before, &after);
        // An edit touches its record even when it writes the same values.
        match op {
            Op::EditContact { email, .. }
                if before.contacts.contains_key(&contact_email(*email)) =>
            {
                changed.insert((false, contact_email(*email)));
            }
            Op::EditUser { email } if before.users.contains_key(&user_email(*email)) => {
                changed.insert((true, user_email(*email)));
            }
            _ => {}
        }
        for d in &mut done {
            d.later.extend(changed.iter().cloned());
        }
        if !changed.is_empty() {
            last_change_was_import = id.is_some();
        }
        if let Some(id) = id {
            done.push(Done {
                id,
                before,
                after,
                touched: changed,
                later: BTreeSet::new(),
            });
        }
    }
    if done.is_empty() {
        return Ok(());
    }
    let t = pick % done.len();
    let target = &done[t];
    let id = target.id;
    let now = state(store);
    let conflicts: BTreeSet<String> = target
        .touched
        .intersection(&target.later)
        .map(|(_, e)| e.clone())
        .collect();

    // The dry run predicts and changes nothing.
    let plan = store.undo_plan(id).expect("plan");
    prop_assert_eq!(&state(store), &now, "a dry run changed something");
    prop_assert!(plan.refused.is_none(), "{:?}", plan.refused);
    let created = target
        .touched
        .iter()
        .filter(|(u, e)| {
            if *u {
                !target.before.users.contains_key(e)
            } else {
                !target.before.contacts.contains_key(e)
            }
        })
        .count() as u64;
    prop_assert_eq!(plan.delete, created);
    prop_assert_eq!(plan.restore, target.touched.len() as u64 - created);
    let named: BTreeSet<String> = plan.conflicts.iter().map(|c| c.email.clone()).collect();
    prop_assert_eq!(&named, &conflicts, "the conflicts named");
    prop_assert_eq!(plan.conflict_count, conflicts.len() as u64);

    if conflicts.is_empty() {
        let out = store.undo_import(id, false, "test").expect("undo");
        prop_assert_eq!((out.deleted, out.restored), (plan.delete, plan.restore));
        let after = state(store);
        prop_assert_eq!(&after, &put_back(&now, target));
        bump(&CLEAN);
        if t == done.len() - 1 && last_change_was_import {
            // The last change of all: exactly the state from before it.
            prop_assert_eq!(&after, &target.before);
            bump(&LAST);
        }
    } else {
        match store.undo_import(id, false, "test") {
            Err(StoreError::Conflict(m)) => {
                for e in &conflicts {
                    prop_assert!(m.contains(e.as_str()) || conflicts.len() > 20, "{m}");
                }
            }
            other => prop_assert!(false, "undo without force: {other:?}"),
        }
        prop_assert_eq!(&state(store), &now, "a refused undo changed something");
        let out = store.undo_import(id, true, "test").expect("forced undo");
        prop_assert_eq!((out.deleted, out.restored), (plan.delete, plan.restore));
        prop_assert_eq!(out.overwritten_count, conflicts.len() as u64);
        prop_assert_eq!(&state(store), &put_back(&now, target));
        bump(&FORCED);
    }
    if target.touched.iter().any(|(u, _)| *u) {
        bump(&USERS_UNDONE);
    }
    prop_assert_eq!(store.import(id).expect("record").status, "undone");
    match store.undo_import(id, true, "test") {
        Err(StoreError::Stale(m)) => prop_assert!(m.contains("already undone"), "{m}"),
        other => prop_assert!(false, "a second undo: {other:?}"),
    }
    // Undoing the others, newest first, forced where needed, never fails.
    let others: Vec<i64> = done
        .iter()
        .map(|d| d.id)
        .filter(|i| *i != id)
        .rev()
        .collect();
    for other in others {
        store
            .undo_import(other, true, "test")
            .expect("undo the others");
    }
    Ok(())
}

fn property(backend: Backend) {
    if backend == Backend::Postgres && crate::support::postgres_url().is_none() {
        return;
    }
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (prop::collection::vec(op(), 1..9), any::<usize>());
    runner
        .run(&strategy, |(ops, pick)| check(backend, &ops, pick))
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{backend:?}: {CASES} cases; undone without conflict {} (of which the last change {}), refused then forced {}, with users {}",
        CLEAN.with(Cell::get),
        LAST.with(Cell::get),
        FORCED.with(Cell::get),
        USERS_UNDONE.with(Cell::get)
    );
}

#[test]
fn random_imports_and_edits_undo_as_predicted_sqlite() {
    property(Backend::Sqlite);
}

#[test]
fn random_imports_and_edits_undo_as_predicted_postgres() {
    property(Backend::Postgres);
}
