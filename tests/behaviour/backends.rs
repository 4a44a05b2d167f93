//! Both backends side by side (issue: PostgreSQL with the same behaviour):
//! byte-identical exports, and concurrent writers on PostgreSQL.

use std::path::PathBuf;

use roster_store::{Contact, ContactWrite, Store};

use crate::contacts::{fixture, setup};
use crate::support::{postgres_url, Backend, Env};

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
    // Two files over the same 2,000 emails in opposite orders, each setting
    // a different column, in small batches so they interleave.
    let n = 2000;
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
    let spawn = |f: &PathBuf| {
        env.cmd()
            .args([
                "import",
                "contacts",
                f.to_str().unwrap_or_default(),
                "--json",
                "--batch-size",
                "50",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (pa, pb) = (spawn(&fa), spawn(&fb));
    for p in [pa, pb] {
        let out = p.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
fn an_import_while_another_process_edits_loses_no_update() {
    let Some(env) = Env::new(Backend::Postgres, "editing") else {
        return;
    };
    setup(&env);
    let n = 300;
    let mut seed = String::from("email,first_name\n");
    for i in 0..n {
        seed.push_str(&format!("c{i}@example.com,Seed\n"));
    }
    env.import("contacts", &env.write("seed.csv", seed), &[]);
    let mut upd = String::from("email,first_name\n");
    for i in 0..n {
        upd.push_str(&format!("c{i}@example.com,Imported\n"));
    }
    let file = env.write("upd.csv", upd);
    let importer = env
        .cmd()
        .args([
            "import",
            "contacts",
            file.to_str().unwrap_or_default(),
            "--batch-size",
            "10",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Meanwhile an editor sets every contact's last name, one at a time.
    let mut editor = pg_store(&env);
    for i in 0..n {
        let email = format!("c{i}@example.com");
        editor.begin().expect("begin");
        let mut c: Contact = editor
            .load_contacts(&[email.as_str()])
            .expect("load")
            .pop()
            .expect("the contact");
        let before = c.clone();
        c.last_name = Some(format!("Edited{i}"));
        editor
            .write_contacts(
                None,
                &[ContactWrite {
                    before: Some(before),
                    after: c,
                }],
            )
            .expect("write");
        editor.commit().expect("commit");
    }
    assert!(importer.wait_with_output().expect("wait").status.success());
    let export = env.export("contacts");
    for i in 0..n {
        assert!(
            export.contains(&format!("c{i}@example.com,Imported,Edited{i},")),
            "c{i} lost an update:\n{export}"
        );
    }
}

#[test]
fn postgres_is_required_in_ci() {
    if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
        assert!(postgres_url().is_some());
    }
}
