//! The import record's honesty: statuses, leases, counts, undo.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::behaviour;
use crate::support::Env;
use crate::{contacts, records, rows, sql};

/// Starts `roster import contacts FILE ARGS` in the background.
fn spawn_import(env: &Env, file: &std::path::Path, args: &[&str]) -> Child {
    env.cmd()
        .args([
            "import",
            "contacts",
            file.to_str().unwrap_or_default(),
            "--json",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start roster")
}

/// Waits until the running import has committed some rows; returns its id.
fn wait_for_commits(env: &Env, child: &mut Child) -> i64 {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the import finished ({status}) before the test could act on it; make the file bigger");
        }
        let running = records(env)
            .into_iter()
            .find(|r| r["status"] == "running" && r["progress"]["committed"].as_u64() > Some(0));
        if let Some(r) = running {
            return r["id"].as_i64().expect("an id");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no import committed anything within a minute");
}

fn finish(child: Child) -> (i32, serde_json::Value, String) {
    let out = child.wait_with_output().expect("wait for roster");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

behaviour!(undo_refuses_an_import_that_is_still_running, |env| {
    let file = rows(env, "big.csv", 300_000);
    let mut child = spawn_import(env, &file, &["--batch-size", "500"]);
    let id = wait_for_commits(env, &mut child);
    let r = env.run(&["imports", "undo", &id.to_string()]);
    let (code, report, stderr) = finish(child);
    assert_eq!(
        r.code, 2,
        "undo of a running import must be refused: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains(&format!("import {id} is still running")),
        "{}",
        r.stderr
    );
    assert_eq!(code, 0, "{report} {stderr}");
    assert_eq!(report["created"], 300_000);
    assert_eq!(contacts(env), 300_000, "the undo deleted nothing");
    let rec = &records(env)[0];
    assert_eq!(rec["status"], "succeeded");
    // Once it is over, undo works.
    env.ok(&["imports", "undo", &id.to_string()]);
    assert_eq!(contacts(env), 0);
});

behaviour!(
    an_import_never_overwrites_a_status_set_while_it_ran,
    |env| {
        let file = rows(env, "big.csv", 300_000);
        let mut child = spawn_import(env, &file, &["--batch-size", "500"]);
        let id = wait_for_commits(env, &mut child);
        // Another process (a job runner's cancel, say) ends the record.
        sql(
            env,
            &format!("UPDATE imports SET status = 'cancelled' WHERE id = {id}"),
        );
        let (code, report, stderr) = finish(child);
        assert_eq!(code, 2, "{report} {stderr}");
        assert!(
            report["failure"]
                .as_str()
                .is_some_and(|f| f.contains("'cancelled'")),
            "{report}"
        );
        let rec = &records(env)[0];
        assert_eq!(
            rec["status"], "cancelled",
            "the import kept the status set meanwhile"
        );
        // It stopped at the next commit: what it says it committed is what is there.
        assert_eq!(
            report["committed"].as_u64(),
            Some(contacts(env) as u64),
            "{report}"
        );
        if env.backend == crate::support::Backend::Postgres {
            // (On SQLite the other writer may only get the file's lock once the
            // import has committed everything; then only its status is kept.)
            assert!(contacts(env) < 300_000, "it stopped committing");
        }
    }
);

behaviour!(
    a_killed_import_is_listed_as_interrupted_with_what_it_committed,
    |env| {
        // Killed right after its second committed batch.
        let file = rows(env, "big.csv", 5_000);
        let mut child = env
            .cmd()
            .args(["import", "contacts", file.to_str().unwrap_or_default()])
            .args(["--json", "--batch-size", "500"])
            .env("ROSTER_TEST_COMMIT_ROWS", "500")
            .env("ROSTER_TEST_PAUSE", "commit:2")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roster");
        crate::support::wait_for_pause(&mut child, "commit 2");
        let id = records(env)
            .into_iter()
            .find(|r| r["status"] == "running")
            .and_then(|r| r["id"].as_i64())
            .expect("the running import");
        child.kill().expect("kill the import");
        let _ = child.wait();
        assert_eq!(contacts(env), 1000, "two batches of 500");
        let rec = records(env)
            .into_iter()
            .find(|r| r["id"] == id)
            .expect("the record");
        assert_eq!(rec["status"], "interrupted", "{rec}");
        assert_eq!(
            rec["report"]["committed"].as_u64(),
            Some(contacts(env) as u64),
            "the record counts exactly what was committed: {rec}"
        );
        assert_eq!(rec["report"]["created"], rec["report"]["committed"]);
        let text = env.ok(&["imports", "list"]);
        assert!(text.contains("\tinterrupted\t"), "{text}");
        // An interrupted import can be undone.
        env.ok(&["imports", "undo", &id.to_string()]);
        assert_eq!(contacts(env), 0);
    }
);

behaviour!(
    a_killed_import_records_each_count_of_what_it_committed,
    |env| {
        // 400 contacts exist; each batch of the file updates, leaves
        // unchanged, rejects and creates a quarter of its rows.
        let mut seed = String::from("email,first_name\n");
        let mut body = String::from("email,first_name\n");
        for i in 0..400 {
            seed.push_str(&format!("c{i}@example.com,Seed\n"));
            body.push_str(&match i % 4 {
                0 => format!("c{i}@example.com,Changed\n"),
                1 => format!("c{i}@example.com,Seed\n"),
                2 => format!("bad{i},X\n"),
                _ => format!("n{i}@example.com,New\n"),
            });
        }
        let (code, _) = env.import("contacts", &env.write("seed.csv", seed), &[]);
        assert_eq!(code, 0);
        let file = env.write("mixed.csv", body);
        let mut child = env
            .cmd()
            .args(["import", "contacts", file.to_str().unwrap_or_default()])
            .args(["--batch-size", "40"])
            .env("ROSTER_TEST_COMMIT_ROWS", "40")
            .env("ROSTER_TEST_PAUSE", "commit:3")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roster");
        crate::support::wait_for_pause(&mut child, "commit 3");
        child.kill().expect("kill the import");
        let _ = child.wait();
        let rec = records(env)
            .into_iter()
            .find(|r| r["status"] == "interrupted")
            .expect("the killed import's record");
        for (count, n) in [
            ("committed", 120),
            ("rows", 120),
            ("created", 30),
            ("updated", 30),
            ("unchanged", 30),
            ("rejected", 30),
        ] {
            assert_eq!(rec["report"][count], n, "{count}: {rec}");
        }
        assert_eq!(contacts(env), 430, "the 30 created are there");
    }
);

behaviour!(
    a_full_disk_under_outcomes_ends_the_record_failed_with_what_was_committed,
    |env| {
        let file = rows(env, "rows.csv", 50_000);
        let (code, report) = env.import(
            "contacts",
            &file,
            &["--outcomes", "/dev/full", "--batch-size", "500"],
        );
        assert_eq!(code, 2, "{report}");
        assert!(
            report["failure"]
                .as_str()
                .is_some_and(|f| f.contains("No space left on device") && f.contains("/dev/full")),
            "{report}"
        );
        let rec = &records(env)[0];
        assert_eq!(rec["status"], "failed", "{rec}");
        let n = contacts(env) as u64;
        assert_eq!(report["committed"].as_u64(), Some(n), "{report}");
        assert_eq!(rec["report"]["committed"].as_u64(), Some(n), "{rec}");
    }
);

behaviour!(
    a_failed_decode_on_standard_input_ends_the_record_failed,
    |env| {
        // Past the 1 MiB that decides the encoding, a byte that is not UTF-8.
        let mut body = Vec::from(&b"email,first_name\n"[..]);
        let mut i = 0;
        while body.len() < 3 << 20 {
            body.extend_from_slice(format!("user{i}@example.com,Name{i}\n").as_bytes());
            i += 1;
        }
        body.extend_from_slice(b"bad@example.com,Ren\xe9\n");
        let r = env.run_with_stdin(&["import", "contacts", "-", "--json"], &body);
        assert_eq!(r.code, 2, "{}", r.stderr);
        let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("a report");
        let rec = &records(env)[0];
        assert_eq!(rec["status"], "failed", "{rec}");
        assert_eq!(
            report["created"].as_u64(),
            Some(contacts(env) as u64),
            "{report}"
        );
        assert_eq!(rec["report"]["created"], report["created"]);
    }
);

behaviour!(a_failed_import_reports_only_committed_rows, |env| {
    // 2,000 good rows, then a failure: what the report and the record count
    // as created is what the database holds, never the rows rolled back.
    let file = rows(env, "rows.csv", 20_000);
    let (code, report) = env.import(
        "contacts",
        &file,
        &["--outcomes", "/dev/full", "--batch-size", "100"],
    );
    assert_eq!(code, 2);
    let n = contacts(env) as u64;
    assert_eq!(report["created"].as_u64(), Some(n), "{report}");
    assert_eq!(report["rows"].as_u64(), Some(n), "{report}");
    let text = env.ok(&["imports", "list"]);
    assert!(
        text.contains("\tfailed\t") && text.contains(&format!("created {n} ")),
        "{text}"
    );
});

behaviour!(undoing_import_two_then_import_one_restores_both, |env| {
    env.import(
        "contacts",
        &env.write("a.csv", "email,first_name\nann@example.com,Ann\n"),
        &[],
    );
    env.import(
        "contacts",
        &env.write(
            "b.csv",
            "email,first_name\nann@example.com,Annie\nbob@example.com,Bob\n",
        ),
        &[],
    );
    env.ok(&["imports", "undo", "2"]);
    assert_eq!(
        env.export("contacts"),
        "email,first_name,last_name,company_id,labels,labels_id\nann@example.com,Ann,,,,\n"
    );
    // Import 1 is again the last to have changed ann: no --force needed.
    let r = env.run(&["imports", "undo", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(contacts(env), 0);
});
