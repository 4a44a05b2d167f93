//! Both backends side by side (issue: PostgreSQL with the same behaviour):
//! byte-identical exports, and concurrent writers on PostgreSQL.

use std::path::PathBuf;

use roster_store::{Contact, ContactWrite, Store};

use crate::behaviour;
use crate::contacts::{fixture, setup};
use crate::support::{paused_import, postgres_url, report_of, Backend, Env};

#[test]
fn the_same_files_export_byte_identical_on_both_backends() {
    let Some(pg) = Env::new(Backend::Postgres, "identical") else {
        return;
    };
    let lite = Env::new(Backend::Sqlite, "identical").expect("sqlite");
    let mut exports = Vec::new();
    let mut reports = Vec::new();
    for env in [&lite, &pg] {
        setup(env);
        // Emails whose byte order differs from most collations' order.
        let order = env.write(
            "order.csv",
            "email,first_name,labels\nzed@example.com,Z,Trial\nÉmile@example.com,É,Demo:Marketing\na_b@example.com,,\nab@example.com,,\na-b@example.com,,\nA.B@example.com,,\nä@example.com,,\n",
        );
        let mut files: Vec<PathBuf> = [
            "basic.csv",
            "quoted_newlines.csv",
            "windows1252.csv",
            "utf16le.csv",
            "semicolon.csv",
            "unknown_label.csv",
            "bad_values.csv",
            "repeated_emails.csv",
            "bad_email.csv",
            "blank_lines.csv",
        ]
        .iter()
        .map(|f| fixture(f))
        .collect();
        files.push(order);
        let mut these = Vec::new();
        for f in &files {
            let (code, mut report) =
                env.import("contacts", f, &["--create-labels", "--batch-size", "3"]);
            report.as_object_mut().map(|o| o.remove("id"));
            these.push((code, report));
        }
        let users = env.write("u.csv", "email,first_name,password,active\nb@example.com,B,secret1,true\na@example.com,A,secret2,false\n");
        env.import("users", &users, &[]);
        reports.push(these);
        exports.push((env.export("contacts"), env.export("users")));
    }
    assert_eq!(reports[0], reports[1], "the same reports on both backends");
    assert_eq!(
        exports[0].0, exports[1].0,
        "byte-identical contacts exports"
    );
    assert_eq!(exports[0].1, exports[1].1, "byte-identical users exports");
    let emails: Vec<String> = csv::Reader::from_reader(exports[0].0.as_bytes())
        .records()
        .filter_map(Result::ok)
        .map(|r| r[0].to_string())
        .collect();
    let mut sorted = emails.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(emails, sorted, "sorted by email in UTF-8 byte order");
}

fn pg_store(env: &Env) -> Box<dyn Store> {
    roster_store::open(&env.url).expect("open PostgreSQL")
}

#[test]
fn two_imports_at_once_lose_nothing_and_never_deadlock() {
    let Some(env) = Env::new(Backend::Postgres, "concurrent") else {
        return;
    };
    setup(&env);
    // Two files over the same 200 new emails in opposite orders, each
    // setting a different column. The first loads its first batch (none of
    // them exists yet), the second imports everything, then the first
    // writes: its new contacts now exist, a conflict it must retry.
    let n = 200;
    let mut a = String::from("email,first_name\n");
    let mut b = String::from("email,last_name\n");
    for i in 0..n {
        a.push_str(&format!("user{i}@example.com,First{i}\n"));
        b.push_str(&format!(
            "user{}@example.com,Last{}\n",
            n - 1 - i,
            n - 1 - i
        ));
    }
    let fa = env.write("a.csv", a);
    let fb = env.write("b.csv", b);
    let (first, resume) = paused_import(&env, &fa, "50", "load:1", &[]);
    let (code, second) = env.import("contacts", &fb, &["--batch-size", "50"]);
    assert_eq!(code, 0, "{second}");
    assert_eq!(second["created"], n, "{second}");
    std::fs::write(&resume, "").expect("resume");
    let first = report_of(first);
    assert!(
        first["retries"].as_u64().unwrap_or(0) >= 1,
        "the conflict was retried: {first}"
    );
    assert_eq!(
        first["updated"], n,
        "every row found the other's contact: {first}"
    );
    let export = env.export("contacts");
    assert_eq!(export.lines().count(), n + 1, "every email once");
    for i in 0..n {
        assert!(
            export.contains(&format!("user{i}@example.com,First{i},Last{i},")),
            "user{i} lost an update:\n{export}"
        );
    }
}

#[test]
fn a_contact_created_meanwhile_is_a_conflict_retried() {
    let Some(env) = Env::new(Backend::Postgres, "created_meanwhile") else {
        return;
    };
    setup(&env);
    let file = env.write(
        "new.csv",
        "email,first_name\nn0@example.com,Imported\nn1@example.com,Imported\nn2@example.com,Imported\n",
    );
    let (importer, resume) = paused_import(&env, &file, "10", "load:1", &[]);
    // Another writer creates one of the file's new contacts and commits.
    let mut other = pg_store(&env);
    other
        .write_contacts(
            None,
            &[ContactWrite {
                before: None,
                after: Contact {
                    email: "n1@example.com".into(),
                    last_name: Some("Other".into()),
                    ..Contact::default()
                },
            }],
        )
        .expect("the other writer");
    std::fs::write(&resume, "").expect("resume");
    let report = report_of(importer);
    assert_eq!(report["retries"], 1, "one conflict, one retry: {report}");
    assert_eq!(
        (&report["created"], &report["updated"]),
        (&serde_json::json!(2), &serde_json::json!(1)),
        "{report}"
    );
    let export = env.export("contacts");
    assert!(
        export.contains("n1@example.com,Imported,Other,"),
        "both writes kept:\n{export}"
    );
    assert_eq!(export.lines().count(), 4, "{export}");
}

#[test]
fn an_import_while_another_process_edits_loses_no_update() {
    let Some(env) = Env::new(Backend::Postgres, "editing") else {
        return;
    };
    setup(&env);
    env.import(
        "contacts",
        &env.write("seed.csv", "email,first_name\nc0@example.com,Seed\n"),
        &[],
    );
    let file = env.write("upd.csv", "email,first_name\nc0@example.com,Imported\n");
    // The import has loaded (and locked) c0 and not written it yet.
    let (importer, resume) = paused_import(&env, &file, "10", "load:1", &[]);
    // An editor loads c0 to set its last name: it must wait for the import.
    let app = format!("roster_editor_{}", std::process::id());
    let url = format!("{}&application_name={app}", env.url);
    let (ready, opened) = std::sync::mpsc::channel();
    let editor = std::thread::spawn(move || {
        let mut s = roster_store::open(&url).expect("open PostgreSQL");
        s.begin().expect("begin");
        ready.send(()).expect("the test waits");
        crate::support::edit_last_name(s.as_mut(), "c0@example.com", "Edited");
        s.commit().expect("commit");
    });
    // Once it has its connection (opening one may wait for another
    // process's migration), until it waits on the import's lock on c0 (or,
    // were there no lock, is done).
    opened.recv().expect("the editor opened the database");
    let mut probe =
        postgres::Client::connect(&postgres_url().expect("PostgreSQL"), postgres::NoTls)
            .expect("connect");
    let mut waited = false;
    for _ in 0..500 {
        let n: i64 = probe
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND application_name = $1 AND query LIKE '%FOR UPDATE%'",
                &[&app],
            )
            .and_then(|r| r.try_get(0))
            .expect("pg_stat_activity");
        if n > 0 {
            waited = true;
            break;
        }
        if editor.is_finished() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::fs::write(&resume, "").expect("resume");
    report_of(importer);
    editor.join().expect("the editor");
    let export = env.export("contacts");
    assert!(
        export.contains("c0@example.com,Imported,Edited,"),
        "c0 lost an update:\n{export}"
    );
    assert!(waited, "the editor waited for the import's lock on c0");
}

#[test]
fn postgres_is_required_in_ci() {
    if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
        assert!(postgres_url().is_some());
    }
}

behaviour!(
    the_search_index_follows_an_import_across_its_batches,
    |env| {
        // SQLite indexes an import's new contacts once a transaction, not
        // once a batch: a contact created in one batch and renamed in a
        // later one of the same transaction, the last batch's contacts and
        // those of a transaction cut short must all be found by their
        // current names only.
        for (n, args) in [(0, &["--batch-size", "100"][..]), (1, &[][..])] {
            let mut body = String::from("email,first_name,last_name\n");
            for i in 0..6000 {
                match i {
                    0 => body.push_str(&format!("ann{n}@example.com,Ann,Zqxold\n")),
                    4500 => body.push_str(&format!("ann{n}@example.com,Annabel,Zqxnew\n")),
                    _ => body.push_str(&format!("user{n}x{i}@example.com,Name,Surname\n")),
                }
            }
            body.push_str(&format!("ann{n}@example.com,Annabel,Zqxnewest\n"));
            let f = env.write(&format!("renamed{n}.csv"), body);
            let (code, report) = env.import("contacts", &f, args);
            assert_eq!(code, 0, "{report}");
            assert_eq!(report["created"], serde_json::json!(5999), "{report}");
        }
        let mut store = roster_store::open(&env.url).expect("open the database");
        let mut found = |q: &str| -> Vec<String> {
            let query = roster_store::ContactQuery {
                q: Some(q.to_string()),
                limit: 10,
                ..Default::default()
            };
            store
                .list_contacts(&query)
                .expect("search")
                .items
                .into_iter()
                .map(|c| c.contact.email)
                .collect()
        };
        assert_eq!(found("zqxnewest"), ["ann0@example.com", "ann1@example.com"]);
        assert!(found("zqxold").is_empty(), "{:?}", found("zqxold"));
        assert_eq!(found("user1x5999@"), ["user1x5999@example.com"]);
        assert_eq!(found("user0x1@"), ["user0x1@example.com"]);
        if env.backend == Backend::Sqlite {
            // FTS5 compares its index with the contacts table: fails on
            // an entry missing, left over or deleted with the wrong text.
            crate::support::sql_execute(
                env,
                "INSERT INTO contacts_search (contacts_search, rank) VALUES ('integrity-check', 1)",
            );
        }
    }
);
