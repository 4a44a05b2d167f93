//! The harness of the behaviour suite: every test body runs once per
//! backend (SQLite always; PostgreSQL when ROSTER_TEST_POSTGRES_URL is set,
//! and it must be unless ROSTER_TEST_SKIP_POSTGRES=1), each in a database of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database and a scratch folder for one test.
pub struct Env {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub url: String,
    pg_schema: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The PostgreSQL server's URL. Without one, the PostgreSQL half fails
/// unless `ROSTER_TEST_SKIP_POSTGRES=1` asks to skip it (never in CI: any
/// non-empty `CI` counts); a skip is printed where `cargo test` shows it.
pub fn postgres_url() -> Option<String> {
    match std::env::var("ROSTER_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty());
            let skip = std::env::var("ROSTER_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1");
            if ci || !skip {
                panic!(
                    "ROSTER_TEST_POSTGRES_URL is not set: point it at a PostgreSQL database \
                     (postgres://postgres@127.0.0.1:5432/test), or set ROSTER_TEST_SKIP_POSTGRES=1 \
                     to skip the PostgreSQL half on purpose (never allowed in CI)"
                );
            }
            // Not captured: shows even when the test passes.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED (PostgreSQL): ROSTER_TEST_SKIP_POSTGRES=1"
            );
            None
        }
    }
}

impl Env {
    /// None when the backend is not available here (PostgreSQL off CI).
    pub fn new(backend: Backend, name: &str) -> Option<Env> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("roster.db").display());
                // What `roster init` does: only init, the imports and serve
                // create a missing database.
                roster_store::open(&url).expect("create the test database");
                Some(Env {
                    backend,
                    dir,
                    url,
                    pg_schema: None,
                })
            }
            Backend::Postgres => {
                let base = postgres_url()?;
                let schema = format!(
                    "t_{}_{}_{}",
                    name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                        .to_lowercase(),
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                let schema: String = schema.chars().take(60).collect();
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}schema={schema}");
                Some(Env {
                    backend,
                    dir,
                    url,
                    pg_schema: Some((base, schema)),
                })
            }
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `content` to a file in the scratch folder; returns its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).expect("write a scratch file");
        p
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_roster"));
        c.env("ROSTER_DATABASE_URL", &self.url)
            .env("ROSTER_INSECURE_FAST_HASH", "1")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    /// Runs `roster ARGS`, feeding `stdin`.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        use std::io::Write;
        let mut c = self.cmd();
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("start roster");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin)
            .expect("feed stdin");
        Run::from(child.wait_with_output().expect("run roster"), args)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.cmd().args(args).output().expect("run roster");
        Run::from(out, args)
    }

    /// Runs and requires exit status 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "roster {args:?} failed:\n{}", r.stderr);
        r.stdout
    }

    /// `roster import contacts FILE --json ARGS`; returns (exit code, report).
    pub fn import(&self, kind: &str, file: &Path, args: &[&str]) -> (i32, serde_json::Value) {
        let f = file.display().to_string();
        let mut all = vec!["import", kind, f.as_str(), "--json"];
        all.extend_from_slice(args);
        let r = self.run(&all);
        let report = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "roster {all:?} printed no JSON report ({e}):\nstdout: {}\nstderr: {}",
                r.stdout, r.stderr
            )
        });
        (r.code, report)
    }

    pub fn export(&self, kind: &str) -> String {
        self.ok(&["export", kind])
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg_schema {
            if let Ok(mut c) = postgres::Client::connect(base, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
            }
        }
    }
}

/// Reads the child's standard error until the import says it paused at
/// `what` (a `ROSTER_TEST_PAUSE` point, e.g. `commit 3`); fails when it
/// ends first. The rest of its standard error is drained in the background.
pub fn wait_for_pause(child: &mut std::process::Child, what: &str) {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let want = format!("roster: test pause at {what}");
    let mut seen = Vec::new();
    loop {
        match lines.next() {
            Some(Ok(l)) if l == want => break,
            Some(Ok(l)) => seen.push(l),
            _ => panic!(
                "the import ended without pausing at {what}:\n{}",
                seen.join("\n")
            ),
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output, args: &[&str]) -> Run {
        let code = o
            .status
            .code()
            .unwrap_or_else(|| panic!("roster {args:?} was killed by a signal"));
        Run {
            code,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs a test body on every backend: `behaviour!(name, |env| { … });`
/// makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! behaviour {
    ($name:ident, |$env:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($env: &$crate::support::Env) $body
            #[test]
            fn sqlite() {
                let env = $crate::support::Env::new($crate::support::Backend::Sqlite, stringify!($name)).expect("SQLite is always there");
                body(&env);
            }
            #[test]
            fn postgres() {
                if let Some(env) = $crate::support::Env::new($crate::support::Backend::Postgres, stringify!($name)) {
                    body(&env);
                }
            }
        }
    };
}

/// One SQL query's first row as text columns, on the test's database.
pub fn sql_row(env: &Env, sql: &str) -> Vec<Option<String>> {
    match env.backend {
        Backend::Sqlite => {
            let path = env.url.strip_prefix("sqlite://").expect("a SQLite URL");
            let c = rusqlite::Connection::open(path).expect("open SQLite");
            c.query_row(sql, [], |r| {
                let n = r.as_ref().column_count();
                (0..n)
                    .map(|i| {
                        r.get::<_, Option<rusqlite::types::Value>>(i)
                            .map(|v| match v {
                                Some(rusqlite::types::Value::Integer(n)) => Some(n.to_string()),
                                Some(rusqlite::types::Value::Text(t)) => Some(t),
                                Some(other) => Some(format!("{other:?}")),
                                None => None,
                            })
                    })
                    .collect()
            })
            .expect("run the query")
        }
        Backend::Postgres => {
            let mut c = pg_client(env);
            let row = c.query_one(sql, &[]).expect("run the query");
            (0..row.len())
                .map(|i| {
                    row.try_get::<_, Option<String>>(i)
                        .ok()
                        .flatten()
                        .or_else(|| {
                            row.try_get::<_, Option<i64>>(i)
                                .ok()
                                .flatten()
                                .map(|n| n.to_string())
                        })
                })
                .collect()
        }
    }
}

/// Runs statements on the test's database (to break it on purpose).
pub fn sql_execute(env: &Env, sql: &str) {
    match env.backend {
        Backend::Sqlite => {
            let path = env.url.strip_prefix("sqlite://").expect("a SQLite URL");
            let c = rusqlite::Connection::open(path).expect("open SQLite");
            c.busy_timeout(std::time::Duration::from_secs(10))
                .expect("busy timeout");
            c.execute_batch(sql).expect("run the statements");
        }
        Backend::Postgres => {
            pg_client(env)
                .batch_execute(sql)
                .expect("run the statements");
        }
    }
}

pub fn pg_client(env: &Env) -> postgres::Client {
    let (base, schema) = env.url.split_once("?schema=").expect("a schema in the URL");
    let mut c = postgres::Client::connect(base, postgres::NoTls).expect("connect");
    c.batch_execute(&format!("SET search_path TO \"{schema}\""))
        .expect("set the schema");
    c
}

/// Starts `roster import contacts FILE --json --batch-size N` and waits
/// until it stops at `pause` (a `ROSTER_TEST_PAUSE` point such as
/// `load:1`), with `envs` set too; returns it and the file whose creation
/// resumes it.
pub fn paused_import(
    env: &Env,
    file: &Path,
    batch: &str,
    pause: &str,
    envs: &[(&str, &str)],
) -> (std::process::Child, PathBuf) {
    let resume = env.path("resume");
    let mut child = env
        .cmd()
        .args([
            "import",
            "contacts",
            file.to_str().unwrap_or_default(),
            "--json",
            "--batch-size",
            batch,
        ])
        .envs(envs.iter().copied())
        .env("ROSTER_TEST_PAUSE", pause)
        .env("ROSTER_TEST_RESUME", &resume)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for_pause(&mut child, &pause.replace(':', " "));
    (child, resume)
}

/// Waits for an import started with `--json` and returns its report; it
/// must have succeeded.
pub fn report_of(child: std::process::Child) -> serde_json::Value {
    let out = child.wait_with_output().expect("wait");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert!(out.status.success(), "{report}");
    report
}

/// What `PATCH /api/contacts/{id}` writes when it changes a last name:
/// the contact as stored, written back with `last` (inside the store's
/// transaction when one is open).
pub fn edit_last_name(store: &mut dyn roster_store::Store, email: &str, last: &str) {
    let c = store
        .load_contacts(&[email])
        .expect("load")
        .pop()
        .expect("the contact");
    let mut after = c.clone();
    after.last_name = Some(last.into());
    store
        .write_contacts(
            None,
            &[roster_store::ContactWrite {
                before: Some(c),
                after,
            }],
        )
        .expect("edit the contact");
}
