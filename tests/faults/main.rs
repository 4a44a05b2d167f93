//! Fault injection, on SQLite and on PostgreSQL: an import that fails or
//! dies at a named point (`ROSTER_TEST_FAULT`, see `roster_store::fault`),
//! is SIGKILLed at a random moment, loses its PostgreSQL connection, or
//! finds the disk full. After each: the database opens and passes its
//! integrity check, holds whole batches only (exactly the rows the record
//! says were committed, each complete), the import record is not left
//! `running`, and importing the same file again ends in exactly the export
//! of an uninterrupted run.
//!
//! `ROSTER_FAULT_KILLS=N` runs N random kills per backend instead of the CI
//! default (3), on a file of `ROSTER_FAULT_ROWS` rows (default 6,000), and
//! prints how many were survived.

#[path = "../behaviour/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Backend, Env};

/// Rows of the test file and rows per batch: ten batches.
const ROWS: usize = 1000;
const BATCH: &str = "100";

/// Catalog every database starts with.
fn setup(env: &Env) {
    env.ok(&["labels", "add", "Trial"]);
    env.ok(&["fields", "add", "seats", "--type", "number"]);
}

/// Row `i` of a test file (0-based): every 17th has a bad email and is
/// rejected; each email appears once, so any committed prefix of the file
/// leaves each contact exactly as the whole import does.
fn row(i: usize) -> String {
    if i % 17 == 5 {
        format!("not-an-email-{i},Bad{i},Trial,{i}\n")
    } else {
        format!("user{i:06}@example.com,Name{i},Trial,{i}\n")
    }
}

fn file(env: &Env, name: &str, rows: usize) -> PathBuf {
    let mut body = String::from("email,first_name,labels,seats\n");
    for i in 0..rows {
        body.push_str(&row(i));
    }
    env.write(name, body)
}

/// The export of an uninterrupted import of `rows` rows on `backend`.
fn reference(backend: Backend, rows: usize) -> String {
    let env = Env::new(backend, "fault_reference").expect("a reference database");
    setup(&env);
    let f = file(&env, "all.csv", rows);
    let (code, report) = env.import("contacts", &f, &["--batch-size", BATCH]);
    assert_eq!(
        code, 1,
        "the reference import rejects the bad rows: {report}"
    );
    env.export("contacts")
}

fn records(env: &Env) -> Vec<serde_json::Value> {
    let out = env.ok(&["imports", "list", "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("imports list --json: {e}: {out}"))
}

/// SQLite's own integrity and foreign-key checks; on PostgreSQL, that
/// every table the export reads can be read in full.
fn integrity(env: &Env) {
    match env.backend {
        Backend::Sqlite => {
            let path = env.url.trim_start_matches("sqlite://");
            let c = rusqlite::Connection::open(path).expect("the database opens");
            let ok: String = c
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .expect("integrity_check runs");
            assert_eq!(ok, "ok", "PRAGMA integrity_check");
            let fk: i64 = c
                .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })
                .expect("foreign_key_check runs");
            assert_eq!(fk, 0, "foreign key violations");
        }
        Backend::Postgres => {
            env.ok(&["export", "users"]);
            env.ok(&["labels", "list", "--json"]);
        }
    }
}

/// The checks after a fault. `committed_hint` is what the import's own
/// report said was committed, when it printed one. Returns the rows the
/// database held.
fn check_after_fault(
    env: &Env,
    f: &Path,
    rows: usize,
    reference: &str,
    what: &str,
    exact: bool,
) -> usize {
    integrity(env);
    // The record is settled, never left running.
    let recs = records(env);
    let rec = recs
        .first()
        .unwrap_or_else(|| panic!("{what}: no import record"));
    assert!(
        rec["status"] != "running" && rec["status"] != "succeeded",
        "{what}: the record says {}: {rec}",
        rec["status"]
    );
    let committed = rec["report"]["committed"].as_u64().unwrap_or(0) as usize;
    // Whole batches only: the committed rows are a prefix of the file, each
    // row exactly as the uninterrupted import leaves it.
    let want: HashMap<&str, &str> = reference
        .lines()
        .skip(1)
        .map(|l| (l.split(',').next().unwrap_or(""), l))
        .collect();
    let export = env.export("contacts");
    let got: Vec<&str> = export.lines().skip(1).collect();
    for line in &got {
        let email = line.split(',').next().unwrap_or("");
        assert_eq!(
            Some(line),
            want.get(email),
            "{what}: a row that the uninterrupted import does not have"
        );
    }
    let valid_in = |k: usize| (0..k.min(rows)).filter(|i| i % 17 != 5).count();
    // The rows held are those of the first k rows of the file, k a whole
    // number of batches (or the whole file): never part of a batch.
    let batch: usize = BATCH.parse().unwrap_or(1);
    let k = (0..=rows.div_ceil(batch))
        .map(|b| (b * batch).min(rows))
        .find(|&k| valid_in(k) == got.len())
        .unwrap_or_else(|| {
            panic!(
                "{what}: {} rows are not whole batches of {batch}",
                got.len()
            )
        });
    for line in &got {
        let email = line.split(',').next().unwrap_or("");
        let i: usize = email
            .trim_start_matches("user")
            .split('@')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        assert!(i < k, "{what}: {email} is not in the first {k} rows");
    }
    if exact {
        // The record counts exactly what was committed.
        assert_eq!(
            k.min(rows),
            committed.min(rows),
            "{what}: the record says {committed} rows were committed, the database holds {k}: {rec}"
        );
    }
    // Importing the file again converges to the uninterrupted result.
    let (code, report) = env.import("contacts", f, &["--batch-size", BATCH]);
    assert_eq!(code, 1, "{what}: the second import: {report}");
    assert_eq!(
        env.export("contacts"),
        reference,
        "{what}: importing again does not end where an uninterrupted import does"
    );
    got.len()
}

/// The named points, and the visit to trip on each backend (SQLite commits
/// a whole small import in one transaction; PostgreSQL one per batch).
fn points(backend: Backend) -> Vec<(&'static str, u32)> {
    let commit = if backend == Backend::Sqlite { 1 } else { 4 };
    vec![
        ("store.before_write", 4),
        ("store.after_write", 4),
        ("store.commit", commit),
        ("store.after_commit", commit),
        ("pipeline.after_batch", 4),
        ("outcomes.write", 350),
        ("rejects.write", 10),
    ]
}

fn run_import(env: &Env, f: &Path, fault: &str) -> (Option<i32>, String, String) {
    let out = env
        .cmd()
        .args([
            "import",
            "contacts",
            f.to_str().unwrap_or_default(),
            "--json",
            "--batch-size",
            BATCH,
            "--outcomes",
            "outcomes.csv",
            "--rejects",
            "rejects.csv",
        ])
        .env("ROSTER_TEST_FAULT", fault)
        .output()
        .expect("run roster");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

behaviour!(every_failure_point_fails_the_import_cleanly, |env| {
    let reference = reference(env.backend, ROWS);
    for (point, visit) in points(env.backend) {
        let env = Env::new(env.backend, point).expect("a database");
        setup(&env);
        let f = file(&env, "rows.csv", ROWS);
        let fault = format!("{point}@{visit}=error");
        let (code, stdout, stderr) = run_import(&env, &f, &fault);
        assert_eq!(code, Some(2), "{fault}: {stdout}{stderr}");
        let report: serde_json::Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{fault}: no JSON report ({e}): {stdout}{stderr}"));
        let failure = report["failure"].as_str().unwrap_or_default();
        assert!(
            failure.contains(point) && !failure.contains('\n'),
            "{fault}: the failure names what failed in one line: {report}"
        );
        let rec = &records(&env)[0];
        assert_eq!(rec["status"], "failed", "{fault}: {rec}");
        assert_eq!(
            rec["report"]["committed"], report["committed"],
            "{fault}: the record and the report agree on what was committed"
        );
        // An error after COMMIT was acknowledged (a connection lost just
        // then) leaves the import unsure whether its last batch landed: the
        // rows are still whole batches, but the count may be one batch short.
        let exact = point != "store.after_commit";
        check_after_fault(&env, &f, ROWS, &reference, &fault, exact);
    }
});

behaviour!(every_kill_point_leaves_whole_batches_and_converges, |env| {
    let reference = reference(env.backend, ROWS);
    for (point, visit) in points(env.backend) {
        let env = Env::new(env.backend, point).expect("a database");
        setup(&env);
        let f = file(&env, "rows.csv", ROWS);
        let fault = format!("{point}@{visit}=abort");
        let (code, stdout, stderr) = run_import(&env, &f, &fault);
        assert_eq!(
            code, None,
            "{fault}: the process was not killed: {stdout}{stderr}"
        );
        assert!(stderr.contains("aborting at"), "{fault}: {stderr}");
        let rec = &records(&env)[0];
        assert_eq!(rec["status"], "interrupted", "{fault}: {rec}");
        check_after_fault(&env, &f, ROWS, &reference, &fault, true);
    }
});

/// A small deterministic generator (no dependency): xorshift.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn kills_wanted() -> usize {
    std::env::var("ROSTER_FAULT_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

behaviour!(random_sigkills_leave_whole_batches_and_converge, |env| {
    let big = std::env::var("ROSTER_FAULT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_000);
    let reference = reference(env.backend, big);
    // How long an uninterrupted import takes here, to kill inside it.
    let timing = Env::new(env.backend, "kill_timing").expect("a database");
    setup(&timing);
    let f = file(&timing, "big.csv", big);
    let started = Instant::now();
    timing.import("contacts", &f, &["--batch-size", BATCH]);
    let span = started.elapsed().as_millis().max(50) as u64;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut rng = Rng(seed);
    let (mut survived, mut committed_some) = (0, 0);
    for run in 0..kills_wanted() {
        let env = Env::new(env.backend, "kill").expect("a database");
        setup(&env);
        let f = file(&env, "big.csv", big);
        let mut child = env
            .cmd()
            .args(["import", "contacts", f.to_str().unwrap_or_default()])
            .args(["--batch-size", BATCH, "--outcomes", "outcomes.csv"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start roster");
        // Start-up (opening, migrating) is part of the span too.
        let at = rng.below(span + span / 4);
        std::thread::sleep(Duration::from_millis(at));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().expect("wait for roster");
        let what = format!("kill {run} after {at} ms of ~{span} (seed {seed})");
        let finished = status.success()
            || records(&env)
                .first()
                .is_none_or(|r| r["status"] == "succeeded");
        if finished {
            // It finished before the kill, or never started an import.
            check_whole(&env, &f, &reference, &what);
        } else if check_after_fault(&env, &f, big, &reference, &what, true) > 0 {
            committed_some += 1;
        }
        survived += 1;
    }
    eprintln!(
        "{:?}: survived {survived} random SIGKILLs ({committed_some} after some batches had committed)",
        env.backend
    );
});

/// After a run that was not interrupted (or did not start): the database
/// is whole and importing again gives the reference.
fn check_whole(env: &Env, f: &Path, reference: &str, what: &str) {
    integrity(env);
    for rec in records(env) {
        assert_ne!(rec["status"], "running", "{what}: {rec}");
    }
    let (code, report) = env.import("contacts", f, &["--batch-size", BATCH]);
    assert_eq!(code, 1, "{what}: {report}");
    assert_eq!(env.export("contacts"), reference, "{what}");
}

#[test]
fn postgres_connection_killed_mid_import() {
    let Some(env) = Env::new(Backend::Postgres, "pg_terminate") else {
        return;
    };
    const BIG: usize = 10_000;
    let reference = reference(Backend::Postgres, BIG);
    setup(&env);
    let f = file(&env, "big.csv", BIG);
    // A name of its own, so only this import's connection is terminated
    // (the server is shared with other tests).
    let app = format!("roster_fault_{}", std::process::id());
    let url = format!("{}&application_name={app}", env.url);
    let child = env
        .cmd()
        .env("ROSTER_DATABASE_URL", &url)
        .args([
            "import",
            "contacts",
            f.to_str().unwrap_or_default(),
            "--json",
        ])
        .args(["--batch-size", BATCH])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start roster");
    let base = support::postgres_url().expect("a PostgreSQL URL");
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
    // Wait until some batches committed, then cut the connection.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = env.export("contacts").lines().count();
        if n > 300 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .and_then(|r| r.try_get(0))
        .expect("terminate the import's connection");
    let out = child.wait_with_output().expect("wait for roster");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("pg_terminate_backend ended {killed} connection(s) of the import");
    if killed == 0 {
        // It had finished already: nothing to check but the result.
        assert_eq!(env.export("contacts"), reference);
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let said = format!("{stdout}{stderr}");
    assert!(
        said.contains("PostgreSQL") || said.contains("connection") || said.contains("terminat"),
        "the failure says the database connection was lost: {said}"
    );
    // Its record cannot be finished over a dead connection: it is running
    // under a process that has exited, so listing settles it.
    check_after_fault(&env, &f, BIG, &reference, "pg_terminate_backend", true);
}

behaviour!(a_full_database_fails_clearly_and_loses_nothing, |env| {
    let reference = reference(env.backend, ROWS);
    setup(env);
    // What is stored before the full disk must stay.
    let first = env.write("first.csv", "email,first_name\nkeep@example.com,Keep\n");
    env.ok(&["import", "contacts", first.to_str().unwrap_or_default()]);
    let kept = env.export("contacts");
    let f = file(env, "rows.csv", ROWS);
    let mut cmd = env.cmd();
    cmd.args([
        "import",
        "contacts",
        f.to_str().unwrap_or_default(),
        "--json",
    ])
    .args(["--batch-size", BATCH]);
    match env.backend {
        // SQLite's own SQLITE_FULL: the file may not grow by a page.
        Backend::Sqlite => {
            let path = env.url.trim_start_matches("sqlite://");
            let pages: i64 = rusqlite::Connection::open(path)
                .and_then(|c| c.query_row("PRAGMA page_count", [], |r| r.get(0)))
                .expect("page count");
            cmd.env("ROSTER_TEST_SQLITE_MAX_PAGES", pages.to_string());
        }
        Backend::Postgres => {
            cmd.env("ROSTER_TEST_FAULT", "store.before_write@3=full");
        }
    }
    let out = cmd.output().expect("run roster");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a JSON report");
    let failure = report["failure"].as_str().unwrap_or_default();
    assert!(
        failure.contains("full") && !failure.contains('\n'),
        "a full disk is named in one line: {report}"
    );
    integrity(env);
    // Nothing lost: the earlier contact is there, unchanged.
    let now = env.export("contacts");
    assert!(
        now.lines().any(|l| kept.lines().nth(1) == Some(l)),
        "the contact stored before is gone:\n{now}"
    );
    let recs = records(env);
    let rec = recs.last().expect("the full import's record");
    assert_eq!(rec["status"], "failed", "{rec}");
    assert_eq!(rec["report"]["committed"], report["committed"], "{rec}");
    // With room again, the same file converges (plus the earlier contact).
    let (code, report) = env.import("contacts", &f, &["--batch-size", BATCH]);
    assert_eq!(code, 1, "{report}");
    let mut want: Vec<&str> = reference.lines().collect();
    want.extend(kept.lines().skip(1));
    want[1..].sort_unstable();
    assert_eq!(env.export("contacts").lines().collect::<Vec<_>>(), want);
});
