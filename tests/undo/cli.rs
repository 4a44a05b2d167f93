//! `roster imports list|show|undo|prune` and `POST /api/imports/{id}/undo`
//! as a user drives them.

use std::process::Stdio;

use serde_json::Value;

use crate::behaviour;
use crate::harness::Client;
use crate::support::Env;

fn import_id(env: &Env, kind: &str, name: &str, csv: &str, args: &[&str]) -> String {
    let f = env.write(name, csv);
    let (code, report) = env.import(kind, &f, args);
    assert!(code <= 1, "import failed: {report}");
    report["id"].to_string()
}

fn verify(env: &Env, email: &str, password: &str) -> bool {
    env.run_with_stdin(&["users", "verify", email], password.as_bytes())
        .code
        == 0
}

behaviour!(users_undo_restores_hashes_and_active, |env| {
    import_id(
        env,
        "users",
        "u1.csv",
        "email,first_name,password,active\nann@example.com,Ann,first-pass,true\nbob@example.com,Bob,bob-pass,false\n",
        &[],
    );
    let before = env.export("users");
    assert!(verify(env, "ann@example.com", "first-pass"));
    // The second import changes Ann's password and deactivates her,
    // activates Bob, and creates Cy.
    let id = import_id(
        env,
        "users",
        "u2.csv",
        "email,first_name,password,active\nann@example.com,Annie,second-pass,false\nbob@example.com,,,true\ncy@example.com,Cy,cy-pass-1,true\n",
        &[],
    );
    assert!(!verify(env, "ann@example.com", "first-pass"));
    assert!(verify(env, "cy@example.com", "cy-pass-1"));
    let dry = env.run(&["imports", "undo", &id, "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("would: delete 1 user it created, restore 2 it changed"),
        "{}",
        dry.stdout
    );
    assert_eq!(env.export("users"), env.export("users"));
    let out = env.ok(&["imports", "undo", &id]);
    assert!(
        out.contains("deleted 1 user it created, restored 2"),
        "{out}"
    );
    assert_eq!(
        env.export("users"),
        before,
        "the users are as before the import"
    );
    assert!(
        verify(env, "ann@example.com", "first-pass"),
        "the old password signs in again"
    );
    assert!(!verify(env, "ann@example.com", "second-pass"));
    assert!(
        !verify(env, "bob@example.com", "bob-pass"),
        "Bob is inactive again"
    );
    assert!(!verify(env, "cy@example.com", "cy-pass-1"), "Cy is gone");
    // Never a password or a hash in what undo shows.
    let show = env.ok(&["imports", "show", &id, "--json"]);
    assert!(
        !show.contains("second-pass") && !show.contains("$argon2"),
        "{show}"
    );
});

behaviour!(a_later_edit_makes_undo_refuse_and_force_reports_it, |env| {
    import_id(
        env,
        "contacts",
        "c1.csv",
        "email,first_name,last_name\na@example.com,Ann,Lee\nb@example.com,Bob,Kim\n",
        &[],
    );
    let id = import_id(
        env,
        "contacts",
        "c2.csv",
        "email,first_name\na@example.com,Anne\nc@example.com,Cy\n",
        &[],
    );
    // A later users-free change: another import renames Anne.
    import_id(
        env,
        "contacts",
        "c3.csv",
        "email,last_name\na@example.com,Later\n",
        &[],
    );
    let r = env.run(&["imports", "undo", &id]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot be undone safely: 1 contact was changed after it: a@example.com (updated by this import, changed since by import 3"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    let dry = env.run(&["imports", "undo", &id, "--dry-run", "--json"]);
    assert_eq!(dry.code, 1, "a dry run that would be refused exits 1");
    let plan: Value = serde_json::from_str(dry.stdout.trim()).expect("JSON");
    assert_eq!(plan["needs_force"], true);
    assert_eq!(plan["conflicts"][0]["email"], "a@example.com");
    assert_eq!(
        plan["conflicts"][0]["undo"],
        "puts back first_name 'Anne' → 'Ann'"
    );
    let out = env.ok(&["imports", "undo", &id, "--force"]);
    assert!(out.contains("--force overwrote 1 later change"), "{out}");
    assert!(out.contains("a@example.com"), "{out}");
    // Ann has her first name back and keeps the later last name.
    let export = env.export("contacts");
    assert!(export.contains("a@example.com,Ann,Later,"), "{export}");
    assert!(!export.contains("c@example.com"), "{export}");
    let list = env.ok(&["imports", "list"]);
    assert!(list.contains(&format!("{id}\tcontacts\tundone")), "{list}");
    let again = env.run(&["imports", "undo", &id, "--force"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already undone"), "{}", again.stderr);
});

behaviour!(show_records_the_file_and_what_undo_would_do, |env| {
    let csv = "email,first_name\na@example.com,Ann\nb@example.com,Bob\n";
    let id = import_id(env, "contacts", "people.csv", csv, &[]);
    let v: Value =
        serde_json::from_str(env.ok(&["imports", "show", &id, "--json"]).trim()).expect("JSON");
    assert!(
        v["file_name"].as_str().unwrap().ends_with("people.csv"),
        "{v}"
    );
    assert_eq!(v["total_bytes"], csv.len());
    let sum = std::process::Command::new("sha256sum")
        .arg(env.path("people.csv"))
        .output()
        .expect("sha256sum");
    let sum = String::from_utf8_lossy(&sum.stdout);
    assert_eq!(v["checksum"].as_str(), sum.split_whitespace().next());
    assert_eq!(
        v["started_by"].as_str().map(|s| s.starts_with("cli:")),
        Some(true)
    );
    assert_eq!(v["report"]["created"], 2);
    assert_eq!(v["undo_plan"]["would_delete"], 2);
    let text = env.ok(&["imports", "show", &id]);
    assert!(
        text.contains("undo would: delete 2 contacts it created, restore 0 it changed"),
        "{text}"
    );
    // Standard input is recorded as '-', with its size and checksum.
    let r = env.run_with_stdin(
        &["import", "contacts", "-", "--json"],
        b"email\nc@example.com\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list: Value =
        serde_json::from_str(env.ok(&["imports", "list", "--json"]).trim()).expect("JSON");
    assert_eq!(list[1]["file_name"], "-");
    assert_eq!(list[1]["total_bytes"], 20);
});

behaviour!(prune_drops_journals_and_undo_then_says_so, |env| {
    let id = import_id(
        env,
        "contacts",
        "c.csv",
        "email,first_name\na@example.com,Ann\n",
        &[],
    );
    let before = env.export("contacts");
    let kept = env.ok(&["imports", "prune", "--older-than", "30d"]);
    assert!(kept.contains("no import"), "{kept}");
    let out = env.ok(&["imports", "prune", "--older-than", "0s"]);
    assert!(
        out.contains("dropped the undo journal of 1 import"),
        "{out}"
    );
    let r = env.run(&["imports", "undo", &id]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "one sentence: {}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "import {id} can no longer be undone: its journal was pruned on"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(env.export("contacts"), before, "nothing changed");
    let v: Value =
        serde_json::from_str(env.ok(&["imports", "show", &id, "--json"]).trim()).expect("JSON");
    assert_eq!(v["report"]["created"], 1, "the record and counts stay");
    assert!(v["journal_pruned_at"].is_string());
    let bad = env.run(&["imports", "prune", "--older-than", "3y"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown unit 'y'"), "{}", bad.stderr);
});

behaviour!(a_killed_undo_completes_when_run_again, |env| {
    let mut first = String::from("email,first_name,labels\n");
    for i in 0..40 {
        first.push_str(&format!("p{i:02}@example.com,First {i},A\n"));
    }
    import_id(env, "contacts", "one.csv", &first, &["--create-labels"]);
    let before = env.export("contacts");
    let mut second = String::from("email,first_name,labels\n");
    for i in 20..60 {
        second.push_str(&format!("p{i:02}@example.com,Second {i},B\n"));
    }
    let id = import_id(env, "contacts", "two.csv", &second, &["--create-labels"]);
    // Batches of 8: killed (abort, no clean-up) after 3 committed batches.
    let status = env
        .cmd()
        .args(["imports", "undo", &id])
        .env("ROSTER_TEST_UNDO_BATCH", "8")
        .env("ROSTER_TEST_UNDO_ABORT_AFTER", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run roster");
    assert_eq!(status.code(), None, "the undo was killed");
    assert_ne!(env.export("contacts"), before, "half-way");
    let list = env.ok(&["imports", "list"]);
    assert!(list.contains("incomplete"), "{list}");
    let out = env.ok(&["imports", "undo", &id]);
    assert!(
        out.contains("deleted 20 contacts it created, restored 20 it changed"),
        "{out}"
    );
    assert_eq!(env.export("contacts"), before);
    let r = env.run(&["imports", "undo", &id]);
    assert!(r.stderr.contains("already undone"), "{}", r.stderr);
});

behaviour!(
    one_contact_changed_by_several_batches_is_put_back_whole,
    |env| {
        import_id(
            env,
            "contacts",
            "one.csv",
            "email,first_name,last_name\na@example.com,Bob,Kim\n",
            &[],
        );
        let before = env.export("contacts");
        let id = import_id(
        env,
        "contacts",
        "two.csv",
        "email,first_name,last_name\na@example.com,Ann,\na@example.com,,Lee\na@example.com,Annie,\n",
        &["--batch-size", "1"],
    );
        assert!(env.export("contacts").contains("a@example.com,Annie,Lee"));
        env.ok(&["imports", "undo", &id]);
        assert_eq!(env.export("contacts"), before);
    }
);

/// The HTTP route answers as the CLI does: dry run, refusal with the list,
/// force, undo of a users import, already undone.
#[test]
fn http_undo_sqlite() {
    http_undo(crate::support::Backend::Sqlite);
}

#[test]
fn http_undo_postgres() {
    http_undo(crate::support::Backend::Postgres);
}

fn http_undo(backend: crate::support::Backend) {
    let Some(srv) = crate::harness::start(backend, "http_undo", &[]) else {
        return;
    };
    let env = &srv.env;
    let admin: Client = srv.admin();
    import_id(
        env,
        "contacts",
        "c1.csv",
        "email,first_name\na@example.com,Ann\n",
        &[],
    );
    let before = env.export("contacts");
    let id = import_id(
        env,
        "contacts",
        "c2.csv",
        "email,first_name\na@example.com,Anne\nb@example.com,Bob\n",
        &[],
    );
    let r = admin.post(
        &format!("/api/imports/{id}/undo?dry_run=true"),
        &Value::Null,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["would_delete"].as_u64(), v["would_restore"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(v["needs_force"], false);
    // An edit through the API makes it refuse, listing the contact.
    let a = admin.get("/api/contacts?q=a%40example.com").json();
    let cid = a["items"][0]["id"].as_i64().expect("the contact");
    let p = admin.patch(
        &format!("/api/contacts/{cid}"),
        &serde_json::json!({"last_name": "Edited"}),
        &[],
    );
    assert_eq!(p.status, 200, "{}", p.body);
    let r = admin.post(&format!("/api/imports/{id}/undo"), &Value::Null);
    assert_eq!(r.status, 409, "{}", r.body);
    let v = r.json();
    assert_eq!(v["code"], "conflict");
    assert_eq!(v["conflicts"][0]["email"], "a@example.com");
    assert!(
        v["message"].as_str().unwrap().contains("add force=true"),
        "{v}"
    );
    let r = admin.post(&format!("/api/imports/{id}/undo?force=true"), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["deleted"].as_u64(), v["restored"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(v["overwritten"][0]["email"], "a@example.com");
    assert!(env
        .export("contacts")
        .starts_with(&before[..before.find('\n').unwrap()]));
    assert!(env.export("contacts").contains("a@example.com,Ann,Edited"));
    let r = admin.post(&format!("/api/imports/{id}/undo"), &Value::Null);
    assert_eq!(r.status, 409);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("already undone"));
    let job = admin.get(&format!("/api/imports/{id}")).json();
    assert_eq!(job["status"], "undone");
    assert_eq!(job["undo"]["state"], "done", "{job}");
    assert_eq!(job["undo"]["forced"], true, "{job}");
    // A users import over HTTP.
    let users = import_id(
        env,
        "users",
        "u.csv",
        "email,first_name,password\nnew@example.com,New,new-pass-1\n",
        &[],
    );
    let r = admin.post(&format!("/api/imports/{users}/undo"), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["deleted"], 1);
    assert!(!verify(env, "new@example.com", "new-pass-1"));
}
