//! Passwords every door agrees on, and the smaller defects: a missing
//! database, a locked one, case variants of labels, the users import's
//! memory.

use crate::behaviour;
use crate::support::{Backend, Env};

behaviour!(
    passwords_over_1024_bytes_or_with_control_characters_are_refused_everywhere,
    |env| {
        let long = "p".repeat(1025);
        let max = "q".repeat(1024);
        let body = format!(
        "email,password\nnl@example.com,\"abc\ndefgh\"\ntab@example.com,\"abc\tdefgh\"\nlong@example.com,{long}\nmax@example.com,{max}\n"
    );
        let f = env.write("users.csv", body);
        let (code, report) = env.import("users", &f, &[]);
        assert_eq!(code, 1, "{report}");
        assert_eq!(report["created"], 1, "{report}");
        let errors = report["errors"].to_string();
        assert!(errors.contains("control character"), "{errors}");
        assert!(errors.contains("at most 1024 bytes"), "{errors}");
        assert!(
            !errors.contains(&long) && !errors.contains("abc"),
            "never echoed: {errors}"
        );
        // The longest password signs in through `users verify`…
        let r = env.run_with_stdin(
            &["users", "verify", "max@example.com"],
            format!("{max}\n").as_bytes(),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        // …and `users verify` and `users create-admin` refuse what the import refuses.
        let r = env.run_with_stdin(
            &["users", "verify", "max@example.com"],
            format!("{long}\n").as_bytes(),
        );
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("at most 1024 bytes"), "{}", r.stderr);
        let r = env.run_with_stdin(
            &["users", "create-admin", "admin@example.com"],
            format!("{long}\n").as_bytes(),
        );
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("at most 1024 bytes"), "{}", r.stderr);
        let r = env.run_with_stdin(
            &["users", "create-admin", "admin@example.com"],
            "abc\u{7}defgh\n".as_bytes(),
        );
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("control character"), "{}", r.stderr);
        let huge = vec![b'z'; 5000];
        let r = env.run_with_stdin(&["users", "verify", "max@example.com"], &huge);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("longer than 1024 bytes"), "{}", r.stderr);
    }
);

behaviour!(a_users_import_hashes_in_bounded_memory, |env| {
    // Production Argon2 parameters (19 MiB per hash) and a request for 32
    // hashing threads: the memory budget caps them.
    let mut body = String::from("email,password\n");
    for i in 0..48 {
        body.push_str(&format!("user{i}@example.com,secret-{i}-password\n"));
    }
    let f = env.write("users.csv", body);
    let mut c = std::process::Command::new("/usr/bin/time");
    c.arg("-f")
        .arg("PEAK_RSS_KIB=%M")
        .arg(env!("CARGO_BIN_EXE_roster"))
        .args(["import", "users", f.to_str().unwrap_or_default(), "--json"])
        .env("ROSTER_DATABASE_URL", &env.url)
        .env_remove("ROSTER_INSECURE_FAST_HASH")
        .env("ROSTER_HASH_THREADS", "32")
        .current_dir(env.dir.path());
    let out = c.output().expect("run roster under GNU time");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let peak_mib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("PEAK_RSS_KIB="))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(u64::MAX)
        / 1024;
    // 6 threads × 19 MiB and the rest; 32 threads would be over 600 MiB.
    assert!(peak_mib < 200, "peak memory {peak_mib} MiB");
});

#[test]
fn a_missing_sqlite_database_is_not_created_by_other_commands() {
    let dir = tempfile::tempdir().expect("a folder");
    let db = dir.path().join("mistyped.db");
    let url = format!("sqlite://{}", db.display());
    for args in [
        &["export", "contacts"][..],
        &["labels", "list"][..],
        &["imports", "list"][..],
        &["companies", "add", "Acme"][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(args)
            .env("ROSTER_DATABASE_URL", &url)
            .output()
            .expect("run roster");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.contains("does not exist") && stderr.contains("roster init"),
            "{args:?}: {stderr}"
        );
        assert!(!db.exists(), "{args:?} created the database");
    }
    // init and the imports do create it.
    let csv = dir.path().join("a.csv");
    std::fs::write(&csv, "email\nann@example.com\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["import", "contacts", csv.to_str().unwrap_or_default()])
        .env("ROSTER_DATABASE_URL", &url)
        .output()
        .expect("run roster");
    assert_eq!(out.status.code(), Some(0));
    assert!(db.exists());
}

#[test]
fn an_import_waiting_on_a_locked_sqlite_database_says_what_holds_it() {
    let env = Env::new(Backend::Sqlite, "locked").expect("SQLite");
    let path = env.url.trim_start_matches("sqlite://").to_string();
    // Another process's long transaction, recorded as a running --atomic import.
    env.ok(&["init"]);
    let holder = rusqlite::Connection::open(&path).expect("open");
    holder
        .execute_batch(
            "INSERT INTO imports (kind, status, options, started_by, started_at, owner, heartbeat_at) \
             VALUES ('contacts', 'running', '{\"atomic\":true}', 'cli:someone', '2026-01-01T00:00:00.000Z', 'elsewhere:1:0', '2099-01-01T00:00:00.000Z'); \
             BEGIN IMMEDIATE;",
        )
        .expect("take the write lock");
    let f = env.write("a.csv", "email\nann@example.com\n");
    let out = env
        .cmd()
        .args(["import", "contacts", f.to_str().unwrap_or_default()])
        .env("ROSTER_SQLITE_BUSY_TIMEOUT", "1")
        .output()
        .expect("run roster");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr.contains("database is locked\n"), "{stderr}");
    assert!(
        stderr.contains("locked by another roster process")
            && stderr.contains("wait until it has finished")
            && stderr.contains("held by import 1 (contacts, --atomic"),
        "{stderr}"
    );
    drop(holder);
}

behaviour!(
    create_labels_refuses_a_case_variant_and_lists_what_it_created,
    |env| {
        env.ok(&["labels", "add", "Marketing"]);
        let f = env.write(
        "a.csv",
        "email,labels\nann@example.com,marketing\nbob@example.com,Sales:Ops\nzoe@example.com,sales\n",
    );
        let (code, report) = env.import("contacts", &f, &["--create-labels"]);
        assert_eq!(code, 1, "{report}");
        let errors = report["errors"].to_string();
        assert!(
            errors.contains("does not create a case variant of the label 'Marketing'")
                && errors.contains("write 'Marketing'"),
            "{errors}"
        );
        // 'sales' is a case variant of the 'Sales' this same file created.
        assert!(
            errors.contains("case variant of the label 'Sales'"),
            "{errors}"
        );
        assert_eq!(report["labels_created"], 2);
        assert_eq!(
            report["created_labels"],
            serde_json::json!(["Sales", "Ops"])
        );
        let labels = env.ok(&["labels", "list"]);
        assert!(
            !labels.contains("\tmarketing") && !labels.contains("\tsales"),
            "{labels}"
        );
        let text = env
            .run(&[
                "import",
                "contacts",
                f.to_str().unwrap_or_default(),
                "--create-labels",
                "--dry-run",
            ])
            .stdout;
        assert!(
            !text.contains("labels created"),
            "nothing new to create: {text}"
        );
    }
);
