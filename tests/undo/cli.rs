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

/// Rows of import `id` left in a journal table, read from the database
/// itself: an undone import keeps none (a users journal holds old password
/// hashes).
fn journal_rows(env: &Env, table: &str, id: &str) -> i64 {
    let row = crate::support::sql_row(
        env,
        &format!("SELECT count(*) FROM {table} WHERE import_id = {id}"),
    );
    row[0]
        .as_deref()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

/// `roster ARGS` (with `--json`), which must succeed, as JSON.
fn json_of(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(env.ok(args).trim()).expect("JSON")
}

/// `roster imports undo ID --dry-run --json`: the run and its plan.
fn dry_run(env: &Env, id: &str) -> (crate::support::Run, Value) {
    let dry = env.run(&["imports", "undo", id, "--dry-run", "--json"]);
    let plan = serde_json::from_str(dry.stdout.trim()).expect("JSON");
    (dry, plan)
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
    assert!(journal_rows(env, "import_user_changes", &id) > 0);
    let out = env.ok(&["imports", "undo", &id]);
    assert!(
        out.contains("deleted 1 user it created, restored 2"),
        "{out}"
    );
    assert_eq!(
        journal_rows(env, "import_user_changes", &id),
        0,
        "the journal, with its old password hashes, goes with the undo"
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
        r.stderr
            .contains(&format!("import {id} cannot be undone safely")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("cannot be undone safely: 1 contact was changed after it: a@example.com (updated by this import, changed since by import 3"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    let (dry, plan) = dry_run(env, &id);
    assert_eq!(dry.code, 1, "a dry run that would be refused exits 1");
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
    let v: Value = json_of(env, &["imports", "show", &id, "--json"]);
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
    let list: Value = json_of(env, &["imports", "list", "--json"]);
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
    let v: Value = json_of(env, &["imports", "show", &id, "--json"]);
    assert_eq!(v["report"]["created"], 1, "the record and counts stay");
    assert!(v["journal_pruned_at"].is_string());
    assert_eq!(v["undo_plan"]["possible"], false, "{v}");
    assert_eq!(
        v["undo_plan"]["would_delete"], 0,
        "a refused undo would delete nothing: {v}"
    );
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
    // Batches of 8: killed (abort, no clean-up) after 2 committed batches,
    // which deleted 16 of the 20 contacts it created.
    let status = env
        .cmd()
        .args(["imports", "undo", &id])
        .env("ROSTER_TEST_UNDO_BATCH", "8")
        .env("ROSTER_TEST_UNDO_ABORT_AFTER", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run roster");
    assert_eq!(status.code(), None, "the undo was killed");
    assert_ne!(env.export("contacts"), before, "half-way");
    let list = env.ok(&["imports", "list"]);
    assert!(list.contains("incomplete"), "{list}");
    let dry = env.ok(&["imports", "undo", &id, "--dry-run"]);
    assert!(
        dry.contains("would: delete 4 contacts it created, restore 20 it changed (an undo stopped half-way; this finishes it)"),
        "{dry}"
    );
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

behaviour!(
    one_user_changed_by_several_batches_is_put_back_whole,
    |env| {
        import_id(
            env,
            "users",
            "u1.csv",
            "email,first_name,password,active\nann@example.com,Ann,first-pass,true\n",
            &[],
        );
        let before = env.export("users");
        // One row per batch: Ann's name, password and active flag are each
        // changed by a later batch than the one before; Cy is created by one
        // batch and renamed by a later one.
        let id = import_id(
            env,
            "users",
            "u2.csv",
            "email,first_name,password,active\n\
         ann@example.com,Annie,,\n\
         cy@example.com,Cy,cy-pass-1,\n\
         ann@example.com,,second-pass,\n\
         ann@example.com,,,false\n\
         cy@example.com,Cyrus,,\n",
            &["--batch-size", "1"],
        );
        assert!(!verify(env, "ann@example.com", "first-pass"));
        let dry = env.run(&["imports", "undo", &id, "--dry-run"]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        assert!(
            dry.stdout
                .contains("would: delete 1 user it created, restore 1 it changed"),
            "{}",
            dry.stdout
        );
        let out = env.ok(&["imports", "undo", &id]);
        assert!(
            out.contains("deleted 1 user it created, restored 1"),
            "{out}"
        );
        assert_eq!(
            env.export("users"),
            before,
            "Ann's name and active flag are back, Cy is gone"
        );
        assert!(
            verify(env, "ann@example.com", "first-pass"),
            "the password from before the import signs in again"
        );
        assert!(!verify(env, "ann@example.com", "second-pass"));
    }
);

behaviour!(
    a_contact_created_then_changed_by_one_import_is_only_deleted,
    |env| {
        let before = env.export("contacts");
        let id = import_id(
            env,
            "contacts",
            "c.csv",
            "email,first_name,last_name\nc@example.com,Cy,\nc@example.com,,Lee\n",
            &["--batch-size", "1"],
        );
        assert!(env.export("contacts").contains("c@example.com,Cy,Lee,"));
        let dry = env.run(&["imports", "undo", &id, "--dry-run"]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        assert!(
            dry.stdout
                .contains("would: delete 1 contact it created, restore 0 it changed"),
            "{}",
            dry.stdout
        );
        let out: Value = json_of(env, &["imports", "undo", &id, "--json"]);
        assert_eq!(out["id"].to_string(), id, "{out}");
        assert_eq!(
            (&out["deleted"], &out["restored"]),
            (&1.into(), &0.into()),
            "{out}"
        );
        assert_eq!(env.export("contacts"), before);
    }
);

behaviour!(an_edit_between_two_batches_is_what_undo_puts_back, |env| {
    import_id(
        env,
        "contacts",
        "one.csv",
        "email,first_name,last_name\na@example.com,Bob,Kim\n",
        &[],
    );
    // The first batch renames Bob; paused after it committed, an edit
    // sets his last name; the second batch then changes the last name.
    let file = env.write(
        "two.csv",
        "email,first_name,last_name\na@example.com,Ann,\na@example.com,,Lee\n",
    );
    let (child, resume) = crate::support::paused_import(
        env,
        &file,
        "1",
        "commit:1",
        &[("ROSTER_TEST_COMMIT_ROWS", "1")],
    );
    // What PATCH /api/contacts/{id} writes, while the import waits.
    let mut store = roster_store::open(&env.url).expect("open the database");
    crate::support::edit_last_name(store.as_mut(), "a@example.com", "Edited");
    drop(store);
    std::fs::write(&resume, "").expect("resume the import");
    let report = crate::support::report_of(child);
    let id = report["id"].to_string();
    assert!(env.export("contacts").contains("a@example.com,Ann,Lee,"));
    env.ok(&["imports", "undo", &id]);
    // Each attribute goes back to what it was before the batch that first
    // changed it: the first name from before the import, the last name
    // from the edit.
    let export = env.export("contacts");
    assert!(export.contains("a@example.com,Bob,Edited,"), "{export}");
});

behaviour!(what_undo_would_overwrite_is_named_in_words, |env| {
    env.ok(&["companies", "add", "One"]);
    env.ok(&["companies", "add", "Two"]);
    env.ok(&["fields", "add", "tier", "--type", "text"]);
    env.ok(&["fields", "add", "seats", "--type", "number"]);
    import_id(
        env,
        "contacts",
        "c1.csv",
        "email,first_name,company_id,labels,tier\na@example.com,Ann,2,A,gold\n",
        &["--create-labels"],
    );
    let before = env.export("contacts");
    // One batch adds a label and changes the tier, a later one sets the
    // seats: the journal keeps both custom values from before the import.
    // It creates Bob too.
    let id = import_id(
        env,
        "contacts",
        "c2.csv",
        "email,labels,tier,seats\na@example.com,B,silver,\na@example.com,,,3\nb@example.com,,gold,\n",
        &["--create-labels", "--batch-size", "1"],
    );
    // A later import gives both a last name.
    import_id(
        env,
        "contacts",
        "c3.csv",
        "email,last_name\na@example.com,Later\nb@example.com,Later\n",
        &[],
    );
    let (dry, plan) = dry_run(env, &id);
    assert_eq!(dry.code, 1, "{}", dry.stderr);
    let undo = plan["conflicts"][0]["undo"].as_str().unwrap_or_default();
    for words in [
        "labels 'A:B' → 'A'",
        "tier 'silver' → 'gold'",
        "seats '3' → empty",
    ] {
        assert!(undo.contains(words), "{words}: {plan}");
    }
    let out = json_of(env, &["imports", "undo", &id, "--force", "--json"]);
    assert_eq!(out["overwritten_count"], 2, "{out}");
    let overwritten: Vec<(&str, &str)> = out["overwritten"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| {
            (
                o["email"].as_str().unwrap_or_default(),
                o["undo"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        overwritten.contains(&("b@example.com", "deleted it")),
        "{out}"
    );
    assert!(
        overwritten.iter().any(|(e, _)| *e == "a@example.com"),
        "{out}"
    );
    // All it changed is back (Bob deleted); Ann keeps the later last name.
    assert_eq!(
        env.export("contacts"),
        before.replace("a@example.com,Ann,,", "a@example.com,Ann,Later,")
    );
});

behaviour!(users_undo_names_what_it_puts_back_never_a_hash, |env| {
    import_id(
        env,
        "users",
        "u1.csv",
        "email,first_name,last_name,password,role\nann@example.com,Ann,Lee,first-pass,agent\n",
        &[],
    );
    let id = import_id(
        env,
        "users",
        "u2.csv",
        "email,last_name,password,role\nann@example.com,Kim,second-pass,admin\n",
        &[],
    );
    // A later import renames her.
    import_id(
        env,
        "users",
        "u3.csv",
        "email,first_name\nann@example.com,Annie\n",
        &[],
    );
    let (dry, plan) = dry_run(env, &id);
    assert_eq!(dry.code, 1, "{}", dry.stderr);
    let undo = plan["conflicts"][0]["undo"].as_str().unwrap_or_default();
    for words in [
        "password (the one from before the import)",
        "last_name 'Kim' → 'Lee'",
        "role 'admin' → 'agent'",
    ] {
        assert!(undo.contains(words), "{words}: {plan}");
    }
    assert!(!dry.stdout.contains("$argon2"), "{}", dry.stdout);
    env.ok(&["imports", "undo", &id, "--force"]);
    let export = env.export("users");
    assert!(export.contains("ann@example.com,Annie,Lee,"), "{export}");
    assert!(verify(env, "ann@example.com", "first-pass"));
});

behaviour!(
    conflict_lists_stop_at_a_thousand_and_count_them_all,
    |env| {
        let file = |name: &str, rows: std::ops::Range<usize>, prefix: &[&str], value: &str| {
            let mut csv = String::from("email,first_name\n");
            for p in prefix {
                for i in rows.clone() {
                    csv.push_str(&format!("{p}{i}@example.com,{value}\n"));
                }
            }
            env.write(name, csv)
        };
        // 1,001 contacts, then an import that changes them and creates 1,001
        // more, then one that touches all 2,002 of them.
        env.import("contacts", &file("one.csv", 0..1001, &["c"], "One"), &[]);
        let (code, report) = env.import(
            "contacts",
            &file("two.csv", 0..1001, &["c", "d"], "Two"),
            &[],
        );
        assert_eq!(code, 0, "{report}");
        let id = report["id"].to_string();
        env.import(
            "contacts",
            &file("three.csv", 0..1001, &["c", "d"], "Three"),
            &[],
        );
        let (_, plan) = dry_run(env, &id);
        assert_eq!(plan["conflict_count"], 2002);
        assert_eq!(plan["conflicts"].as_array().map(Vec::len), Some(1000));
        // Forced, in batches of 100 records.
        let out = env
            .cmd()
            .args(["imports", "undo", &id, "--force", "--json"])
            .env("ROSTER_TEST_UNDO_BATCH", "100")
            .output()
            .expect("run roster");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(out["overwritten_count"], 2002);
        assert_eq!(out["overwritten"].as_array().map(Vec::len), Some(1000));
        assert_eq!(
            (&out["deleted"], &out["restored"]),
            (&1001.into(), &1001.into())
        );
    }
);

behaviour!(a_user_an_undo_deletes_takes_its_tokens_along, |env| {
    let id = import_id(
        env,
        "users",
        "u1.csv",
        "email,first_name,password\nx@example.com,Xena,x-pass-123\n",
        &[],
    );
    env.ok(&[
        "tokens",
        "create",
        "--user",
        "x@example.com",
        "--name",
        "xena-script",
    ]);
    env.ok(&["imports", "undo", &id]);
    // The next user created may get the deleted user's id: it must not
    // inherit her token.
    import_id(
        env,
        "users",
        "u2.csv",
        "email,first_name,password\ny@example.com,Yann,y-pass-123\n",
        &[],
    );
    let list = env.ok(&["tokens", "list"]);
    assert!(!list.contains("xena-script"), "{list}");
});

behaviour!(imports_undone_newest_first_need_no_force, |env| {
    let one = import_id(
        env,
        "contacts",
        "c1.csv",
        "email,first_name\na@example.com,Ann\n",
        &[],
    );
    let two = import_id(
        env,
        "contacts",
        "c2.csv",
        "email,first_name\na@example.com,Anne\n",
        &[],
    );
    let users_one = import_id(
        env,
        "users",
        "u1.csv",
        "email,first_name,password\nu@example.com,Uma,u-pass-123\n",
        &[],
    );
    let users_two = import_id(
        env,
        "users",
        "u2.csv",
        "email,first_name\nu@example.com,Umar\n",
        &[],
    );
    // Undoing the second import gives the record back to the first, whose
    // undo then finds nothing changed since.
    for id in [&users_two, &users_one, &two, &one] {
        env.ok(&["imports", "undo", id]);
    }
    assert_eq!(env.export("contacts").lines().count(), 1);
    assert_eq!(env.export("users").lines().count(), 1);
});

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
